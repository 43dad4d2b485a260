"""What the launchers add to a render: each one's overhead, in one run on the same shards.

    .venv/bin/python benchmarks/bench_launch.py [--num 32] [--tasks 2] [--resolution 128] [--launchers local slurm ray]

Makes one folder of pose chunks (`sample-poses --out DIR`), then renders it --tasks ways:
- locally, shard by shard (`render --shard K/N`, one after another, the command's wall time from its command line
  to its exit): the baseline, measured again right before each launcher;
- through each launcher (`render --launcher L --tasks N --cpus-per-task CORES`, so its tasks too run one at a time
  on every core: a single-node Slurm, one Ray worker node) into a fresh folder: the time from the driver handing
  the tasks to the engine until the first one starts on a node (the run record's submitted.json and task-K.json;
  the later ones wait in the queue for the first), a task's mean wall time (its command, started by the engine)
  against a local shard's as a ratio, and the whole launched run from the command line to its last line against
  the local shards' sum.
Slurm and Ray run on this machine in loopback network namespaces (a private single-node Slurm; a Ray head and a
worker node), so their figures are the engines' own overhead without a network; a real cluster adds its
filesystem and scheduler queue. Slurm and Ray need root (the namespace) and their packages; a launcher that cannot
start is reported and left out. Every dataset is checked against the local one byte for byte.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cli(args, prefix=(), env=None) -> float:
    t = time.perf_counter()
    r = subprocess.run([*prefix, sys.executable, str(REPO / "cli.py"), *map(str, args)], capture_output=True,
                       text=True, env=env, cwd=REPO)  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args[:3]))}: {r.stderr[-2000:]}")
    return time.perf_counter() - t


def files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".handkit" not in p.relative_to(folder).parts}  # fmt: skip


def task_figures(out: Path, tasks: int) -> tuple[list, list]:
    """(submission -> start seconds, task wall seconds) of each task's last attempt."""
    from cluster import record

    submitted = record.read_submitted(out)
    starts, walls = [], []
    for k in range(tasks):
        a = record.read_task(out, k)["attempts"][-1]
        starts.append(a["started"] - submitted[k][-1])
        walls.append(a["ended"] - a["started"])
    return starts, walls


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num", type=int, default=32, help="Poses (samples) rendered.")
    p.add_argument("--tasks", type=int, default=2, help="Tasks (shards).")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--launchers", nargs="+", default=["local", "slurm", "ray"])
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_launch-"))
    render = ["--resolution", a.resolution]
    try:
        poses = work / "poses"
        cli(["sample-poses", "--out", poses, "--num", a.num, "--batch-size", max(1, a.num // (2 * a.tasks)),
             "--copies", 2, "--iters", 8, "--no-report"])  # fmt: skip
        print(f"{a.num} poses in chunks of {max(1, a.num // (2 * a.tasks))}, rendered at {a.resolution} px as "
              f"{a.tasks} shards; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        rows = []
        for launcher in a.launchers:  # the local baseline right before each launcher: the machine is noisy
            local = work / f"local-{launcher}"
            shard_walls = [cli(["render", "--poses", poses, "--out", local, *render, "--shard", f"{k}/{a.tasks}"])
                           for k in range(a.tasks)]  # fmt: skip
            try:
                figures = run_launcher(launcher, poses, work, render, a.tasks)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                print(f"{launcher}: left out ({str(e).strip().splitlines()[-1][:200]})")
                continue
            if files(work / launcher) != files(local):
                raise SystemExit(f"{launcher}: the dataset differs from the local one")
            rows.append((launcher, shard_walls, *figures))
        print(f"\n{'launcher':8} {'local shard s':>14} {'submit->start s':>16} {'task wall s':>12} {'task/local':>11} "
              f"{'run wall s':>11} {'run/local sum':>14}")  # fmt: skip
        for launcher, shard_walls, starts, walls, total in rows:
            shard, wall = statistics.mean(shard_walls), statistics.mean(walls)
            print(f"{launcher:8} {shard:14.1f} {min(starts):16.2f} {wall:12.1f} {wall / shard:11.2f} "
                  f"{total:11.1f} {total / sum(shard_walls):14.2f}")  # fmt: skip
        print("\nevery launched dataset equals the local one byte for byte")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run_launcher(launcher: str, poses: Path, work: Path, render: list, tasks: int):
    out = work / launcher
    cores = os.cpu_count() or 1  # a task takes every core, so tasks run one at a time, as the local shards did
    args = ["render", "--poses", poses, "--out", out, *render, "--launcher", launcher, "--tasks", tasks,
            "--cpus-per-task", cores, "--poll-seconds", 0.2]  # fmt: skip
    if launcher == "local":
        total = cli(args)
        return (*task_figures(out, tasks), total)
    from cluster.netns import LoopbackNamespace

    with LoopbackNamespace() as ns:
        if launcher == "slurm":
            from cluster import local_slurm

            root = work / "slurm-cluster"
            env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
            subprocess.run([*ns.prefix, sys.executable, "-m", "cluster.local_slurm", str(root)], check=True,
                           capture_output=True, cwd=REPO, timeout=60)  # fmt: skip
            try:
                total = cli(args, prefix=ns.prefix, env=env)
            finally:
                local_slurm.stop(root)
        else:
            command = [*ns.prefix, sys.executable, "-m", "cluster.local_ray", "--nodes", "1", "--cpus", str(cores)]
            control = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
            try:
                line = control.stdout.readline()
                if not line.startswith("address "):
                    raise RuntimeError("the Ray cluster did not start")
                total = cli([*args, "--ray-address", line.split()[1]], prefix=ns.prefix)
            finally:
                control.stdin.write("stop\n")
                control.stdin.close()
                control.wait(timeout=60)
    return (*task_figures(out, tasks), total)


if __name__ == "__main__":
    sys.exit(main())
