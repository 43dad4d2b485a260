"""A generated stand-in hand model in MANO's exact format, for when the licensed MANO files are absent.

Parametric tubes stitched to a palm: the palm is a tube of rings from the wrist (left open, where the forearm of
`handmodel.forearm` joins or its wrist cap closes it) to the knuckle line, where its top ring splits into the four
finger tubes; the thumb tube grows from a patch on the palm's radial, palmar side. Every finger ends in a rounded
cap whose pole is the fingertip vertex. Rings crowd at the joints and the fingertips, where a hand bends and is
looked at. Extra vertices at quad centres on the palm bring the count to exactly 778. The skeleton follows MANO's
joint order and kinematic tree with MANO-like rest positions (fingers along -x, palm facing -y, thumb on +z for the
right hand); the left hand mirrors the right.

Shape, from published anthropometry (adult means, sexes pooled; lengths between joint centres):
- Hand length (wrist joint to the middle fingertip) 0.189 m, hand breadth across the metacarpal heads 0.083 m, hand
  thickness at the metacarpals 0.029 m (ANSUR II survey, Gordon et al. 2014: hand length men 0.194 / women 0.178,
  breadth 0.089 / 0.078); palm length (wrist joint to middle MCP) 0.095 m.
- Phalanx lengths (Buryanov and Kotiuk 2010, "Proportions of hand segments", Int. J. Morphol. 28: 755-758; the
  distal segment runs to the tip of the pad, about 5 mm past the bone), MCP->PIP / PIP->DIP / DIP->tip in mm:
  index 40 / 23 / 21, middle 45 / 27 / 22, ring 42 / 26 / 22, little 33 / 19 / 20; thumb CMC->MCP / MCP->IP /
  IP->tip 44 / 32 / 27.
- Finger breadths (ANSUR II finger breadths, proximal and distal joints; at the base a little under the spacing of
  the MCP joints, so neighbouring fingers meet at the web without overlapping, even pressed together), base /
  PIP / DIP in mm: index 19.5 / 19 / 16, middle 19 / 18.5 / 16.5, ring 18 / 17.5 / 15.5, little 16 / 16 / 14;
  thumb 26 at the MCP and 22 at the IP joint. Sections are elliptical, about 0.85 as thick as broad.
- Details drawn on that frame: pads under each phalanx (largest at the fingertip), creases at the palmar side of
  the joints, knuckles slightly wider than the shafts with dorsal bumps, MCP knuckle bumps on the back of the palm,
  a fingertip flattened on its nail side; a palm thicker at the thenar and hypothenar eminences than at its hollow
  centre; the thumb's web; the thumb leaving the palm about 2.5 cm from the wrist at about 45 degrees from the
  middle finger's line, its nail turned to face sideways (radially) at rest.

Skinning weights blend smoothly across each joint over a width that keeps the section's area when it bends (pose
correctives add the skin's bulge at a bent joint); shape directions change size, finger lengths and widths, palm
width, length and thickness; the 45x45 pose components are the principal axes of poses drawn by
`anatomy.sample_natural_hand_poses`. Everything is deterministic.

The arrays the toolkit uses are the shipped file `standin_hand.npz` beside this module (the right hand; the left
is its exact mirror), not a fresh run of this generator: floating point differs between CPUs, BLAS kernels and
thread counts, and one hand model must be the same bytes on every machine. `python -m handmodel.standin --check`
regenerates the arrays and compares them with the shipped ones (they agree to `REGENERATION_TOLERANCE`, the
joint regressor by the joints it places: its weights are one of many that place a joint exactly, and which one
the solver lands on varies with the BLAS kernel);
`--write` replaces the shipped file after a change to the generator.
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from handmodel.anatomy import frames_from_template, sample_natural_hand_poses
from handmodel.geometry import unit
from handmodel.joints import MANO_FINGER_JOINTS, MANO_PARENTS
from handmodel.mano_files import NUM_VERTICES

# The figures of the module docstring (metres) that tests compare the generated mesh with.
ANTHROPOMETRY = {
    "hand_length": 0.189,
    "hand_breadth": 0.083,
    "hand_thickness": 0.029,
    "palm_length": 0.095,
    "phalanges": {"index": (0.040, 0.023, 0.021), "middle": (0.045, 0.027, 0.022), "ring": (0.042, 0.026, 0.022),
                  "pinky": (0.033, 0.019, 0.020), "thumb": (0.044, 0.032, 0.027)},
    "breadths": {"index": (0.0195, 0.019, 0.016), "middle": (0.019, 0.0185, 0.0165), "ring": (0.018, 0.0175, 0.0155),
                 "pinky": (0.016, 0.016, 0.014), "thumb": (0.026, 0.022)},
}  # fmt: skip

SHIPPED_PATH = Path(__file__).with_name("standin_hand.npz")
# The largest difference between a fresh run of the generator and the shipped arrays on any machine (measured:
# 3.4e-13 in the pose components, 2e-14 elsewhere, under OpenBLAS's Haswell and Sandybridge kernels, one or two
# threads and torch's default and AVX2 kernels), with room to spare.
REGENERATION_TOLERANCE = 1e-9

WRIST = np.array([ANTHROPOMETRY["palm_length"], 0.0, 0.0])
WRIST_SEMI_AXES = (0.029, 0.0185)  # lateral (z), thickness (y): the forearm's wrist section, a little inside it
PALM_RINGS = 9
HALF_RING = 13  # dorsal and palmar points per palm ring
RING = 2 * HALF_RING
FINGER_RING = 8
LONG_FINGERS = ("index", "middle", "ring", "pinky")
# MCP centre and finger direction at rest (the knuckle line arcs: the middle MCP is the most distal).
FINGER_BASES = {
    "index": ((0.004, 0.0, 0.0295), (-1.0, 0.0, 0.07)),
    "middle": ((0.000, 0.0, 0.0085), (-1.0, 0.0, 0.0)),
    "ring": ((0.004, 0.0, -0.0115), (-1.0, 0.0, -0.06)),
    "pinky": ((0.013, -0.001, -0.0295), (-1.0, 0.0, -0.14)),
}
THICKNESS = 0.86  # finger cross-section: dorsal-palmar over lateral
TIP_TAPER = 0.88  # half-width at the start of the fingertip's cap over that at the DIP joint
# Thumb: CMC -> MCP direction, MCP -> IP, IP -> tip, in the rest hand's frame.
THUMB_DIRS = ((-0.53, -0.40, 0.76), (-0.74, -0.30, 0.60), (-0.82, -0.24, 0.52))
THUMB_PATCH_RING = 2  # the thumb replaces 3 quads between palm rings 2 and 3 ...
THUMB_PATCH_POSITIONS = (23, 24, 25, 0)  # ... spanning these ring positions (palmar side to the radial edge)
THUMB_NAIL_ROLL_DEG = 75.0  # the thumb's nail faces this far round from the palm's back, towards the radial side
# Ring stations of a finger as fractions of its phalanges (proximal, middle, distal), then the cap's ring angles:
# crowded at the joints, where it bends, and at the tip.
PHALANX_STATIONS = ((0.3, 0.62, 0.86, 1.0), (0.14, 0.5, 0.84, 1.0), (0.15, 0.48, 0.78))
CAP_DEG = (34.0, 62.0)
CORRECTIVE = 0.2  # outward bulge at a joint bent by 90 degrees, as a fraction of the local radius


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _bump(x, centre, width):
    return np.exp(-(((np.asarray(x) - centre) / width) ** 2))


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


def _half_width(finger: str) -> float:
    return ANTHROPOMETRY["breadths"][finger][0] / 2


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


# The palm's surface heights at the knuckle line (metres from the MCP joints' plane): the back over the MCP heads
# (dorsal knuckle bumps) and the palmar pad under them; between fingers, the web sits lower.
KNUCKLE_DORSAL = (0.0105, 0.0068)  # over a finger, between fingers
KNUCKLE_PALMAR = (0.0118, 0.0080)


def _knuckle_ring() -> np.ndarray:
    """The palm's top ring (26, 3): d0..d12 along the knuckles (dorsal), then p12..p0 (palmar)."""
    centers = {f: np.array(FINGER_BASES[f][0]) for f in LONG_FINGERS}
    widths = {f: _half_width(f) for f in LONG_FINGERS}
    ring = np.zeros((RING, 3))
    for i in range(HALF_RING):
        k, r = divmod(i, 3)
        if i == 12 or (r == 0 and i > 0):  # an edge between fingers, or the ulnar edge
            a = LONG_FINGERS[k - 1]
            if i == 12:
                c = centers[a]
                p = np.array([c[0] + 0.002, c[1], c[2] - widths[a] - 0.0015])
                up, down = 0.55 * KNUCKLE_DORSAL[1], 0.7 * KNUCKLE_PALMAR[1]
            else:
                p = (centers[a] + centers[LONG_FINGERS[k]]) / 2
                up, down = KNUCKLE_DORSAL[1], KNUCKLE_PALMAR[1]
        elif r == 0:  # the radial edge at the index finger
            c = centers["index"]
            p = np.array([c[0] + 0.002, c[1], c[2] + widths["index"] + 0.0015])
            up, down = 0.55 * KNUCKLE_DORSAL[1], 0.7 * KNUCKLE_PALMAR[1]
        else:
            f = LONG_FINGERS[k]
            c = centers[f]
            dz = (1 / 3 if r == 1 else -1 / 3) * widths[f] * 1.15
            p = np.array([c[0], c[1], c[2] + dz])
            scale = widths[f] / widths["middle"]
            up, down = KNUCKLE_DORSAL[0] * scale, KNUCKLE_PALMAR[0] * scale
        ring[i] = p + [0.0, up, 0.0]
        ring[RING - 1 - i] = p - [0.0, down, 0.0]
    return ring


def _wrist_ring() -> np.ndarray:
    a, b = WRIST_SEMI_AXES
    theta = np.pi * (np.arange(HALF_RING) + 0.5) / HALF_RING
    dorsal = np.stack([np.zeros(HALF_RING), b * np.sin(theta), a * np.cos(theta)], axis=1)
    palmar = dorsal * [1, -1, 1]
    return WRIST + np.concatenate([dorsal, palmar[::-1]])


def _palm_relief(t, u, palmar):
    """Extra thickness (metres) of the palm at height t (0 wrist .. 1 knuckles) and lateral place u (0 ulnar ..
    1 radial), on the palmar or dorsal side: the thenar and hypothenar eminences, the hollow between them, and the
    arched back of the hand."""
    t, u = np.asarray(t, dtype=np.float64), np.asarray(u, dtype=np.float64)
    fade = np.sin(np.pi * np.clip(t, 0, 1)) ** 0.7  # nothing at the wrist loop and at the knuckle ring
    if palmar:
        thenar = 0.0085 * _bump(t, 0.28, 0.22) * _bump(u, 0.72, 0.2)
        hypothenar = 0.0070 * _bump(t, 0.38, 0.30) * _bump(u, 0.10, 0.20)
        hollow = 0.0035 * _bump(t, 0.55, 0.22) * _bump(u, 0.45, 0.22)
        return fade * (0.0025 + thenar + hypothenar - hollow)
    arch = 0.0030 * np.sin(np.pi * np.clip(u, 0, 1))
    return fade * (0.0005 + arch)


def _tube(mb, base_loop, centers, dirs, radii, part, arcs, tip, faces, follow=None, dorsal=None, profile=None):
    """Grow a tube from `base_loop` (existing vertex ids) through rings at `centers` (M, 3), closed by a pole.

    radii (M, 2) lateral and dorsal-palmar semi-axes; `dorsal` (3,) the direction the thin axis's dorsal end faces
    (+y by default); each ring vertex keeps the angle its base-loop vertex has about the axis, so the quads do not
    twist. follow (M,): how much each ring keeps the base loop's own shape (carried along with the ring centre)
    instead of an ellipse. profile(arc, c) -> (n,) radial factors, c the cosine of each vertex's direction with
    the dorsal direction (1 dorsal, -1 palmar). Returns the ring vertex ids and the pole id.
    """
    D = np.array([0.0, 1.0, 0.0]) if dorsal is None else unit(dorsal)

    def frame(d):
        nrm = unit(D - d * (D @ d))
        return np.cross(nrm, d), nrm

    base = np.array([mb.verts[i] for i in base_loop])
    c0 = base.mean(0)
    d0 = unit(centers[0] - c0)
    lat0, nrm0 = frame(d0)
    off = base - c0
    measured = np.arctan2(off @ nrm0, off @ lat0)
    # Evenly spaced ring angles, turned to best match the base loop: a saddle-shaped loop (the thumb's patch)
    # projects to non-monotonic angles, which would fold a column of quads inside out along the whole tube.
    n = len(base_loop)
    turn = np.angle(np.exp(1j * np.diff(np.append(measured, measured[0])))).sum()
    even = np.sign(turn) * 2 * np.pi * np.arange(n) / n
    phi = even + np.angle(np.exp(1j * (measured - even)).sum())
    rings = [list(base_loop)]
    follow = np.zeros(len(centers)) if follow is None else follow
    for center, d, (rw, rh), arc, keep in zip(centers, dirs, radii, arcs, follow):
        lat, nrm = frame(d)
        scale = np.ones(n) if profile is None else profile(arc, np.sin(phi))
        ellipse = center + (np.cos(phi)[:, None] * rw * lat + np.sin(phi)[:, None] * rh * nrm) * scale[:, None]
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


def _finger_rings(lengths, breadths):
    """Arc positions (13,) and semi-axes (13, 2) of the rings along a finger (`PHALANX_STATIONS`, then the cap),
    the total length, and the finger's profile function for `_tube` (pads, creases, knuckles, nail)."""
    l1, l2, l3 = lengths
    total = l1 + l2 + l3
    w_base, w_pip, w_dip = (b / 2 for b in breadths[:3]) if len(breadths) == 3 else (breadths[0] / 2,) * 3
    if len(breadths) == 2:  # the thumb: MCP and IP breadths
        w_base, w_pip, w_dip = breadths[0] / 2 * 1.05, breadths[0] / 2, breadths[1] / 2
    r_tip = w_dip * TIP_TAPER
    cap_start = total - r_tip
    joints = (0.0, l1, l1 + l2)
    arcs, scale = [], []
    for start, length, stations in zip(joints, (l1, l2, cap_start - l1 - l2), PHALANX_STATIONS):
        arcs += [start + length * f for f in stations]
    scale += [1.0] * len(arcs)
    for alpha in np.radians(CAP_DEG):
        arcs.append(cap_start + r_tip * np.sin(alpha))
        scale.append(np.cos(alpha))
    arcs = np.array(arcs)
    s = np.minimum(arcs, cap_start)
    rw = np.interp(s, [0.0, l1, l1 + l2, cap_start], [w_base, w_pip, w_dip, r_tip]) * np.array(scale)
    thick = np.interp(s, [0.0, l1 + l2, cap_start], [THICKNESS, THICKNESS, 0.8])
    radii = np.stack([rw, thick * rw], axis=1)

    def profile(arc, c):
        w = np.interp(min(arc, cap_start), [0.0, l1, l1 + l2, cap_start], [w_base, w_pip, w_dip, r_tip])
        knuckle = sum(_bump(arc, j, 0.9 * w) for j in joints[1:])
        pad = (
            0.10 * _bump(arc, 0.5 * l1, 0.3 * l1)
            + 0.09 * _bump(arc, l1 + 0.5 * l2, 0.3 * l2)
            + 0.20 * _bump(arc, l1 + l2 + 0.55 * l3, 0.32 * l3)
        )
        crease = 0.07 * knuckle
        nail = 0.22 * _smoothstep((arc - l1 - l2 - 0.25 * l3) / (0.3 * l3))
        dorsal, palmar = np.clip(c, 0, None), np.clip(-c, 0, None)
        return (
            (1 + 0.05 * knuckle)
            * (1 + 0.06 * knuckle * dorsal**2 - nail * dorsal**2)
            * (1 + (pad - crease) * palmar**1.5)
        )

    return arcs, radii, total, profile


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
        zmin, zmax = ring[:, 2].min(), ring[:, 2].max()
        u = (ring[:, 2] - zmin) / (zmax - zmin)
        dorsal = np.arange(RING) < HALF_RING
        ring[dorsal, 1] += _palm_relief(t, u[dorsal], palmar=False)
        ring[~dorsal, 1] -= _palm_relief(t, u[~dorsal], palmar=True)
        center = ring.mean(0)
        for pos in range(RING):
            palm_ids[r, pos] = mb.add(ring[pos], "palm", center, unit(knuckle_ring.mean(0) - WRIST), t)

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
        mcp, direction = FINGER_BASES[finger]
        lengths = ANTHROPOMETRY["phalanges"][finger]
        mcp, d = np.array(mcp), unit(direction)
        loop = [top[3 * k + i] for i in range(4)] + [top[RING - 1 - (3 * k + 3 - i)] for i in range(4)]
        arcs, radii, total, profile = _finger_rings(lengths, ANTHROPOMETRY["breadths"][finger])
        centers = mcp + arcs[:, None] * d
        tip = mcp + total * d
        _, pole = _tube(mb, loop, centers, [d] * len(arcs), radii, finger, arcs, tip, faces, profile=profile)
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
    cmc = patch_center + 0.45 * (palm_axis_point - patch_center)
    dirs = [unit(d) for d in THUMB_DIRS]
    lengths = ANTHROPOMETRY["phalanges"]["thumb"]
    t_mcp = cmc + lengths[0] * dirs[0]
    t_ip = t_mcp + lengths[1] * dirs[1]
    t_tip = t_ip + lengths[2] * dirs[2]
    first = np.linalg.norm(t_mcp - patch_center)
    seg_starts = [patch_center, t_mcp, t_ip]
    seg_dirs = [unit(t_mcp - patch_center), dirs[1], dirs[2]]
    seg_lengths = [first, lengths[1], lengths[2]]
    arcs, radii, total, profile = _finger_rings(seg_lengths, ANTHROPOMETRY["breadths"]["thumb"])
    # The first segment leaves the palm along the patch normal and bends towards the MCP (a quadratic Bezier),
    # and its rings start as wide as the patch: a straight, round start would cut into the palm.
    patch_pts = np.array([mb.verts[i] for i in loop])
    normal = np.linalg.svd(patch_pts - patch_center)[2][2]
    normal *= np.sign(normal @ (patch_center - palm_axis_point))
    control = patch_center + 0.3 * first * normal
    patch_radius = np.linalg.norm(patch_pts - patch_center, axis=1).mean()
    centers, cdirs, follow = [], [], np.zeros(len(arcs))
    for i, a in enumerate(arcs):
        seg = 0 if a <= seg_lengths[0] else (1 if a <= seg_lengths[0] + seg_lengths[1] else 2)
        local = a - sum(seg_lengths[:seg])
        if seg == 0:
            u = local / first
            centers.append((1 - u) ** 2 * patch_center + 2 * u * (1 - u) * control + u**2 * t_mcp)
            cdirs.append(unit(2 * (1 - u) * (control - patch_center) + 2 * u * (t_mcp - control)))
            radii[i] *= 1 + (patch_radius / radii[i, 0] - 1) * (1 - u) ** 2
            follow[i] = (1 - u) ** 1.3
        else:
            centers.append(seg_starts[seg] + local * seg_dirs[seg])
            cdirs.append(seg_dirs[seg])
    # The thumb's nail faces sideways: its dorsal direction is the back of the hand turned about the thumb's
    # axis towards the radial side.
    axis = unit(t_tip - t_mcp)
    back = unit(np.array([0.0, 1.0, 0.0]) - axis[1] * axis)
    radial = unit(np.cross(axis, back))
    radial *= np.sign(radial[2])
    roll = np.radians(THUMB_NAIL_ROLL_DEG)
    nail_dir = np.cos(roll) * back + np.sin(roll) * radial
    _, pole = _tube(mb, loop, np.array(centers), cdirs, radii, "thumb", arcs, t_tip, faces, follow, nail_dir, profile)
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
        "nail_dir": nail_dir,
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


def _pose_correctives(V, F, W, labels) -> np.ndarray:
    """(778, 3, 135): the skin bulges outward at a bent joint, in proportion to 1 - cos(angle) and to the local
    radius, making up the volume that blending two rotations loses (a section halfway between them shrinks by
    cos(angle / 2) across the bend: 30 % of its area at 90 degrees).

    MANO's pose features are the entries of (R - I) per joint 1..15; 1 - cos(angle) = -trace(R - I) / 2.
    """
    P = np.zeros((len(V), 3, 135))
    normals = _vertex_normals(V, F)
    radius = np.clip(np.linalg.norm(V - labels["axis_center"], axis=1), 0.004, 0.009)
    for j in range(1, 16):
        blend = 4.0 * W[:, j] * W[:, MANO_PARENTS[j]]
        for diag in (0, 4, 8):
            P[:, :, 9 * (j - 1) + diag] = -0.5 * CORRECTIVE * radius[:, None] * blend[:, None] * normals
    return P


def _pose_components(frames, seed=0):
    """PCA of a plausible pose set: components (45, 45) as rows by falling variance, and the set's mean.

    The set spans fewer than 45 directions (the joints' twists and coupled angles do not vary freely), and an SVD
    may return any basis of the rest and either sign of a row, differently on each machine. So the unused
    directions are the principal axes of a fixed quadratic form (diag 1..45) restricted to them, and each row's
    largest entry is positive."""
    poses = sample_natural_hand_poses(np.random.default_rng(seed), 20000, frames)
    mean = poses.mean(0)
    _, s, vt = np.linalg.svd(poses - mean, full_matrices=False)  # vt: (45, 45), all of them
    rank = int((s > 1e-8 * s[0]).sum())
    unused = vt[rank:]  # (45 - rank, 45), orthonormal rows
    order = np.diag(np.arange(1.0, 46.0))
    _, axes = np.linalg.eigh(unused @ order @ unused.T)
    vt = np.vstack([vt[:rank], axes.T @ unused])
    vt *= np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
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
        "posedirs": _pose_correctives(V, F, W, labels),
        "hands_components": components,
        "hands_mean": mean,
        "tip_vertex_ids": tip_ids,
    }
    return {"right": right, "left": _mirror(right)}


def write_shipped(path: Path = SHIPPED_PATH) -> None:
    """Run the generator and write the right hand's arrays (the left is mirrored when read) to `path`."""
    from handmodel.atomic import atomic_path

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **build_standin()["right"])
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())


def shipped(path: Path = SHIPPED_PATH) -> dict[str, dict]:
    """{'right': arrays, 'left': arrays} of the shipped stand-in, as `build_standin` returns them."""
    with np.load(path, allow_pickle=False) as f:
        right = {key: f[key] for key in f.files}
    return {"right": right, "left": _mirror(right)}


def regeneration_differences(path: Path = SHIPPED_PATH) -> dict[str, float]:
    """{array name: largest absolute difference} between a fresh run of the generator and the shipped file. The
    joint regressor is compared by the rest joints it places (`J_regressor @ v_template`, metres)."""
    built, ships = build_standin(), shipped(path)
    differences = {}
    for hand in ("right", "left"):
        for key in sorted(built[hand]):
            new, old = np.asarray(built[hand][key], np.float64), np.asarray(ships[hand][key], np.float64)
            if key == "J_regressor":
                new, old = new @ built[hand]["v_template"], old @ ships[hand]["v_template"]
                key = "J_regressor @ v_template"
            differences[f"{hand}.{key}"] = float(np.abs(new - old).max())
    return differences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handmodel.standin", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="regenerate and compare with the shipped arrays")
    action.add_argument("--write", action="store_true", help=f"regenerate and replace {SHIPPED_PATH.name}")
    args = parser.parse_args(argv)
    if args.write:
        write_shipped()
        print(f"wrote {SHIPPED_PATH}")
        return 0
    differences = regeneration_differences()
    worst = max(differences, key=differences.get)
    for name, value in differences.items():
        print(f"{name:28s} {value:.3g}")
    ok = differences[worst] <= REGENERATION_TOLERANCE
    print(f"largest difference {differences[worst]:.3g} ({worst}): {'within' if ok else 'beyond'} the tolerance "
          f"{REGENERATION_TOLERANCE:g}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
