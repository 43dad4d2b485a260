"""HandScene: the in-process Blender API (masks, depth and RGB from one Cycles render)."""

import numpy as np
import pytest
from scipy import ndimage

from handmodel.camera import look_at, project, world_to_camera
from tests.render_fixtures import raycast

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


def _point_sampled_mask(faces: np.ndarray, verts_cam: np.ndarray, K: np.ndarray, width: int, height: int):
    """Render one mesh's mask with Blender (a label-only render samples each pixel at its centre)."""
    from blender_scripts.scene import HandScene

    with HandScene({"right": faces, "left": faces}, width=width, height=height, samples=1, subdivision=0) as scene:
        scene.set_hands({"right": verts_cam})
        scene.set_camera(K, np.eye(3), np.zeros(3))
        return scene.render(rgb=False)["mask"]


def _edge_distance(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance (N,) from 2D points to the nearest edge of the closed polygon (M,2)."""
    a, b = poly, np.roll(poly, -1, axis=0)
    d = b - a
    s = np.clip(np.einsum("nmk,mk->nm", points[:, None] - a, d) / (d * d).sum(1), 0, 1)
    return np.linalg.norm(points[:, None] - (a + s[..., None] * d), axis=-1).min(1)


def test_blender_lights_exactly_the_pixels_whose_centre_projects_inside_the_triangle():
    """The pixel-centre convention end to end: pixel (i, j) shows what `project` puts at (i, j), for fx != fy, an
    off-centre principal point and a portrait image (Blender's lens shift is measured in image widths)."""
    from matplotlib.path import Path as PolyPath

    w, h = 40, 56
    K = np.array([[50.0, 0.0, 17.3], [0.0, 45.0, 31.7], [0.0, 0.0, 1.0]])
    corners = np.array([[3.62, 4.28], [35.58, 19.86], [9.27, 49.92]])  # where the triangle's vertices project (pixels)
    verts = np.c_[(corners - K[:2, 2]) / np.diag(K)[:2] * 1.3, np.full(3, 1.3)]  # at depth 1.3 m
    assert np.allclose(project(verts, K), corners)
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    centres = np.c_[cols.ravel(), rows.ravel()].astype(float)
    assert _edge_distance(centres, corners).min() > 0.02  # no pixel centre sits on an edge
    expected = PolyPath(corners).contains_points(centres).reshape(h, w)
    mask = _point_sampled_mask(np.array([[0, 1, 2]]), verts, K, w, h)
    assert expected.sum() > 600
    # A half-pixel slip in either axis would flip about 50 pixels along the edges.
    assert np.array_equal(mask == 1, expected)


def test_square_crop_puts_the_hands_centre_on_the_centre_pixel_of_the_rendered_crop():
    """An odd-sized crop has a centre pixel: a patch a third of a pixel wide at the centre of the points' bounding
    square, rendered through the crop's intrinsics, lights that pixel and no other."""
    from handmodel.camera import crop_intrinsics, square_crop

    size = 33
    K = np.array([[900.0, 0.0, 311.0], [0.0, 880.0, 205.0], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(5)
    pts = rng.uniform([-0.12, -0.05, 0.7], [0.05, 0.09, 1.0], (40, 3))
    uv = project(pts, K)
    A = square_crop(uv, size=size, fill=0.8)
    Kc = crop_intrinsics(K, A)
    np.testing.assert_allclose(project(pts, Kc), uv @ A[:, :2].T + A[:, 2], atol=1e-9)
    centre = (uv.min(0) + uv.max(0)) / 2
    z = 0.8
    half = z / (6 * Kc[0, 0])  # a sixth of a crop pixel, in metres at depth z
    mid = z * (np.linalg.inv(K) @ [centre[0], centre[1], 1.0])
    quad = mid + np.array([[-half, -half, 0.0], [half, -half, 0.0], [half, half, 0.0], [-half, half, 0.0]])
    mask = _point_sampled_mask(np.array([[0, 1, 2], [0, 2, 3]]), quad, Kc, size, size)
    lit = np.argwhere(mask == 1)
    assert lit.tolist() == [[size // 2, size // 2]]


@pytest.mark.parametrize("levels", [1, 2])
def test_subdivided_hand_matches_blenders_default_quality_subdivision(models, two_hand_vertices, levels):
    """The scene draws its subdivided surface from a linear map (blender_scripts/subdivision.py) found by probing
    the modifier at a cheaper quality; the surface it renders (every vertex, every corner's UV) must be the one
    Blender's modifier at its default quality gives for the same hand, on a separate object."""
    import bpy

    from blender_scripts.scene import HandScene
    from textures.uv_layout import load_or_build

    layouts = load_or_build(models)
    faces, uvs = {h: models[h].faces for h in models}, {h: layouts[h]["uv"] for h in models}
    default_quality = bpy.types.SubsurfModifier.bl_rna.properties["quality"].default

    def mesh_arrays(mesh):
        co, uv = np.empty(3 * len(mesh.vertices)), np.empty(2 * len(mesh.loops))
        mesh.vertices.foreach_get("co", co)
        mesh.uv_layers[0].data.foreach_get("uv", uv)
        return co.reshape(-1, 3), uv

    with HandScene(faces, width=W, height=H, uvs=uvs, subdivision=levels) as scene:
        scene.set_hands(two_hand_vertices)
        obj = scene.objects["right"]
        assert not obj.modifiers  # the map replaces the modifier
        co, uv = mesh_arrays(obj.data)
        f, v = faces["right"], two_hand_vertices["right"]
        ref = bpy.data.meshes.new("reference")
        ref.from_pydata(v.tolist(), [], f.tolist())
        layer = ref.uv_layers.new(name="UVMap")
        layer.data.foreach_set("uv", np.asarray(uvs["right"], dtype=np.float32).ravel())
        ref_obj = bpy.data.objects.new("reference", ref)
        scene.scene.collection.objects.link(ref_obj)
        mod = ref_obj.modifiers.new("subdivision", "SUBSURF")
        mod.levels = mod.render_levels = levels
        mod.quality = default_quality
        graph = bpy.context.evaluated_depsgraph_get()
        graph.update()
        co_default, uv_default = mesh_arrays(ref_obj.evaluated_get(graph).data)
    assert len(co) > 4 * len(two_hand_vertices["right"])
    np.testing.assert_allclose(co, co_default, atol=1e-6)  # metres: a micrometre
    np.testing.assert_allclose(uv, uv_default, atol=1e-5)


def test_subdivided_forearm_faces_follow_their_coarse_faces_and_sleeve(models):
    """A sleeve is set on the forearm's coarse faces (by distance from the wrist); the drawn, subdivided forearm must
    show it on exactly the pieces of those faces: every subdivided face's centre lies over the coarse triangle it
    names (barycentric coordinates in its plane), each coarse triangle has three, and the cloth material is on the
    pieces of the sleeve's faces."""
    from blender_scripts.render import arm_geometry, hand_meshes, posed_arm
    from blender_scripts.scene import HandScene
    from handmodel.joints import HANDS
    from handmodel.skinning import mano_forward
    from textures.uv_layout import load_or_build

    layouts = load_or_build(models)
    arms = arm_geometry(models, layouts, True)
    meshes = hand_meshes(models, layouts, arms)
    zero = {"pose": np.zeros(48), "shape": np.zeros(10), "trans": np.zeros(3)}
    start = 0.06
    with HandScene(meshes["faces"], width=W, height=H, uvs=meshes["uvs"], palm=meshes["palm"], subdivision=1,
                   forearms=arms) as scene:  # fmt: skip
        verts = {h: mano_forward(models[h], zero["pose"][None], zero["shape"][None], zero["trans"][None])[0][0]
                 for h in HANDS}  # fmt: skip
        posed = {h: posed_arm(models[h], arms[h], verts[h], zero, start) for h in HANDS}
        scene.set_hands({h: posed[h][0] for h in HANDS}, forearms={h: posed[h][1] for h in HANDS},
                        sleeves={h: start for h in HANDS})  # fmt: skip
        fa = scene.forearms["right"]
        mesh = fa["object"].data
        coarse = np.asarray(posed["right"][1])[fa["used"]]
        coarse_faces = np.searchsorted(fa["used"], np.asarray(arms["right"]["faces"]))
        co = np.empty(3 * len(mesh.vertices))
        mesh.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)
        material = np.empty(len(mesh.polygons), np.int32)
        mesh.polygons.foreach_get("material_index", material)
        centres = np.array([co[list(p.vertices)].mean(0) for p in mesh.polygons])
    parent = scene._subdivided["right_forearm"].parent_face
    a, b, c = (coarse[coarse_faces[parent]][:, k] for k in range(3))
    e1, e2, d = b - a, c - a, centres - a
    g = np.stack([np.einsum("ij,ij->i", x, y) for x, y in ((e1, e1), (e1, e2), (e2, e2), (d, e1), (d, e2))])
    det = g[0] * g[2] - g[1] ** 2
    v, w = (g[2] * g[3] - g[1] * g[4]) / det, (g[0] * g[4] - g[1] * g[3]) / det
    assert min(v.min(), w.min(), (1 - v - w).min()) > -0.02
    assert np.array_equal(np.bincount(parent, minlength=len(coarse_faces)), np.full(len(coarse_faces), 3))
    sleeve = np.asarray(arms["right"]["stations"]) >= start
    assert 0 < sleeve.mean() < 1
    np.testing.assert_array_equal(material, sleeve[parent].astype(np.int32))
