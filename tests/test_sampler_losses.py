"""Loss terms, augmentation and the naturalness prior, each against an independent computation."""

import numpy as np
import pytest
import torch

from handmodel.anatomy import (
    COUPLING,
    anatomy_violation_deg,
    angles_from_pose,
    joint_frames,
    limit_violation_deg,
    limits_rad,
    sample_natural_hand_poses,
)
from handmodel.errors import InputError
from pose_sampler import losses
from pose_sampler.augment import BEND_CLIP_DEG, SPLAY_CLIP_DEG, SPLAY_PERTURBED, augment_angles
from pose_sampler.naturalness import fit_prior, load_prior, save_prior
from tests import sampler_fixtures

RING_PIP, PINKY_PIP = 10, 7  # MANO joints 11 and 8, as rows of the (15, 3) angle arrays
assert (COUPLING["joint"], COUPLING["follows"]) == (11, 8)

sampler_geometry = sampler_fixtures.sampler_geometry  # the shared fixture
sampler_models = sampler_fixtures.sampler_models  # the shared fixture


def test_geometry_angles_match_handmodel_anatomy(sampler_models, sampler_geometry):
    frames = joint_frames(sampler_models)
    rng = np.random.default_rng(0)
    aa = rng.normal(0, 0.4, size=(5, 45))
    for hand in ("right", "left"):
        ours = sampler_geometry.angles_from_pose(hand, torch.tensor(aa)).numpy()
        np.testing.assert_allclose(ours, angles_from_pose(aa, frames[hand]), atol=1e-12)
        back = sampler_geometry.pose_from_angles(hand, torch.tensor(ours)).numpy()
        np.testing.assert_allclose(back, aa, atol=1e-12)


def test_anatomy_loss_is_zero_inside_the_limits_and_the_squared_excess_outside():
    lo, hi = (torch.tensor(x) for x in limits_rad())
    rng = np.random.default_rng(1)
    inside = lo + (hi - lo) * torch.tensor(rng.uniform(size=(4, 15, 3)))
    inside[:, RING_PIP, 2] = inside[:, PINKY_PIP, 2]  # keep the tendon coupling satisfied
    assert torch.all(losses.anatomy_loss(inside, lo, hi) == 0)
    out = inside.clone()
    out[:, 3, 2] = np.radians(90)  # middle MCP (MANO joint 4, row 3) bent to 90 deg: 10 deg over its 80 deg limit
    expected = np.radians(10) ** 2
    np.testing.assert_allclose(losses.anatomy_loss(out, lo, hi).numpy(), expected, rtol=1e-9)
    # handmodel.anatomy sees the same 10 degree violation
    np.testing.assert_allclose(limit_violation_deg(out.numpy()).max(axis=(1, 2)), 10.0, atol=1e-9)
    np.testing.assert_allclose(anatomy_violation_deg(out.numpy()), 10.0, atol=1e-9)


def test_ring_pinky_coupling_is_in_the_loss_and_in_the_anatomy_metric():
    lo, hi = (torch.tensor(x) for x in limits_rad())
    angles = torch.zeros(1, 15, 3, dtype=torch.float64)
    angles[0, PINKY_PIP, 2] = np.radians(80.0)  # pinky PIP at 80 deg wants the ring PIP at >= 60 deg
    angles[0, RING_PIP, 2] = np.radians(40.0)
    np.testing.assert_allclose(losses.anatomy_loss(angles, lo, hi).numpy(), np.radians(20.0) ** 2, rtol=1e-9)
    assert limit_violation_deg(angles.numpy()).max() == 0  # inside every single-joint limit
    np.testing.assert_allclose(anatomy_violation_deg(angles.numpy()), [20.0], atol=1e-9)
    angles[0, RING_PIP, 2] = np.radians(61.0)
    assert losses.anatomy_loss(angles, lo, hi).item() == 0 and anatomy_violation_deg(angles.numpy())[0] == 0


def test_only_the_thumbs_first_joint_may_twist():
    # MANO joint 13 (the thumb's first) twists up to 0.5 rad; 14 and 15 and every finger joint not at all.
    twist = np.zeros((16, 15, 3))
    for j in range(15):
        twist[j, j, 0] = 0.4
    excess = limit_violation_deg(twist).max((1, 2))
    assert excess[12] == 0
    others = np.delete(excess[:15], 12)
    np.testing.assert_allclose(others, np.degrees(0.4), atol=1e-9)
    over = np.zeros((1, 15, 3))
    over[0, 12, 0] = 0.6
    np.testing.assert_allclose(limit_violation_deg(over).max(), np.degrees(0.1), atol=1e-9)


def test_contact_pairs_and_weights_follow_renderih():
    d = torch.tensor([0.0, 0.0075, 0.015, 0.02])
    np.testing.assert_allclose(losses.contact_weights(d, 0.015).numpy(), [1.0, 0.5, 0.0, 0.0], atol=1e-7)
    # two facing planes of points 5 mm apart: every pair has opposed normals
    xy = torch.stack(torch.meshgrid(torch.linspace(0, 0.02, 5), torch.linspace(0, 0.02, 5), indexing="ij"), -1)
    xy = xy.reshape(1, -1, 2)
    r = torch.cat([xy, torch.zeros(1, 25, 1)], -1)
    l_ = torch.cat([xy, torch.full((1, 25, 1), 0.005)], -1)
    nr = torch.tensor([0.0, 0.0, 1.0]).expand(1, 25, 3)
    pairs, w = losses.find_contact_pairs(r, l_, nr, -nr, torch.arange(25), max_pairs=4)
    assert pairs.shape == (1, 4, 2) and torch.all(pairs[..., 0] == pairs[..., 1])
    np.testing.assert_allclose(w.numpy(), 0.5 * np.cos(np.pi * 5 / 15) + 0.5, rtol=1e-6)
    loss = losses.contact_loss(r, l_, pairs, w)
    np.testing.assert_allclose(loss.numpy(), 4 * w[0, 0].item() * 25.0, rtol=1e-5)  # 4 pairs x w x (5 mm)^2
    # same-facing normals are not a contact
    _, w_same = losses.find_contact_pairs(r, l_, nr, nr, torch.arange(25))
    assert torch.all(w_same == 0)


def test_augmentation_perturbs_bend_and_splay_within_the_reference_ranges(sampler_models):
    frames = joint_frames(sampler_models)
    rng = np.random.default_rng(2)
    seeds = angles_from_pose(sample_natural_hand_poses(rng, 200, frames["right"]), frames["right"])
    aug = augment_angles(np.random.default_rng(3), seeds)
    bend, splay = np.degrees(aug[..., 2]), np.degrees(aug[..., 1])
    assert np.all(bend >= BEND_CLIP_DEG[:, 0] - 1e-9) and np.all(bend <= BEND_CLIP_DEG[:, 1] + 1e-9)
    free = SPLAY_PERTURBED
    assert np.all(splay[:, free] >= SPLAY_CLIP_DEG[free, 0] - 1e-9)
    assert np.all(splay[:, free] <= SPLAY_CLIP_DEG[free, 1] + 1e-9)
    np.testing.assert_array_equal(aug[..., 0], seeds[..., 0])  # twist untouched
    np.testing.assert_array_equal(aug[:, ~free, 1], seeds[:, ~free, 1])  # no splay at PIP/DIP
    assert np.abs(aug[..., 2] - seeds[..., 2]).mean() > np.radians(15)  # it does move the joints
    again = augment_angles(np.random.default_rng(3), seeds)
    np.testing.assert_array_equal(aug, again)


def test_naturalness_prior_is_the_gaussian_density_scipy_gives_and_round_trips(tmp_path, sampler_models):
    from scipy.stats import multivariate_normal

    frames = joint_frames(sampler_models)["right"]
    rng = np.random.default_rng(4)
    seeds = angles_from_pose(sample_natural_hand_poses(rng, 400, frames), frames)
    shrink, floor_deg = 0.3, 1.5
    prior = fit_prior(seeds, shrink=shrink, floor_deg=floor_deg)
    # scipy's density of the documented model: sample covariance shrunk toward its diagonal, plus a floor.
    x = seeds.reshape(400, 45)
    sample_cov = (x - x.mean(0)).T @ (x - x.mean(0)) / 399
    cov = (1 - shrink) * sample_cov + shrink * np.diag(np.diag(sample_cov)) + np.radians(floor_deg) ** 2 * np.eye(45)
    ref = multivariate_normal(mean=x.sum(0) / 400, cov=cov)
    held_out = angles_from_pose(sample_natural_hand_poses(rng, 100, frames), frames)
    scrambled = augment_angles(rng, held_out)
    nat = prior.nll(torch.tensor(held_out)).numpy()
    # nll is -log density / 45 up to a constant: differences between poses match scipy's exactly
    ref_nll = -ref.logpdf(held_out.reshape(100, 45)) / 45
    np.testing.assert_allclose(nat - nat[0], ref_nll - ref_nll[0], rtol=1e-7, atol=1e-9)
    assert np.median(nat) < np.median(prior.nll(torch.tensor(scrambled)).numpy())
    path = tmp_path / "p.prior.npz"
    save_prior(path, prior)
    back = load_prior(path)
    np.testing.assert_array_equal(back.precision, prior.precision)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="bad.npz"):
        load_prior(tmp_path / "bad.npz")


def test_lean_skinning_reproduces_the_smplx_layer_and_its_gradient(sampler_geometry):
    from pose_sampler import skinning

    rng = np.random.default_rng(5)
    for hand in ("right", "left"):
        pose = torch.tensor(rng.normal(0, 0.5, size=(6, 48)), requires_grad=True)
        shape = torch.tensor(rng.normal(0, 1.0, size=(6, 10)))
        trans = torch.tensor(rng.normal(0, 0.1, size=(6, 3)))
        ref = sampler_geometry.layer(hand, pose, shape, trans)[0]
        (g_ref,) = torch.autograd.grad((ref**2).sum(), pose)
        model = sampler_geometry.mano[hand]
        ours = skinning.posed_vertices(model, *skinning.shaped(model, shape), pose, trans)
        (g_ours,) = torch.autograd.grad((ours**2).sum(), pose)
        assert float((ours - ref).detach().abs().max()) <= 1e-5  # metres
        np.testing.assert_allclose(g_ours.numpy(), g_ref.numpy(), rtol=1e-6, atol=1e-9)


def test_projection_lands_inside_the_limits_and_the_coupling_and_keeps_valid_angles():
    lo, hi = (torch.tensor(x) for x in limits_rad())
    rng = np.random.default_rng(7)
    wild = torch.tensor(rng.normal(0.0, 1.0, size=(200, 15, 3)))
    proj = losses.project_anatomy(wild, lo, hi)
    assert anatomy_violation_deg(proj.numpy()).max() < 1e-9
    inside = losses.project_anatomy(proj, lo, hi)
    assert torch.equal(inside, proj)  # a valid pose is left as it is
    moved = (proj - torch.maximum(torch.minimum(wild, hi), lo)).abs() > 0
    assert moved[:, :, :2].sum() == 0 and moved[:, np.arange(15) != RING_PIP].sum() == 0  # only the ring PIP bend
