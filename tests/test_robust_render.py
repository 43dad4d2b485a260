"""`render` never mixes runs in one folder: concurrent runs with other settings are refused (two real processes),
folders that no render wrote are refused untouched, duplicate pose ids and empty poses files are refused."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmodel.dataset_io import list_samples, read_meta, sample_paths
from pose_sampler.side_by_side import side_by_side_poses

REPO = Path(__file__).resolve().parent.parent


def _render_cmd(poses, out, texture_dir, *extra):
    return [sys.executable, str(REPO / "cli.py"), "render", "--poses", str(poses), "--out", str(out), "--samples", "1",
            "--no-generated-textures", "--texture-dir", str(texture_dir), "--restart-every", "0", "--threads", "1",
            "--denoise", "off", *map(str, extra)]  # fmt: skip


def _run(cmd):
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def _error_line(output):
    lines = [x for x in output.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def test_two_renders_with_other_settings_at_once_cannot_mix_one_folder(tmp_path, models, texture_dir):
    side_by_side_poses(tmp_path / "poses.npz", models, 4)
    out = tmp_path / "ds"
    first = subprocess.Popen(_render_cmd(tmp_path / "poses.npz", out, texture_dir, "--resolution", 64), cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    state = out / ".handkit"
    lock, fingerprint_lock = state / "lock-0of1", state / "fingerprint.lock"

    def settled():  # the first run holds its lock and has written the fingerprint (its fingerprint lock is free)
        return (lock.is_file() and lock.read_text() and (state / "fingerprint.json").is_file()
                and fingerprint_lock.is_file() and not fingerprint_lock.read_text())  # fmt: skip

    deadline = time.time() + 120
    while not settled() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)
    # Paused, the first run stays at once for the checks below, however fast it renders (its pid lives on).
    os.kill(first.pid, signal.SIGSTOP)
    try:
        code, output = _run(_render_cmd(tmp_path / "poses.npz", out, texture_dir, "--resolution", 32))
        assert code == 1 and f"is in use by another run: pid {first.pid}" in _error_line(output)
        code, output = _run(_render_cmd(tmp_path / "poses.npz", out, texture_dir, "--resolution", 32, "--shard", "1/2"))
        line = _error_line(output)
        assert code == 1 and "belongs to another" in line and "(image_size was [64, 64], now [32, 32])" in line
        code, output = _run(_render_cmd(tmp_path / "poses.npz", out, texture_dir, "--resolution", 64, "--seed", 1,
                                        "--shard", "1/2"))  # fmt: skip
        assert code == 1 and "(seed was 0, now 1)" in _error_line(output)
    finally:
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=300) == 0, first.stdout.read()
    names = list_samples(out)
    assert len(names) == 4 and read_meta(out)["image_size"] == [64, 64]
    assert {cv2.imread(str(sample_paths(out, n)["image"])).shape[:2] for n in names} == {(64, 64)}


@pytest.mark.parametrize("foreign", ["train run", "sample-poses folder"])
def test_render_into_a_folder_that_no_render_wrote_is_refused_untouched(tmp_path, models, texture_dir, foreign):
    side_by_side_poses(tmp_path / "poses.npz", models, 2)
    out = tmp_path / "out"
    out.mkdir()
    if foreign == "train run":
        (out / "checkpoints").mkdir()
        (out / "config.yaml").write_text("train: {}\n")
    else:
        side_by_side_poses(out / "chunk_00000.npz", models, 2)
    before = sorted(p.name for p in out.rglob("*"))
    code, output = _run(_render_cmd(tmp_path / "poses.npz", out, texture_dir, "--resolution", 32))
    assert code == 1 and f"{out} holds files that no render wrote" in _error_line(output)
    assert "choose an empty folder" in output
    assert sorted(p.name for p in out.rglob("*")) == before


def test_render_refuses_duplicate_pose_ids_and_empty_poses_files(tmp_path, models, texture_dir):
    side_by_side_poses(tmp_path / "poses.npz", models, 3)
    data = dict(np.load(tmp_path / "poses.npz"))
    data["ids"] = np.array([100, 101, 101])
    np.savez(tmp_path / "dup.npz", **data)
    code, output = _run(_render_cmd(tmp_path / "dup.npz", tmp_path / "a", texture_dir))
    assert code == 1 and "dup.npz: key 'ids' repeats id 101" in _error_line(output)
    empty = {k: v[:0] if v.ndim else v for k, v in data.items()}
    np.savez(tmp_path / "empty.npz", **empty)
    code, output = _run(_render_cmd(tmp_path / "empty.npz", tmp_path / "b", texture_dir))
    assert code == 1 and "empty.npz: holds no poses" in _error_line(output)
    for num in (0, -1):
        code, output = _run(_render_cmd(tmp_path / "poses.npz", tmp_path / "c", texture_dir, "--num", num))
        assert code == 2 and "--num" in _error_line(output)
    assert not any((tmp_path / d).exists() for d in ("a", "b", "c"))


def test_a_render_worker_exits_when_its_driver_is_killed(tmp_path):
    """The worker's watchdog (started by `render.py --worker`): a driver killed with SIGKILL runs no cleanup, so
    the worker itself must notice that its parent is gone instead of rendering on."""
    worker = ("import time; from blender_scripts.render import exit_with_parent; "
              "exit_with_parent(0.05); print('ready', flush=True); time.sleep(60)")  # fmt: skip
    driver = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', sys.argv[1]], "
              "stdout=subprocess.PIPE, text=True); p.stdout.readline(); print(p.pid, flush=True); "
              "import time; time.sleep(60)")  # fmt: skip
    d = subprocess.Popen([sys.executable, "-c", driver, worker], stdout=subprocess.PIPE, text=True, cwd=REPO)
    pid = int(d.stdout.readline())
    d.kill()
    d.wait()
    deadline = time.time() + 5
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:
        status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}/status").exists() else ""
        if "State:\tZ" in status:
            break
        time.sleep(0.05)
    status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}/status").exists() else ""
    assert not status or "State:\tZ" in status, "the worker outlived its killed driver"
