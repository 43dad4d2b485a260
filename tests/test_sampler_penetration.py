"""The signed distance between hands: exact query against libigl and trimesh, the optimization's local query
against the exact one, and the wrist closure."""

import igl
import numpy as np
import pytest
import torch
import trimesh

from handmodel.joints import HANDS
from pose_sampler.penetration import (
    MeshTopology,
    close_boundary,
    face_and_vertex_normals,
    local_signed_distance,
    nearest_vertex,
    oriented_outward,
    penetration_depth,
    signed_distance,
)


def _igl_signed(points, verts, faces):
    return igl.signed_distance(points, verts, faces, sign_type=igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER)[0]


def test_close_boundary_makes_the_hand_watertight_and_outward(sampler_models):
    for hand in HANDS:
        m = sampler_models[hand]
        assert not trimesh.Trimesh(m.v_template, m.faces, process=False).is_watertight
        closed = oriented_outward(m.v_template, close_boundary(m.faces))
        mesh = trimesh.Trimesh(m.v_template, closed, process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent
        assert mesh.volume > 0


def test_the_fold_flags_come_from_the_cache_after_the_first_build_and_a_damaged_file_is_rebuilt(
    sampler_models, posed_pairs, cache, monkeypatch
):
    import pose_sampler.penetration as pen

    m = sampler_models["right"]
    closed = oriented_outward(m.v_template, close_boundary(m.faces))
    bent = list(posed_pairs["right"])  # posed hands, taken as rest meshes: bent knuckles fold the skin
    flags = [pen.unsure_faces(v, closed) for v in bent]
    v = bent[int(np.argmax([f.sum() for f in flags]))]
    first = MeshTopology.build(closed, len(v), v).unsure
    assert 0 < int(first.sum()) < len(closed) / 2
    assert np.array_equal(first.numpy(), flags[int(np.argmax([f.sum() for f in flags]))])
    (path,) = (cache / "unsure-faces").glob("*.npy")
    computed = pen.unsure_faces
    monkeypatch.setattr(pen, "unsure_faces", lambda *a: pytest.fail("recomputed although cached"))
    assert torch.equal(MeshTopology.build(closed, len(v), v).unsure, first)
    path.write_bytes(b"not an array")
    monkeypatch.setattr(pen, "unsure_faces", computed)
    assert torch.equal(MeshTopology.build(closed, len(v), v).unsure, first)
    assert np.array_equal(np.load(path), first.numpy())


def test_signed_distance_matches_libigl_on_a_capsule_with_an_open_end():
    cap = trimesh.creation.capsule(height=0.05, radius=0.01, count=[12, 12])
    # Drop the faces of one hemisphere's tip region to make a hole, then close it again.
    keep = cap.triangles_center[:, 2] > -0.032
    faces = oriented_outward(cap.vertices, close_boundary(cap.faces[keep]))
    used = np.unique(faces)
    assert len(used) < len(cap.vertices) or len(faces) != len(cap.faces)
    rng = np.random.default_rng(1)
    points = rng.uniform(-0.03, 0.04, size=(1500, 3))
    topo = MeshTopology.build(faces, len(cap.vertices), cap.vertices)
    ours = signed_distance(torch.tensor(points)[None], torch.tensor(cap.vertices)[None], topo)[0].numpy()
    ref = _igl_signed(points, cap.vertices, faces)
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_penetration_depth_matches_libigl_and_trimesh_on_posed_hand_pairs(posed_pairs, sampler_geometry):
    worst, inside = 0.0, 0
    for a, b in (("right", "left"), ("left", "right")):
        faces = sampler_geometry.topo[b].faces.numpy()
        depth = penetration_depth(
            torch.tensor(posed_pairs[a]), torch.tensor(posed_pairs[b]), sampler_geometry.topo[b]
        ).numpy()
        for i in range(len(depth)):
            ref = np.clip(-_igl_signed(posed_pairs[a][i], posed_pairs[b][i], faces), 0, None)
            worst = max(worst, float(np.abs(depth[i] - ref).max()))
            inside += int((ref > 0).sum())
            # trimesh's point-triangle closest points (brute force over all faces) give the same depths
            if (ref > 0).any():
                pts = posed_pairs[a][i][ref > 0]
                tri = posed_pairs[b][i][faces]
                cp = trimesh.triangles.closest_point(np.repeat(tri, len(pts), axis=0), np.tile(pts, (len(tri), 1)))
                dist = np.linalg.norm(cp - np.tile(pts, (len(tri), 1)), axis=1).reshape(len(tri), len(pts)).min(0)
                np.testing.assert_allclose(depth[i][ref > 0], dist, atol=5e-4)
    assert inside > 20, "the fixture should interpenetrate somewhere"
    assert worst <= 5e-4


def test_local_signed_distance_agrees_with_the_exact_query_near_the_surface(posed_pairs, sampler_geometry):
    a, b = "right", "left"
    pts, verts = torch.tensor(posed_pairs[a]), torch.tensor(posed_pairs[b])
    topo = sampler_geometry.topo[b]
    idx, dist = nearest_vertex(pts, verts)
    rb, rp = (dist < 0.006).nonzero(as_tuple=True)
    local, trusted = local_signed_distance(
        pts[rb, rp], rb, verts, topo, face_and_vertex_normals(verts, topo.faces), idx[rb, rp]
    )
    exact = signed_distance(pts, verts, topo)[rb, rp]
    close = (local - exact).abs() <= 5e-4
    assert len(rb) > 100
    assert close[trusted].float().mean() >= 0.97


def test_local_signed_distance_gradient_pushes_an_inside_point_out(sampler_geometry, posed_pairs):
    verts = torch.tensor(posed_pairs["left"][:1])
    topo = sampler_geometry.topo["left"]
    fn, vn = face_and_vertex_normals(verts, topo.faces)
    # A point 2 mm inside the surface, below a vertex on the back of the hand.
    v = 200
    point = (verts[0, v] - 0.002 * vn[0, v]).clone()[None].requires_grad_(True)
    idx = nearest_vertex(point[None].detach(), verts)[0][0]
    sd, _ = local_signed_distance(point, torch.zeros(1, dtype=torch.long), verts, topo, (fn, vn), idx)
    assert -0.0025 < float(sd.detach()) < -0.0015
    sd.sum().backward()
    assert float((point.grad[0] * vn[0, v]).sum()) > 0.9  # the distance grows along the outward normal


def test_ray_crossing_inside_test_matches_the_winding_number_on_posed_hands(posed_pairs, sampler_geometry):
    from pose_sampler.penetration import inside_mesh, winding_number

    faces = sampler_geometry.topo["left"].faces
    rng = np.random.default_rng(2)
    inside = 0
    for i in range(4):
        verts = torch.tensor(posed_pairs["left"][i])
        pts = torch.tensor(posed_pairs["right"][i] + rng.normal(0, 0.01, size=(778, 3)))
        ours = inside_mesh(pts, verts, faces)
        np.testing.assert_array_equal(ours.numpy(), (winding_number(pts, verts, faces) > 0.5).numpy())
        inside += int(ours.sum())
    assert inside > 20


@pytest.mark.parametrize("by_part", [False, True], ids=["one box", "a box per part"])
def test_nearest_vertex_within_matches_a_kd_tree_up_to_its_distance(posed_pairs, sampler_models, by_part):
    from scipy.spatial import cKDTree

    from pose_sampler.penetration import nearest_vertex_within, vertex_groups

    a, b = torch.tensor(posed_pairs["right"]), torch.tensor(posed_pairs["left"])
    within = 0.01
    groups = None
    if by_part:
        m = sampler_models["right"]
        groups = torch.as_tensor(vertex_groups(m.weights, m.v_template))
        assert len(np.unique(groups.numpy())) == len(m.v_template)  # a partition: every vertex in some part
        assert len(groups) > 16  # the palm split: finger segments alone are 15 parts
    (i_ab, d_ab), (i_ba, d_ba) = nearest_vertex_within(a, b, within, chunk=3, groups=groups)
    close = 0
    for k in range(len(a)):
        for p, q, idx, dist in ((a[k], b[k], i_ab[k], d_ab[k]), (b[k], a[k], i_ba[k], d_ba[k])):
            ref_d, ref_i = cKDTree(q.numpy()).query(p.numpy())
            near = ref_d <= within
            np.testing.assert_allclose(dist.numpy()[near], ref_d[near], atol=1e-9)
            np.testing.assert_array_equal(idx.numpy()[near], ref_i[near])
            assert np.all(dist.numpy()[~near] > within)  # a farther point is only known to be beyond `within`
            close += int(near.sum())
    assert close > 200


def test_face_following_query_matches_the_local_search_it_starts_from(posed_pairs, sampler_geometry):
    from pose_sampler.penetration import local_closest_faces, signed_distance_to_faces

    pts, verts = torch.tensor(posed_pairs["right"]), torch.tensor(posed_pairs["left"])
    topo = sampler_geometry.topo["left"]
    idx, dist = nearest_vertex(pts, verts)
    rb, rp = (dist < 0.006).nonzero(as_tuple=True)
    normals = face_and_vertex_normals(verts, topo.faces)
    sd_search, face, normal = local_closest_faces(pts[rb, rp], rb, verts, topo, normals, idx[rb, rp])
    sd_local, _ = local_signed_distance(pts[rb, rp], rb, verts, topo, normals, idx[rb, rp])
    sd_follow = signed_distance_to_faces(pts[rb, rp], rb, verts, topo, face, normal)
    np.testing.assert_allclose(sd_search.numpy(), sd_local.detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(sd_follow.numpy(), sd_local.detach().numpy(), atol=1e-6)


def test_the_loop_search_reaches_as_far_as_the_runs_margin(posed_pairs, sampler_geometry):
    from handmodel.joints import HANDS
    from pose_sampler.optimize import OptimSettings, _search

    v = {h: torch.as_tensor(posed_pairs[h][:2]) for h in HANDS}
    # Move the left hand 12 mm away from the right along the line between the hands' centres.
    away = v["left"].mean(1) - v["right"].mean(1)
    gap = torch.cdist(v["right"], v["left"]).amin((1, 2))
    v["left"] = v["left"] + (away / away.norm(dim=-1, keepdim=True) * (0.012 - gap)[:, None])[:, None]
    wide = OptimSettings(margin_m=0.015)
    found = _search(sampler_geometry, v, wide)
    # Every right-hand vertex the loss acts on (closer than the margin to the left surface), from libigl.
    faces = sampler_geometry.topo["left"].faces.numpy()
    for b in range(2):
        sd = _igl_signed(v["right"][b].numpy(), v["left"][b].numpy(), faces)
        wanted = set(np.flatnonzero((sd < wide.margin_m) & (sd > 0)).tolist())
        rb, rp = found["right"][:2]
        got = set(rp[rb == b].tolist())
        assert wanted and len(wanted - got) <= 0.02 * len(wanted)


def test_line_crossings_match_a_direct_solve():
    from pose_sampler.placement import line_crossings

    rng = np.random.default_rng(0)
    tri = rng.normal(size=(2, 30, 3, 3))
    origin = rng.normal(size=(2, 20, 3)) * 0.5
    d = rng.normal(size=(2, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t = line_crossings(torch.tensor(origin), torch.tensor(d), torch.tensor(tri)).numpy()
    hits = 0
    for b in range(2):
        for p in range(20):
            for f in range(30):
                a0, a1, a2 = tri[b, f]
                # origin + s d = a0 + u (a1 - a0) + v (a2 - a0)
                s, u, v = np.linalg.solve(np.stack([d[b], a0 - a1, a0 - a2], 1), a0 - origin[b, p])
                hit = u >= 0 and v >= 0 and u + v <= 1
                assert hit == np.isfinite(t[b, p, f])
                if hit:
                    hits += 1
                    assert abs(s - t[b, p, f]) < 1e-9
    assert hits > 20


def _igl_last_crossing(points, direction, verts, faces):
    """The largest t over lines points + t direction crossing the mesh, from libigl's rays both ways; -inf if none."""
    best = -np.inf
    for p in points:
        for sign in (1.0, -1.0):
            for _, t, _, _ in igl.ray_mesh_intersect(p, sign * direction, verts, faces) or ():
                best = max(best, sign * t)
    return best


def test_first_contact_matches_libigl_rays_from_every_vertex(posed_pairs, sampler_geometry):
    from pose_sampler.placement import _crossings, first_contact

    g = sampler_geometry
    vr, vl = (torch.as_tensor(posed_pairs[h][:3]) for h in HANDS)
    a = torch.nn.functional.normalize(vl.mean(1) - vr.mean(1), dim=-1)
    # as placed, pulled 5 cm apart (the shift then comes in from afar), and passing 30 cm to the side (no contact)
    side = torch.nn.functional.normalize(
        torch.linalg.cross(a[:1], torch.tensor([[0.0, 0.0, 1.0]], dtype=a.dtype)), dim=-1
    )
    vl = torch.cat([vl, vl[:2] - 0.05 * a[:2, None], vl[:1] + 0.3 * side[:, None]])
    vr, a = torch.cat([vr, vr[:2], vr[:1]]), torch.cat([a, a[:2], a[:1]])
    got = first_contact(vr, vl, a, g.topo["right"], g.topo["left"]).numpy()
    every_pair = _crossings(vr, vl, a, g.topo["right"], g.topo["left"], 4, None).numpy()  # the GPU's way
    np.testing.assert_allclose(every_pair, got, atol=1e-9)
    fr, fl = (g.topo[h].faces.numpy() for h in HANDS)
    for i in range(len(vr)):
        r, l_, d = vr[i].numpy(), vl[i].numpy(), a[i].numpy()
        want = max(_igl_last_crossing(l_, d, r, fr), _igl_last_crossing(r, -d, l_, fl))
        if np.isinf(want):
            assert np.isnan(got[i]), i
        else:
            assert abs(got[i] - want) < 1e-8, (i, got[i], want)
    assert np.isnan(got[-1]) and np.all(np.isfinite(got[:-1]))
    assert np.allclose(got[3:5], got[:2] + 0.05, atol=1e-9)  # pulled back 5 cm: the shift grows by 5 cm


def test_touching_shift_leaves_no_vertex_inside_and_a_small_gap(posed_pairs, sampler_geometry):
    from pose_sampler.placement import touching_shift

    vr, vl = (torch.as_tensor(posed_pairs[h][:4]) for h in HANDS)  # some of these pairs interpenetrate
    a = torch.nn.functional.normalize(vl.mean(1) - vr.mean(1), dim=-1)
    g = sampler_geometry
    shift = touching_shift(vr, vl, a, g.topo["right"], g.topo["left"], gap_m=0.0005)
    vl2 = vl + (a * shift[:, None])[:, None]
    for b in range(4):
        for p, v, hand in ((vr[b], vl2[b], "left"), (vl2[b], vr[b], "right")):
            sd = _igl_signed(p.numpy(), v.numpy(), g.topo[hand].faces.numpy())
            assert sd.min() > -1e-6  # no vertex inside (libigl's winding number)
        gap = np.abs(_igl_signed(vl2[b].numpy(), vr[b].numpy(), g.topo["right"].faces.numpy())).min()
        gap = min(gap, np.abs(_igl_signed(vr[b].numpy(), vl2[b].numpy(), g.topo["left"].faces.numpy())).min())
        assert gap <= 0.0006  # touching: the surfaces at most the gap apart


def test_intersecting_triangle_pairs_match_libigl_on_pushed_together_hands(posed_pairs, sampler_geometry):
    from pose_sampler.metrics import intersecting_triangle_pairs

    vr, vl = (torch.as_tensor(posed_pairs[h][:3]) for h in HANDS)
    ours = intersecting_triangle_pairs(vr, vl, sampler_geometry)
    faces = sampler_geometry.topo_open["right"].faces.numpy()
    for b in range(3):
        ref = 0
        a, c = vr[b].numpy()[faces], vl[b].numpy()[faces]
        near = np.linalg.norm(a.mean(1)[:, None] - c.mean(1)[None], axis=-1) < 0.02  # no face is that large
        for i, j in zip(*np.nonzero(near)):
            ref += bool(igl.tri_tri_intersection_test_3d(*(x[None] for x in a[i]), *(x[None] for x in c[j]))[0])
        assert ours[b] == ref
    assert ours.sum() > 0  # some of these pairs interpenetrate
