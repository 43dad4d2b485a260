"""The run folder of `train`: one run per folder, never silently replaced.

A folder that holds a run (config.yaml, checkpoints/ or logs/) is continued only with `--resume` and replaced
only with `--overwrite`; the folder is locked for the run and fingerprinted by the model settings (a resume
with another architecture is refused before anything is written). Under torchrun only rank 0 takes the lock.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from handmodel.errors import InputError
from handmodel.outdir import STATE_DIR, DamagedRecord, open_output, read_fingerprint, remove_fingerprint

RUN_FILES = ("config.yaml", "checkpoints", "logs")
FORMAT = "train-run"
VERSION = 1


def holds_run(out: Path) -> bool:
    return any((out / name).exists() for name in RUN_FILES)


def _only_run_files(out: Path) -> bool:
    return all(p.name in RUN_FILES or p.name == STATE_DIR for p in out.iterdir())


@contextmanager
def open_run_folder(out, cfg: dict, resume=None, overwrite: bool = False) -> Iterator[Path]:
    """Check and lock the run folder `out` for a `train` run with config `cfg` (see the module docstring)."""
    out = Path(out)
    if os.environ.get("RANK", "0") != "0":
        yield out
        return
    if resume and overwrite:
        raise InputError("--resume and --overwrite: choose one (continue the run, or start it again)")
    try:
        rec = read_fingerprint(out) if out.is_dir() else None
    except DamagedRecord:
        if not overwrite:
            raise
        rec = {"kind": "train"}  # a damaged record of a run: --overwrite replaces it with the run
    if out.is_dir() and holds_run(out) and not (resume or overwrite):
        raise InputError(f"{out} holds a training run; --resume {out} to continue it, --overwrite to start it again, "
                         "or choose another --out")  # fmt: skip
    if overwrite and out.is_dir() and rec is None and not _only_run_files(out):
        raise InputError(f"{out} holds files that no train wrote; --overwrite replaces only a training run")

    def clear():
        for name in RUN_FILES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        remove_fingerprint(out)

    existed = out.is_dir()
    fingerprint = {"format": FORMAT, "version": VERSION, "model": cfg["model"]}
    try:
        with open_output(out, "train", fingerprint, clear=clear if overwrite else None,
                         hint="train into another --out, or --overwrite to start this run again"):  # fmt: skip
            yield out
    except BaseException:
        # A new run that failed (or was interrupted) before its first checkpoint leaves no folder that the same
        # command would then refuse: its config and logs hold nothing to resume.
        if not existed and out.is_dir() and not (out / "checkpoints" / "last.pt").exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
