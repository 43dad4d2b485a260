"""Helpers of the InterHand2.6M tests: the hand models and the generated mini release (cached per test process),
and an independent ray-cast reference for rendered masks and depth.

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


def raycast(meshes: dict, K: np.ndarray, pixels: np.ndarray):
    """Independent reference for a render: the first mesh hit by the ray through each pixel centre.

    meshes: {label: (verts (V,3) camera metres, faces (F,3))}; pixels (N,2) (x, y). Returns labels (N,) (0 where
    nothing is hit) and depth (N,) camera z in metres (0 where nothing is hit), by the Moller-Trumbore
    ray-triangle test against every face (libigl's ray_mesh_intersect misses some hits on these meshes).
    """
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    dirs = np.c_[pixels, np.ones(len(pixels))] @ np.linalg.inv(K).T  # z = 1, so the ray parameter is the depth
    labels, depth = np.zeros(len(pixels), np.int64), np.full(len(pixels), np.inf)
    for label, (verts, faces) in meshes.items():
        tri = np.asarray(verts, np.float64)[np.asarray(faces)]
        a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        for i, d in enumerate(dirs):
            p = np.cross(d, e2)
            det = (e1 * p).sum(1)
            ok = np.abs(det) > 1e-15
            inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            u = (-a * p).sum(1) * inv
            q = np.cross(-a, e1)
            v = (q @ d) * inv
            t = (e2 * q).sum(1) * inv
            hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
            if hit.any() and t[hit].min() < depth[i]:
                depth[i], labels[i] = t[hit].min(), label
    depth[~np.isfinite(depth)] = 0.0
    return labels, depth


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
