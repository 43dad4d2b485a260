"""benchmarks/gpu_check.sh and its sections: a clear refusal without a GPU, and the CPU side of each section."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script would run for minutes")
def test_the_script_refuses_clearly_without_a_gpu():
    env = dict(os.environ, PYTHON=sys.executable)
    r = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=REPO, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "no CUDA GPU visible" in r.stderr and r.stderr.count("\n") == 1
    assert gpu_check.main(["train", "--device", "cuda"]) == 2


def test_train_and_ddp_sections_run_a_tiny_network_on_the_cpu(capsys):
    small = ["--device", "cpu", "--tiny", "--backbone", "resnet18", "--size", "64", "--batch", "2", "--steps", "1"]
    assert gpu_check.main(["train", *small]) == 0
    assert gpu_check.main(["ddp", *small]) == 0
    out = capsys.readouterr().out
    assert "images/s" in out and "trainable" in out and "gloo world 1: all_reduce ok" in out


def test_sampler_section_reports_poses_per_second_on_the_cpu(capsys):
    assert gpu_check.main(["sampler", "--device", "cpu", "--batch", "4", "--iters", "2"]) == 0
    assert "poses/s" in capsys.readouterr().out
