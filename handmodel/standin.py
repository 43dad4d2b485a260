"""A generated stand-in hand model in MANO's exact format, for when the licensed MANO files are absent.

Parametric tubes stitched to a palm: the palm is a tube of rings from the wrist (left open) to the knuckle line,
where its top ring splits into the four finger tubes; the thumb tube grows from a patch on the palm's radial side;
every finger ends in a rounded cap whose pole is the fingertip vertex. Extra vertices at quad centres on the palm
bring the count to exactly 778. The skeleton follows MANO's joint order and kinematic tree with MANO-like rest
positions (fingers along -x, palm facing -y, thumb on +z for the right hand); the left hand mirrors the right.

Skinning weights blend smoothly across each joint; shape directions change size, finger lengths and widths, palm
width, length and thickness; pose correctives bulge the skin at bent joints; the 45x45 pose components are the
principal axes of poses drawn by `anatomy.sample_natural_hand_poses`. Everything is deterministic.
"""

import numpy as np

from handmodel.anatomy import frames_from_template, sample_natural_hand_poses
from handmodel.joints import MANO_FINGER_JOINTS, MANO_PARENTS

NUM_VERTICES = 778

WRIST = np.array([0.095, 0.0, 0.0])
WRIST_SEMI_AXES = (0.027, 0.016)  # lateral (z), thickness (y)
PALM_RINGS = 9
HALF_RING = 13  # dorsal and palmar points per palm ring
RING = 2 * HALF_RING
FINGER_RING = 8
LONG_FINGERS = ("index", "middle", "ring", "pinky")
# MCP centre, direction, phalanx lengths (proximal, middle, distal incl. tip), half-width at the base.
FINGER_SPECS = {
    "index": ((0.006, 0.0, 0.026), (-1.0, 0.0, 0.06), (0.038, 0.024, 0.021), 0.0088),
    "middle": ((0.000, 0.0, 0.004), (-1.0, 0.0, 0.0), (0.042, 0.028, 0.022), 0.0090),
    "ring": ((0.004, 0.0, -0.016), (-1.0, 0.0, -0.05), (0.039, 0.026, 0.022), 0.0085),
    "pinky": ((0.014, -0.002, -0.034), (-1.0, 0.0, -0.12), (0.031, 0.020, 0.020), 0.0075),
}
THUMB_DIRS = ((-0.6, -0.22, 0.72), (-0.8, -0.15, 0.52), (-0.9, -0.1, 0.36))
THUMB_LENGTHS = (0.034, 0.030, 0.026)
THUMB_RADIUS = (0.0105, 0.0085)
THUMB_PATCH_RING = 2  # the thumb replaces 3 quads between palm rings 2 and 3 ...
THUMB_PATCH_POSITIONS = (23, 24, 25, 0)  # ... spanning these ring positions (palmar side to the radial edge)
THICKNESS = 0.85  # finger cross-section: dorsal-palmar over lateral


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class _MeshBuilder:
    """Vertices with per-vertex part labels, and triangles."""

    def __init__(self):
        self.verts, self.faces, self.part = [], [], []
        self.axis_center, self.axis_dir, self.arc = [], [], []

    def add(self, p, part, center, direction, arc) -> int:
        self.verts.append(np.asarray(p, dtype=np.float64))
        self.part.append(part)
        self.axis_center.append(np.asarray(center, dtype=np.float64))
        self.axis_dir.append(np.asarray(direction, dtype=np.float64))
        self.arc.append(arc)
        return len(self.verts) - 1

    def quad(self, a, b, c, d, out):
        out += [(a, b, c), (a, c, d)]


def _palm_positions_to_fingers():
    """For each palm ring position, the finger(s) whose base loop it belongs to at the knuckle line."""
    owners = []
    for pos in range(RING):
        i = pos if pos < HALF_RING else RING - 1 - pos  # dorsal d_i or palmar p_i
        if i % 3 == 0 and 0 < i < 12:
            owners.append((LONG_FINGERS[i // 3 - 1], LONG_FINGERS[i // 3]))
        else:
            owners.append((LONG_FINGERS[min(i // 3, 3)],))
    return owners


def _knuckle_ring() -> np.ndarray:
    """The palm's top ring (26, 3): d0..d12 along the knuckles (dorsal), then p12..p0 (palmar)."""
    centers = {f: np.array(FINGER_SPECS[f][0]) for f in LONG_FINGERS}
    widths = {f: FINGER_SPECS[f][3] for f in LONG_FINGERS}
    dorsal = []
    for i in range(HALF_RING):
        k, r = divmod(i, 3)
        if i == 12 or (r == 0 and i > 0):  # an edge between fingers, or the ulnar edge
            a = LONG_FINGERS[k - 1]
            if i == 12:
                c = centers[a]
                p = np.array([c[0], c[1], c[2] - widths[a] - 0.001])
            else:
                b = LONG_FINGERS[k]
                p = (centers[a] + centers[b]) / 2
            dorsal.append((p, 0.45))
        elif r == 0:  # the radial edge at the index finger
            c = centers["index"]
            dorsal.append((np.array([c[0], c[1], c[2] + widths["index"] + 0.002]), 0.45))
        else:
            f = LONG_FINGERS[k]
            c = centers[f]
            dz = (1 / 3 if r == 1 else -1 / 3) * widths[f] * 1.1
            dorsal.append((np.array([c[0], c[1], c[2] + dz]), 1.0))
    ring = np.zeros((RING, 3))
    for i, (p, height) in enumerate(dorsal):
        owner = LONG_FINGERS[min(i // 3, 3)]
        h = THICKNESS * widths[owner] * height
        ring[i] = p + [0.0, h, 0.0]
        ring[RING - 1 - i] = p - [0.0, h, 0.0]
    return ring


def _wrist_ring() -> np.ndarray:
    a, b = WRIST_SEMI_AXES
    theta = np.pi * (np.arange(HALF_RING) + 0.5) / HALF_RING
    dorsal = np.stack([np.zeros(HALF_RING), b * np.sin(theta), a * np.cos(theta)], axis=1)
    palmar = dorsal * [1, -1, 1]
    return WRIST + np.concatenate([dorsal, palmar[::-1]])


def _tube(mb, base_loop, centers, dirs, radii, part, arcs, tip, faces, follow=None):
    """Grow a tube from `base_loop` (existing vertex ids) through rings at `centers` (M, 3), closed by a pole.

    Each ring vertex keeps the angle its base-loop vertex has about the axis, so the quads do not twist.
    radii (M, 2) lateral and dorsal-palmar semi-axes. follow (M,): how much each ring keeps the base loop's own
    shape (carried along with the ring centre) instead of an ellipse. Returns the ring vertex ids and the pole id.
    """
    base = np.array([mb.verts[i] for i in base_loop])
    c0 = base.mean(0)
    d0 = _unit(centers[0] - c0)
    up = np.array([0.0, 1.0, 0.0])
    lat0 = _unit(np.cross(up, d0))
    nrm0 = np.cross(d0, lat0)
    off = base - c0
    measured = np.arctan2(off @ nrm0, off @ lat0)
    # Evenly spaced ring angles, turned to best match the base loop: a saddle-shaped loop (the thumb's patch)
    # projects to non-monotonic angles, which would fold a column of quads inside out along the whole tube.
    n = len(base_loop)
    turn = np.angle(np.exp(1j * np.diff(np.append(measured, measured[0])))).sum()
    even = np.sign(turn) * 2 * np.pi * np.arange(n) / n
    phi = even + np.angle(np.exp(1j * (measured - even)).sum())
    rings = [list(base_loop)]
    lat = lat0
    follow = np.zeros(len(centers)) if follow is None else follow
    for center, d, (rw, rh), arc, keep in zip(centers, dirs, radii, arcs, follow):
        lat = _unit(lat - d * (lat @ d))  # parallel transport keeps the ring from twisting
        nrm = np.cross(d, lat)
        ellipse = center + np.cos(phi)[:, None] * rw * lat + np.sin(phi)[:, None] * rh * nrm
        points = (1 - keep) * ellipse + keep * (base + (center - c0))
        rings.append([mb.add(p, part, center, d, arc) for p in points])
    new = []
    for r0, r1 in zip(rings[:-1], rings[1:]):
        n = len(r0)
        for k in range(n):
            mb.quad(r0[k], r0[(k + 1) % n], r1[(k + 1) % n], r1[k], new)
    pole = mb.add(tip, part, tip, dirs[-1], arcs[-1] + radii[-1][0])
    last = rings[-1]
    new += [(last[k], last[(k + 1) % len(last)], pole) for k in range(len(last))]
    # Orient outward: face normals should point away from the axis.
    V = np.array(mb.verts)
    F = np.array(new)
    cen = V[F].mean(1)
    nrm_f = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    axis_pts = np.array([mb.axis_center[i] for i in F[:, 0]])
    if np.sum(np.einsum("fk,fk->f", nrm_f, cen - axis_pts)) < 0:
        F = F[:, ::-1]
    faces.extend(map(tuple, F))
    return rings[1:], pole


def _finger_rings(lengths, width, taper=0.22):
    """Arc positions and radii of the rings along a finger: 4 per phalanx, the last phalanx ending in a cap."""
    l1, l2, l3 = lengths
    total = l1 + l2 + l3
    r_tip = width * (1 - taper)
    cap_start = l1 + l2 + l3 - r_tip
    arcs, scale = [], []
    arcs += [l1 * f for f in (0.25, 0.5, 0.75, 1.0)]
    arcs += [l1 + l2 * f for f in (0.25, 0.5, 0.75, 1.0)]
    arcs += [l1 + l2 + (cap_start - l1 - l2) * f for f in (1 / 3, 2 / 3, 1.0)]
    scale += [1.0] * 11
    for alpha in np.radians([35.0, 65.0]):
        arcs.append(cap_start + r_tip * np.sin(alpha))
        scale.append(np.cos(alpha))
    arcs = np.array(arcs)
    rw = width * (1 - taper * np.minimum(arcs, cap_start) / total) * np.array(scale)
    return arcs, np.stack([rw, THICKNESS * rw], axis=1), total


def _build_right_mesh():
    mb = _MeshBuilder()
    palm_faces = []
    wrist_ring, knuckle_ring = _wrist_ring(), _knuckle_ring()
    palm_ids = np.zeros((PALM_RINGS, RING), dtype=np.int64)
    for r in range(PALM_RINGS):
        t = r / (PALM_RINGS - 1)
        s = 1 - (1 - t) ** 1.6
        ring = (1 - s) * wrist_ring + s * knuckle_ring
        ring[:, 0] = (1 - t) * wrist_ring[:, 0] + t * knuckle_ring[:, 0]
        center = ring.mean(0)
        ring[:, 1] = center[1] + (ring[:, 1] - center[1]) * (1 + 0.25 * np.sin(np.pi * t))
        for pos in range(RING):
            palm_ids[r, pos] = mb.add(ring[pos], "palm", center, _unit(knuckle_ring.mean(0) - WRIST), t)

    # Thumb patch quads are left out of the palm.
    patch = {(THUMB_PATCH_RING, p) for p in THUMB_PATCH_POSITIONS[:-1]}
    palm_quads = [(r, pos) for r in range(PALM_RINGS - 1) for pos in range(RING) if (r, pos) not in patch]
    # Extra vertices at quad centres on the back and the palm make the count exactly NUM_VERTICES.
    fingers_vertices = 4 * (13 * FINGER_RING + 1)
    thumb_vertices = 13 * FINGER_RING + 1
    n_extra = NUM_VERTICES - PALM_RINGS * RING - fingers_vertices - thumb_vertices
    candidates = [(r, pos) for r in range(3, PALM_RINGS - 1) for pos in (*range(3, 9), *range(17, 23))]
    chosen = {candidates[i] for i in np.linspace(0, len(candidates) - 1, n_extra).round().astype(int)}
    assert len(chosen) == n_extra
    for r, pos in palm_quads:
        a, b = palm_ids[r, pos], palm_ids[r, (pos + 1) % RING]
        c, d = palm_ids[r + 1, (pos + 1) % RING], palm_ids[r + 1, pos]
        if (r, pos) in chosen:
            corners = np.array([mb.verts[i] for i in (a, b, c, d)])
            center = np.array([mb.axis_center[i] for i in (a, b, c, d)]).mean(0)
            m = mb.add(corners.mean(0), "palm", center, mb.axis_dir[a], (r + 0.5) / (PALM_RINGS - 1))
            palm_faces += [(a, b, m), (b, c, m), (c, d, m), (d, a, m)]
        else:
            mb.quad(a, b, c, d, palm_faces)
    # Palm faces: the ring order runs so that these point outward; check and flip as one part.
    V = np.array(mb.verts)
    F = np.array(palm_faces)
    nrm_f = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    axis_pts = np.array([mb.axis_center[i] for i in F[:, 0]])
    if np.sum(np.einsum("fk,fk->f", nrm_f, V[F].mean(1) - axis_pts)) < 0:
        F = F[:, ::-1]
    faces = list(map(tuple, F))

    joints = np.zeros((16, 3))
    joints[0] = WRIST
    tips = np.zeros((5, 3))
    tip_ids = np.zeros(5, dtype=np.int64)
    chains = {}
    top = palm_ids[-1]
    for k, finger in enumerate(LONG_FINGERS):
        mcp, direction, lengths, width = FINGER_SPECS[finger]
        mcp, d = np.array(mcp), _unit(direction)
        loop = [top[3 * k + i] for i in range(4)] + [top[RING - 1 - (3 * k + 3 - i)] for i in range(4)]
        arcs, radii, total = _finger_rings(lengths, width)
        centers = mcp + arcs[:, None] * d
        tip = mcp + total * d
        _, pole = _tube(mb, loop, centers, [d] * len(arcs), radii, finger, arcs, tip, faces)
        j1, j2, j3 = MANO_FINGER_JOINTS[finger]
        joints[j1], joints[j2], joints[j3] = mcp, mcp + lengths[0] * d, mcp + (lengths[0] + lengths[1]) * d
        tips[1 + k] = tip
        tip_ids[1 + k] = pole
        chains[finger] = (np.array([0.0, lengths[0], lengths[0] + lengths[1]]), (0, j1, j2, j3), loop)

    # Thumb: from the patch on the palm's side through CMC (inside the palm), MCP and IP to the tip.
    r0, r1 = palm_ids[THUMB_PATCH_RING], palm_ids[THUMB_PATCH_RING + 1]
    loop = [r0[p] for p in THUMB_PATCH_POSITIONS] + [r1[p] for p in THUMB_PATCH_POSITIONS[::-1]]
    patch_center = np.array([mb.verts[i] for i in loop]).mean(0)
    palm_axis_point = np.array([mb.axis_center[i] for i in loop]).mean(0)
    cmc = patch_center + 0.35 * (palm_axis_point - patch_center)
    dirs = [_unit(d) for d in THUMB_DIRS]
    t_mcp = cmc + THUMB_LENGTHS[0] * dirs[0]
    t_ip = t_mcp + THUMB_LENGTHS[1] * dirs[1]
    t_tip = t_ip + THUMB_LENGTHS[2] * dirs[2]
    first = np.linalg.norm(t_mcp - patch_center)
    seg_starts = [patch_center, t_mcp, t_ip]
    seg_dirs = [_unit(t_mcp - patch_center), dirs[1], dirs[2]]
    seg_lengths = [first, THUMB_LENGTHS[1], THUMB_LENGTHS[2]]
    arcs, radii, total = _finger_rings(seg_lengths, THUMB_RADIUS[0], taper=1 - THUMB_RADIUS[1] / THUMB_RADIUS[0])
    # The first segment leaves the palm along the patch normal and bends towards the MCP (a quadratic Bezier),
    # and its rings start as wide as the patch: a straight, round start would cut into the palm.
    patch_pts = np.array([mb.verts[i] for i in loop])
    normal = np.linalg.svd(patch_pts - patch_center)[2][2]
    normal *= np.sign(normal @ (patch_center - palm_axis_point))
    control = patch_center + 0.45 * first * normal
    patch_radius = np.linalg.norm(patch_pts - patch_center, axis=1).mean()
    centers, cdirs, follow = [], [], np.zeros(len(arcs))
    for i, a in enumerate(arcs):
        seg = 0 if a <= seg_lengths[0] else (1 if a <= seg_lengths[0] + seg_lengths[1] else 2)
        local = a - sum(seg_lengths[:seg])
        if seg == 0:
            u = local / first
            centers.append((1 - u) ** 2 * patch_center + 2 * u * (1 - u) * control + u**2 * t_mcp)
            cdirs.append(_unit(2 * (1 - u) * (control - patch_center) + 2 * u * (t_mcp - control)))
            radii[i] *= 1 + (patch_radius / radii[i, 0] - 1) * (1 - u) ** 2
            follow[i] = (1 - u) ** 2
        else:
            centers.append(seg_starts[seg] + local * seg_dirs[seg])
            cdirs.append(seg_dirs[seg])
    _, pole = _tube(mb, loop, np.array(centers), cdirs, radii, "thumb", arcs, t_tip, faces, follow)
    j1, j2, j3 = MANO_FINGER_JOINTS["thumb"]
    joints[j1], joints[j2], joints[j3] = cmc, t_mcp, t_ip
    tips[0], tip_ids[0] = t_tip, pole
    chains["thumb"] = (
        np.array([0.0, seg_lengths[0], seg_lengths[0] + seg_lengths[1]]),
        (0, j1, j2, j3),
        loop,
    )

    V = np.array(mb.verts)
    assert len(V) == NUM_VERTICES, len(V)
    labels = {
        "part": np.array(mb.part),
        "axis_center": np.array(mb.axis_center),
        "axis_dir": np.array(mb.axis_dir),
        "arc": np.array(mb.arc),
        "palm_ids": palm_ids,
    }
    return V, np.array(faces, dtype=np.int64), joints, tips, tip_ids, chains, labels


def _skinning_weights(V, chains, labels) -> np.ndarray:
    """Weights (778, 16): each finger blends along its chain across joints; the palm blends into the fingers at
    the knuckles and into the thumb around its patch."""
    W = np.zeros((len(V), 16))
    part, arc, palm_ids = labels["part"], labels["arc"], labels["palm_ids"]
    owners = _palm_positions_to_fingers()
    # Palm: wrist, blending into each finger's first joint towards the knuckle line.
    for r in range(PALM_RINGS):
        t = r / (PALM_RINGS - 1)
        f = 0.5 * _smoothstep((t - 0.55) / 0.45)
        for pos in range(RING):
            v = palm_ids[r, pos]
            W[v, 0] = 1 - f
            for finger in owners[pos]:
                W[v, MANO_FINGER_JOINTS[finger][0]] += f / len(owners[pos])
    extra = np.where((part == "palm") & ~np.isin(np.arange(len(V)), palm_ids))[0]
    W[extra, 0] = 1.0
    # The thenar region follows the thumb's first joint.
    thumb_loop = chains["thumb"][2]
    palm = np.where(part == "palm")[0]
    dist = np.linalg.norm(V[palm][:, None] - V[thumb_loop][None], axis=-1).min(1)
    g = 0.5 * np.exp(-((dist / 0.010) ** 2))
    W[palm] *= (1 - g)[:, None]
    W[palm, MANO_FINGER_JOINTS["thumb"][0]] += g
    # Fingers and thumb: by arc length along the chain, a smooth step across each joint.
    for finger, (bounds, owners_chain, _) in chains.items():
        ids = np.where(part == finger)[0]
        u = arc[ids]
        seg = np.searchsorted(bounds, u, side="right") - 1  # 0: proximal phalanx (owner chain[1]) ...
        w_fraction = np.zeros((len(ids), 4))
        w_fraction[np.arange(len(ids)), seg + 1] = 1.0
        radius = np.linalg.norm(V[ids] - labels["axis_center"][ids], axis=1)
        half = np.maximum(0.8 * radius, 0.004)
        for k, b in enumerate(bounds):
            if k == 0:
                continue
            t = _smoothstep((u - b + half) / (2 * half))
            near = np.abs(u - b) < half
            w_fraction[near] = 0.0
            w_fraction[near, k] = 1 - t[near]
            w_fraction[near, k + 1] = t[near]
        for col, j in enumerate(owners_chain):
            W[ids, j] += w_fraction[:, col]
    return W / W.sum(1, keepdims=True)


def _nnls(A: np.ndarray, b: np.ndarray, iterations: int = 200) -> np.ndarray:
    """min ||A x - b|| with x >= 0 (Lawson-Hanson active set). numpy only: Blender's Python has no scipy."""
    n = A.shape[1]
    x, passive = np.zeros(n), np.zeros(n, dtype=bool)
    for _ in range(iterations):
        grad = A.T @ (b - A @ x)
        if passive.all() or grad[~passive].max() <= 1e-12:
            break
        passive[np.argmax(np.where(passive, -np.inf, grad))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], b, rcond=None)[0]
            if z[passive].min() > 0:
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > 1e-12
    return x


def _joint_regressor(V, targets) -> np.ndarray:
    """(16, 778): for each joint, non-negative weights summing to one over nearby vertices reproducing it."""
    J = np.zeros((len(targets), len(V)))
    for j, target in enumerate(targets):
        near = np.argsort(np.linalg.norm(V - target, axis=1))[:24]
        A = np.vstack([V[near].T, 100.0 * np.ones(len(near))])
        w = _nnls(A, np.concatenate([target, [100.0]]))
        J[j, near] = w / w.sum()
    return J


def _vertex_normals(V, F) -> np.ndarray:
    n = np.zeros_like(V)
    fn = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    for k in range(3):
        np.add.at(n, F[:, k], fn)
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def _shape_directions(V, F, joints, chains, labels) -> np.ndarray:
    """(778, 3, 10) displacement per unit shape coefficient (metres)."""
    part, arc, axis_c, axis_d = labels["part"], labels["arc"], labels["axis_center"], labels["axis_dir"]
    S = np.zeros((len(V), 3, 10))
    palm = part == "palm"
    fingers = ~palm
    S[:, :, 0] = 0.045 * (V - joints[0])
    along = arc[:, None] * axis_d
    S[fingers, :, 1] = 0.06 * along[fingers]
    ramp = np.clip(arc / 0.006, 0, 1)[:, None]
    S[fingers, :, 2] = 0.08 * ((V - axis_c) * ramp)[fingers]
    for col, axis, scale in ((3, 2, 0.06), (4, 0, 0.06)):
        disp = np.zeros_like(V)
        disp[palm, axis] = scale * (V[palm, axis] - joints[0, axis])
        for finger, (_, _, loop) in chains.items():
            disp[part == finger] = disp[loop].mean(0)  # fingers move with their base
        S[:, :, col] = disp
    thumb = part == "thumb"
    S[thumb, :, 5] = 0.08 * along[thumb]
    S[palm, 1, 6] = 0.08 * (V[palm, 1] - axis_c[palm, 1])
    S[fingers, 1, 6] = 0.05 * (V[fingers, 1] - axis_c[fingers, 1])
    S[part == "index", :, 7] = 0.05 * along[part == "index"]
    S[part == "ring", :, 7] = -0.05 * along[part == "ring"]
    S[part == "pinky", :, 8] = 0.08 * along[part == "pinky"]
    S[:, :, 9] = 0.0015 * _vertex_normals(V, F)
    return S


def _pose_correctives(V, F, W) -> np.ndarray:
    """(778, 3, 135): the skin bulges outward at a bent joint, in proportion to 1 - cos(angle).

    MANO's pose features are the entries of (R - I) per joint 1..15; 1 - cos(angle) = -trace(R - I) / 2.
    """
    P = np.zeros((len(V), 3, 135))
    normals = _vertex_normals(V, F)
    for j in range(1, 16):
        blend = 4.0 * W[:, j] * W[:, MANO_PARENTS[j]]
        for diag in (0, 4, 8):
            P[:, :, 9 * (j - 1) + diag] = -0.5 * 0.002 * blend[:, None] * normals
    return P


def _pose_components(frames, seed=0):
    """PCA of a plausible pose set: components (45, 45) as rows by falling variance, and the set's mean."""
    poses = sample_natural_hand_poses(np.random.default_rng(seed), 20000, frames)
    mean = poses.mean(0)
    _, _, vt = np.linalg.svd(poses - mean, full_matrices=False)
    return vt, mean


def _mirror(model: dict) -> dict:
    """The left hand: the right mirrored in x (faces re-wound, x displacements and axis-angle y, z negated)."""
    flip = np.array([-1.0, 1.0, 1.0])
    aa_flip = np.tile([1.0, -1.0, -1.0], 15)
    left = dict(model)
    left["v_template"] = model["v_template"] * flip
    left["f"] = model["f"][:, ::-1].copy()
    left["shapedirs"] = model["shapedirs"] * flip[None, :, None]
    left["posedirs"] = model["posedirs"] * flip[None, :, None]
    left["hands_components"] = model["hands_components"] * aa_flip[None]
    left["hands_mean"] = model["hands_mean"] * aa_flip
    return left


def build_standin() -> dict[str, dict]:
    """{'right': arrays, 'left': arrays} with exactly the keys and shapes smplx reads from MANO_*.pkl."""
    V, F, joints, tips, tip_ids, chains, labels = _build_right_mesh()
    W = _skinning_weights(V, chains, labels)
    J_reg = _joint_regressor(V, joints)
    J = J_reg @ V
    frames = frames_from_template(J, V[tip_ids])
    components, mean = _pose_components(frames)
    kintree = np.stack([MANO_PARENTS, np.arange(16)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # MANO's files mark the root's parent like this
    right = {
        "v_template": V,
        "f": F.astype(np.int64),
        "J_regressor": J_reg,
        "weights": W,
        "kintree_table": kintree,
        "J": J,
        "shapedirs": _shape_directions(V, F, joints, chains, labels),
        "posedirs": _pose_correctives(V, F, W),
        "hands_components": components,
        "hands_mean": mean,
        "tip_vertex_ids": tip_ids,
    }
    return {"right": right, "left": _mirror(right)}
