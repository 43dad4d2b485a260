"""One task of a launched run, as a node runs it: `python -m cluster.task OUT K [--log]`.

It reads the run record (OUT/.handkit/launch/run.json: a node that cannot read it cannot see the output folder,
and is refused with a line saying so), records the attempt, runs the command of the run with `--shard K/N` in the
run's working folder, and records how it ended. The command itself does the work and is idempotent: a task run
again resumes where the last attempt stopped. SIGTERM and SIGINT (Slurm's warning before a kill, a Ctrl-C) are
passed to the command; the command dies with this process (PR_SET_PDEATHSIG), so a lost task leaves nothing
running that could hold its shard's lock.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster import record

NOT_VISIBLE = 3  # exit status of a task whose node cannot see the output folder
PR_SET_PDEATHSIG = 1


def task_command(run: dict, k: int) -> list[str]:
    """The command line task k runs: the run's command and arguments with `--shard K/N`."""
    return [run["python"], "-m", "cli", *run["command"], *run["argv"], "--shard", f"{k}/{run['tasks']}"]


def task_env(root: str) -> dict:
    """This process's environment with the toolkit's tree first on PYTHONPATH (`python -m cli` finds it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the command outlives a killed task, as any process would
        pass


def run_task(out: str, k: int, log: bool = False) -> int:
    """Run task k of the run launched into `out`; returns the command's exit status (negative: its signal)."""
    run = record.read_run(out) if os.path.isdir(out) else None
    if run is None:
        print(f"error: {socket.gethostname()} cannot see {out} (no {record.RUN_FILE} in its .handkit/launch/): "
              "the output folder must be on a filesystem that every node mounts at the same path", file=sys.stderr,
              flush=True)  # fmt: skip
        return NOT_VISIBLE
    attempt = record.start_attempt(out, k)
    command = task_command(run, k)
    env = task_env(run["root"])
    stream = None
    if log:
        record.log_path(out, k).parent.mkdir(parents=True, exist_ok=True)
        stream = open(record.log_path(out, k), "a", buffering=1)
    header = (f"== task {k} of {run['tasks']}, attempt {attempt}, on {socket.gethostname()} at "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command[2:])}")  # fmt: skip
    print(header, file=stream or sys.stdout, flush=True)
    proc = subprocess.Popen(command, cwd=run["cwd"], env=env, stdout=stream, stderr=subprocess.STDOUT if stream
                            else None, preexec_fn=_die_with_parent)  # fmt: skip
    record.note_command(out, k, proc.pid)

    def forward(signum, _frame):
        proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    code = proc.wait()
    state = record.end_attempt(out, k, code)
    print(f"== task {k}: {state} (exit status {code})", file=stream or sys.stdout, flush=True)
    if stream is not None:
        stream.close()
    return code


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m cluster.task", description=__doc__.split("\n")[0])
    p.add_argument("out", help="The run's output folder.")
    p.add_argument("k", type=int, help="The task's number (its shard K of N).")
    p.add_argument("--log", action="store_true", help="Append the command's output to OUT/.handkit/logs/.")
    a = p.parse_args(argv)
    code = run_task(a.out, a.k, a.log)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
