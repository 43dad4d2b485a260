"""The body of the two hands: reachability of a wrist and forearm direction, and the body-frame estimate."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handmodel.body import ARM, estimate_body_frame, reach_terms, reach_violation, reachable, world_to_body
from handmodel.geometry import unit


def _arms(rng, n, side):
    """Arms built joint by joint: the upper arm hangs down and forward from the shoulder, the elbow bends by less
    than its limit, the forearm rises towards the middle in front of the chest. Returns body-frame wrists and
    forearm directions (wrist -> elbow)."""
    out = 1.0 if side == "right" else -1.0
    shoulder = np.array([out * ARM.shoulder_spacing / 2, 0.0, 0.0])
    upper = unit(np.stack([out * rng.uniform(0.0, 0.3, n), np.ones(n), rng.uniform(0.2, 0.8, n)], axis=1))
    elbow = shoulder + ARM.upper_arm * upper
    rise = np.radians(rng.uniform(0, 40, n))
    fore = unit(np.stack([-out * rng.uniform(0.0, 0.5, n), -np.sin(rise), np.cos(rise)], axis=1))
    wrist = elbow + ARM.forearm * fore
    flexion = np.degrees(np.arccos(np.sum(upper * fore, axis=1)))
    assert flexion.max() < ARM.max_elbow_flexion_deg
    return wrist, -fore


@pytest.mark.parametrize("side", ["right", "left"])
def test_arms_built_from_joint_angles_are_reachable(side):
    wrist, forearm_dir = _arms(np.random.default_rng(0), 500, side)
    assert reachable(wrist, forearm_dir, side).all()
    assert np.max(reach_violation(wrist, forearm_dir, side)) == 0.0


def test_a_forearm_pointing_away_from_the_body_has_no_elbow():
    # Wrist 45 cm in front of the right shoulder, forearm direction (wrist -> elbow) pointing further forward:
    # the elbow would be 70 cm from the shoulder.
    wrist = np.array([[ARM.shoulder_spacing / 2, 0.05, 0.45]])
    forearm_dir = np.array([[0.0, 0.0, 1.0]])
    terms = reach_terms(wrist, forearm_dir, "right")
    elbow_to_shoulder = np.linalg.norm(wrist[0] + ARM.forearm * forearm_dir[0] - [ARM.shoulder_spacing / 2, 0, 0])
    assert terms["upper_arm"][0] == pytest.approx(elbow_to_shoulder - ARM.upper_arm - ARM.shoulder_slack)
    assert not reachable(wrist, forearm_dir, "right").any()
    # The same wrist with the forearm pointing back and down to an elbow beside the torso is fine.
    back = unit(np.array([[0.0, 0.6, -1.0]]))
    assert reachable(wrist, back, "right").all()


def test_elbows_above_the_shoulder_behind_the_back_or_wrists_in_the_chest_fail():
    s = ARM.shoulder_spacing / 2
    # Elbow 25 cm above the shoulder line (y is down).
    wrist = np.array([[s, -0.25, ARM.forearm]])
    assert reach_terms(wrist, np.array([[0.0, 0.0, -1.0]]), "right")["elbow_high"][0] > 0.1
    # Elbow 25 cm behind the shoulders.
    wrist = np.array([[s + 0.05, 0.3, 0.0]])
    assert reach_terms(wrist, np.array([[0.0, 0.0, -1.0]]), "right")["elbow_behind"][0] > 0.1
    # A wrist in the middle of the chest.
    assert reach_terms(np.array([[0.0, 0.2, 0.0]]), np.array([[1.0, 0.0, 0.0]]), "right")["torso"][0] > 0.05


def test_wrist_nearer_than_full_elbow_flexion_allows_fails():
    s = np.array([ARM.shoulder_spacing / 2, 0.0, 0.0])
    wrist = (s + [0.0, 0.05, 0.1])[None]
    assert reach_terms(wrist, np.array([[0.0, 1.0, 0.0]]), "right")["flexion"][0] > 0.02
    # Law of cosines at the 145 degree limit, checked independently.
    a, b = ARM.upper_arm, ARM.forearm
    assert ARM.min_wrist_to_shoulder == pytest.approx(
        np.hypot(a - b * np.cos(np.radians(35)), b * np.sin(np.radians(35)))
    )


def test_numpy_and_torch_give_the_same_violation_and_torch_has_gradients():
    rng = np.random.default_rng(3)
    wrist = rng.normal([0, 0.2, 0.3], 0.3, (256, 3))
    forearm_dir = unit(rng.normal(size=(256, 3)))
    ref = reach_violation(wrist, forearm_dir, "left")
    w = torch.tensor(wrist, requires_grad=True)
    got = reach_violation(w, torch.tensor(forearm_dir), "left")
    assert np.allclose(got.detach().numpy(), ref, atol=1e-12)
    assert (ref > 0).mean() > 0.3 and (ref == 0).mean() > 0.02
    got.sum().backward()
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_estimated_body_frame_makes_both_arms_reachable_and_points_right():
    rng = np.random.default_rng(7)
    n = 200
    wr, dr = _arms(rng, n, "right")
    wl, dl = _arms(rng, n, "left")
    R = Rotation.random(n, random_state=1).as_matrix()
    t = rng.normal(0, 1.0, (n, 3))
    to_world = lambda p: np.einsum("nab,nb->na", R, p) + t  # noqa: E731
    T = estimate_body_frame(to_world(wr), np.einsum("nab,nb->na", R, dr), to_world(wl), np.einsum("nab,nb->na", R, dl))
    assert T.shape == (n, 4, 4)
    assert np.allclose(np.einsum("nab,nac->nbc", T[:, :3, :3], T[:, :3, :3]), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(T[:, :3, :3]), 1.0)
    for side, w, d in (("right", wr, dr), ("left", wl, dl)):
        wb = world_to_body(to_world(w)[:, None], T)[:, 0]
        db = np.einsum("nba,nb->na", T[:, :3, :3], np.einsum("nab,nb->na", R, d))
        assert np.mean(reachable(wb, db, side, tolerance=0.01)) > 0.95, side
    # The estimated right-hand axis agrees with the true one.
    angle = np.degrees(np.arccos(np.clip(np.sum(T[:, :3, 0] * R[:, :, 0], axis=1), -1, 1)))
    assert np.median(angle) < 15 and angle.max() < 45
