"""The three ways a launched run's tasks are run; each task is `python -m cluster.task OUT K` (cluster/task.py).

An engine is told which tasks to start (`submit`) and says which are still queued or running (`alive`); the driver
(cluster/launch.py) reads how a task that left that set ended from the task's own record.
- LocalEngine: processes on this machine, as many at once as the cores allow.
- SlurmEngine: job arrays submitted with sbatch; the job script is kept under OUT/.handkit/launch/slurm/ where a
  user can read it or submit it by hand. Its state (job ids) is in the run record, so a restarted driver adopts
  the jobs an earlier driver submitted.
- RayEngine: Ray tasks on an existing cluster; Ray runs a task again when its node or worker dies.
"""

import shlex
import subprocess
import sys
from pathlib import Path

from cluster import record
from cluster.task import NOT_VISIBLE, task_env
from handmodel.errors import InputError


def _task_argv(out: str, k: int, log: bool) -> list[str]:
    return [sys.executable, "-m", "cluster.task", str(out), str(k)] + (["--log"] if log else [])


class LocalEngine:
    """Tasks as processes on this machine: cores // --cpus-per-task of them at a time."""

    retries_itself = False

    def __init__(self, out: str, run: dict, launch):
        from handmodel.worker_pool import cores_available

        self.out, self.run = out, run
        self.slots = max(1, cores_available() // launch.cpus_per_task)
        self.queue: list[int] = []
        self.procs: dict[int, subprocess.Popen] = {}
        self.ended: dict[int, int] = {}

    def adopt(self, pending: list[int]) -> set[int]:
        return set()

    def submit(self, ks: list[int]) -> None:
        self.queue.extend(ks)

    def alive(self) -> set[int]:
        for k, p in list(self.procs.items()):
            if p.poll() is not None:
                self.ended[k] = p.returncode
                del self.procs[k]
        while self.queue and len(self.procs) < self.slots:
            k = self.queue.pop(0)
            self.procs[k] = subprocess.Popen(_task_argv(self.out, k, log=True), env=task_env(self.run["root"]),
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return set(self.queue) | set(self.procs)

    def describe(self, k: int) -> str:
        return f"process {self.procs[k].pid}" if k in self.procs else "queued"

    def close(self) -> None:
        for p in self.procs.values():
            p.terminate()
        for p in self.procs.values():
            p.wait()


class SlurmEngine:
    """Tasks as Slurm job-array tasks (array index = task number), one log per task under OUT/.handkit/logs/."""

    retries_itself = False
    ALIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                    "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED"}  # fmt: skip

    def __init__(self, out: str, run: dict, launch):
        import shutil

        if shutil.which("sbatch") is None or shutil.which("squeue") is None:
            raise InputError("--launcher slurm: sbatch and squeue are not on PATH (run the driver on a login node "
                             "of the cluster)")  # fmt: skip
        self.out, self.run, self.launch = out, run, launch
        self.name = f"handkit-{run['id']}"
        state = record.read_engine(out)
        self.jobs = state.get("slurm", {}).get("jobs", []) if state.get("run_id") == run["id"] else []
        self.last_alive: set[int] = set()
        self.ended: dict[int, int] = {}

    def script(self, ks: list[int], n: int) -> str:
        """The job script of one submission: an array over the task numbers `ks`."""
        L = self.launch
        logs = record.log_path(self.out, 0).parent.resolve()
        lines = ["#!/bin/bash", f"#SBATCH --job-name={self.name}", f"#SBATCH --array={array_ranges(ks)}",
                 f"#SBATCH --output={logs}/task-%4a.log", "#SBATCH --open-mode=append",
                 f"#SBATCH --cpus-per-task={L.cpus_per_task}", "#SBATCH --ntasks=1"]  # fmt: skip
        if L.gpus_per_task:
            lines.append(f"#SBATCH --gres=gpu:{L.gpus_per_task}")
        for flag, value in (("mem", L.mem_per_task), ("time", L.time_limit), ("partition", L.partition),
                            ("account", L.account), ("qos", L.qos)):  # fmt: skip
            if value:
                lines.append(f"#SBATCH --{flag}={value}")
        lines += [f"#SBATCH {extra}" for extra in L.sbatch]
        pythonpath = shlex.quote(self.run["root"])
        lines += [
            f"# {self.run['command'][0]} task $SLURM_ARRAY_TASK_ID of {self.run['tasks']} (submission {n})",
            f"export PYTHONPATH={pythonpath}${{PYTHONPATH:+:$PYTHONPATH}}",
            f"cd {shlex.quote(self.run['cwd'])}",
            f"exec {shlex.quote(sys.executable)} -m cluster.task {shlex.quote(str(Path(self.out).resolve()))} "
            "$SLURM_ARRAY_TASK_ID",
            "",
        ]
        return "\n".join(lines)

    def _save(self) -> None:
        record.write_engine(self.out, {"run_id": self.run["id"], "slurm": {"jobs": self.jobs}})

    def adopt(self, pending: list[int]) -> set[int]:
        """The pending tasks that an earlier driver's jobs still hold (queued or running)."""
        if not self.jobs:
            return set()
        self.last_alive = self._squeue() & set(pending)
        return self.last_alive

    def submit(self, ks: list[int]) -> None:
        if not ks:
            return
        n = len(self.jobs) + 1
        path = record.launch_dir(self.out) / "slurm" / f"job-{n:03d}.sh"
        from handmodel.atomic import atomic_write_bytes

        atomic_write_bytes(path, self.script(ks, n).encode())
        record.log_path(self.out, 0).parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["sbatch", "--parsable", str(path)], capture_output=True, text=True)
        if r.returncode != 0:
            raise InputError(f"sbatch {path}: {(r.stderr or r.stdout).strip().splitlines()[-1:] or r.returncode}")
        job = r.stdout.strip().split(";")[0]
        self.jobs.append({"job": job, "tasks": ks, "script": str(path)})
        self._save()
        self.last_alive |= set(ks)

    def _squeue(self) -> set[int]:
        r = subprocess.run(["squeue", "-h", "-r", f"--name={self.name}", "-o", "%i %T"], capture_output=True,
                           text=True)  # fmt: skip
        if r.returncode != 0:
            raise OSError(f"squeue: {r.stderr.strip()}")
        alive = set()
        ours = {j["job"] for j in self.jobs}
        for line in r.stdout.split("\n"):
            parts = line.split()
            if len(parts) == 2 and "_" in parts[0] and parts[1] in self.ALIVE_STATES:
                job, index = parts[0].split("_", 1)
                if job in ours and index.isdigit():
                    alive.add(int(index))
        return alive

    def alive(self) -> set[int]:
        try:
            self.last_alive = self._squeue()
        except OSError:  # the controller did not answer this time: keep the last view
            pass
        return set(self.last_alive)

    def describe(self, k: int) -> str:
        jobs = [j["job"] for j in self.jobs if k in j["tasks"]]
        return f"job {jobs[-1]}_{k}" if jobs else "not submitted"

    def close(self) -> None:
        """The jobs go on without the driver: a restarted driver adopts them."""


def array_ranges(ks: list[int]) -> str:
    """Task numbers as Slurm's --array list: [0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    parts, ks = [], sorted(ks)
    start = prev = ks[0]
    for k in [*ks[1:], None]:
        if k is not None and k == prev + 1:
            prev = k
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if k is not None:
            start = prev = k
    return ",".join(parts)


class TaskDied(Exception):
    """A task's command was killed (a signal, an interrupt): Ray runs the task again."""


def _ray_task(out: str, k: int) -> int:
    from cluster.task import run_task

    code = run_task(out, k, log=True)
    if code not in (0, NOT_VISIBLE, *record.FAILED_CODES):
        raise TaskDied(f"task {k}: the command ended with exit status {code}")
    return code


class RayEngine:
    """Tasks as Ray tasks on an existing cluster; Ray runs a task again when its node or worker dies
    (max_retries) or its command is killed (TaskDied), up to --max-retries times."""

    retries_itself = True

    def __init__(self, out: str, run: dict, launch):
        try:
            import ray
        except ImportError:
            raise InputError("--launcher ray needs Ray: pip install ray (or: pip install .[ray])") from None
        self.ray, self.out = ray, out
        address = launch.ray_address
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"env_vars": {"PYTHONPATH": run["root"]}})  # fmt: skip
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"--ray-address {address}: cannot connect to a Ray cluster ({e})") from None
        options = {"num_cpus": launch.cpus_per_task, "num_gpus": launch.gpus_per_task,
                   "max_retries": launch.max_retries, "retry_exceptions": [TaskDied]}  # fmt: skip
        if launch.mem_per_task:
            options["memory"] = _bytes(launch.mem_per_task)
        if launch.resources():
            options["resources"] = launch.resources()
        self.remote = ray.remote(_ray_task).options(**options)
        self.futures: dict[int, object] = {}
        self.ended: dict[int, int | None] = {}

    def adopt(self, pending: list[int]) -> set[int]:
        return set()  # Ray's tasks end with the driver that owns them

    def submit(self, ks: list[int]) -> None:
        for k in ks:
            self.futures[k] = self.remote.remote(self.out, k)

    def alive(self) -> set[int]:
        if self.futures:
            refs = list(self.futures.values())
            ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
            ready = set(ready)
            for k, ref in list(self.futures.items()):
                if ref in ready:
                    try:
                        self.ended[k] = self.ray.get(ref)
                    except Exception:  # died more often than --max-retries allows (TaskDied, node or worker lost)
                        self.ended[k] = None
                    del self.futures[k]
        return set(self.futures)

    def describe(self, k: int) -> str:
        return "ray task"

    def close(self) -> None:
        self.ray.shutdown()


def _bytes(text: str) -> int:
    """'8G' / '512M' / '1000' (bytes) -> bytes, Slurm's suffixes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().rstrip("B")
    try:
        return int(float(t[:-1]) * units[t[-1]]) if t[-1:] in units else int(t)
    except ValueError:
        raise InputError(f"--mem-per-task {text}: expected a size like 8G or 512M") from None


ENGINES = {"local": LocalEngine, "slurm": SlurmEngine, "ray": RayEngine}
