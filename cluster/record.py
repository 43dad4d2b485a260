"""The record of a launched run, kept in the output folder so that every node, the driver and `status` see it:

    OUT/.handkit/launch/run.json        the command, its arguments without --shard, the number of tasks, the
                                        launcher, the working folder and Python the tasks run with
    OUT/.handkit/launch/task-0003.json  task 3's state (running, done, failed, died) and each attempt's host,
                                        pid, start, end and exit status, written by the task itself
    OUT/.handkit/launch/engine.json     what the driver submitted (Slurm job ids), so a restarted driver adopts it
    OUT/.handkit/launch/submitted.json  when each task was handed to the engine (each submission)
    OUT/.handkit/logs/task-0003.log     task 3's output, every attempt appended

Only the standard library: a task on a node runs this before anything else is imported.
"""

import json
import os
import socket
import time
from pathlib import Path

from handmodel.atomic import atomic_write_json
from handmodel.errors import InputError
from handmodel.outdir import STATE_DIR

RUN_FILE = "run.json"
ENGINE_FILE = "engine.json"
# Exit statuses of the command: 0 done; 1 (an error the user can act on: bad input, a full disk) and 2 (a bad
# option) are failures a retry cannot fix; anything else (a signal, an interrupt) is a task that died.
FAILED_CODES = (1, 2)


def launch_dir(out) -> Path:
    return Path(out) / STATE_DIR / "launch"


def log_path(out, k: int) -> Path:
    return Path(out) / STATE_DIR / "logs" / f"task-{k:04d}.log"


def task_file(out, k: int) -> Path:
    return launch_dir(out) / f"task-{k:04d}.json"


def _read_json(path: Path) -> dict | None:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: the run record is damaged ({e}); delete {path.parent} to forget the launch "
                         "(the samples stay and are kept by a rerun)") from None  # fmt: skip
    if not isinstance(rec, dict):
        raise InputError(f"{path}: the run record is damaged (not a JSON object)")
    return rec


def read_run(out) -> dict | None:
    return _read_json(launch_dir(out) / RUN_FILE)


def write_run(out, run: dict) -> None:
    atomic_write_json(launch_dir(out) / RUN_FILE, run, indent=1)


def read_engine(out) -> dict:
    return _read_json(launch_dir(out) / ENGINE_FILE) or {}


def write_engine(out, state: dict) -> None:
    atomic_write_json(launch_dir(out) / ENGINE_FILE, state, indent=1)


def note_submitted(out, ks: list[int]) -> None:
    """Record when the driver handed tasks `ks` to the engine (launch/submitted.json: {task: [times]})."""
    path = launch_dir(out) / "submitted.json"
    seen = _read_json(path) or {}
    now = time.time()
    for k in ks:
        seen.setdefault(str(k), []).append(now)
    atomic_write_json(path, seen, indent=1)


def read_submitted(out) -> dict:
    return {int(k): v for k, v in (_read_json(launch_dir(out) / "submitted.json") or {}).items()}


def read_task(out, k: int) -> dict | None:
    return _read_json(task_file(out, k))


def task_state(out, k: int) -> str:
    """'pending' (never started), 'running', 'done', 'failed' or 'died'."""
    rec = read_task(out, k)
    return "pending" if rec is None else rec.get("state", "pending")


def attempts(out, k: int) -> int:
    rec = read_task(out, k)
    return 0 if rec is None else len(rec.get("attempts", []))


def start_attempt(out, k: int) -> int:
    """Record that task k starts on this host; returns the attempt's number (1 for the first)."""
    rec = read_task(out, k) or {"task": k, "attempts": []}
    rec["attempts"].append({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
                            "engine_id": os.environ.get("SLURM_JOB_ID") or os.environ.get("RAY_TASK_ID")})  # fmt: skip
    rec["state"] = "running"
    atomic_write_json(task_file(out, k), rec, indent=1)
    return len(rec["attempts"])


def note_command(out, k: int, pid: int) -> None:
    """Record the pid of the command that task k's current attempt runs (what `status` and a user can signal)."""
    rec = read_task(out, k)
    if rec is not None and rec.get("attempts"):
        rec["attempts"][-1]["command_pid"] = pid
        atomic_write_json(task_file(out, k), rec, indent=1)


def end_attempt(out, k: int, code: int) -> str:
    """Record how task k's current attempt ended (the command's exit status; negative: killed by that signal)."""
    rec = read_task(out, k) or {"task": k, "attempts": [{}]}
    state = "done" if code == 0 else "failed" if code in FAILED_CODES else "died"
    rec["attempts"][-1].update({"ended": time.time(), "exit": code})
    rec["state"] = state
    atomic_write_json(task_file(out, k), rec, indent=1)
    return state


def mark_died(out, k: int, why: str) -> None:
    """The driver's word that task k's attempt ended without recording it (its node or process was killed)."""
    rec = read_task(out, k) or {"task": k, "attempts": [{}]}
    if rec.get("state") in ("done", "failed"):
        return
    if rec["attempts"]:
        rec["attempts"][-1].setdefault("ended", time.time())
        rec["attempts"][-1].setdefault("exit", why)
    rec["state"] = "died"
    atomic_write_json(task_file(out, k), rec, indent=1)


def last_log_line(out, k: int) -> str:
    """The last line of task k's log that says what went wrong (an `Error:` or `error:` line if there is one)."""
    try:
        lines = [x.strip() for x in log_path(out, k).read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    errors = [x for x in lines if x.lower().startswith("error:")]
    return (errors or lines or [""])[-1][:300]
