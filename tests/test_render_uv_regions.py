"""The hand UV layout's regions (dorsal, palmar, nail, knuckle) and the forearm's texture patch."""

import numpy as np
import pytest

from handmodel import load_hand_models
from handmodel.forearm import forearm_mesh, posed_frames, wrist_loop
from textures.uv_layout import REGIONS, build_layouts, forearm_uvs


@pytest.fixture(scope="module")
def setup():
    models = load_hand_models(quiet=True)
    return models, build_layouts(models)


def test_every_fingertip_has_a_nail_on_its_back_and_every_joint_a_knuckle(setup):
    models, layouts = setup
    m, region = models["right"], layouts["right"]["region"]
    v, f = m.v_template, m.faces
    centres = v[f].mean(1)
    J = m.J_regressor @ v
    for tip in m.tip_ids:
        near_tip = np.linalg.norm(centres - v[tip], axis=1) < 0.015
        nails = near_tip & (region == REGIONS.index("nail"))
        assert nails.sum() >= 4
    for j in (1, 2, 4, 5, 7, 8, 10, 11):  # MCP and PIP joints of the four fingers
        near = np.linalg.norm(centres - J[j], axis=1) < 0.016
        assert (near & (region == REGIONS.index("knuckle"))).sum() >= 3, j
    assert not (region[layouts["right"]["dorsal"] == 0] == REGIONS.index("knuckle")).any()
    assert np.array_equal(layouts["left"]["region"], region)  # the meshes correspond face by face


def test_forearm_faces_sample_plain_dorsal_skin_of_the_palm(setup):
    models, layouts = setup
    m = models["right"]
    loop = wrist_loop(m.faces)
    fr = posed_frames(m, np.zeros((1, 48)), np.zeros((1, 10)), np.zeros((1, 3)))
    _, faces = forearm_mesh(m.v_template, loop, fr["wrist"][0], fr["axis"][0], fr["lateral"][0])
    uv = forearm_uvs(layouts["right"], m, len(loop))
    assert uv.shape == (len(faces), 3, 2)
    # Inside the UV triangles of the palm's dorsal region (point-in-triangle over the dorsal faces).
    dorsal = layouts["right"]["uv"][layouts["right"]["region"] == REGIONS.index("dorsal")]
    pts = uv.reshape(-1, 2)[::7]
    a, b, c = dorsal[:, 0], dorsal[:, 1], dorsal[:, 2]

    def cross(o, p, q):
        return (p[..., 0] - o[..., 0]) * (q[..., 1] - o[..., 1]) - (p[..., 1] - o[..., 1]) * (q[..., 0] - o[..., 0])

    P = pts[:, None]
    d1, d2, d3 = cross(a[None], b[None], P), cross(b[None], c[None], P), cross(c[None], a[None], P)
    inside = ((d1 >= 0) & (d2 >= 0) & (d3 >= 0)) | ((d1 <= 0) & (d2 <= 0) & (d3 <= 0))
    assert inside.any(1).all()
