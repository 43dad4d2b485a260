"""Quick poses without the sampler's optimisation: natural finger poses, the two hands side by side facing each
other, random shapes. Not checked for contact or penetration: inputs for the renderer's tests and benchmarks."""

import numpy as np

from handmodel.anatomy import joint_frames, sample_natural_hand_poses
from handmodel.joints import HANDS
from handmodel.poses_io import Poses, save_poses


def side_by_side_poses(path, models, n: int, seed: int = 0) -> Poses:
    """Write a poses file of `n` side-by-side pairs (ids 100, 101, ...) to `path`; returns its Poses."""
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
