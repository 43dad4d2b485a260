"""How a command's run is split into tasks and where they run: `LaunchSettings`, whose fields are options of every
command that can be launched (sample-poses, render, interhand prepare, import). None of them changes what a run
writes: the same command gives the same bytes on any launcher and any number of tasks."""

from dataclasses import dataclass

from handmodel.errors import InputError
from handmodel.options import check_settings, option

LAUNCHERS = ("local", "slurm", "ray")


def _check_resource(text: str) -> None:
    name, sep, amount = text.partition("=")
    try:
        ok = sep and name and float(amount) > 0
    except ValueError:
        ok = False
    if not ok:
        raise InputError(f"--ray-resource {text}: expected NAME=AMOUNT with a positive amount, e.g. blender=1")


def _check_each(values) -> None:
    for v in values:
        _check_resource(v)


@dataclass(kw_only=True)
class LaunchSettings:
    """Where the tasks of one run go and what each may use; the defaults are the command line's."""

    launcher: str = option("Where the tasks run: local (processes on this machine), slurm (a job array submitted "
                           "with sbatch) or ray (tasks on a Ray cluster).", "local", choices=LAUNCHERS)  # fmt: skip
    tasks: int = option("Split the run into this many tasks (task K is --shard K/TASKS). With the local launcher "
                        "and 1 task the command runs in this process, as without a launcher.", 1, min=1)  # fmt: skip
    cpus_per_task: int = option("CPU cores per task (Slurm --cpus-per-task, Ray num_cpus; local: how many tasks run "
                                "at once is the cores divided by this).", 2, min=1)  # fmt: skip
    gpus_per_task: int = option("GPUs per task (Slurm --gres=gpu:N, Ray num_gpus); give the command --device cuda "
                                "to use them.", 0, min=0)  # fmt: skip
    mem_per_task: str | None = option("Memory per task, e.g. 8G (Slurm --mem; Ray: the memory resource).", None)
    time_limit: str | None = option("Wall-clock limit per task, Slurm's form (e.g. 4:00:00).", None)
    partition: str | None = option("Slurm partition.", None)
    account: str | None = option("Slurm account.", None)
    qos: str | None = option("Slurm quality of service.", None)
    sbatch: list[str] = option("An extra #SBATCH line for the job script (repeatable), e.g. "
                               "--sbatch=--constraint=avx2.", default_factory=list, metavar="ARG")  # fmt: skip
    ray_address: str | None = option("The Ray cluster: HOST:PORT of its head, or auto (RAY_ADDRESS, or the "
                                     "cluster this node belongs to).", None)  # fmt: skip
    ray_resource: list[str] = option("A custom Ray resource each task needs, NAME=AMOUNT (repeatable).",
                                     default_factory=list, metavar="NAME=AMOUNT", check=_check_each)  # fmt: skip
    max_retries: int = option("Times a task that died (node lost, preempted, cancelled, killed) is run again; a "
                              "task that fails on bad input is never retried.", 3, min=0)  # fmt: skip
    poll_seconds: float = option("Seconds between looks at the scheduler and the output folder.", 2.0, min=0.1)

    def validate(self) -> None:
        check_settings(self)
        if self.launcher == "ray" and not self.ray_address:
            raise InputError("--launcher ray needs --ray-address HOST:PORT (or auto)")

    def resources(self) -> dict:
        """The Ray resources a task asks for besides CPUs, GPUs and memory."""
        return {name: float(amount) for name, _, amount in (r.partition("=") for r in self.ray_resource)}
