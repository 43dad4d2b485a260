"""Helpers of the InterHand2.6M tests: the hand models and the generated mini release (cached per test process),
and the interior pixels of a rendered mask (the ray-cast reference is `render_fixtures.raycast_pixels`).

The release with images (train split only) is rendered once per test process and shared read-only (the
`mini_release` fixture in conftest.py); tests that modify a release make their own annotation-only one
(`mini_annotations`).
"""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

from handmodel import load_hand_models
from interhand.mini_release import make_mini_release


@functools.cache
def hand_models():
    return load_hand_models(quiet=True)


@functools.cache
def release_with_images() -> tuple[Path, dict]:
    """(root, summary) of the shared mini release with rendered images (train split only)."""
    root = Path(tempfile.mkdtemp(prefix="interhand_mini_"))
    atexit.register(shutil.rmtree, root, True)
    summary = make_mini_release(root / "release", hand_models(), with_images=True, seed=0, splits=("train",), samples=1)
    return root / "release", summary


def interior_pixels(mask: np.ndarray, step: int, depth: np.ndarray | None = None, max_jump: float = 0.005):
    """Pixels (N,2) (x, y) on a grid of `step` whose 3x3 neighbourhood has one label (and, given the depth map,
    no depth jump over `max_jump`, in its units): a one-sample render may put a pixel on an edge on either side."""
    h, w = mask.shape
    ys, xs = np.mgrid[1 : h - 1 : step, 1 : w - 1 : step]
    ys, xs = ys.ravel(), xs.ravel()
    uniform = np.ones(len(xs), bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            uniform &= mask[ys + dy, xs + dx] == mask[ys, xs]
            if depth is not None:
                uniform &= np.abs(depth[ys + dy, xs + dx].astype(np.float64) - depth[ys, xs]) <= max_jump
    return np.stack([xs[uniform], ys[uniform]], axis=1)
