"""A private single-node Slurm cluster on 127.0.0.1, for trying the launcher on one machine and for its tests.

    python -m cluster.local_slurm DIR      # starts munged, slurmctld and slurmd under DIR; prints the SLURM_CONF
    python -m cluster.local_slurm DIR --stop

Everything it starts (munged with its own key and socket, slurmctld, slurmd) keeps its configuration, state, logs
and pid files under DIR, listens on 127.0.0.1 only and is stopped by its pid. Needs Debian's `slurm-wlm` and
`munge` packages and root (slurmd starts jobs as the submitting user).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("slurmd", "slurmctld", "munged")  # stop order


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def write_config(root: Path, cpus: int | None = None, memory_mb: int = 4096) -> Path:
    """slurm.conf for one node named `localhost` at 127.0.0.1, with its own ports, state, spool, log and pid files
    under `root`."""
    cpus = cpus or os.cpu_count() or 1
    ctld_port, d_port = _free_ports(2)
    for sub in ("state", "spool", "log", "run", "munge"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=handkit-local",
                "SlurmctldHost=localhost(127.0.0.1)",
                f"SlurmctldPort={ctld_port}",
                f"SlurmdPort={d_port}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                f"AuthInfo=socket={root / 'munge' / 'munge.socket'}",
                "CredType=cred/munge",
                f"StateSaveLocation={root / 'state'}",
                f"SlurmdSpoolDir={root / 'spool'}",
                f"SlurmctldPidFile={root / 'run' / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'run' / 'slurmd.pid'}",
                f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SwitchType=switch/none",
                "MpiDefault=none",
                "ReturnToService=2",
                "SchedulerType=sched/builtin",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "MinJobAge=300",
                "KillWait=2",
                "InactiveLimit=0",
                "SlurmctldTimeout=30",
                "SlurmdTimeout=30",
                f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
                "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES",
                "",
            ]
        )
    )
    return conf


def start(root, cpus: int | None = None, timeout_s: float = 30.0) -> dict:
    """Start munged, slurmctld and slurmd under `root`; returns the environment a client needs ({'SLURM_CONF'})."""
    root = Path(root).resolve()
    for tool in ("munged", "slurmctld", "slurmd", "sbatch"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: install Debian's slurm-wlm and munge packages")
    conf = write_config(root, cpus)
    m = root / "munge"
    key = m / "munge.key"
    if not key.exists():
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
    m.chmod(0o700)
    subprocess.run(["munged", "--force", f"--key-file={key}", f"--socket={m / 'munge.socket'}",
                    f"--pid-file={m / 'munged.pid'}", f"--log-file={m / 'munged.log'}",
                    f"--seed-file={m / 'munged.seed'}"], check=True, capture_output=True)  # fmt: skip
    env = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run(["slurmctld", "-i", "-f", str(conf)], check=True, env=env, capture_output=True)
    subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env, capture_output=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() in ("idle", "mixed", "allocated"):
            return {"SLURM_CONF": str(conf)}
        time.sleep(0.2)
    stop(root)
    raise RuntimeError(f"the local Slurm under {root} did not come up in {timeout_s:.0f} s (see {root / 'log'})")


def _pid_files(root: Path) -> dict:
    return {"slurmd": root / "run" / "slurmd.pid", "slurmctld": root / "run" / "slurmctld.pid",
            "munged": root / "munge" / "munged.pid"}  # fmt: skip


def stop(root, timeout_s: float = 10.0) -> None:
    """Stop the daemons started under `root`, each by the pid in its pid file (SIGTERM, then SIGKILL)."""
    root = Path(root).resolve()
    for name, pid_file in _pid_files(root).items():
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        del name


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m cluster.local_slurm", description=__doc__.split("\n")[0])
    p.add_argument("dir", help="Folder for the cluster's configuration, state, logs and pid files.")
    p.add_argument("--stop", action="store_true", help="Stop the cluster started under DIR.")
    a = p.parse_args(argv)
    if a.stop:
        stop(a.dir)
        return 0
    env = start(a.dir)
    print(f"export SLURM_CONF={env['SLURM_CONF']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
