"""Datasets for the training tests, written through handmodel.dataset_io.

`drawn_dataset`: posed stand-in hands drawn with cv2 (`dataset_tools.drawn`): fast, no Blender.
`rendered_dataset`: a session fixture that makes a few samples with the toolkit's own `sample-poses` and `render`
commands (Blender Cycles); the overfit, eval and demo tests use it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from dataset_tools.drawn import make_drawn_dataset

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graphs(models):
    from training.mesh_graph import hand_graphs

    return hand_graphs(models)


@pytest.fixture(scope="session")
def drawn_dataset(tmp_path_factory):
    return make_drawn_dataset(tmp_path_factory.mktemp("drawn") / "data", n=4, size=96)


def _cli(*args, cwd=REPO, env=None):
    return subprocess.run([sys.executable, "cli.py", *args], cwd=cwd, capture_output=True, text=True, env=env)


# What another machine's CPU and BLAS look like to the toolkit: OpenBLAS's oldest AVX kernels and torch's kernels
# without vector extensions. The rendered dataset is made under them, and the tests train and evaluate on it under
# this machine's own.
OTHER_MACHINE = {"OPENBLAS_CORETYPE": "Sandybridge", "ATEN_CPU_CAPABILITY": "default"}


TINY_CONFIG = REPO / "training" / "configs" / "tiny.yaml"


def tiny_config(data: dict, **sections) -> dict:
    """The tiny CPU config with `data` ({name: path}) and per-section overrides, resolved."""
    from training.config import load_yaml, resolve_config

    user = load_yaml(TINY_CONFIG)
    user["data"] = {k: str(v) for k, v in data.items()}
    for section, values in sections.items():
        user.setdefault(section, {}).update(values)
    return resolve_config(user)


@pytest.fixture(scope="session")
def rendered_dataset(tmp_path_factory):
    """Four 96x96 samples made by the toolkit's own pipeline in subprocesses: `sample-poses` (a short
    optimisation) then `render` (Blender Cycles, 4 samples per pixel), as on another machine (`OTHER_MACHINE`,
    with a hand-model cache of its own)."""
    import os

    root = tmp_path_factory.mktemp("rendered")
    env = {**os.environ, **OTHER_MACHINE, "HANDKIT_CACHE": str(root / "other-machine-cache")}
    poses, out = root / "poses.npz", root / "data"
    steps = [
        ("sample-poses", "--out", poses, "--num", 4, "--iters", 20, "--copies", 2, "--no-report", "--threads", 1),
        ("render", "--poses", poses, "--out", out, "--resolution", 96, "--samples", 4),
    ]
    for args in steps:
        r = _cli(*map(str, args), env=env)
        assert r.returncode == 0, r.stderr[-2000:]
    return out
