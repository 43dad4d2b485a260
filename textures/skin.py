"""Skin textures generated in the hand's UV space from a physical skin model.

Every texel is mapped back to its point on the rest-pose surface (via the UV layout) and placed anatomically
(`regions.py`: finger, position along it, angle round the bone, palm coordinates). There the texture sets the
skin's layers (`skin_model.py`): epidermal melanin (the Fitzpatrick type, palms and finger pads far less pigmented,
freckles on light skin), dermal blood (redder knuckles, fingertips and palms) and its oxygenation (bluish dorsal
veins); 3D noise varies both smoothly (so UV seams do not show). Palmar flexion creases sit where hands have them
(across the palm side of each finger joint, the three palm lines, the wrist), faint wrinkles over the back of the
middle and distal finger joints, and a nail on each distal phalanx's nail bed (pink bed, pale lunula, white free
edge, a cuticle). Each texture comes with a detail map (`*.detail.png`: R height for bump, G nail, B roughness
scale). Numpy only.
"""

import numpy as np

from handmodel.joints import FINGERS, MANO_FINGER_JOINTS
from textures.regions import hand_regions
from textures.skin_model import FITZPATRICK, linear_to_srgb, skin_albedo

# One texture set per Fitzpatrick type, lightest to darkest: the range of epidermal melanin fractions.
SKIN_TONES = dict(FITZPATRICK)
DETAIL_SUFFIX = ".detail.png"
BLOOD = 0.007  # dermal blood volume fraction of plain dorsal skin
OXYGENATION = 0.75


def rasterize_layout(uv: np.ndarray, size: int):
    """Texels covered by the UV triangles: (face (N,), barycentric (N,3), texel rows (N,), cols (N,)).

    uv: (F,3,2) in [0,1] with v up (Blender's convention); row 0 of the image is v = 1.
    """
    pix = np.stack([uv[..., 0] * size - 0.5, (1 - uv[..., 1]) * size - 0.5], axis=-1)  # (F,3,2) x=col, y=row
    faces, bary, rows, cols = [], [], [], []
    for f, tri in enumerate(pix):
        lo = np.floor(tri.min(0)).astype(int).clip(0, size - 1)
        hi = np.ceil(tri.max(0)).astype(int).clip(0, size - 1)
        xs, ys = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
        p = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
        a, b, c = tri
        m = np.array([b - a, c - a]).T
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        l12 = np.linalg.solve(m, (p - a).T).T
        l = np.column_stack([1 - l12.sum(1), l12])
        inside = (l >= -1e-3).all(1)
        faces.append(np.full(inside.sum(), f))
        bary.append(l[inside])
        rows.append(p[inside, 1].astype(int))
        cols.append(p[inside, 0].astype(int))
    return np.concatenate(faces), np.concatenate(bary), np.concatenate(rows), np.concatenate(cols)


def fourier_noise(rng: np.random.Generator, points: np.ndarray, wavelength: float, octaves: int = 3) -> np.ndarray:
    """Smooth 3D noise at points (N,3) metres, roughly unit variance: sums of random plane waves."""
    out = np.zeros(len(points))
    for o in range(octaves):
        k = rng.normal(size=(12, 3))
        k *= (2 * np.pi / (wavelength / 2**o)) / np.linalg.norm(k, axis=1, keepdims=True)
        phase = rng.uniform(0, 2 * np.pi, 12)
        out += np.sin(points @ k.T + phase).sum(1) / np.sqrt(6) / 2**o
    return out


def _dilate(image: np.ndarray, filled: np.ndarray, steps: int = 6) -> np.ndarray:
    """Spread colours into empty texels (so texture filtering at UV seams does not pull in black)."""
    image, filled = image.copy(), filled.copy()
    for _ in range(steps):
        acc = np.zeros_like(image)
        cnt = np.zeros(filled.shape)
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            acc += np.roll(image * filled[..., None], (dy, dx), axis=(0, 1))
            cnt += np.roll(filled, (dy, dx), axis=(0, 1))
        new = ~filled & (cnt > 0)
        image[new] = acc[new] / cnt[new, None]
        filled |= new
    return image


def vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (V,3) of a triangle mesh."""
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    out = np.zeros_like(v)
    for k in range(3):
        np.add.at(out, f[:, k], fn)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _band(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-(((x - centre) / width) ** 2))


def _bezier(p0, p1, p2, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t**2 * np.asarray(p2)


def _polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance (N,) from 2D points (N,2) to a polyline (M,2)."""
    best = np.full(len(points), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        u = np.clip((points - a) @ ab / max(ab @ ab, 1e-18), 0, 1)
        best = np.minimum(best, np.linalg.norm(points - (a + u[:, None] * ab), axis=1))
    return best


def palm_creases(rng: np.random.Generator) -> list[tuple[np.ndarray, float]]:
    """The palm's lines in palm coordinates (x: 0 index MCP -> 1 pinky MCP, y: 0 wrist -> 1 middle MCP), each as
    (polyline, depth): distal palmar, proximal palmar and thenar creases, two wrist creases; jittered per texture."""

    def j(x, y, s=0.035):
        return (x + rng.normal(0, s), y + rng.normal(0, s))

    start = j(-0.12, 0.70)
    lines = [
        (_bezier(j(1.15, 0.66), j(0.62, 0.72), j(0.22, 0.93)), 1.0),  # distal palmar ("heart line")
        (_bezier(start, j(0.35, 0.60), j(0.95, 0.44)), 0.9),  # proximal palmar ("head line")
        (_bezier(start, j(0.25, 0.40), j(0.30, 0.02)), 1.0),  # thenar ("life line")
        (_bezier(j(-0.25, -0.02, 0.01), j(0.45, 0.0, 0.01), j(1.2, -0.02, 0.01)), 0.6),  # wrist
        (_bezier(j(-0.25, -0.10, 0.01), j(0.45, -0.08, 0.01), j(1.2, -0.10, 0.01)), 0.4),
    ]
    return lines


# Palmar digital creases (position in `along`, depth): proximal (palmodigital), a double middle, distal.
FINGER_CREASES = ((0.45, 0.8), (0.97, 0.8), (1.03, 0.6), (1.97, 0.8))
THUMB_CREASES = ((0.15, 0.7), (1.95, 0.9))  # at the thumb's MCP and IP joints


def skin_texture(model, layout: dict, tone: tuple, rng: np.random.Generator, size: int = 512):
    """One texture set for `model` (a right HandModel) in `layout` ({'uv', ...}).

    tone: (lowest, highest) epidermal melanin fraction (a `SKIN_TONES` entry); the texture draws its own within it.
    Returns (albedo (size, size, 3) uint8 sRGB, detail (size, size, 3) uint8, info dict with the drawn layers).
    """
    v, f = model.v_template, model.faces
    face, bary, rows, cols = rasterize_layout(layout["uv"], size)
    corners = f[face]
    p = np.einsum("nk,nkd->nd", bary, v[corners])
    nv = vertex_normals(v, f)
    nrm = np.einsum("nk,nkd->nd", bary, nv[corners])
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    w = np.einsum("nk,nkj->nj", bary, model.weights[corners])
    reg = hand_regions(model, p, nrm, w)
    n = len(p)
    on_finger = reg.finger >= 0
    palm_side = reg.palmar_weight()
    dorsal_angle = np.pi - np.abs(reg.angle)  # 0 on the finger's dorsal midline
    seg = np.maximum(reg.segment_length, 1e-3)
    width, length = reg.palm_size
    xy = np.stack([reg.palm_x * width, reg.palm_y * length], axis=1)
    # Inside the middle of the type's range, so that neighbouring types never meet at their shared boundary.
    lo, hi = np.log(tone[0]), np.log(tone[1])
    melanin0 = float(np.exp(rng.uniform(lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo))))
    blood0 = BLOOD * float(np.exp(rng.normal(0, 0.2)))

    # Pigment: palms and finger pads carry a fraction of the dorsal melanin; smooth blotches, fine mottling.
    melanin = (
        melanin0
        * (1 - 0.7 * palm_side)
        * np.exp(0.06 * fourier_noise(rng, p, 0.03) + 0.03 * fourier_noise(rng, p, 0.006))
    )
    if melanin0 < FITZPATRICK["II"][1]:  # freckles on the back of light hands
        spots = np.clip((fourier_noise(rng, p, 0.004, octaves=1) - 2.0) * 1.5, 0, 1) * (1 - palm_side)
        melanin = melanin * (1 + 2.5 * spots * rng.uniform(0.3, 1.0))
    blood = blood0 * (1 + 0.8 * palm_side) * np.exp(0.15 * fourier_noise(rng, p, 0.015))
    oxy = np.full(n, OXYGENATION)
    height = rng.normal(0, 0.035, n)  # pores
    rough = 0.5 + 0.2 * palm_side

    # Redder knuckles (the back of each finger joint) and fingertips.
    for c, amount in ((0.0, 1.2), (1.0, 1.0), (2.0, 0.7)):
        near = on_finger & (np.abs(reg.along - c) * seg < 0.012)
        bump = _band((reg.along - c) * seg, 0, 0.006) * _band(dorsal_angle, 0, 1.0) * near
        blood += blood0 * amount * bump
    blood += blood0 * 1.5 * on_finger * np.clip(reg.along - 2.3, 0, 1) * (0.5 + 0.5 * palm_side)
    # MCP knuckles on the back of the palm.
    joints = model.J_regressor @ v
    for jid in (MANO_FINGER_JOINTS[f][0] for f in ("index", "middle", "ring", "pinky")):
        d = np.linalg.norm(p - joints[jid], axis=1)
        blood += blood0 * 0.8 * _band(d, 0, 0.011) * (1 - palm_side)

    veins = np.zeros(n)
    # Dorsal veins: a few wandering lines from the web spaces towards the wrist.
    back = (~on_finger) & (palm_side < 0.5)
    for x0 in rng.uniform(0, 1, rng.integers(3, 6)):
        ys = np.linspace(0.85, -0.15, 16)
        xs = x0 + (0.5 - x0) * rng.uniform(0.2, 0.6) * (0.85 - ys) + np.cumsum(rng.normal(0, 0.03, 16))
        line = np.stack([xs * width, ys * length], axis=1)
        vein = _band(_polyline_distance(xy, line), 0, 0.0014) * back * rng.uniform(0.4, 1.0)
        veins += vein

    # Palmar creases: across the palm side of each finger joint (not round the finger), and the palm's lines.
    crease = np.zeros(n)
    across_palm = np.clip((np.cos(reg.angle) - np.cos(np.radians(80))) / (1 - np.cos(np.radians(80))), 0, 1) ** 0.5
    for fi, name in enumerate(FINGERS):
        sel = reg.finger == fi
        for c, depth in THUMB_CREASES if name == "thumb" else FINGER_CREASES:
            c = c + rng.normal(0, 0.015)
            crease += sel * across_palm * depth * _band((reg.along - c) * seg, 0, 0.0005)
    palm = (~on_finger) & (reg.palmar > 0.2)
    for line, depth in palm_creases(rng):
        crease += palm * depth * _band(_polyline_distance(xy, line * [width, length]), 0, 0.0006)
    crease = np.clip(crease, 0, 1) * rng.uniform(0.7, 1.0)
    # Faint wrinkles over the back of the middle and distal finger joints.
    wrinkle = np.zeros(n)
    for c, spacing, count in ((1.0, 0.0011, 2.5), (2.0, 0.0009, 1.6)):
        s = (reg.along - c) * seg + 0.0012 * dorsal_angle**2
        env = _band((reg.along - c) * seg, 0, spacing * count) * _band(dorsal_angle, 0, 0.8) * on_finger
        wrinkle += env * np.maximum(np.cos(2 * np.pi * s / spacing), 0) ** 6
    height -= 0.35 * crease + 0.15 * wrinkle
    melanin *= 1 + 0.12 * crease + 0.1 * wrinkle
    blood *= 1 + 0.3 * crease

    # Veins lie deeper than the dipole's reach: more, darker (deoxygenated) blood, and a deep layer that takes
    # away the red light, which travels deepest, so they look bluish.
    veins = np.clip(veins, 0, 1)
    blood += 0.8 * blood0 * veins
    oxy -= 0.3 * veins
    height += 0.1 * veins
    colour = skin_albedo(melanin, blood, np.clip(oxy, 0.2, 1.0))
    colour *= 1 - veins[:, None] * np.array([0.06, 0.03, 0.0])

    # Nails: on the back of each distal phalanx, the nail bed seen through the plate; a rounded proximal fold with
    # a cuticle, a pale lunula, a white free edge at the tip.
    nail = np.zeros(n)
    distal = on_finger & (reg.along > 2.0)
    u = reg.along - 2.0
    thumb = reg.finger == FINGERS.index("thumb")
    u0 = np.where(thumb, 0.25, 0.30) + rng.normal(0, 0.02)
    a = dorsal_angle / np.where(thumb, 1.15, 1.05)
    s = (u - u0) / (1.0 - u0)
    edge = 0.25 * a**2
    inside = distal & (np.abs(a) < 1) & (s > edge) & (s < 1.08)
    nail[inside] = np.clip((1 - np.abs(a[inside])) * 8, 0, 1) * np.clip((s[inside] - edge[inside]) * 25, 0, 1)
    bed = skin_albedo(melanin * 0.25, 0.05, 0.8)
    plate = 0.82 * bed + 0.18 * np.array([0.80, 0.76, 0.72])
    lunula = np.clip(1 - (s - edge) / 0.14, 0, 1) * (np.abs(a) < 0.75) * np.where(thumb, 0.7, 0.35)
    plate = plate * (1 - 0.5 * lunula[:, None]) + 0.5 * lunula[:, None] * np.array([0.82, 0.74, 0.72])
    free = np.clip((s - 0.94) * 14, 0, 1)[:, None] * 0.8
    plate = plate * (1 - free) + free * np.array([0.66, 0.62, 0.55])
    colour = colour * (1 - nail[:, None]) + plate * nail[:, None]
    cuticle = distal & (np.abs(a) < 1.05) & (s <= edge) & (s > edge - 0.07)
    colour[cuticle] = colour[cuticle] * 0.8 + 0.2 * np.array([0.78, 0.70, 0.66])
    height += 0.25 * nail - 0.2 * cuticle
    rough = rough * (1 - nail) + 0.15 * nail

    colour = colour * float(np.exp(rng.normal(0, 0.03)))
    albedo = np.zeros((size, size, 3))
    detail = np.zeros((size, size, 3))
    filled = np.zeros((size, size), bool)
    albedo[rows, cols] = linear_to_srgb(colour)
    detail[rows, cols] = np.stack([np.clip(0.5 + height, 0, 1), nail, np.clip(rough, 0, 1)], axis=1)
    filled[rows, cols] = True
    albedo = _dilate(albedo, filled)
    detail = _dilate(detail, filled)
    info = {"melanin": melanin0, "blood": blood0, "albedo_linear": np.median(colour[~inside], axis=0).tolist()}
    return np.round(albedo * 255).astype(np.uint8), np.round(detail * 255).astype(np.uint8), info
