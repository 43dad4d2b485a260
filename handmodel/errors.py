"""The one exception type for bad input the user can fix, and the one-line wording of the machine's errors (OSError):
the CLI prints either as one line and exits 1."""

import errno


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
