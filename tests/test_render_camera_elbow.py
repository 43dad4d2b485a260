"""Orbit cameras keep the forearms' rounded elbow ends out of the picture."""

import numpy as np
from scipy.spatial.transform import Rotation

from blender_scripts.camera import CameraRanges, sample_orbit_camera
from handmodel import load_hand_models
from handmodel.camera import project, world_to_camera
from handmodel.forearm import FOREARM
from handmodel.skinning import mano_forward

SIZE = 128


def _hands_pointing_at(models, direction):
    """Both hands' vertices and (wrist, elbow) of each forearm when both forearms point along `direction`; the
    elbow computed from the documented geometry: the rest axis runs from the middle finger's MCP joint through
    the wrist joint, the root rotation turns it, and the elbow lies the forearm's length along it."""
    points, arms = [], []
    for side, m in ((1.0, models["right"]), (-1.0, models["left"])):
        j = m.J_regressor @ m.v_template  # rest joints, MANO order: 0 wrist, 4 middle MCP
        rest = (j[0] - j[4]) / np.linalg.norm(j[0] - j[4])
        rot, _ = Rotation.align_vectors([direction], [rest])
        pose = np.zeros((1, 48))
        pose[0, :3] = rot.as_rotvec()
        trans = np.array([[side * 0.08, 0.3, 0.35]]) - j[0]  # wrist joints 16 cm apart (the root pivots on j[0])
        verts, joints = mano_forward(m, pose, np.zeros((1, 10)), trans)
        wrist = joints[0, 0]
        axis = rot.apply(rest)
        assert np.allclose(axis, direction, atol=1e-6)
        points.append(verts[0])
        arms.append((wrist, wrist + FOREARM.length * axis))
    return np.concatenate(points), arms


def _elbow_clearance(K, R, t, elbows):
    """Per elbow: how far (pixels) its centre projects outside the image less the elbow end's projected radius
    (positive: out of the picture), or +inf when it lies behind the camera."""
    out = []
    for e in elbows:
        cam = world_to_camera(e[None], R, t)
        if cam[0, 2] <= 0:
            out.append(np.inf)
            continue
        u, v = project(cam, K)[0]
        outside = max(-u, u - SIZE, -v, v - SIZE)
        out.append(outside - K[0, 0] * max(FOREARM.elbow_semi_axes) / cam[0, 2])
    return np.array(out)


def test_orbit_camera_keeps_elbow_ends_out_of_the_image():
    models = load_hand_models(quiet=True)
    body = np.eye(3)
    # Azimuth 0, elevation 0 puts the camera in front of the body (+z): both forearms point right at it.
    points, arms = _hands_pointing_at(models, np.array([0.0, 0.0, 1.0]))
    forearms = [(w, (e - w) / FOREARM.length) for w, e in arms]
    elbows = [e for _, e in arms]
    seen_before, centre = 0, (points.min(0) + points.max(0)) / 2
    for seed in range(40):
        K0, R0, t0 = sample_orbit_camera(np.random.default_rng(seed), points, SIZE, CameraRanges(), body_rotation=body)
        seen_before += bool((_elbow_clearance(K0, R0, t0, elbows) < 0).any())
        K, R, t = sample_orbit_camera(np.random.default_rng(seed), points, SIZE, CameraRanges(), body_rotation=body,
                                      forearms=forearms)  # fmt: skip
        assert (_elbow_clearance(K, R, t, elbows) > 0).all(), seed
        # The camera sits neither inside a forearm nor past its elbow: every elbow lies in front of it, off-line.
        eye = -R.T @ t
        for w, e in arms:
            seg = e - w
            u = np.clip((eye - w) @ seg / (seg @ seg), 0, 1)
            assert np.linalg.norm(eye - (w + u * seg)) > max(FOREARM.elbow_semi_axes)
        # Still framing the hands: every hand vertex in the image.
        uv = project(world_to_camera(points, R, t), K)
        assert uv.min() >= 0 and uv.max() <= SIZE, seed
        # The same rng gives the same camera (deterministic redraws).
        K2, R2, t2 = sample_orbit_camera(np.random.default_rng(seed), points, SIZE, CameraRanges(),
                                         body_rotation=body, forearms=forearms)  # fmt: skip
        assert np.array_equal(R, R2) and np.array_equal(t, t2) and np.array_equal(K, K2)
        assert np.linalg.norm(eye - centre) > 0.1
    assert seen_before >= 5  # unconstrained, many of these cameras look straight down the forearms


def test_cameras_that_see_no_elbow_are_kept_as_drawn():
    models = load_hand_models(quiet=True)
    body = np.eye(3)
    # Forearms hanging down and back, out of the frame of cameras in front of the body: the first draw stands.
    points, arms = _hands_pointing_at(models, np.array([0.0, 1.0, -0.3]) / np.linalg.norm([0.0, 1.0, -0.3]))
    forearms = [(w, (e - w) / FOREARM.length) for w, e in arms]
    kept = 0
    for seed in range(60):
        plain = sample_orbit_camera(np.random.default_rng(seed), points, SIZE, CameraRanges(), body_rotation=body)
        if (_elbow_clearance(*plain, [e for _, e in arms]) > 0.1 * SIZE + 1).all():
            got = sample_orbit_camera(np.random.default_rng(seed), points, SIZE, CameraRanges(), body_rotation=body,
                                      forearms=forearms)  # fmt: skip
            assert all(np.array_equal(a, b) for a, b in zip(plain, got))
            kept += 1
    assert kept >= 8
