"""Helpers of the renderer's tests: an independent ray caster and a small poses file (the stand-in hands'
fixtures are in conftest.py)."""

import igl
import numpy as np

from handmodel.joints import HANDS


def raycast(vertices: dict, faces: dict, K, R, t, width: int, height: int):
    """Ray-cast each pixel centre with libigl: (labels (H,W) 0/1/2, depth (H,W) camera z, 0 = miss)."""
    V = np.concatenate([vertices[h] for h in HANDS]).astype(np.float64)
    F = np.concatenate([faces["right"], faces["left"] + len(vertices["right"])]).astype(np.int64)
    n_right = len(faces["right"])
    center = -R.T @ t
    labels = np.zeros((height, width), np.uint8)
    depth = np.zeros((height, width), np.float32)
    Kinv = np.linalg.inv(K)
    for v in range(height):
        for u in range(width):
            d = R.T @ (Kinv @ [u, v, 1.0])
            # All hits, sorted by distance (libigl's first=True returns garbage on a miss).
            hits = igl.ray_mesh_intersect(center, d, V, F)
            if hits:
                fid, dist = hits[0][0], hits[0][1]
                labels[v, u] = 1 if fid < n_right else 2
                depth[v, u] = dist  # d has camera z = 1, so the ray parameter is the camera z
    return labels, depth


def make_poses_file(path, models, n: int, seed: int = 0):
    """A small poses file: natural finger poses, hands side by side facing each other, random shapes."""
    from handmodel.anatomy import joint_frames, sample_natural_hand_poses
    from handmodel.poses_io import Poses, save_poses

    rng = np.random.default_rng(seed)
    frames = joint_frames(models)
    params = {}
    for k, hand in enumerate(HANDS):
        pose = np.zeros((n, 48))
        pose[:, 3:] = sample_natural_hand_poses(rng, n, frames[hand])
        pose[:, :3] = rng.normal(0, 0.3, (n, 3)) + [0.0, 0.0, (1.2 if k == 0 else -1.2)]
        trans = rng.normal(0, 0.01, (n, 3)) + [0.0, 0.0, (0.07 if k == 0 else -0.07)]
        params[hand] = {"pose": pose, "shape": rng.normal(0, 0.5, (n, 10)), "trans": trans}
    poses = Poses(params=params, ids=np.arange(n) + 100, meta={"source": "render tests"})
    save_poses(path, poses)
    return poses
