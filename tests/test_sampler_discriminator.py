"""The naturalness discriminator of `sample-poses --interhand`: trained real (the seed frames' hands) vs augmented,
saved beside the output with its figures, and better than chance on hands it never saw."""

import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu

from handmodel.anatomy import angles_from_pose, joint_frames
from handmodel.interhand_release import interacting_mano_frames
from handmodel.joints import HANDS
from handmodel.poses_io import load_poses
from pose_sampler.augment import augment_angles
from pose_sampler.report import summary_text
from pose_sampler.run import SampleSettings, sample_poses


@pytest.fixture(scope="module")
def release(tmp_path_factory, sampler_models):
    from interhand.mini_release import make_mini_release

    root = tmp_path_factory.mktemp("ih") / "release"
    make_mini_release(root, sampler_models, with_images=False, seed=0)
    return root


def _hand_angles(root, split, models) -> np.ndarray:
    """Both hands of every interacting frame of a split, (2 n, 15, 3) radians."""
    frames = joint_frames(models)
    seeds = interacting_mano_frames(root, split, models)
    return np.concatenate([angles_from_pose(np.stack([f[h]["pose"][3:] for f in seeds]), frames[h]) for h in HANDS])


def _logits(state: dict, angles: np.ndarray) -> np.ndarray:
    """The saved MLP evaluated from its raw weights (Linear, LeakyReLU 0.2, Linear, LeakyReLU 0.2, Linear)."""
    x = torch.as_tensor(angles.reshape(len(angles), 45), dtype=torch.float32)
    weights = sorted(k for k in state if k.endswith(".weight"))
    for i, k in enumerate(weights):
        x = x @ state[k].T + state[k.replace("weight", "bias")]
        if i < len(weights) - 1:
            x = torch.nn.functional.leaky_relu(x, 0.2)
    return x[:, 0].numpy()


def test_interhand_run_saves_a_discriminator_that_tells_unseen_real_hands_from_augmented(tmp_path, release,
                                                                                         sampler_models):  # fmt: skip
    out = tmp_path / "ih.npz"
    settings = SampleSettings(out=out, num=4, batch_size=4, copies=4, iters=12, interhand=str(release), split="train",
                              report=False)  # fmt: skip
    summary = sample_poses(settings, progress=False)
    saved = tmp_path / "ih.discriminator.pt"
    assert saved.is_file()
    figures = summary["discriminator"]
    assert figures["path"] == str(saved) and figures["real_train_poses"] + figures["real_heldout_poses"] == 8
    assert 0.5 < figures["train_auc"] <= 1.0 and 0.0 <= figures["heldout_accuracy"] <= 1.0
    assert "naturalness discriminator" in summary_text(summary, load_poses(out))
    assert load_poses(out).meta["naturalness_discriminator"]["file"] == saved.name
    data = torch.load(saved, weights_only=True)
    assert data["figures"] == {k: v for k, v in figures.items() if k != "path"}
    # Hands of the other splits' frames (never trained on) against augmented copies of them, drawn here.
    real = np.concatenate([_hand_angles(release, s, sampler_models) for s in ("val", "test")])
    fake = augment_angles(np.random.default_rng(11), np.concatenate([real] * 8), 120.0, 30.0)
    r, f = _logits(data["state_dict"], real), _logits(data["state_dict"], fake)
    auc = mannwhitneyu(r, f).statistic / (len(r) * len(f))
    assert auc >= 0.7, auc  # chance is 0.5
    # The run's naturalness term is the saved Gaussian plus the saved discriminator's -log D, per hand.
    from pose_sampler.naturalness import load_prior

    poses, gaussian = load_poses(out), load_prior(tmp_path / "ih.prior.npz")
    frames = joint_frames(sampler_models)
    expect = 0.0
    for h in HANDS:
        a = angles_from_pose(poses.params[h]["pose"][:, 3:].astype(np.float64), frames[h])
        g = gaussian.nll(torch.as_tensor(a)).numpy()
        expect = expect + (g + np.logaddexp(0.0, -_logits(data["state_dict"], a))) / 2
    np.testing.assert_allclose(poses.metrics["naturalness_nll"], expect, rtol=1e-3, atol=1e-3)


def test_the_built_in_prior_has_no_discriminator(tmp_path):
    out = tmp_path / "p.npz"
    summary = sample_poses(
        SampleSettings(out=out, num=2, batch_size=2, copies=2, iters=4, report=False), progress=False
    )
    assert "discriminator" not in summary and not (tmp_path / "p.discriminator.pt").exists()
    assert "naturalness_discriminator" not in load_poses(out).meta
