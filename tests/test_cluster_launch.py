"""The launcher on real engines: a private Slurm (munged, slurmctld, slurmd) and a 3-node Ray cluster, each in a
loopback-only network namespace of its own (cluster/netns.py), so every server is reached at 127.0.0.1 only.
A launched run writes the same bytes as the command run alone; a killed task (scancel, a removed Ray node,
kill -9) costs only its retry; a task that fails on bad input is reported with its log and not run again."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
POSES = ["--num", "12", "--batch-size", "4", "--copies", "2", "--iters", "4", "--no-report"]
RENDER = ["--resolution", "48", "--cycles-samples", "2"]
FAST = ["--cpus-per-task", "1", "--poll-seconds", "0.3"]


def cli(*args, prefix=(), env=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    r = subprocess.run([*prefix, sys.executable, str(REPO / "cli.py"), *map(str, args)], capture_output=True,
                       text=True, env=env, timeout=timeout, cwd=REPO)  # fmt: skip
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def start(*args, prefix=(), env=None) -> subprocess.Popen:
    return subprocess.Popen([*prefix, sys.executable, str(REPO / "cli.py"), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)  # fmt: skip


def files(folder: Path) -> dict:
    """{relative path: bytes} of a dataset, leaving out the run record (.handkit/: locks, logs, launch)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".handkit" not in p.relative_to(folder).parts}  # fmt: skip


def task(out: Path, k: int) -> dict:
    path = out / ".handkit" / "launch" / f"task-{k:04d}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def wait_for(condition, proc: subprocess.Popen, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def samples_of(out: Path, chunks) -> int:
    """Finished samples of the given pose chunks (batch size 4) in a dataset."""
    names = {f"{i:08d}.json" for c in chunks for i in range(4 * c, 4 * c + 4)}
    folder = out / "annotations"
    return len(names & {p.name for p in folder.iterdir()}) if folder.is_dir() else 0


@pytest.fixture(scope="module")
def pose_folder(tmp_path_factory) -> Path:
    """12 poses in 3 chunks, as `sample-poses --out DIR` writes them."""
    out = tmp_path_factory.mktemp("launch") / "poses"
    cli("sample-poses", "--out", out, *POSES)
    return out


@pytest.fixture(scope="module")
def local_render(pose_folder) -> Path:
    out = pose_folder.parent / "local_render"
    cli("render", "--poses", pose_folder, "--out", out, *RENDER)
    return out


def test_sample_poses_as_local_tasks_writes_the_same_chunks(pose_folder, tmp_path):
    out = tmp_path / "poses"
    r = cli("sample-poses", "--out", out, *POSES, "--tasks", "2", *FAST)
    assert "2 tasks finished on local" in r.stdout
    assert files(out) == files(pose_folder)
    status = cli("status", out).stdout
    assert "launched as 2 tasks on local" in status and "tasks: 2 done" in status and "samples finished: 12" in status


def test_render_takes_a_folder_of_pose_chunks_and_reads_only_its_shards_chunks(pose_folder, local_render, tmp_path):
    annotations = sorted((local_render / "annotations").glob("*.json"))
    assert [p.stem for p in annotations] == [f"{i:08d}" for i in range(12)]
    assert [json.loads(p.read_text())["source"]["pose_index"] for p in annotations] == list(range(12))
    # shard 0/3 takes chunk 0 only: a damaged chunk 1 is never read
    poses = tmp_path / "poses"
    shutil.copytree(pose_folder, poses)
    (poses / "poses-00001.npz").write_bytes(b"not a zip file")
    cli("render", "--poses", poses, "--out", tmp_path / "shard0", *RENDER, "--shard", "0/3")
    shard0 = files(tmp_path / "shard0")
    del shard0["meta.json"]  # its quality figures are of 4 samples
    assert shard0 == {k: v for k, v in files(local_render).items() if Path(k).stem in {f"{i:08d}" for i in range(4)}}
    # a chunk that is not there: refused before anything is written, naming it
    (poses / "poses-00002.npz").unlink()
    r = cli("render", "--poses", poses, "--out", tmp_path / "missing", *RENDER, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "1 of 3 pose chunks missing: poses-00002.npz" in r.stderr
    assert not (tmp_path / "missing").exists()


def test_a_local_task_killed_with_sigkill_is_run_again_and_the_dataset_is_the_same(pose_folder, local_render,
                                                                                     tmp_path):  # fmt: skip
    out = tmp_path / "render"
    proc = start("render", "--poses", pose_folder, "--out", out, *RENDER, "--tasks", "2", *FAST)
    # task 0 renders chunks 0 and 2: kill its command once its first sample is written
    wait_for(lambda: samples_of(out, [0, 2]) >= 1 and "command_pid" in (task(out, 0).get("attempts") or [{}])[-1],
             proc)  # fmt: skip
    os.kill(task(out, 0)["attempts"][-1]["command_pid"], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "task 0: ended without finishing" in err and "retry 1 of 3" in err
    assert files(out) == files(local_render)
    attempts = task(out, 0)["attempts"]
    assert len(attempts) == 2 and attempts[0]["exit"] == -signal.SIGKILL and attempts[1]["exit"] == 0
    assert "earlier attempts ended with [-9]" in cli("status", out).stdout


def test_render_in_webdataset_form_as_local_tasks_writes_the_same_tars(pose_folder, tmp_path):
    shards = ["--format", "webdataset", "--shard-size", "4"]
    one, tasks = tmp_path / "one" / "data", tmp_path / "tasks" / "data"  # the index holds the folder's name
    cli("render", "--poses", pose_folder, "--out", one, *RENDER, *shards)
    cli("render", "--poses", pose_folder, "--out", tasks, *RENDER, *shards, "--tasks", "2", *FAST)
    tars = files(one)
    assert sorted(k for k in tars if k.endswith(".tar")) == [f"shard-{j:06d}.tar" for j in range(3)]
    assert files(tasks) == tars
    assert "samples finished: 12" in cli("status", tasks).stdout


@pytest.mark.parametrize("spoil", ["garbage", "other_ids", "other_run"])
def test_a_spoiled_pose_chunk_is_one_line_naming_it_before_anything_is_written(pose_folder, tmp_path, spoil):
    poses = tmp_path / "poses"
    shutil.copytree(pose_folder, poses)
    chunk = poses / "poses-00001.npz"
    if spoil == "garbage":
        chunk.write_bytes(b"\xff" * 100)
    else:  # a chunk of this run under another name, or of another run (another seed) under this one
        other = tmp_path / "other"
        cli("sample-poses", "--out", other, *POSES, *(["--seed", "1"] if spoil == "other_run" else []))
        shutil.copy(other / ("poses-00002.npz" if spoil == "other_ids" else "poses-00001.npz"), chunk)
    r = cli("render", "--poses", poses, "--out", tmp_path / "out", *RENDER, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"Error: {chunk}: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("record", ["run.json", "task-0000.json"])
def test_a_damaged_run_record_is_one_line_saying_so(pose_folder, tmp_path, record):
    out = tmp_path / "poses"
    cli("sample-poses", "--out", out, *POSES, "--tasks", "2", *FAST)
    path = out / ".handkit" / "launch" / record
    path.write_bytes(b"\xff\xfe not json")
    for args in (("status", out), ("sample-poses", "--out", out, *POSES, "--tasks", "2", *FAST)):
        r = cli(*args, check=False)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert f"{path}: the run record is damaged" in r.stderr.strip().splitlines()[-1]


def test_a_task_whose_node_cannot_see_the_output_folder_says_so(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cluster.task", str(tmp_path / "elsewhere"), "0"], capture_output=True,
                       text=True, cwd=REPO)  # fmt: skip
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert "cannot see" in r.stderr and "a filesystem that every node mounts" in r.stderr
    assert not (tmp_path / "elsewhere").exists()


# ---- Slurm ----


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A private single-node Slurm in its own loopback namespace: (command prefix, environment)."""
    if shutil.which("slurmctld") is None or os.geteuid() != 0:
        pytest.skip("needs Debian's slurm-wlm and munge, and root (.ci/run installs them)")
    from cluster import local_slurm
    from cluster.netns import LoopbackNamespace

    root = tmp_path_factory.mktemp("slurm")
    ns = LoopbackNamespace()
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    try:
        subprocess.run([*ns.prefix, sys.executable, "-m", "cluster.local_slurm", str(root)], check=True, cwd=REPO,
                       capture_output=True, timeout=60)  # fmt: skip
        yield ns.prefix, env
    finally:
        local_slurm.stop(root)
        ns.close()


def test_render_on_slurm_writes_the_same_bytes_and_survives_a_scancel(slurm, pose_folder, local_render, tmp_path):
    prefix, env = slurm
    out = tmp_path / "render"
    proc = start("render", "--poses", pose_folder, "--out", out, *RENDER, "--launcher", "slurm", "--tasks", "2",
                 *FAST, prefix=prefix, env=env)  # fmt: skip
    wait_for(lambda: samples_of(out, [0, 2]) >= 1, proc)
    job = json.loads((out / ".handkit" / "launch" / "engine.json").read_text())["slurm"]["jobs"][0]["job"]
    subprocess.run([*prefix, "scancel", f"{job}_0"], env=env, check=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "task 0: ended without finishing" in err
    assert files(out) == files(local_render)
    assert len(task(out, 0)["attempts"]) == 2 and len(task(out, 1)["attempts"]) == 1
    script = (out / ".handkit" / "launch" / "slurm" / "job-002.sh").read_text()
    assert "#SBATCH --array=0\n" in script and "#SBATCH --cpus-per-task=1" in script
    assert "== task 0 of 2, attempt 2" in (out / ".handkit" / "logs" / "task-0000.log").read_text()
    # a rerun of the same command submits nothing
    again = cli("render", "--poses", pose_folder, "--out", out, *RENDER, "--launcher", "slurm", "--tasks", "2",
                *FAST, prefix=prefix, env=env)  # fmt: skip
    assert "all 2 tasks of this run are done already" in again.stderr
    assert not (out / ".handkit" / "launch" / "slurm" / "job-003.sh").exists()


def test_a_slurm_task_that_fails_on_bad_input_is_reported_with_its_log_and_not_retried(slurm, pose_folder,
                                                                                        tmp_path):  # fmt: skip
    prefix, env = slurm
    poses = tmp_path / "poses"
    shutil.copytree(pose_folder, poses)
    (poses / "poses-00001.npz").write_bytes(b"not a zip file")  # task 1's only chunk
    out = tmp_path / "render"
    r = cli("render", "--poses", poses, "--out", out, *RENDER, "--launcher", "slurm", "--tasks", "2", *FAST,
            prefix=prefix, env=env, check=False)  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    log = out / ".handkit" / "logs" / "task-0001.log"
    assert "1 of 2 tasks failed" in r.stderr and f"log: {log}" in r.stderr
    assert "poses-00001.npz: cannot read as .npz" in r.stderr
    assert len(task(out, 1)["attempts"]) == 1 and task(out, 1)["state"] == "failed"
    assert task(out, 0)["state"] == "done" and samples_of(out, [0, 2]) == 8
    assert "1 failed" in cli("status", out).stdout


def test_sample_poses_on_slurm_writes_the_same_chunks(slurm, pose_folder, tmp_path):
    prefix, env = slurm
    out = tmp_path / "poses"
    cli("sample-poses", "--out", out, *POSES, "--launcher", "slurm", "--tasks", "3", *FAST, prefix=prefix, env=env)
    assert files(out) == files(pose_folder)


# ---- Ray ----


@pytest.fixture(scope="module")
def ray_cluster():
    """A head and two worker nodes (each with one `render` slot) in a loopback namespace: (prefix, address,
    control process)."""
    pytest.importorskip("ray")
    if os.geteuid() != 0:
        pytest.skip("needs root for the network namespace")
    from cluster.netns import LoopbackNamespace

    ns = LoopbackNamespace()
    command = [*ns.prefix, sys.executable, "-m", "cluster.local_ray", "--nodes", "2", "--resource", "render=1"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.startswith("address 127.0.0.1:"), line
        yield ns.prefix, line.split()[1], proc
    finally:
        if proc.poll() is None:
            proc.stdin.write("stop\n")
            proc.stdin.close()
            proc.wait(timeout=60)
        ns.close()


def test_render_on_ray_survives_a_removed_node(ray_cluster, pose_folder, local_render, tmp_path):
    prefix, address, control = ray_cluster
    out = tmp_path / "render"
    proc = start("render", "--poses", pose_folder, "--out", out, *RENDER, "--launcher", "ray", "--ray-address",
                 address, "--ray-resource", "render=1", "--tasks", "2", *FAST, prefix=prefix)  # fmt: skip
    wait_for(lambda: task(out, 0).get("state") == "running" and task(out, 1).get("state") == "running", proc)
    control.stdin.write("remove 1\n")  # each worker node runs one of the two tasks
    control.stdin.flush()
    assert control.stdout.readline().strip() == "removed 1"
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert files(out) == files(local_render)
    assert sorted(len(task(out, k)["attempts"]) for k in (0, 1)) == [1, 2]
    assert "2 tasks finished on ray (1 retried)" in stdout


def test_train_under_srun_forms_one_ddp_run_of_two_gloo_ranks(slurm, drawn_dataset, tmp_path):
    """Slurm starts each rank itself (srun --ntasks 2): the ranks meet through Slurm's variables alone."""
    import torch

    prefix, env = slurm
    run = tmp_path / "run"
    r = subprocess.run([*prefix, "srun", "--ntasks", "2", "--cpus-per-task", "1", sys.executable, str(REPO / "cli.py"),
                        "train", "--config", REPO / "training" / "configs" / "tiny.yaml", "--data",
                        f"drawn={drawn_dataset}", "--max-steps", "2", "--batch-size", "2", "--device", "cpu",
                        "--out", run], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("checkpoint:") == 1  # rank 0 only: one run of two ranks, not two runs of one
    ckpt = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["world"] == 2 and ckpt["step"] == 2


def test_interhand_prepare_on_slurm_writes_the_same_bytes(slurm, mini_release, tmp_path):
    prefix, env = slurm
    root, _ = mini_release
    cli("interhand", "prepare", "--data_path", root, "--out", tmp_path / "local")
    cli("interhand", "prepare", "--data_path", root, "--out", tmp_path / "slurm", "--launcher", "slurm", "--tasks",
        "2", *FAST, prefix=prefix, env=env)  # fmt: skip
    assert files(tmp_path / "slurm") == files(tmp_path / "local") and len(files(tmp_path / "local")) > 4


def test_a_stopped_slurm_driver_started_again_adopts_its_running_jobs(slurm, pose_folder, local_render, tmp_path):
    prefix, env = slurm
    out = tmp_path / "render"
    args = ("render", "--poses", pose_folder, "--out", out, *RENDER, "--launcher", "slurm", "--tasks", "2", *FAST)
    first = start(*args, prefix=prefix, env=env)
    wait_for(lambda: task(out, 0).get("state") == "running", first)
    first.send_signal(signal.SIGINT)  # Ctrl-C on the login node: the jobs go on
    first.communicate(timeout=60)
    second = start(*args, prefix=prefix, env=env)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-3000:]
    assert "still queued or running from an earlier driver: watching them" in err
    assert files(out) == files(local_render)
    assert not (out / ".handkit" / "launch" / "slurm" / "job-002.sh").exists()  # nothing submitted twice
    assert all(len(task(out, k)["attempts"]) == 1 for k in (0, 1))
