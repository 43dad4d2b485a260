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
    # two planes of points 5 mm apart: each anchor's 4 nearest partners on the other plane, found both ways
    xy = torch.stack(torch.meshgrid(torch.linspace(0, 0.02, 5), torch.linspace(0, 0.02, 5), indexing="ij"), -1)
    xy = xy.reshape(1, -1, 2).double()
    r = torch.cat([xy, torch.zeros(1, 25, 1, dtype=torch.float64)], -1)
    l_ = torch.cat([xy, torch.full((1, 25, 1), 0.005, dtype=torch.float64)], -1)
    pairs = losses.anchor_pairs(r, l_, torch.arange(25))
    assert pairs.shape == (1, 2 * 25 * losses.PARTNERS, 2)
    dist = torch.cdist(r[0], l_[0]).numpy()
    for i, j in pairs[0].tolist():  # every pair is among the 4 nearest of its anchor, checked by brute force
        assert dist[i, j] <= np.sort(dist[i])[3] + 1e-12 or dist[i, j] <= np.sort(dist[:, j])[3] + 1e-12
    loss = losses.anchor_contact_loss(r, l_, pairs, radius=0.020, scale=0.3)
    pd = np.array([dist[i, j] for i, j in pairs[0].tolist()]) * 1000
    w = 0.3 * (0.5 * np.cos(np.pi * pd / 20) + 0.5) * (pd < 20)
    np.testing.assert_allclose(loss.numpy(), [np.mean(w * pd**2)], rtol=1e-9)


def test_surface_attraction_pulls_only_near_points_outside_the_margin():
    sd = torch.tensor([-0.001, 0.0004, 0.001, 0.003, 0.007], dtype=torch.float64, requires_grad=True)
    pull, w = losses.surface_attraction(sd, 0.0005, 0.006)
    np.testing.assert_allclose(w.detach().numpy()[:2], 0.0)  # inside or within the margin: nothing
    assert w[4] == 0 and 0 < w[3] < w[2] <= 1  # beyond the radius nothing, nearer more
    np.testing.assert_allclose(pull.detach().numpy()[2:4], (w * 1000 * (sd - 0.0005)).detach().numpy()[2:4])
    pull.sum().backward()
    assert torch.all(sd.grad[2:4] > 0) and torch.all(sd.grad[[0, 1, 4]] == 0)


def test_edge_length_term_is_zero_at_rest_and_the_mean_squared_change():
    rng = np.random.default_rng(3)
    rest = torch.tensor(rng.normal(size=(2, 6, 3)))
    edges = torch.tensor([[0, 1], [1, 2], [3, 5]])
    assert torch.all(losses.edge_length_loss(rest, rest, edges) == 0)
    posed = rest.clone()
    posed[:, 1] *= 1.1
    ref = [
        np.mean([(1000 * (np.linalg.norm(posed[b, i] - posed[b, j]) - np.linalg.norm(rest[b, i] - rest[b, j]))) ** 2
                 for i, j in edges.tolist()])
        for b in range(2)
    ]  # fmt: skip
    np.testing.assert_allclose(losses.edge_length_loss(posed, rest, edges).numpy(), ref, rtol=1e-9)


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


def test_augmentation_is_uniform_inside_the_window_around_the_seed_angle(sampler_models):
    from scipy.stats import kstest

    a = np.zeros((4000, 15, 3))
    a[:, :, 2] = np.radians(60.0)  # every bend at 60 deg
    aug = np.degrees(augment_angles(np.random.default_rng(5), a, bend_delta_deg=30.0, splay_delta_deg=10.0))
    for j in range(15):
        lo = max(BEND_CLIP_DEG[j, 0], 60 - 30)
        hi = min(BEND_CLIP_DEG[j, 1], 60 + 30)
        x = aug[:, j, 2]
        assert kstest(x, "uniform", args=(lo, hi - lo)).pvalue > 1e-3
        assert np.mean(np.abs(x - hi) < 0.5) < 1.5 * 0.5 / (hi - lo)  # no pile-up on the range end
    # the augmentation never leaves the anatomical limits
    assert limit_violation_deg(np.radians(aug)).max() < 1e-9


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
