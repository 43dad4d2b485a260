"""The exposure rule: hands well exposed under a very bright and a very dark environment, and the photometric
figures each sample and the dataset report."""

import json

import numpy as np
import pytest

from blender_scripts.exposure import CLIP_LEVEL, EXPOSURE_BAND, choose_gain, encode
from handmodel.dataset_io import list_samples, read_meta, sample_paths
from tests.render_fixtures import hand_pixels, render_under_worlds


def hdri(scale: float) -> np.ndarray:
    """A 64x32 equirectangular map: a warm bright upper half (a sun patch in it) over a darker ground, x scale."""
    h, w = 32, 64
    rows = np.arange(h)[:, None]  # Blender images start at the bottom row: the upper rows are the sky
    rgb = np.where(rows[..., None] >= h // 2, [1.0, 0.9, 0.8], [0.25, 0.22, 0.2]) * np.ones((h, w, 1))
    rgb[24:28, 10:14] = 30.0
    return rgb * scale


@pytest.fixture(scope="module")
def lit(tmp_path_factory):
    """The same two poses rendered under a bright (x50) and a dark (x0.002) HDRI: {name: dataset folder}."""
    return render_under_worlds(tmp_path_factory.mktemp("exposure"), {"bright": hdri(50.0), "dark": hdri(0.002)})


def test_exposure_rule_puts_hands_in_the_band_under_a_bright_and_a_dark_hdri(lit):
    gains = {}
    for name, root in lit.items():
        for sample in list_samples(root):
            px = hand_pixels(root, sample)
            luma = np.median(px @ [0.2126, 0.7152, 0.0722])  # recomputed from the written JPEG and mask
            clipped = np.mean(px.max(1) >= CLIP_LEVEL - 3 / 255)  # JPEG moves values by a few levels
            assert EXPOSURE_BAND[0] <= luma <= EXPOSURE_BAND[1], (name, sample, luma)
            assert clipped <= 0.03, (name, sample, clipped)
            source = json.loads(sample_paths(root, sample)["annotation"].read_text())["source"]
            assert abs(source["hand_luma_median"] - luma) < 0.03
            gains.setdefault(sample, {})[name] = source["exposure"]
    # Same scene, light 25000x brighter: the film's gain is 25000x smaller (within the rule's 1/16-stop steps and
    # the renders' noise).
    for sample, g in gains.items():
        ratio = g["dark"] / g["bright"]
        assert 25000 / 1.3 < ratio < 25000 * 1.3, (sample, ratio)


def test_dataset_meta_reports_exposure_figures_and_histograms(lit):
    meta = read_meta(lit["bright"])
    q = meta["quality"]
    assert q["samples"] == 2 and q["outside_band"] == 0.0 and q["clipped_over_5pct"] == 0.0
    assert q["hdri_histogram"] == {"bright/bright": 2}
    assert sum(q["skin_tone_histogram"].values()) == 2
    assert q["exposure_band"] == list(EXPOSURE_BAND)


def test_choose_gain_meets_the_target_or_limits_the_clipping():
    rng = np.random.default_rng(0)
    soft = rng.uniform(0.02, 0.04, (500, 3))  # even light: the target is reachable
    g = choose_gain(soft, 0.5)
    shown = encode(soft, g).astype(np.float64) / 255
    assert abs(np.median(shown @ [0.2126, 0.7152, 0.0722]) - 0.5) < 0.02
    luma = np.array([0.2126, 0.7152, 0.0722])
    for bright, reaches_band in ((30, True), (100, False)):  # of 1000 pixels, in a 100x brighter light
        hard = np.concatenate([np.full((1000 - bright, 3), 0.01), np.full((bright, 3), 1.0)])
        shown = encode(hard, choose_gain(hard, 0.5)).astype(np.float64) / 255
        clipped = np.mean(shown.max(1) >= CLIP_LEVEL)
        if reaches_band:  # a little clipping keeps the median inside the band
            assert clipped <= 0.04 and np.median(shown @ luma) >= EXPOSURE_BAND[0]
        else:  # the band would clip a tenth of the hand: the clipping limit wins
            assert clipped <= 0.01


def test_preview_sorts_and_filters_by_the_figures(lit, tmp_path):
    from dataset_tools.preview import contact_sheet, select_samples
    from handmodel.errors import InputError

    root = lit["bright"]
    names = list_samples(root)
    luma = {n: np.median(hand_pixels(root, n) @ [0.2126, 0.7152, 0.0722]) for n in names}
    assert select_samples(root, names, sort="-luma") == sorted(names, key=luma.get, reverse=True)
    assert select_samples(root, names, only="hdri=bright/bright") == names
    assert select_samples(root, names, only="outside-band") == []
    assert contact_sheet(root, tmp_path / "s.png", sort="luma", only="hdri=bright/bright") == 2
    with pytest.raises(InputError, match="--sort brightness"):
        select_samples(root, names, sort="brightness")


def test_background_gain_brings_down_only_a_blown_out_background():
    from blender_scripts.exposure import BACKGROUND_MAX, background_gain

    rng = np.random.default_rng(1)
    luma = np.array([0.2126, 0.7152, 0.0722])
    dim = rng.uniform(0.05, 0.2, (400, 3))
    assert background_gain(dim) == 1.0
    sky = rng.uniform(8.0, 12.0, (400, 3))  # four stops above white
    f = background_gain(sky)
    shown = encode(sky * f).astype(np.float64) / 255
    assert np.median(shown @ luma) <= BACKGROUND_MAX + 0.01
    assert np.median(encode(sky * f * 2 ** (1 / 8)).astype(np.float64) / 255 @ luma) > BACKGROUND_MAX - 0.02
