"""Writes that never leave a half file: write to a temporary sibling name, then rename over the real one.

Every temporary name carries the run's tag (`.NAME.TAG.PID.tmpSUFFIX`): the output-folder lock
(`handmodel/outdir.py`) sets the tag for its run, so the next run of the same folder and shard, holding the
same lock, knows that any temporary file with its tag was left by a killed run and removes it
(`remove_temporaries`). Files get the usual permissions (0666 less the umask), as a plain `open` would.
Only the standard library: Blender's Python imports this.
"""

import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUN_TAG_ENV = "HANDKIT_RUN_TAG"  # inherited by worker processes, so their temporaries carry the run's tag
NAME_MAX = 255  # bytes in one file name on Linux and macOS file systems
_counter = itertools.count()


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """`name` if it fits in `limit` bytes, else its first bytes, a hash of the whole (the same name every time, so
    a rerun finds what an earlier run wrote) and its extension (writers pick the format by it): the names this
    toolkit adds to a user's (a temporary's tag, a lock, a report beside a poses file) then fit however long a
    legal name the user chose."""
    raw = name.encode()
    if len(raw) <= limit:
        return name
    ext = os.path.splitext(name)[1] if len(os.path.splitext(name)[1]) <= 16 else ""
    keep = limit - 17 - len(ext.encode())
    return raw[:keep].decode(errors="ignore") + "~" + hashlib.sha256(raw).hexdigest()[:16] + ext


def run_tag() -> str:
    """The tag of this run's temporary files: the lock's tag, or 'run' for writers outside a locked folder."""
    return os.environ.get(RUN_TAG_ENV) or "run"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _file_mode() -> int:
    return 0o666 & ~current_umask()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path for `path`; when the block ends without an exception it is renamed onto
    `path` (permissions from the umask), otherwise removed. The temporary keeps `path`'s suffix, so writers that
    pick the format by extension (cv2.imwrite, np.savez, savefig) work; a writer that creates nothing there is an
    OSError naming `path`.

        with atomic_path(out / "mask.png") as tmp:
            cv2.imwrite(str(tmp), mask)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tail = f".{run_tag()}.{os.getpid()}-{next(_counter)}.tmp{path.suffix}"
    tmp = path.with_name("." + fit_name(path.stem, NAME_MAX - 1 - len(tail.encode())) + tail)
    try:
        yield tmp
        if not tmp.is_file():
            raise OSError(f"{path}: could not write it (the writer produced no file)")
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except OSError as e:
        if e.errno is not None and e.filename in (None, str(tmp)):  # disk full in write(): name the real file
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_json(path: str | os.PathLike, obj, indent: int | None = None) -> None:
    """JSON without NaN or infinity (not standard JSON): a non-finite number is a ValueError."""
    atomic_write_bytes(path, json.dumps(obj, indent=indent, allow_nan=False).encode())


def is_temporary(name: str, tag: str | None = None) -> bool:
    """Whether a file name is one of atomic_path's temporaries (of run `tag`, or of any run)."""
    t = re.escape(tag) if tag is not None else r"[^.]+"
    return re.fullmatch(rf"\..+\.{t}\.\d+-\d+\.tmp(\.[^.]*)?", name) is not None


def remove_temporaries(folder: str | os.PathLike, tag: str | None = None) -> int:
    """Remove the temporaries of run `tag` (default: this run's) anywhere under `folder`; returns how many.

    Call it only while holding the folder's lock for that tag: then no live writer owns them."""
    tag = run_tag() if tag is None else tag
    n = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.startswith(".") and is_temporary(name, tag):
                Path(dirpath, name).unlink(missing_ok=True)
                n += 1
    return n
