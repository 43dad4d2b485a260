"""The forearm of a posed hand, defined once: its axis, real tapered dimensions, collision capsule and mesh.

The forearm follows the hand's root joint rigidly: at rest it leaves the wrist joint along the hand's long axis
(from the middle finger's MCP joint back through the wrist), with the wide axis of its cross-section along the
line of the knuckles (index to pinky MCP) and its thin axis along the palm normal; a posed hand's root rotation
turns all three. `axis` always points from the wrist towards the elbow, as `handmodel.body` expects.

Dimensions (adult means, sexes pooled, ANSUR II anthropometric survey, Gordon et al. 2014): wrist circumference
0.165 m (men 0.175, women 0.154), forearm circumference at its largest, a third of the way down from the elbow,
0.275 m (relaxed; men 0.295, women 0.255); forearm length (elbow to wrist joint centre) 0.146 of stature = 0.251 m
(Winter 2009, see `handmodel.body`). The cross-section is an ellipse about 1.4 times as wide as it is thick at the
wrist (0.061 m by 0.043 m over the skin) and rounder towards the elbow. The semi-axes below
reproduce both circumferences (Ramanujan's perimeter) within 2 %.

The mesh is built on the posed hand: its first ring is the hand's own wrist boundary loop (MANO's wrist opening,
or the stand-in's), so joined into the hand's mesh it has no seam, gap or hollow; the loop's shape fades into the
forearm's ellipse over the first few centimetres, and the far end is a rounded elbow. Vertex count and faces
depend only on the loop length, so a renderer builds the topology once. numpy only (Blender imports this);
`forearm_axis` and `capsule_distance` also run on torch tensors unchanged.
"""

from dataclasses import dataclass

import numpy as np

from handmodel.body import ARM
from handmodel.geometry import boundary_loops, unit
from handmodel.skinning import rest_joints, rodrigues

RINGS = 14  # rings along the forearm after the wrist loop, denser near the wrist
ELBOW_CAP_DEG = (30.0, 55.0, 75.0)  # rings of the rounded elbow end, then its pole
SLEEVE_EASE = 1.12  # a sleeve's section over the bare forearm's (cloth thickness and slack)
SLEEVE_CUFF = 0.012  # metres over which the sleeve's hem rises from the skin to its full ease


@dataclass(frozen=True)
class ForearmDims:
    """Lengths in metres; semi-axes (wide, thin) of the elliptical cross-section."""

    length: float = ARM.forearm  # wrist joint to elbow joint
    wrist_semi_axes: tuple = (0.0305, 0.0215)
    belly_semi_axes: tuple = (0.0465, 0.0405)  # the largest section, `belly_at` of the way to the elbow
    elbow_semi_axes: tuple = (0.043, 0.038)
    belly_at: float = 0.68
    blend_length: float = 0.04  # the hand's wrist loop fades into the ellipse over this distance
    capsule_start: float = 0.03  # the collision capsule starts this far from the wrist (clear of its own hand)


FOREARM = ForearmDims()


def rest_frame(model, shape=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wrist (3,), axis (3,), lateral (3,)) of the rest hand (shape (10,) or zeros): axis from the middle MCP
    through the wrist (towards the elbow), lateral along the knuckles from the pinky MCP to the index MCP,
    orthogonal to the axis."""
    shape = np.zeros((1, 10)) if shape is None else np.asarray(shape, dtype=np.float64).reshape(1, 10)
    j = rest_joints(model, shape)[0]
    axis = unit(j[0] - j[4])
    lateral = j[1] - j[7]
    lateral = unit(lateral - (lateral @ axis) * axis)
    return j[0], axis, lateral


def forearm_axis(root_rotation, rest_axis):
    """Posed forearm directions (..., 3) = root rotation matrices (..., 3, 3) applied to the rest axis (3,).
    numpy or torch (then `rest_axis` a tensor too)."""
    return (root_rotation @ rest_axis[..., :, None])[..., 0]


def posed_frames(model, pose, shape, trans) -> dict[str, np.ndarray]:
    """World wrist joints (N, 3), forearm axes (N, 3, towards the elbow) and lateral axes (N, 3) of posed hands:
    pose (N, 48) absolute axis-angle, shape (N, 10), trans (N, 3), metres."""
    pose = np.asarray(pose, dtype=np.float64).reshape(-1, 48)
    shape = np.asarray(shape, dtype=np.float64).reshape(-1, 10)
    trans = np.asarray(trans, dtype=np.float64).reshape(-1, 3)
    R = rodrigues(pose[:, :3])
    j = rest_joints(model, shape)
    axis = unit(j[:, 0] - j[:, 4])
    lateral = j[:, 1] - j[:, 7]
    lateral = unit(lateral - np.sum(lateral * axis, axis=1, keepdims=True) * axis)
    return {
        "wrist": j[:, 0] + trans,  # the root joint is the pivot of the root rotation
        "axis": np.einsum("nab,nb->na", R, axis),
        "lateral": np.einsum("nab,nb->na", R, lateral),
    }


def semi_axes_at(s, dims: ForearmDims = FOREARM) -> np.ndarray:
    """Cross-section semi-axes (..., 2) at distances s (...) from the wrist joint along the axis: a smooth rise
    from the wrist to the muscle belly, then a slight narrowing to the elbow."""
    u = np.clip(np.asarray(s, dtype=np.float64) / dims.length, 0.0, 1.0)[..., None]
    w, m, e = (np.asarray(x) for x in (dims.wrist_semi_axes, dims.belly_semi_axes, dims.elbow_semi_axes))
    rise = np.clip(u / dims.belly_at, 0.0, 1.0)
    rise = rise * rise * (3 - 2 * rise)
    fall = np.clip((u - dims.belly_at) / (1 - dims.belly_at), 0.0, 1.0)
    fall = fall * fall * (3 - 2 * fall)
    return w + (m - w) * rise + (e - m) * fall


def capsule(wrist, axis, dims: ForearmDims = FOREARM) -> dict:
    """The forearm as a tapered capsule for collision tests: {'start', 'end' (N, 3), 'r_start', 'r_end' (N,)},
    from `capsule_start` past the wrist to the elbow; radii are the mean semi-axes there."""
    wrist, axis = np.atleast_2d(wrist), unit(np.atleast_2d(axis))
    r0 = float(np.mean(semi_axes_at(dims.capsule_start, dims)))
    r1 = float(np.mean(dims.elbow_semi_axes))
    n = len(wrist)
    return {
        "start": wrist + dims.capsule_start * axis,
        "end": wrist + dims.length * axis,
        "r_start": np.full(n, r0),
        "r_end": np.full(n, r1),
    }


def capsule_distance(points, start, end, r_start, r_end):
    """Signed distance (N, P) of points (N, P, 3) to tapered capsules (start, end (N, 3), radii (N,)): negative
    inside. The radius is interpolated at the point's nearest axis position (exact for a cylinder, within a
    fraction of a millimetre for this gentle taper). numpy or torch, unchanged."""
    seg = end - start
    rel = points - start[..., None, :]
    length2 = (seg * seg).sum(-1)[..., None]
    u = ((rel * seg[..., None, :]).sum(-1) / length2).clip(min=0.0, max=1.0)
    nearest = start[..., None, :] + u[..., None] * seg[..., None, :]
    d = points - nearest
    dist = ((d * d).sum(-1) + 1e-12) ** 0.5
    return dist - (r_start[..., None] + u * (r_end - r_start)[..., None])


def wrist_loop(faces: np.ndarray) -> np.ndarray:
    """The hand mesh's one boundary loop (the wrist opening), ordered the way the hand's own faces run along it and
    starting where the first boundary edge in face order starts (every forearm mesh and UV layout is built on this
    order).

    Raises ValueError if the boundary is not exactly one simple loop."""
    try:
        loops = boundary_loops(faces)
    except ValueError:
        raise ValueError("hand mesh: the boundary is not one simple wrist loop") from None
    if not loops:
        raise ValueError("hand mesh: the boundary is not one simple wrist loop")
    if len(loops) > 1:
        raise ValueError("hand mesh: the boundary has more than one loop")
    loop = loops[0]
    f = np.asarray(faces, dtype=np.int64)
    half = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    following = dict(zip(loop.tolist(), np.roll(loop, -1).tolist(), strict=True))
    first = next(a for a, b in half.tolist() if following.get(a) == b)
    return np.roll(loop, -int(np.flatnonzero(loop == first)[0]))


def _ring_faces(r0: np.ndarray, r1: np.ndarray) -> list:
    """Triangles between two rings of equal length; r0 runs the way the existing faces run along it (so the new
    faces traverse each r0 edge backwards), r1 is the next ring out."""
    n = len(r0)
    out = []
    for k in range(n):
        a, b = r0[k], r0[(k + 1) % n]
        c, d = r1[k], r1[(k + 1) % n]
        out += [(b, a, c), (b, c, d)]
    return out


def _ring_stations(dims: ForearmDims) -> np.ndarray:
    """Distances of the forearm rings from the wrist ring along the axis (RINGS,), denser near the wrist."""
    u = np.arange(1, RINGS + 1) / RINGS
    return dims.length * u**1.6


def _loop_angles(offsets: np.ndarray, axis: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    thin = np.cross(axis, lateral)
    return np.arctan2(offsets @ thin, offsets @ lateral)


def _ellipse_radius(phi, a, b):
    """Radius of the ellipse with semi-axes a (along phi = 0) and b, on the ray at polar angle phi."""
    return a * b / np.sqrt((b * np.cos(phi)) ** 2 + (a * np.sin(phi)) ** 2)


def forearm_mesh(verts: np.ndarray, loop: np.ndarray, wrist, axis, lateral, dims: ForearmDims = FOREARM,
                 sleeve_from: float | None = None):  # fmt: skip
    """The forearm joined to one posed hand: (new vertices (M, 3), faces (K, 3)), face ids indexing
    concat(verts, new vertices). verts (V, 3) the posed hand, loop its `wrist_loop`, wrist/axis/lateral (3,) from
    `posed_frames`. M and the faces depend only on len(loop). sleeve_from: distance from the wrist (metres) where
    a sleeve begins; the section then widens by SLEEVE_EASE over SLEEVE_CUFF (faces there: `face_stations`)."""
    verts = np.asarray(verts, dtype=np.float64)
    wrist, axis = np.asarray(wrist, dtype=np.float64), unit(np.asarray(axis, dtype=np.float64))
    lateral = unit(np.asarray(lateral, dtype=np.float64))
    ring0 = verts[loop]
    c0 = ring0.mean(0)
    s0 = float((c0 - wrist) @ axis)  # where the loop sits along the axis (MANO's cut lies a little past the wrist)
    off = ring0 - c0
    phi = _loop_angles(off, axis, lateral)
    thin = np.cross(axis, lateral)
    direction = np.cos(phi)[:, None] * lateral + np.sin(phi)[:, None] * thin
    perp = (c0 - wrist) - ((c0 - wrist) @ axis) * axis
    new, rings = [], [np.asarray(loop)]
    n_v = len(verts)
    stations = s0 + (dims.length - s0) * _ring_stations(dims) / dims.length
    for s in stations:
        t = np.clip((s - s0) / dims.blend_length, 0.0, 1.0)
        keep = (1 - t) ** 2 * (1 + 2 * t)  # smoothstep from 1 (the loop's shape) to 0 (the ellipse)
        a, b = semi_axes_at(s, dims)
        centre = wrist + s * axis + keep * perp
        ellipse = direction * _ellipse_radius(phi, a, b)[:, None]
        # The loop's own offsets (their along-axis part fades too, so the cut's slant straightens out).
        loop_part = off - (off @ axis)[:, None] * axis * (1 - keep)
        if sleeve_from is not None:
            ease = 1 + (SLEEVE_EASE - 1) * np.clip((s - sleeve_from) / SLEEVE_CUFF + 1, 0.0, 1.0)
            ellipse = ellipse * ease
        ring = centre + keep * loop_part + (1 - keep) * ellipse
        ids = np.arange(len(new), len(new) + len(ring)) + n_v
        new.extend(ring)
        rings.append(ids)
    # The rounded elbow: rings closing in past the elbow joint, then a pole.
    a, b = semi_axes_at(dims.length, dims)
    end_centre = wrist + stations[-1] * axis
    r_end = _ellipse_radius(phi, a, b) * (1.0 if sleeve_from is None else SLEEVE_EASE)
    cap_depth = 0.8 * min(a, b)
    for deg in ELBOW_CAP_DEG:
        al = np.radians(deg)
        ring = end_centre + cap_depth * np.sin(al) * axis + direction * (np.cos(al) * r_end)[:, None]
        ids = np.arange(len(new), len(new) + len(ring)) + n_v
        new.extend(ring)
        rings.append(ids)
    pole = n_v + len(new)
    new.append(end_centre + cap_depth * axis)
    faces = []
    for r0, r1 in zip(rings[:-1], rings[1:]):
        faces += _ring_faces(r0, r1)
    last = rings[-1]
    faces += [(last[(k + 1) % len(last)], last[k], pole) for k in range(len(last))]
    return np.array(new), np.array(faces, dtype=np.int64)


def face_stations(n_loop: int, dims: ForearmDims = FOREARM) -> np.ndarray:
    """(K,) distance from the wrist (metres, along the axis) of the proximal edge of each `forearm_mesh` face: a
    face belongs to a sleeve starting at s when its station is >= s."""
    edges = np.concatenate([[0.0], _ring_stations(dims), np.full(len(ELBOW_CAP_DEG), dims.length)])
    per_ring = np.repeat(edges[:-1], 2 * n_loop)
    return np.concatenate([per_ring, np.full(n_loop, dims.length)])


def forearm_corner_uvs(n_loop: int) -> np.ndarray:
    """Cylindrical texture coordinates of `forearm_mesh`'s faces, (K, 3, 2) in [0, 1]: u around the forearm
    (wrapping without a seam jump), v from the wrist (0) to the elbow's pole (1)."""
    n_rings = 1 + RINGS + len(ELBOW_CAP_DEG)
    v_ring = np.concatenate([[0.0], _ring_stations(FOREARM) / FOREARM.length * 0.9])
    v_ring = np.concatenate([v_ring, 0.9 + 0.1 * np.arange(1, len(ELBOW_CAP_DEG) + 1) / (len(ELBOW_CAP_DEG) + 1)])
    uv = []
    for r in range(n_rings - 1):
        for k in range(n_loop):
            u0, u1 = k / n_loop, (k + 1) / n_loop
            va, vb = v_ring[r], v_ring[r + 1]
            uv += [((u1, va), (u0, va), (u0, vb)), ((u1, va), (u0, vb), (u1, vb))]
    for k in range(n_loop):
        u0, u1 = k / n_loop, (k + 1) / n_loop
        uv.append(((u1, v_ring[-1]), (u0, v_ring[-1]), ((u0 + u1) / 2, 1.0)))
    return np.array(uv, dtype=np.float32)


def wrist_cap(verts: np.ndarray, loop: np.ndarray, axis, rings: int = 3):
    """A rounded dome closing the wrist opening of a bare hand: (new vertices (M, 3), faces (K, 3)) like
    `forearm_mesh`. The dome bulges along the forearm axis by a third of the loop's mean radius."""
    verts = np.asarray(verts, dtype=np.float64)
    axis = unit(np.asarray(axis, dtype=np.float64))
    ring0 = verts[loop]
    c0 = ring0.mean(0)
    off = ring0 - c0
    off_flat = off - (off @ axis)[:, None] * axis
    depth = np.linalg.norm(off_flat, axis=1).mean() / 3
    n_v = len(verts)
    new, ids = [], [np.asarray(loop)]
    for k in range(1, rings + 1):
        al = 0.5 * np.pi * k / (rings + 1)
        ring = c0 + np.cos(al) * off + np.sin(al) * depth * axis
        ids.append(np.arange(len(new), len(new) + len(ring)) + n_v)
        new.extend(ring)
    pole = n_v + len(new)
    new.append(c0 + depth * axis)
    faces = []
    for r0, r1 in zip(ids[:-1], ids[1:]):
        faces += _ring_faces(r0, r1)
    last = ids[-1]
    faces += [(last[(k + 1) % len(last)], last[k], pole) for k in range(len(last))]
    return np.array(new), np.array(faces, dtype=np.int64)
