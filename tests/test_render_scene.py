"""HandScene: the in-process Blender API (masks, depth and RGB from one Cycles render)."""

import numpy as np
import pytest
from scipy import ndimage

from handmodel.camera import look_at, project, world_to_camera
from tests.render_fixtures import raycast, standin_models_fixture, two_hand_vertices_fixture  # noqa: F401

W, H = 64, 48


@pytest.fixture(scope="module")
def camera(two_hand_vertices):
    pts = np.concatenate(list(two_hand_vertices.values()))
    c = pts.mean(0)
    R, t = look_at(c + np.array([0.05, -0.4, 0.1]), c)
    # fx != fy and an off-centre principal point: both must reach Blender exactly.
    K = np.array([[75.0, 0.0, 30.0], [0.0, 80.0, 25.0], [0.0, 0.0, 1.0]])
    return K, R, t


@pytest.fixture(scope="module")
def rendered(standin_models, two_hand_vertices, camera):
    from blender_scripts.scene import HandScene

    faces = {h: standin_models[h]["f"] for h in standin_models}
    with HandScene(faces, width=W, height=H, samples=4, subdivision=0) as scene:
        scene.set_hands(two_hand_vertices)
        scene.set_camera(*camera)
        both = scene.render(rgb=True)
        scene.set_hands({"left": two_hand_vertices["left"]})
        left_only = scene.render(rgb=False)
    return both, left_only


def _interior(labels):
    """Pixels whose 3x3 neighbourhood has one label (edge pixels depend on where the first sample fell)."""
    lo = ndimage.minimum_filter(labels, size=3)
    hi = ndimage.maximum_filter(labels, size=3)
    return lo == hi


@pytest.mark.slow
def test_scene_mask_and_depth_match_an_independent_ray_caster(standin_models, two_hand_vertices, camera, rendered):
    both, _ = rendered
    faces = {h: standin_models[h]["f"] for h in standin_models}
    labels, depth = raycast(two_hand_vertices, faces, *camera, W, H)
    assert set(np.unique(labels)) == {0, 1, 2}
    inside = _interior(labels)
    assert inside.sum() > 0.7 * labels.size
    agree = both["mask"][inside] == labels[inside]
    assert agree.mean() > 0.995
    hit = inside & (labels > 0)
    np.testing.assert_allclose(both["depth"][hit], depth[hit], atol=2e-4)
    assert np.all(both["depth"][(labels == 0) & inside] == 0)


@pytest.mark.slow
def test_scene_outputs_have_documented_types_and_hidden_hands_vanish(two_hand_vertices, camera, rendered):
    both, left_only = rendered
    assert both["rgb"].shape == (H, W, 3) and both["rgb"].dtype == np.uint8
    assert both["mask"].shape == (H, W) and both["mask"].dtype == np.uint8
    assert both["depth"].dtype == np.float32
    assert "rgb" not in left_only
    assert 1 not in np.unique(left_only["mask"])
    # With the right hand hidden, every left-hand vertex that faces the camera unoccluded lands on label 2.
    K, R, t = camera
    cam = world_to_camera(two_hand_vertices["left"], R, t)
    ij = np.rint(project(cam, K)).astype(int)
    ok = (ij[:, 0] >= 0) & (ij[:, 0] < W) & (ij[:, 1] >= 0) & (ij[:, 1] < H)
    seen = np.abs(left_only["depth"][ij[ok, 1], ij[ok, 0]] - cam[ok, 2]) < 2e-3
    assert seen.sum() > 20
    assert np.all(left_only["mask"][ij[ok, 1], ij[ok, 0]][seen] == 2)
    # The hands are lit: their pixels are not black and differ from the background.
    fg = both["rgb"][both["mask"] > 0].astype(float).mean(0)
    bg = both["rgb"][both["mask"] == 0].astype(float).mean(0)
    assert fg.max() > 5 and np.abs(fg - bg).max() > 3


@pytest.mark.slow
def test_render_views_groups_sizes_and_each_view_matches_the_ray_caster(standin_models, two_hand_vertices, camera):
    from blender_scripts.views import View, render_views

    K, R, t = camera
    faces = {h: standin_models[h]["f"] for h in standin_models}
    # Three views in two sizes, interleaved; the small one sees the hands through a scaled camera.
    small_K = K * [[0.5], [0.5], [1.0]]
    items = [("a", (W, H), K, two_hand_vertices), ("b", (W // 2, H // 2), small_K, two_hand_vertices),
             ("c", (W, H), K, {"right": two_hand_vertices["right"]})]  # fmt: skip
    calls = []

    def view_of(item):
        calls.append(item[0])
        return View(item[3], item[2], R, t, item[1])

    out = {item[0]: passes for item, passes in render_views(items, faces, view_of, lambda item: item[1])}
    assert calls == ["b", "a", "c"]  # smaller size first, input order within a size, views made one at a time
    behind = -R.T @ t - 100.0 * R[2]  # a point 100 m behind the camera: the ray caster's stand-in for a hidden hand
    for name, size, k, verts in items:
        shown = {h: verts.get(h, two_hand_vertices[h] - two_hand_vertices[h].mean(0) + behind) for h in faces}
        labels, depth = raycast(shown, faces, k, R, t, *size)
        passes = out[name]
        assert passes["mask"].shape == (size[1], size[0]) and "rgb" not in passes
        inside = _interior(labels)
        assert (passes["mask"][inside] == labels[inside]).mean() > 0.99, name
        hit = inside & (labels > 0)
        np.testing.assert_allclose(passes["depth"][hit], depth[hit], atol=2e-4)
    assert 2 in out["a"]["mask"] and 2 not in out["c"]["mask"]  # the hidden left hand is gone from view c
