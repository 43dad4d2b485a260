"""Running the toolkit's writing commands as many tasks on a cluster: Slurm job arrays or Ray tasks.

A task is one command with its settings and one shard (`--shard K/N`); shards are idempotent and resumable, so a
task that dies is simply run again. `launch.py` is the driver, `task.py` what runs on a node, `record.py` the run
record under OUT/.handkit/launch/, `engines.py` the three ways to run tasks (local processes, Slurm, Ray).
"""
