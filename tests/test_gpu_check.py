"""benchmarks/gpu_check.sh and its sections: a clear refusal without a GPU, and the CPU side of each section. The
sections run as their users run them, `python benchmarks/gpu_check.py SECTION ...`, on this tree."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


def gpu_check(*args: str) -> subprocess.CompletedProcess:
    """Run one section of benchmarks/gpu_check.py; PYTHONPATH puts this tree first, as pytest's `pythonpath` does."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "benchmarks/gpu_check.py", *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": path}, timeout=600)  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script would run for minutes")
def test_the_script_refuses_clearly_without_a_gpu():
    env = dict(os.environ, PYTHON=sys.executable)
    r = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=REPO, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "no CUDA GPU visible" in r.stderr and r.stderr.count("\n") == 1
    r = gpu_check("train", "--device", "cuda")
    assert r.returncode == 2 and "no CUDA device visible" in r.stdout, r.stderr[-2000:]


def test_train_and_ddp_sections_run_a_tiny_network_on_the_cpu():
    small = ["--device", "cpu", "--tiny", "--backbone", "resnet18", "--size", "64", "--batch", "2", "--steps", "1"]
    train, ddp = gpu_check("train", *small), gpu_check("ddp", *small)
    assert train.returncode == 0 and ddp.returncode == 0, (train.stderr + ddp.stderr)[-3000:]
    assert "images/s" in train.stdout and "trainable" in train.stdout and "gloo world 1: all_reduce ok" in ddp.stdout


def test_sampler_section_reports_poses_per_second_on_the_cpu():
    r = gpu_check("sampler", "--device", "cpu", "--batch", "4", "--iters", "2")
    assert r.returncode == 0 and "poses/s" in r.stdout, r.stderr[-2000:]
