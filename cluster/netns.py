"""A network namespace of its own with only the loopback interface, for running cluster servers (Slurm, Ray) on
one machine so that they can be reached at 127.0.0.1 and nowhere else.

    with LoopbackNamespace() as ns:
        subprocess.run(ns.prefix + ["sinfo"])

The namespace is held by a sleeping process started with `unshare -n` (root, or a user namespace); a command
joins it with `nsenter`. Besides 127.0.0.1, lo gets 127.0.0.2/8: glibc's getaddrinfo (AI_ADDRCONFIG, as Slurm
calls it) resolves IPv4 names only where an address other than 127.0.0.1 is configured. Every address is in the
loopback range, and the namespace has no route out.
"""

import shutil
import signal
import subprocess


class LoopbackNamespace:
    def __init__(self):
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found: install util-linux and iproute2")
        self.holder = subprocess.Popen(
            ["unshare", "-n", "sh", "-c",
             "ip link set lo up && ip addr add 127.0.0.2/8 dev lo && echo ready && exec sleep 86400"],
            stdout=subprocess.PIPE, text=True)  # fmt: skip
        line = self.holder.stdout.readline().strip()
        if line != "ready":
            self.close()
            raise RuntimeError("could not make a network namespace (unshare -n needs root or user namespaces)")
        self.prefix = ["nsenter", "-t", str(self.holder.pid), "-n"]

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.send_signal(signal.SIGTERM)
            self.holder.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
