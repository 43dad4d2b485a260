"""The forearm: real dimensions, an axis that follows the root joint, a closed seamless mesh and a collision
capsule."""

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from handmodel.forearm import (
    FOREARM,
    capsule,
    capsule_distance,
    forearm_corner_uvs,
    forearm_mesh,
    posed_frames,
    semi_axes_at,
    wrist_cap,
    wrist_loop,
)
from handmodel.skinning import mano_forward


def _polyline_perimeter(a, b, n=20000):
    t = np.linspace(0, 2 * np.pi, n + 1)
    p = np.stack([a * np.cos(t), b * np.sin(t)], axis=1)
    return np.linalg.norm(np.diff(p, axis=0), axis=1).sum()


def test_cross_sections_have_the_documented_circumferences():
    assert _polyline_perimeter(*FOREARM.wrist_semi_axes) == pytest.approx(0.165, rel=0.02)
    assert _polyline_perimeter(*FOREARM.belly_semi_axes) == pytest.approx(0.275, rel=0.02)
    s = np.linspace(0, FOREARM.length, 50)
    ab = semi_axes_at(s)
    assert np.argmax(ab[:, 0]) == pytest.approx(FOREARM.belly_at * 49, abs=1)
    assert np.all(np.diff(ab[: int(FOREARM.belly_at * 49), 0]) >= 0)


def _random_poses(rng, n):
    pose = rng.normal(0, 0.25, (n, 48))
    pose[:, :3] = Rotation.random(n, random_state=int(rng.integers(1 << 30))).as_rotvec()
    return pose, rng.normal(0, 1, (n, 10)), rng.normal(0, 0.3, (n, 3))


@pytest.mark.parametrize("hand", ["right", "left"])
def test_forearm_axis_follows_the_root_joint(models, hand):
    m = models[hand]
    rng = np.random.default_rng(0)
    pose, shape, trans = _random_poses(rng, 16)
    pose[:, 3:] = 0  # flat fingers: the middle MCP moves with the root only
    _, j21 = mano_forward(m, pose, shape, trans)
    fr = posed_frames(m, pose, shape, trans)
    expected = j21[:, 0] - j21[:, 9]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(fr["axis"], expected, atol=1e-9)
    assert np.allclose(fr["wrist"], j21[:, 0], atol=1e-9)
    assert np.allclose(np.sum(fr["axis"] * fr["lateral"], axis=1), 0, atol=1e-7)  # rodrigues keeps an epsilon
    # Finger poses do not move the forearm.
    bent = pose.copy()
    bent[:, 3:] = rng.normal(0, 0.5, (16, 45))
    assert np.allclose(posed_frames(m, bent, shape, trans)["axis"], fr["axis"])


@pytest.mark.parametrize("hand", ["right", "left"])
def test_hand_and_forearm_form_one_closed_surface_without_inward_faces(models, hand):
    import igl

    m = models[hand]
    loop = wrist_loop(m.faces)
    pose, shape, trans = _random_poses(np.random.default_rng(1), 4)
    verts, _ = mano_forward(m, pose, shape, trans)
    fr = posed_frames(m, pose, shape, trans)
    for i in range(4):
        new, faces = forearm_mesh(verts[i], loop, fr["wrist"][i], fr["axis"][i], fr["lateral"][i])
        V, F = np.vstack([verts[i], new]), np.vstack([m.faces, faces])
        mesh = trimesh.Trimesh(V, F, process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent
        # Volume: the hand's share is small; the forearm's is the integral of its elliptical sections.
        s = np.linspace(0, FOREARM.length, 400)
        ab = semi_axes_at(s)
        area = np.pi * ab[:, 0] * ab[:, 1]
        tube = np.sum((area[1:] + area[:-1]) / 2 * np.diff(s))
        assert tube < mesh.volume < tube + 0.0012
        # Just outside each forearm face is outside the whole surface (no fold, no hollow at the join).
        probes = mesh.triangles_center[len(m.faces) :] + 0.0005 * mesh.face_normals[len(m.faces) :]
        assert not (igl.winding_number(V, F, probes) > 0.5).any()
        # It reaches the elbow, one forearm length from the wrist along the axis.
        reach = (new - fr["wrist"][i]) @ fr["axis"][i]
        assert reach.max() > FOREARM.length
        assert forearm_corner_uvs(len(loop)).shape == (len(faces), 3, 2)


@pytest.mark.parametrize("hand", ["right", "left"])
def test_wrist_cap_closes_the_bare_hand(models, hand):
    m = models[hand]
    loop = wrist_loop(m.faces)
    pose, shape, trans = _random_poses(np.random.default_rng(2), 2)
    verts, _ = mano_forward(m, pose, shape, trans)
    fr = posed_frames(m, pose, shape, trans)
    new, faces = wrist_cap(verts[0], loop, fr["axis"][0])
    mesh = trimesh.Trimesh(np.vstack([verts[0], new]), np.vstack([m.faces, faces]), process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 1e-4


def test_wrist_loop_refuses_a_closed_mesh():
    box = trimesh.creation.box()
    with pytest.raises(ValueError, match="wrist loop"):
        wrist_loop(box.faces)


def test_capsule_distance_matches_trimesh_on_a_cylinder_and_runs_on_torch():
    radius, height = 0.04, 0.2
    cap = trimesh.creation.capsule(height=height, radius=radius, count=[64, 64])
    rng = np.random.default_rng(4)
    pts = rng.uniform(-0.12, 0.12, (400, 3))
    pts[:, 2] *= 1.5
    import igl

    ref = igl.signed_distance(pts, np.asarray(cap.vertices, np.float64), np.asarray(cap.faces, np.int64))[0]
    start, end = np.array([[0, 0, -height / 2]]), np.array([[0, 0, height / 2]])
    r = np.array([radius])
    got = capsule_distance(pts[None], start, end, r, r)[0]
    assert np.allclose(got, ref, atol=5e-4)
    as_t = lambda a: torch.tensor(a)  # noqa: E731
    got_t = capsule_distance(as_t(pts[None]), as_t(start), as_t(end), as_t(r), as_t(r))
    assert np.allclose(got_t.numpy()[0], got, atol=1e-12)
    c = capsule(np.zeros((1, 3)), np.array([[0, 0, 1.0]]))
    assert c["r_start"][0] < c["r_end"][0] and np.isclose(c["end"][0, 2], FOREARM.length)
