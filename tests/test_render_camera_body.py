"""Random cameras look at the hands from where a camera in front of or above their body could be."""

import numpy as np
from scipy.spatial.transform import Rotation

from blender_scripts.camera import CameraRanges, sample_orbit_camera
from blender_scripts.render import body_rotations
from handmodel import load_hand_models
from handmodel.body import ARM
from handmodel.poses_io import Poses


def test_orbit_cameras_stay_in_front_of_or_above_the_body():
    rng = np.random.default_rng(0)
    points = rng.normal(0, 0.05, (200, 3)) + [0.0, 0.3, 0.35]
    in_front = []
    for k in range(200):
        body = Rotation.random(random_state=k).as_matrix()
        world_points = points @ body.T
        K, R, t = sample_orbit_camera(rng, world_points, 128, CameraRanges(), body_rotation=body)
        centre = -R.T @ t
        offset = body.T @ (centre - (world_points.min(0) + world_points.max(0)) / 2)  # body frame
        offset /= np.linalg.norm(offset)
        in_front.append(offset[2])
        assert offset[2] > -0.18 or offset[1] < -0.9  # in front of the person, or high above
        # The camera's up (its -y axis) leans towards the body's up (-y) within the roll range.
        assert (-R[1]) @ (-body[:, 1]) > -0.05 or abs(offset[1]) > 0.95
    assert np.mean(in_front) > 0.25  # on average well in front
    # Without a body the cameras circle the hands all round.
    behind = [sample_orbit_camera(rng, points, 128)[1][2, 2] for _ in range(200)]  # camera z axis, world z
    assert np.mean(np.array(behind) < -0.5) > 0.15


def test_body_frame_comes_from_the_poses_file_or_is_estimated():
    models = load_hand_models(quiet=True)
    n = 3
    params = {h: {"pose": np.zeros((n, 48)), "shape": np.zeros((n, 10)), "trans": np.zeros((n, 3))} for h in models}
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = Rotation.random(n, random_state=2).as_matrix()
    given = Poses(params=params, ids=np.arange(n), body_to_world=T)
    assert np.allclose(body_rotations(given, models), T[:, :3, :3])
    # Without it: the estimate, whose x axis runs from the left elbow to the right one.
    for h, side in (("right", 1.0), ("left", -1.0)):
        params[h]["trans"][:] = [side * ARM.shoulder_spacing / 3, 0.3, 0.3]
    est = body_rotations(Poses(params=params, ids=np.arange(n)), models)
    assert np.allclose(np.einsum("nab,nac->nbc", est, est), np.eye(3), atol=1e-9)
