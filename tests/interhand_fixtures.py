"""Fixtures for the InterHand2.6M tests: the hand models and the generated mini release.

Import them explicitly (`from tests.interhand_fixtures import models, mini_release`). The release with images
is rendered once per test process (Blender takes a while) and shared read-only; tests that modify a release
copy it or make their own annotation-only one.
"""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

from handmodel import load_hand_models
from interhand.mini_release import make_mini_release


@functools.cache
def _models():
    return load_hand_models()


@functools.cache
def _release_with_images() -> tuple[Path, dict]:
    root = Path(tempfile.mkdtemp(prefix="interhand_mini_"))
    atexit.register(shutil.rmtree, root, True)
    summary = make_mini_release(root / "release", _models(), with_images=True, seed=0, samples=2)
    return root / "release", summary


@pytest.fixture
def models():
    return _models()


@pytest.fixture
def mini_annotations(tmp_path, models):
    """A mini release without images (fast): (root, summary)."""
    summary = make_mini_release(tmp_path / "release", models, with_images=False, seed=0)
    return tmp_path / "release", summary


@pytest.fixture
def mini_release():
    """The shared mini release with rendered images: (root, summary). Do not modify it."""
    return _release_with_images()


@pytest.fixture
def mini_release_copy(tmp_path, mini_release):
    """A private copy of the mini release with images, free to modify: (root, summary)."""
    root, summary = mini_release
    shutil.copytree(root, tmp_path / "release")
    return tmp_path / "release", summary
