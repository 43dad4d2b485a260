"""Skin textures and the HDRI catalogue."""

import cv2
import numpy as np

from handmodel import load_hand_models
from hdri.catalogue import list_hdris
from textures.catalogue import list_textures, make_textures
from textures.skin import SKIN_TONES
from textures.uv_layout import build_layouts


def test_textures_make_spans_light_to_dark_tones_in_the_uv_layout(tmp_path):
    models = load_hand_models(quiet=True)
    paths = make_textures(models, tmp_path, size=96, variants=1)
    assert len(paths) == len(SKIN_TONES) >= 6
    layout = cv2.imread(str(tmp_path / "uv_layout.png"), cv2.IMREAD_GRAYSCALE)
    assert layout.shape == (96, 96) and (layout > 0).mean() > 0.05
    lum = []
    for p in paths:
        img = cv2.imread(str(p))
        covered = img.sum(-1) > 0
        assert covered.mean() > 0.2  # the hand's texels (and the padding around them) are painted
        lum.append(img[covered].mean())
    assert all(a > b for a, b in zip(lum, lum[1:]))  # porcelain ... ebony
    assert list_textures(models, [tmp_path], include_generated=False) == [str(p) for p in paths]


def test_uv_layout_is_shared_by_both_hands_and_inside_the_unit_square():
    models = load_hand_models(quiet=True)
    layouts = build_layouts(models)
    for hand in ("right", "left"):
        uv = layouts[hand]["uv"]
        assert uv.shape == (len(models[hand].faces), 3, 2)
        assert uv.min() >= 0 and uv.max() <= 1
    # The same vertex gets the same UV in both hands (one texture skins both).
    for hand in ("right", "left"):
        f = models[hand].faces
        per_vertex = np.zeros((len(models[hand].v_template), 2))
        per_vertex[f.ravel()] = layouts[hand]["uv"].reshape(-1, 2)
        if hand == "right":
            right = per_vertex
    assert np.mean(np.abs(per_vertex - right).max(1) < 1e-6) > 0.9


def test_hdri_catalogue_lists_blenders_eight_and_the_sky(tmp_path):
    entries = list_hdris()
    names = [e.name for e in entries]
    assert {"city", "courtyard", "forest", "interior", "night", "studio", "sunrise", "sunset"} <= set(names)
    assert names[-1] == "sky" and entries[-1].path is None
    (tmp_path / "mine.exr").write_bytes(b"")
    # A user's HDRI is listed only from the folders it is asked for, and then alone (named folder/stem).
    assert not any(e.name.endswith("mine") for e in list_hdris())
    user = list_hdris([tmp_path], include_bundled=False, include_sky=False)
    assert [(e.name, e.path) for e in user] == [(f"{tmp_path.name}/mine", str(tmp_path / "mine.exr"))]
    both = list_hdris([tmp_path])
    assert [e.name for e in both] == names[:-1] + [f"{tmp_path.name}/mine", "sky"]  # bundled, user, sky
