"""Output folders that no two runs mix: an exclusive lock per run and a fingerprint per folder.

Every command that writes a folder opens it with `open_output`:

    with open_output(out, "render", fingerprint, shard=(k, n)):
        ... write samples ...

- The run takes `OUT/.handkit/lock-KofN`, an exclusive `flock` held until it ends (the kernel drops it when the
  process dies). The file names the holder (pid, host, command, start time); a second run of the same folder and
  shard is refused with that name. A lock file still naming a holder that is gone is a stale lock: it is reported
  and taken over. Shards of one run (other K of the same N) lock different files, so they share the folder.
- Under a short folder-wide lock the folder's fingerprint (`OUT/.handkit/fingerprint.json`: the command's kind,
  the output format, settings and the inputs' hashes) is written if the folder is new, or compared if not, before
  anything else is written: a run with another fingerprint is refused naming the first setting that differs, and a
  folder that is not empty and has no fingerprint of this kind is refused. `run_fingerprint` makes the record from
  a command's settings (the fields marked fingerprint=True), the inputs' hashes and the hand model's identity:
  nothing of the machine, so shards of one run made on different machines share the folder.
- While the lock is held, temporary files carry the run's tag (`handmodel.atomic`); the ones a killed run of the
  same folder and shard left are removed when the lock is taken.

`open_output_file` does the same for a command whose output is one file (the lock sits beside it).
Only the standard library and numpy (through `validate`): Blender's Python imports this.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from handmodel.atomic import RUN_TAG_ENV, atomic_write_json, fit_name, is_temporary, remove_temporaries
from handmodel.errors import InputError
from handmodel.validate import json_object, load_json

STATE_DIR = ".handkit"
FINGERPRINT_FILE = "fingerprint.json"
FINGERPRINT_VERSION = 1


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Content hash of an input file, for fingerprints (read in chunks: release annotation files are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))[:300]}  # fmt: skip


def _describe(holder: dict) -> str:
    return (f"pid {holder.get('pid')} on host {holder.get('host')} (since {holder.get('started')}: "
            f"{holder.get('command') or '?'})")  # fmt: skip


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


def _read_holder(f) -> dict | None:
    """The holder a lock file names (a damaged one, not JSON or not UTF-8, names an unknown holder)."""
    f.seek(0)
    text = f.read().strip()
    if not text:
        return None
    try:
        holder = json.loads(text)
    except json.JSONDecodeError:
        return {"pid": "?", "host": "?", "command": text[:80]}
    return holder if isinstance(holder, dict) else None


@contextmanager
def run_lock(lock_path: str | os.PathLike, what: str, warn: Callable[[str], None] | None = None,
             wait: bool = False) -> Iterator[dict]:  # fmt: skip
    """Hold an exclusive lock on `lock_path` for the block; InputError naming the holder if another run has it
    (`wait`: block until it is free instead, for locks held only for a moment).

    A lock file that still names a holder when the lock is free was left by a run that died: `warn` is told
    (default: stderr) and the lock is taken over. Yields this run's holder record."""
    warn = warn or (lambda m: print(f"notice: {m}", file=sys.stderr, flush=True))
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        f = open(lock_path, "a+", encoding="utf-8", errors="replace")
    except OSError as e:  # name the output the user chose, not the lock file inside it
        raise OSError(e.errno, e.strerror, what) from None
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(f) or {}
            raise InputError(
                f"{what} is in use by another run: {_describe(holder)}; wait for it to end or stop it "
                f"(lock: {lock_path})"
            ) from None
        old = _read_holder(f)
        if old is not None:
            here = old.get("host") == socket.gethostname()
            gone = "that process is gone" if here and not _pid_alive(old.get("pid")) else "it holds no lock"
            warn(f"{what}: took over the stale lock of {_describe(old)}; {gone}")
        me = _holder()
        f.seek(0)
        f.truncate()
        f.write(json.dumps(me))
        f.flush()
        try:
            yield me
        finally:
            f.seek(0)
            f.truncate()
            f.flush()
    finally:
        f.close()  # closing drops the flock


def _flat(d, prefix=""):
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def run_fingerprint(settings, **parts) -> dict:
    """A run's identity: the fingerprinted fields of a settings dataclass (handmodel/options.py) and `parts` (the
    format, the inputs' hashes, the hand model's identity), as stored (JSON: tuples become lists)."""
    from handmodel.options import fingerprinted

    return json.loads(json.dumps({**parts, **fingerprinted(settings)}))


def first_difference(old: dict, new: dict) -> str | None:
    """'key was X, now Y' for the first entry (nested keys dotted) where two fingerprints differ; None if equal."""
    a, b = _flat(old), _flat(new)
    for key in list(b) + [k for k in a if k not in b]:
        if a.get(key, "(none)") != b.get(key, "(none)"):
            return f"{key} was {a.get(key, '(none)')!r}, now {b.get(key, '(none)')!r}"
    return None


class DamagedRecord(InputError):
    """The folder's run record (its fingerprint) cannot be read: a disk fault, an editor."""


def read_fingerprint(folder: str | os.PathLike) -> dict | None:
    """The folder's fingerprint record {kind, version, fingerprint}, or None if it has none; DamagedRecord if it
    cannot be read."""
    path = Path(folder) / STATE_DIR / FINGERPRINT_FILE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        rec = json_object(load_json(path), path, None, ("kind", "fingerprint"))
    except InputError as e:
        why = str(e).removeprefix(f"{path}: ")
        raise DamagedRecord(f"{path}: the run record is damaged ({why}), so this run cannot be checked against the "
                            "one that made the folder; write into a new folder, or rerun with --overwrite (train) "
                            "or --restart (sample-poses) to start it again") from None  # fmt: skip
    return rec


def remove_fingerprint(folder: str | os.PathLike) -> None:
    """Forget the folder's fingerprint (for a run that replaces the folder's contents, under its lock)."""
    (Path(folder) / STATE_DIR / FINGERPRINT_FILE).unlink(missing_ok=True)


def _user_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != STATE_DIR) if folder.is_dir() else []


def check_fingerprint(folder: str | os.PathLike, kind: str, fingerprint: dict,
                      hint: str = "choose a new output folder or repeat the original settings") -> None:  # fmt: skip
    """Write the folder's fingerprint if it is new (empty), else compare it: InputError on another kind, another
    fingerprint, or files that no `kind` run wrote. Call it under the folder lock (`open_output` does)."""
    folder = Path(folder)
    fingerprint = json.loads(json.dumps(fingerprint))  # tuples -> lists, as stored
    rec = read_fingerprint(folder)
    if rec is None:
        entries = _user_entries(folder)
        if entries:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise InputError(f"{folder} holds files that no {kind} wrote ({shown}); choose an empty folder")
        record = {"kind": kind, "version": FINGERPRINT_VERSION, "fingerprint": fingerprint}
        atomic_write_json(folder / STATE_DIR / FINGERPRINT_FILE, record, indent=1)
        return
    if rec["kind"] != kind:
        raise InputError(f"{folder} holds the output of `{rec['kind']}`, not of `{kind}`; choose another folder")
    diff = first_difference(rec.get("fingerprint", {}), fingerprint)
    if diff is not None:
        raise InputError(f"{folder} belongs to another {kind} run ({diff}); {hint}")


def _tag(kind: str, name: str) -> str:
    """A run's temporary-file tag: short enough that a temporary of a long file name still fits (atomic.py)."""
    return fit_name(re.sub(r"[^A-Za-z0-9_-]", "_", f"{kind}-{name}"), 64)


@contextmanager
def _tagged(tag: str) -> Iterator[None]:
    old = os.environ.get(RUN_TAG_ENV)
    os.environ[RUN_TAG_ENV] = tag
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(RUN_TAG_ENV, None)
        else:
            os.environ[RUN_TAG_ENV] = old


@contextmanager
def open_output(folder: str | os.PathLike, kind: str, fingerprint: dict | None, shard: tuple[int, int] = (0, 1),
                hint: str | None = None,
                warn: Callable[[str], None] | None = None, clear: Callable[[], None] | None = None,
                ) -> Iterator[Path]:  # fmt: skip
    """Lock `folder` for this run and shard, check or write its fingerprint, remove this shard's leftover
    temporaries; yields the folder. `clear()`: called under the lock before the check, to remove an earlier run
    that this one replaces.
    fingerprint None: only the lock and the temporaries (for folders that several commands fill, each checking
    its own inputs, like an InterHand2.6M sequence folder). See the module docstring."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file, expected a folder")
    k, n = shard
    fresh_check = fingerprint is not None and clear is None and read_fingerprint(folder) is None
    if fresh_check and _user_entries(folder):
        check_fingerprint(folder, kind, fingerprint)  # raises, before anything is written into the folder
    state = folder / STATE_DIR
    tag = _tag(kind, f"s{k}of{n}")
    lock_name = f"lock-{k}of{n}"
    created = not folder.exists()
    try:
        with run_lock(state / lock_name, str(folder), warn):
            with run_lock(state / "fingerprint.lock", str(folder), lambda _m: None, wait=True):
                if clear is not None:
                    clear()
                if fingerprint is not None:
                    check_fingerprint(folder, kind, fingerprint, **({"hint": hint} if hint else {}))
            with _tagged(tag):
                remove_temporaries(folder, tag)
                yield folder
    except BaseException:
        # A run that failed before writing anything leaves no folder behind (unless another shard holds it).
        ours = {lock_name, "fingerprint.lock", FINGERPRINT_FILE}
        if created and folder.is_dir() and not _user_entries(folder) and {p.name for p in state.iterdir()} <= ours:
            shutil.rmtree(folder, ignore_errors=True)
        raise


@contextmanager
def open_output_file(path: str | os.PathLike, kind: str, warn: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Lock a one-file output (`path`) for this run: the lock file `.NAME.lock` sits beside it; leftover
    temporaries of `path` from a killed run are removed. The caller checks the file's own fingerprint."""
    path = Path(path)
    tag = _tag(kind, path.name)
    with run_lock(path.parent / fit_name(f".{path.name}.lock"), str(path), warn), _tagged(tag):
        for p in path.parent.iterdir() if path.parent.is_dir() else ():
            if is_temporary(p.name, tag):
                p.unlink(missing_ok=True)
        yield path
