"""The bad inputs a new user met (issue 26), one test each: every one ends in one line naming the file or option
and a non-zero exit (2 for options, 1 for input, 130/143 for interrupts), leaves nothing half-written, and a rerun
works."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def cli(*args, timeout=300, **kw):
    """Run `python cli.py ARGS` in a subprocess: (exit status, stdout + stderr)."""
    r = subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=REPO, capture_output=True,
                       text=True, timeout=timeout, **kw)  # fmt: skip
    return r.returncode, r.stdout + r.stderr


def error_line(output: str) -> str:
    """The one `Error:` line of a failed command (no traceback)."""
    lines = [x[x.index("Error:") :] for x in output.splitlines() if "Error:" in x]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


# ---- 2, 7, 16, 20: options out of range are usage errors (exit 2) before anything runs ----


@pytest.mark.parametrize(
    "args",
    [
        ["sample-poses", "--out", "{tmp}/p.npz", "--seed", "-1"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--seed", "-1"],
        ["train", "--data", "a={tmp}", "--out", "{tmp}/out", "--seed", "-1"],
        ["textures", "make", "--out", "{tmp}/out", "--seed", "-1"],
        ["interhand", "mini-release", "--out", "{tmp}/out", "--seed", "-1"],
        ["sample-poses", "--out", "{tmp}/p.npz", "--seed", str(2**32)],
        ["sample-poses", "--out", "{tmp}/p.npz", "--num", "1000000000000"],
        ["sample-poses", "--out", "{tmp}/p.npz", "--batch-size", "100000"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--resolution", "100000"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--cycles-samples", "1000000"],
        ["textures", "make", "--out", "{tmp}/out", "--resolution", "100000"],
        ["train", "--data", "a={tmp}", "--out", "{tmp}/out", "--batch-size", "1000000"],
        ["train", "--data", "a={tmp}", "--out", "{tmp}/out", "--resolution", "100000"],
        ["eval", "--checkpoint", "{tmp}/x.pt", "--data", "{tmp}", "--batch-size", "1000000"],
        ["interhand", "mini-release", "--out", "{tmp}/out", "--cycles-samples", "1000000"],
        ["preview", "{tmp}", "--out", "{tmp}/out.png", "--num", "1000000"],
        ["preview", "{tmp}", "--out", "{tmp}/out.png", "--scale", "1000"],
        ["assets", "preview", "{tmp}/out.png", "--resolution", "100000"],
        ["sample-poses", "--out", "{tmp}/p", "--shard", "3/2"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--shard", "a/b"],
        ["interhand", "prepare", "--data_path", "{tmp}", "--out", "{tmp}/out", "--shard", "1/1"],
        ["import", "renderih", "{tmp}", "--out", "{tmp}/out", "--shard", "0/0"],
    ],
)
def test_seeds_bounds_and_shards_out_of_range_are_usage_errors_before_anything_is_written(tmp_path, args):
    code, output = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args), timeout=60)
    line = error_line(output)
    flag = next(a for a in args if a.startswith("--") and a not in ("--out", "--poses", "--data", "--checkpoint",
                                                                    "--data_path"))  # fmt: skip
    assert code == 2 and "Invalid value" in line and flag in line, output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- 8: Ctrl-C and SIGTERM during sample-poses --workers 2 ----


def _lock_is_free(path: Path) -> bool:
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _interrupt_sampler(out: Path, sig: int) -> tuple[int, str]:
    """Start `sample-poses --workers 2` in its own process group, wait until its workers run, send `sig` to the
    whole group (as a terminal's Ctrl-C, or Slurm's SIGTERM, reaches every process)."""
    cmd = [sys.executable, str(REPO / "cli.py"), "sample-poses", "--out", str(out), "--num", "8", "--batch-size",
           "2", "--copies", "1", "--iters", "4000", "--workers", "2", "--no-report"]  # fmt: skip
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True,
                                                        text=True).stdout.split()) < 2:  # fmt: skip
        time.sleep(0.2)
    time.sleep(3)  # the workers are inside their chunks
    os.killpg(p.pid, sig)
    output, _ = p.communicate(timeout=60)
    return p.returncode, output


def test_interrupting_sample_poses_with_workers_is_one_line_and_releases_the_lock(tmp_path):
    out = tmp_path / "p.npz"
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):  # the second run starts: the lock was released
        status, output = _interrupt_sampler(out, sig)
        assert status == code, output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output and "Aborted" not in output, output
        assert output.strip().splitlines()[-1] == "interrupted; rerun the same command to resume", output
        assert _lock_is_free(tmp_path / ".p.npz.lock")
        assert not out.exists()
    leftovers = [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert not leftovers
