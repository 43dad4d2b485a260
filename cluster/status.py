"""`python cli.py status OUT`: what a run into OUT has done, what is running and what failed, on any launcher.

A launched run is read from its record (cluster/record.py); a run started without a launcher from the folder's
locks (OUT/.handkit/lock-KofN: held while a shard runs) and its files.
"""

import fcntl
import json
import time
from pathlib import Path

from cluster import commands, record
from handmodel.errors import InputError
from handmodel.outdir import STATE_DIR, read_fingerprint


def _held(lock: Path) -> dict | None:
    """The holder of a run lock that is held now (a shard running), else None."""
    try:
        with open(lock) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = f.read().strip()
                return json.loads(text) if text.startswith("{") else {"pid": "?", "host": "?"}
    except OSError:
        return None
    return None


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if isinstance(t, int | float) else "?"


def run_status(out) -> dict:
    out = Path(out)
    fp = read_fingerprint(out)
    status = {"out": str(out), "kind": fp.get("kind") if fp else None, "running_locks": []}
    for lock in sorted((out / STATE_DIR).glob("lock-*of*")):
        holder = _held(lock)
        if holder is not None:
            status["running_locks"].append({"shard": lock.name[len("lock-") :].replace("of", "/"), **holder})
    run = record.read_run(out)
    if run is None:
        if fp is None:
            raise InputError(f"{out}: no run of the toolkit has written here (no .handkit/fingerprint.json)")
        return status
    tasks = []
    for k in range(run["tasks"]):
        rec = record.read_task(out, k) or {}
        attempts = rec.get("attempts", [])
        tasks.append({"task": k, "state": rec.get("state", "pending"), "attempts": attempts,
                      "log": str(record.log_path(out, k))})  # fmt: skip
    status.update({"command": run["command"], "launcher": run["launcher"], "tasks": tasks,
                   "created": run.get("created")})  # fmt: skip
    try:
        status["samples_done"] = _samples_done(out, run)
    except (InputError, OSError, ValueError):
        pass
    return status


def _samples_done(out: Path, run: dict) -> int:
    class Seen:  # what `commands.done` reads of the settings
        pass

    s = Seen()
    s.out = str(out)
    argv = run["argv"]
    for flag, attr, kind in (("--batch-size", "batch_size", int), ("--num", "num", int),
                             ("--format", "dataset_format", str)):  # fmt: skip
        if flag in argv:
            setattr(s, attr, kind(argv[argv.index(flag) + 1]))
    return commands.done(tuple(run["command"]), s)


def format_status(status: dict) -> str:
    lines = [f"{status['out']}: {status['kind'] or 'nothing written yet'}"]
    if "tasks" in status:
        tasks = status["tasks"]
        by = {}
        for t in tasks:
            by.setdefault(t["state"], []).append(t)
        lines[0] += (f", launched as {len(tasks)} tasks on {status['launcher']} at {_when(status.get('created'))}"
                     f" ({' '.join(status['command'])})")  # fmt: skip
        if "samples_done" in status:
            lines.append(f"samples finished: {status['samples_done']}")
        counts = ", ".join(f"{len(by.get(s, []))} {s}" for s in ("done", "running", "pending", "died", "failed"))
        lines.append(f"tasks: {counts}")
        for t in tasks:
            a = t["attempts"]
            retried = f"; attempt {len(a)}, earlier attempts ended with {[x.get('exit') for x in a[:-1]]}" if len(
                a) > 1 else ""  # fmt: skip
            if t["state"] == "running":
                lines.append(f"  task {t['task']}: running on {a[-1].get('host')} since {_when(a[-1].get('started'))}"
                             f"{retried}")  # fmt: skip
            elif t["state"] in ("failed", "died"):
                lines.append(f"  task {t['task']}: {t['state']} (exit {a[-1].get('exit') if a else '?'}){retried}; "
                             f"log: {t['log']}")  # fmt: skip
            elif retried:
                lines.append(f"  task {t['task']}: {t['state']}{retried}")
    for h in status["running_locks"]:
        lines.append(f"  shard {h['shard']}: running, pid {h.get('pid')} on {h.get('host')} since {h.get('started')}")
    if "tasks" not in status and not status["running_locks"]:
        lines.append("no shard is running now (not launched: run locks only)")
    return "\n".join(lines)
