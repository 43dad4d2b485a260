"""The white balance: hands lit by a strongly blue environment come out with a twentieth of the light's colour cast
(COOL_WHITE_BALANCE = 0.95), under a strongly warm one with a fifth (WHITE_BALANCE = 0.8: a sunset stays warm),
measured against the same hands under a grey environment of the same luma."""

import numpy as np
import pytest

from blender_scripts.exposure import COOL_WHITE_BALANCE, WHITE_BALANCE
from handmodel.dataset_io import list_samples, read_annotation
from tests.render_fixtures import hand_pixels, render_under_worlds

GREY = np.array([1.0, 1.0, 1.0])
BLUE = np.array([0.45, 0.95, 2.2])  # a cold sky's light: blue over red about 5x
BLUE = BLUE / float(BLUE @ [0.2126, 0.7152, 0.0722])  # the same luma as GREY
WARM = BLUE[::-1] / float(BLUE[::-1] @ [0.2126, 0.7152, 0.0722])  # a low sun's light: red over blue about 5x


def blue_over_red(root) -> float:
    """Median over samples of the hands' mean linear blue / red (the image's sRGB decoded)."""
    ratios = []
    for name in list_samples(root):
        rgb = hand_pixels(root, name)
        lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        ratios.append(lin[:, 2].mean() / lin[:, 0].mean())
    return float(np.median(ratios))


@pytest.fixture(scope="module")
def lit(tmp_path_factory):
    worlds = {name: np.broadcast_to(rgb, (16, 32, 3)) for name, rgb in (("grey", GREY), ("blue", BLUE), ("warm", WARM))}
    return render_under_worlds(tmp_path_factory.mktemp("white_balance"), worlds)


def test_blue_light_keeps_a_twentieth_of_its_cast_and_warm_light_a_fifth(lit):
    # A uniform world lights every point with its colour, so in linear RGB the skin's blue/red under a light is its
    # blue/red under GREY times the light's, (B/R)^(1 - strength) of it after the balance.
    for name, light, strength in (("blue", BLUE, COOL_WHITE_BALANCE), ("warm", WARM, WHITE_BALANCE)):
        measured = blue_over_red(lit[name]) / blue_over_red(lit["grey"])
        expected = (light[2] / light[0]) ** (1 - strength)
        assert abs(np.log(measured / expected)) < np.log(1.05), (name, measured, expected)
    for name in list_samples(lit["blue"]):
        gains = read_annotation(lit["blue"], name)["source"]["white_balance"]
        assert gains[0] > 1.5 * gains[2]  # red raised, blue lowered, recorded per sample
    for name in list_samples(lit["grey"]):
        assert np.allclose(
            read_annotation(lit["grey"], name)["source"]["white_balance"], 1.0, atol=5e-3
        )  # the light on the skin, to noise
