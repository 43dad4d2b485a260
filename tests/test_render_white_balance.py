"""The white balance: hands lit by a strongly blue environment come out with only a fifth of the light's colour
cast (WHITE_BALANCE = 0.8), measured against the same hands under a grey environment of the same luma."""

import cv2
import numpy as np
import pytest

from blender_scripts.exposure import WHITE_BALANCE
from blender_scripts.render import run
from blender_scripts.settings import RenderSettings
from handmodel import load_hand_models
from handmodel.dataset_io import list_samples, read_annotation, sample_paths
from tests.render_fixtures import make_poses_file

GREY = np.array([1.0, 1.0, 1.0])
BLUE = np.array([0.45, 0.95, 2.2])  # a cold sky's light: blue over red about 5x
BLUE = BLUE / float(BLUE @ [0.2126, 0.7152, 0.0722])  # the same luma as GREY


def write_uniform_hdri(path, rgb) -> None:
    import bpy

    h, w = 16, 32
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = rgb
    img = bpy.data.images.new(path.stem, w, h, float_buffer=True)
    img.pixels.foreach_set(rgba.ravel())
    img.filepath_raw = str(path)
    img.file_format = "OPEN_EXR"
    img.save()
    bpy.data.images.remove(img)


def blue_over_red(root) -> float:
    """Median over samples of the hands' mean linear blue / red (the image's sRGB decoded)."""
    ratios = []
    for name in list_samples(root):
        paths = sample_paths(root, name)
        rgb = cv2.imread(str(paths["image"]))[..., ::-1].astype(np.float64) / 255
        lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        mask = cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED)
        px = lin[(mask == 1) | (mask == 2)]
        ratios.append(px[:, 2].mean() / px[:, 0].mean())
    return float(np.median(ratios))


@pytest.fixture(scope="module")
def lit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("white_balance")
    make_poses_file(tmp / "poses.npz", load_hand_models(quiet=True), 2)
    out = {}
    for name, rgb in (("grey", GREY), ("blue", BLUE)):
        d = tmp / name
        d.mkdir()
        write_uniform_hdri(d / f"{name}.exr", rgb)
        s = RenderSettings(poses=str(tmp / "poses.npz"), out=str(tmp / f"ds_{name}"), resolution=64, samples=4,
                           hdri_dirs=[str(d)], bundled_hdris=False, sky=False, restart_every=0, threads=1,
                           exposure_spread=0.0)  # fmt: skip
        run(s, progress=False)
        out[name] = s.out
    return out


@pytest.mark.slow
def test_blue_light_keeps_a_fifth_of_its_cast(lit):
    # A uniform world lights every point with its colour, so in linear RGB the skin's blue/red under BLUE is its
    # blue/red under GREY times the light's, (B/R)^(1 - strength) of it after the balance.
    light = BLUE[2] / BLUE[0]
    measured = blue_over_red(lit["blue"]) / blue_over_red(lit["grey"])
    expected = light ** (1 - WHITE_BALANCE)
    assert abs(np.log(measured / expected)) < np.log(1.1), (measured, expected, light)
    for name in list_samples(lit["blue"]):
        gains = read_annotation(lit["blue"], name)["source"]["white_balance"]
        assert gains[0] > 1.5 * gains[2]  # red raised, blue lowered, recorded per sample
    for name in list_samples(lit["grey"]):
        assert np.allclose(read_annotation(lit["grey"], name)["source"]["white_balance"], 1.0, atol=1e-3)
