"""The driver of a launched run: split a command into tasks (task K = the command with --shard K/N), submit them
to an engine (cluster/engines.py), watch them with one progress bar, run again a task that died (a lost node, a
preemption, a scancel, a killed process) up to --max-retries times, report a task that failed on bad input with
its log instead of running it again, and finish the folder when every task has finished.

The run record (cluster/record.py) is in the output folder: the driver can be stopped and started again (it
adopts Slurm jobs still queued or running), and a rerun of the same command submits only the tasks not done.
"""

import os
import sys
import time
import uuid
from pathlib import Path

from cluster import commands, record
from cluster.engines import ENGINES
from cluster.task import NOT_VISIBLE
from handmodel.errors import InputError
from handmodel.options import settings_to_argv


def _argv_without_shard(settings) -> list[str]:
    argv = settings_to_argv(settings)
    i = argv.index("--shard")
    return argv[:i] + argv[i + 2 :]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def prepare_run(command: tuple, settings, launch) -> dict:
    """The run record for this command line: the earlier one if the same command was launched into the folder
    before (its finished tasks count), else a new one (an earlier launch's task states are forgotten; the
    command's own fingerprint still refuses settings that would mix two runs' samples)."""
    out = Path(settings.out)
    run = {"command": list(command), "argv": _argv_without_shard(settings), "tasks": launch.tasks,
           "cwd": os.getcwd(), "python": sys.executable, "root": str(Path(__file__).resolve().parent.parent),
           "launcher": launch.launcher}  # fmt: skip
    old = record.read_run(out)
    same = old is not None and all(old.get(k) == run[k] for k in ("command", "argv", "tasks"))
    if same:
        run["id"], run["created"] = old["id"], old["created"]
    else:
        if old is not None:
            for p in record.launch_dir(out).glob("task-*.json"):
                p.unlink()
            for name in (record.ENGINE_FILE, "submitted.json"):
                (record.launch_dir(out) / name).unlink(missing_ok=True)
        run["id"], run["created"] = uuid.uuid4().hex[:12], time.time()
    out.mkdir(parents=True, exist_ok=True)
    record.write_run(out, run)
    return run


def launch(command: tuple, settings, launch, echo=_stderr, progress: bool = True) -> dict:
    """Run `command` with `settings` as launch.tasks tasks on launch.launcher; returns {'tasks', 'retries',
    'seconds'}. Raises InputError naming each failed task and its log when a task failed."""
    launch.validate()
    commands.check(command, settings)
    out = settings.out
    run = prepare_run(command, settings, launch)
    n = launch.tasks
    pending = [k for k in range(n) if record.task_state(out, k) != "done"]
    t0 = time.monotonic()
    retries: dict[int, int] = {}
    if pending:
        engine = ENGINES[launch.launcher](out, run, launch)
        try:
            _drive(engine, pending, command, settings, launch, run, retries, echo, progress)
        finally:
            engine.close()
    else:
        echo(f"{out}: all {n} tasks of this run are done already")
    commands.finish(command, settings, run, echo)
    return {"tasks": n, "retries": sum(retries.values()), "seconds": time.monotonic() - t0}


def _bar(command, settings, launch, progress):
    from tqdm import tqdm

    total = commands.total(command, settings)
    return tqdm(total=total, unit="sample", desc=f"{' '.join(command)} on {launch.launcher}", disable=not progress,
                dynamic_ncols=True, smoothing=0.05)  # fmt: skip


def _drive(engine, pending, command, settings, launch, run, retries, echo, progress) -> None:
    out, n = settings.out, launch.tasks
    bar = _bar(command, settings, launch, progress)
    plain_echo = echo

    def echo(line: str) -> None:  # a line above the bar, which is drawn again below it
        with bar.external_write_mode(file=sys.stderr):
            plain_echo(line)

    adopted = engine.adopt(pending)
    if adopted:
        echo(f"{out}: {len(adopted)} tasks still queued or running from an earlier driver: watching them")
    _submit(engine, out, [k for k in pending if k not in adopted])
    active, failed = set(pending), {}
    seen_attempts = {k: record.attempts(out, k) for k in pending}
    bar.update(commands.done(command, settings))
    try:
        while active:
            alive = engine.alive()
            for k in sorted(active - alive):
                active.discard(k)
                why = _ended(engine, out, k, launch, retries, echo)
                if why == "retry":
                    _submit(engine, out, [k])
                    active.add(k)
                elif why is not None:
                    failed[k] = why
            for k in active:  # Ray runs a lost task again by itself: say so when its next attempt starts
                a = record.attempts(out, k)
                if engine.retries_itself and a > max(1, seen_attempts.get(k, 0)):
                    retries[k] = retries.get(k, 0) + (a - max(1, seen_attempts[k]))
                    echo(f"task {k}: attempt {a} started (the last one ended without finishing)")
                seen_attempts[k] = a
            bar.n = commands.done(command, settings)
            running = sum(1 for k in active if record.task_state(out, k) == "running")
            bar.set_postfix_str(f"tasks: {running} running, {len(active) - running} queued, "
                                f"{n - len(active) - len(failed)} done, {len(failed)} failed")  # fmt: skip
            bar.refresh()
            if active:
                time.sleep(launch.poll_seconds)
    finally:
        bar.close()
    if failed:
        lines = [failed[k] for k in sorted(failed)]
        raise InputError(f"{len(failed)} of {n} tasks failed; the others' samples are kept, and a rerun of the same "
                         "command runs only what is missing:\n  " + "\n  ".join(lines))  # fmt: skip


def _submit(engine, out, ks: list[int]) -> None:
    if ks:
        record.note_submitted(out, ks)
        engine.submit(ks)


def _ended(engine, out, k, launch, retries, echo) -> str | None:
    """What to do about task k, which left the engine: None (done), 'retry', or the reason it failed."""
    state = record.task_state(out, k)
    log = record.log_path(out, k)
    if state == "done":
        return None
    if state == "failed":
        return f"task {k}: {record.last_log_line(out, k) or 'failed'} (log: {log})"
    code = getattr(engine, "ended", {}).get(k)
    if code == NOT_VISIBLE:
        return f"task {k}: its node cannot see {out}; outputs must be on a filesystem every node mounts"
    record.mark_died(out, k, "lost")
    if engine.retries_itself:
        return f"task {k}: ended without finishing {launch.max_retries + 1} times (log: {log})"
    retries[k] = retries.get(k, 0) + 1
    if retries[k] > launch.max_retries:
        return f"task {k}: ended without finishing {retries[k]} times; not run again (log: {log})"
    echo(f"task {k}: ended without finishing (node lost, preempted, cancelled or killed); running it again "
         f"(retry {retries[k]} of {launch.max_retries})")  # fmt: skip
    return "retry"
