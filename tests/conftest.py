"""Fixtures shared by the test modules; pytest hands them to any test that names them as an argument.

Helpers that are plain functions (ray casters, dataset and release makers, the licensed-style MANO writer) stay
in the `tests/*_fixtures.py` modules and are imported where used. The sampler's and the training tests' fixtures
are defined with their helpers in `sampler_fixtures.py` and `train_fixtures.py` and made available here.
"""

import numpy as np
import pytest
from train_fixtures import drawn_dataset, graphs, rendered_dataset  # noqa: F401

from tests.interhand_fixtures import hand_models, release_with_images
from tests.sampler_fixtures import posed_pairs, sampler_geometry, sampler_models  # noqa: F401


@pytest.fixture(scope="session")
def models():
    """The active hand model (the stand-in unless MANO files are found)."""
    return hand_models()


@pytest.fixture(scope="session")
def standin_models():
    """The stand-in hand's raw arrays as shipped (not through the cache): {hand: {name: array}}."""
    from handmodel.standin import shipped

    return shipped()


@pytest.fixture(scope="session")
def two_hand_vertices(standin_models):
    """Rest-pose stand-in hands side by side, the left one lower and turned: {hand: (778,3)} world metres."""
    c, s = np.cos(0.4), np.sin(0.4)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    return {
        "right": standin_models["right"]["v_template"] + [0.0, 0.0, 0.06],
        "left": standin_models["left"]["v_template"] @ turn.T + [0.0, 0.02, -0.07],
    }


@pytest.fixture
def mini_annotations(tmp_path, models):
    """A private mini InterHand2.6M release without images (fast), all splits: (root, summary)."""
    from interhand.mini_release import make_mini_release

    summary = make_mini_release(tmp_path / "release", models, with_images=False, seed=0)
    return tmp_path / "release", summary


@pytest.fixture
def mini_release():
    """The shared mini release with rendered images (train split): (root, summary). Do not modify it."""
    return release_with_images()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty hand-model cache ($HANDKIT_CACHE) and no $MANO_DIR, for tests that convert models."""
    monkeypatch.setenv("HANDKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MANO_DIR", raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def texture_dir(tmp_path_factory, models):
    """A user texture folder with one small generated skin texture and its detail map (found by its name), so
    render tests do not wait for the full texture set."""
    from handmodel.png import encode_png
    from textures.skin import SKIN_TONES, skin_texture
    from textures.uv_layout import load_or_build

    d = tmp_path_factory.mktemp("textures")
    img, detail, _ = skin_texture(
        models["right"], load_or_build(models)["right"], SKIN_TONES["III"], np.random.default_rng(0), 128
    )
    (d / "sand.png").write_bytes(encode_png(img))
    (d / "sand.detail.png").write_bytes(encode_png(detail))
    return d
