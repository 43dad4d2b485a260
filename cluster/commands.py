"""What the driver needs to know of each command it can launch: how to count its finished samples and how to
finish the folder once every task has finished."""

import os
import re
import subprocess
import sys
from pathlib import Path

from cluster.task import task_env
from handmodel.errors import InputError

LAUNCHABLE = ("sample-poses", "render", "interhand prepare", "import intaghand", "import renderih")


def check(command: tuple, settings) -> None:
    """Refuse, before anything is submitted, what the tasks would all fail on."""
    name = " ".join(command)
    if name not in LAUNCHABLE:
        raise InputError(f"{name}: not a command the launcher runs (those are: {', '.join(LAUNCHABLE)})")
    if tuple(settings.shard) != (0, 1):
        raise InputError("--shard and --tasks: the launcher makes the shards itself (task K runs --shard K/TASKS); "
                         "leave --shard out")  # fmt: skip
    if name == "sample-poses" and str(settings.out).endswith(".npz"):
        raise InputError(f"--out {settings.out}: launched tasks write chunk files side by side; give a folder as "
                         "--out (render --poses reads the folder)")  # fmt: skip
    if name == "render" and os.path.isdir(settings.poses):
        from handmodel.poses_io import PoseFolder

        folder = PoseFolder(settings.poses)
        folder.check_complete(folder.chunks(settings.num))


def total(command: tuple, settings) -> int | None:
    """How many samples the whole run writes, where that is known before it runs."""
    name = " ".join(command)
    if name == "sample-poses":
        return settings.num
    if name == "render":
        if os.path.isdir(settings.poses):
            from handmodel.poses_io import PoseFolder

            n = PoseFolder(settings.poses).num
        else:
            import numpy as np

            with np.load(settings.poses, allow_pickle=False) as data:
                n = len(data["right_pose"])
        return n if settings.num is None else min(n, settings.num)
    return None


_CHUNK = re.compile(r"poses-(\d{5})\.npz$")


def done(command: tuple, settings) -> int:
    """How many samples are finished in the output now (files counted, nothing read)."""
    out = Path(settings.out)
    if command[0] == "sample-poses":
        b, n = settings.batch_size, settings.num
        count = 0
        for entry in os.scandir(out) if out.is_dir() else ():
            m = _CHUNK.match(entry.name)
            if m:
                c = int(m.group(1))
                count += max(0, min((c + 1) * b, n) - c * b)
        return count
    if getattr(settings, "dataset_format", "folder") == "webdataset":  # whole tars, and samples staged for the next
        from handmodel.outdir import STATE_DIR
        from handmodel.shards import INDEX_FILE, read_index

        try:
            count = sum(n for _, n in read_index(out)) if (out / INDEX_FILE).is_file() else 0
        except (InputError, OSError, ValueError):  # being rewritten: counted at the next look
            count = 0
        return count + sum(_annotations(p / "annotations") for p in (out / STATE_DIR).glob("staging-*"))
    return _annotations(out / "annotations")


def _annotations(folder: Path) -> int:
    """Finished samples of a dataset folder: its annotations (the file a sample writes last)."""
    if not folder.is_dir():
        return 0
    return sum(1 for e in os.scandir(folder) if e.name.endswith(".json") and not e.name.startswith("."))


def finish(command: tuple, settings, run: dict, echo) -> None:
    """Once every task has finished: what the command does over the whole output after its last sample."""
    name = " ".join(command)
    if name == "sample-poses":
        # The command itself, unsharded: every chunk is there, so it only merges them into the quality figures
        # and the report over the whole run, as a run on one machine does.
        argv = [sys.executable, "-m", "cli", *command, *run["argv"], "--shard", "0/1"]
        r = subprocess.run(argv, cwd=run["cwd"], env=task_env(run["root"]), capture_output=True, text=True)
        if r.returncode != 0:
            raise InputError(f"{settings.out}: the report over every chunk failed: "
                             f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")  # fmt: skip
        echo(r.stdout.rstrip())
    elif name == "render":
        from blender_scripts.exposure import describe
        from blender_scripts.render import write_figures

        echo(describe(write_figures(settings.out) or {"samples": 0}))
