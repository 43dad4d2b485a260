"""`blender -b -P blender_scripts/render.py` runs on Blender's own Python, which has bpy, mathutils, numpy and the
standard library but none of the toolkit's other dependencies: render.py and everything it imports must do with
those. The bpy module stands in for Blender, and `tests/blender_python/sitecustomize.py` refuses the rest."""

import os
import subprocess
import sys
from pathlib import Path

from handmodel.dataset_io import list_samples
from pose_sampler.side_by_side import side_by_side_poses

REPO = Path(__file__).resolve().parent.parent
REFUSED = ("tqdm", "torch", "scipy", "cv2", "smplx", "click", "yaml", "PIL", "matplotlib", "OpenEXR", "tensorboard")


def blender_python_env(cache: Path) -> dict:
    """The environment of a Python that imports only what Blender ships, with an empty hand-model cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("MANO_DIR", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(REPO / "tests" / "blender_python"), "HANDKIT_CACHE": str(cache)}


def test_the_stand_in_for_blenders_python_imports_bpy_and_numpy_and_refuses_the_rest(tmp_path):
    probe = (f"import bpy, mathutils, numpy, requests, zstandard\nfor name in {REFUSED!r}:\n"
             "    try:\n        __import__(name)\n    except ImportError:\n        continue\n"
             "    raise SystemExit(f'{name} imported')\n")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=blender_python_env(tmp_path / "cache"),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]


def test_render_py_renders_on_blenders_python_from_an_empty_hand_model_cache(tmp_path, models):
    """The whole default path (stand-in hand, UV layout and generated textures made into the empty cache, forearms,
    the bundled HDRIs, a worker process, the progress lines that replace tqdm) with only Blender's modules."""
    side_by_side_poses(tmp_path / "poses.npz", models, 1)
    out = tmp_path / "ds"
    cmd = [sys.executable, str(REPO / "blender_scripts" / "render.py"), "--", "--poses", str(tmp_path / "poses.npz"),
           "--out", str(out), "--resolution", "32", "--samples", "1", "--threads", "1"]  # fmt: skip
    r = subprocess.run(cmd, cwd=tmp_path, env=blender_python_env(tmp_path / "cache"), capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert list_samples(out) == ["00000100"]
    assert "render 0/1: 1/1 samples" in r.stderr  # printed progress: tqdm is not there
