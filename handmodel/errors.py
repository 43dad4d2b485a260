"""The one exception type for bad input the user can fix, the one-line wording of the machine's errors (OSError),
and interrupts: the CLI prints either error as one line and exits 1; an interrupt (Ctrl-C, or SIGTERM, which Slurm
sends before it kills a job) unwinds like Ctrl-C, so every lock is released and no temporary file stays, and ends
with INTERRUPTED and exit status 130 (SIGINT) or 143 (SIGTERM)."""

import errno
import signal
import threading


class InputError(Exception):
    """Bad input: the message names the file (or option) and the problem, and what to do if that is not obvious."""


_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space or write to another disk",
    errno.EDQUOT: "disk quota exceeded; free some space or write to another disk",
    errno.EACCES: "permission denied; choose a folder you may write to, or fix its permissions",
    errno.EPERM: "operation not permitted; choose a folder you may write to, or fix its permissions",
    errno.EROFS: "read-only file system; write to another folder",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, expected a file",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or use fewer workers",
    errno.ENOMEM: "out of memory; use fewer workers or a smaller batch",
}


def os_error_message(e: OSError) -> str:
    """One line for an OSError: the path it concerns and what to do (disk full, permissions, read-only, ...)."""
    what = _OS_ADVICE.get(e.errno) or (e.strerror or str(e) or type(e).__name__)
    where = e.filename if e.filename is not None else None
    if where is None:
        text = str(e) if e.strerror is None else ""
        return f"{text}: {what}" if text and text != what else what
    extra = f" -> {e.filename2}" if e.filename2 is not None else ""
    return f"{where}{extra}: {what}"


INTERRUPTED = "interrupted; rerun the same command to resume"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt so the same cleanup runs."""


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """The shell's status for a process ended by a signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def _raise_terminated(_signum, _frame):
    raise Terminated()


def raise_on_sigterm():
    """Make SIGTERM raise Terminated in this process (main thread only; elsewhere a no-op); returns the handler it
    replaced (None where it replaced none), for `signal.signal` to put back."""
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _raise_terminated)
    return None


def quiet_worker() -> None:
    """In a worker process: Ctrl-C, which the terminal sends to every process of the group, is left to the parent
    (it stops the workers), and SIGTERM ends the worker at once; neither prints a traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
