"""Skin albedo textures generated in the hand's UV space, over the range of human skin tones.

Every texel is mapped back to its point on the rest-pose surface (via the UV layout), and the colour is computed
from that 3D point: base tone, a lighter palm, smooth pigment variation and freckles (3D noise, so UV seams do not
show), redness at the knuckles and fingertips, palm and finger creases, and fingernails. Numpy only.
"""

import numpy as np

from handmodel.joints import MANO_FINGER_JOINTS, MANO_PARENTS

# Eight tones from very light to very dark (sRGB albedo), after the Monk skin tone scale.
SKIN_TONES = {
    "porcelain": (0.96, 0.83, 0.74),
    "ivory": (0.92, 0.75, 0.63),
    "beige": (0.86, 0.66, 0.52),
    "sand": (0.78, 0.57, 0.42),
    "olive": (0.66, 0.47, 0.32),
    "tan": (0.53, 0.36, 0.24),
    "brown": (0.40, 0.26, 0.17),
    "ebony": (0.27, 0.17, 0.11),
}
PALM_TONE = np.array([0.93, 0.74, 0.66])
NAIL_TONE = np.array([0.93, 0.76, 0.74])
CREASE_WIDTH = 0.0007  # metres
DISTAL = tuple(j[-1] for j in MANO_FINGER_JOINTS.values())


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


def skin_texture(model, layout: dict, tone: tuple, rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """One albedo texture (size, size, 3) uint8 sRGB for `model` (HandModel) in `layout` ({'uv', 'dorsal'})."""
    v, f, w = model.v_template, model.faces, model.weights
    face, bary, rows, cols = rasterize_layout(layout["uv"], size)
    corners = f[face]  # (N,3)
    p = np.einsum("nk,nkd->nd", bary, v[corners])
    weights = np.einsum("nk,nkj->nj", bary, w[corners])
    joint = weights.argmax(1)
    dorsal = layout["dorsal"][face]
    J = model.J_regressor @ v
    tone = np.asarray(tone, dtype=np.float64)
    darkness = 1 - tone.mean()

    # Base: the palm is lighter and pinker, more so on dark skin.
    colour = np.where(dorsal[:, None], tone, tone + (PALM_TONE - tone) * (0.15 + 0.45 * darkness))
    # Pigment: broad blotches in value and redness, fine mottling, freckles on light skin.
    broad = fourier_noise(rng, p, 0.03)
    fine = fourier_noise(rng, p, 0.006)
    colour = colour * (1 + 0.035 * broad[:, None] + 0.02 * fine[:, None])
    colour[:, 0] *= 1 + 0.03 * fourier_noise(rng, p, 0.02)
    if darkness < 0.35:
        spots = fourier_noise(rng, p, 0.004, octaves=1)
        freckle = np.clip((spots - 2.2) * 2, 0, 1) * dorsal
        colour = colour * (1 - 0.25 * freckle[:, None]) + freckle[:, None] * [0.0, -0.02, -0.02]
    # Redness over the knuckles and toward the fingertips.
    for j in range(1, 16):
        d = np.linalg.norm(p - J[j], axis=1)
        colour += (np.exp(-((d / 0.009) ** 2)) * dorsal * 0.05)[:, None] * [0.6, -0.2, -0.2]
    for tip in model.tip_ids:
        d = np.linalg.norm(p - v[tip], axis=1)
        colour += (np.exp(-((d / 0.012) ** 2)) * 0.06)[:, None] * [0.5, -0.3, -0.2]
    # Creases: palm-side lines across each finger joint (the digital crease a little past the knuckle),
    # fainter wrinkles over the back of the knuckles.
    crease = np.zeros(len(p))
    children = {int(MANO_PARENTS[c]): c for c in range(1, 16)}
    for chain in MANO_FINGER_JOINTS.values():
        for k, j in enumerate(chain):
            child_pos = (
                J[children[j]] if j in children else v[model.tip_ids[list(MANO_FINGER_JOINTS.values()).index(chain)]]
            )
            axis = child_pos - J[j]
            axis /= np.linalg.norm(axis)
            near = np.isin(joint, (j, int(MANO_PARENTS[j])))
            offset = 0.008 if k == 0 else 0.0
            s = (p - J[j]) @ axis - offset
            crease += np.exp(-((s / CREASE_WIDTH) ** 2)) * near * np.where(dorsal, 0.25, 1.0)
    colour *= 1 - 0.35 * np.clip(crease, 0, 1)[:, None]
    # Nails: an ellipse on the back of each distal segment, ending at the tip, with a lighter free edge.
    for chain, tip in zip(MANO_FINGER_JOINTS.values(), model.tip_ids):
        j = chain[-1]
        axis = v[tip] - J[j]
        length = np.linalg.norm(axis)
        axis /= length
        centre = v[tip] - 0.38 * length * axis
        rel = p - centre
        along = rel @ axis / (0.36 * length)
        across = np.linalg.norm(rel - np.outer(rel @ axis, axis), axis=1) / 0.0075
        inside = (along**2 + across**2 < 1) & dorsal & (joint == j)
        edge = inside & (along > 0.7)
        colour[inside] = NAIL_TONE * (0.92 + 0.08 * tone.mean()) + 0.04 * fine[inside, None]
        colour[edge] = [0.96, 0.92, 0.88]
    colour += rng.normal(0, 0.008, colour.shape)  # pores
    image = np.zeros((size, size, 3))
    filled = np.zeros((size, size), bool)
    image[rows, cols] = np.clip(colour, 0, 1)
    filled[rows, cols] = True
    image = _dilate(image, filled)
    return np.round(image * 255).astype(np.uint8)
