"""Fixtures for the pose sampler's tests: the active hand model, the sampler's geometry, and posed hand pairs
made by the sampler's own seed prior (touching, in interaction configurations)."""

import numpy as np
import pytest
import torch

from handmodel.joints import HANDS


@pytest.fixture(scope="session")
def sampler_models():
    from handmodel import load_hand_models

    return load_hand_models()


@pytest.fixture(scope="session")
def sampler_geometry(sampler_models):
    from handmodel.anatomy import joint_frames
    from handmodel.torch_layer import HandLayer
    from pose_sampler.optimize import TwoHandGeometry

    frames = joint_frames(sampler_models)
    layer = HandLayer(sampler_models, dtype=torch.float64)
    return TwoHandGeometry(sampler_models, layer, frames, "cpu", dtype=torch.float64)


@pytest.fixture(scope="session")
def posed_pairs(sampler_models, sampler_geometry):
    """Eight touching two-hand seeds, perturbed so some interpenetrate: per hand vertices (8, 778, 3) float64."""
    from handmodel.skinning import mano_forward
    from pose_sampler.prior import sample_prior_seeds
    from pose_sampler.seeds import rng_for

    seeds = sample_prior_seeds(
        lambda sid, stream: rng_for(3, stream, sid), np.arange(8), sampler_models,
        {h: sampler_geometry.frames[h].numpy() for h in HANDS}, sampler_geometry.layer,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    # push the left hands into the right ones along the way they came in, by 1 to 8 mm, a little off-line
    shift = -seeds["approach"] * rng.uniform(0.001, 0.008, size=(8, 1)) + rng.normal(0.0, 0.002, size=(8, 3))
    out = {}
    for h in HANDS:
        p = seeds[h]
        trans = p["trans"] + (shift if h == "left" else 0.0)
        out[h] = mano_forward(sampler_models[h], p["pose"], p["shape"], trans)[0]
    return out
