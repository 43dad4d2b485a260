"""A Ray cluster of several nodes on this machine (`ray.cluster_utils.Cluster`), for trying the Ray launcher and
for its tests. Run it inside a loopback-only namespace (cluster/netns.py) so that its servers are reached at
127.0.0.1 only:

    python -m cluster.local_ray --nodes 2 --resource render=1

It prints `address HOST:PORT` once the nodes are up, then reads commands from its standard input, one a line:
`remove I` removes worker node I (1..NODES; its tasks are lost, and Ray runs them again elsewhere), `add` adds
one, `stop` (or the end of the input) shuts the cluster down. The head node runs no tasks that need
--resource: with one, tasks land on the worker nodes only.
"""

import argparse
import sys


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m cluster.local_ray", description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=2, help="Worker nodes besides the head.")
    p.add_argument("--cpus", type=int, default=1, help="CPUs each worker node offers.")
    p.add_argument("--resource", action="append", default=[], metavar="NAME=AMOUNT",
                   help="A custom resource each worker node offers (repeatable).")  # fmt: skip
    a = p.parse_args(argv)
    from ray.cluster_utils import Cluster

    resources = {name: float(amount) for name, _, amount in (r.partition("=") for r in a.resource)}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})  # fmt: skip
    nodes = [None]

    def add():
        nodes.append(cluster.add_node(num_cpus=a.cpus, resources=resources, node_ip_address="127.0.0.1"))

    try:
        for _ in range(a.nodes):
            add()
        cluster.wait_for_nodes()
        print(f"address {cluster.address}", flush=True)
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["remove"] and len(words) == 2:
                cluster.remove_node(nodes[int(words[1])], allow_graceful=False)
                print(f"removed {words[1]}", flush=True)
            elif words[:1] == ["add"]:
                add()
                cluster.wait_for_nodes()
                print(f"added {len(nodes) - 1}", flush=True)
            elif words[:1] == ["stop"]:
                break
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
