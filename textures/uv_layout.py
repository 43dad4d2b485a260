"""The hand's UV layout: a two-sided projection of the rest-pose hand, computed once per hand model and cached.

The rest hand is nearly flat, so each side is close to a height field over its main plane: faces whose normal
points to the back of the hand go to the left half of the UV square, palm-side faces to the right half, each
projected onto the hand's two longest principal axes. Texture content is computed from the 3D rest surface (see
`skin.py`), so the seams along the hand's rim do not show. The left hand uses the right hand's UVs face by face
(the two MANO meshes share vertex ids), so one texture skins both hands.
"""

from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_path
from handmodel.joints import HANDS

LAYOUT_VERSION = 1
MARGIN = 0.02  # of the UV square, around each half


def hand_frame(v_template: np.ndarray, thumb_tip: int):
    """Principal axes of the rest hand (3,3 rows: length, width, back-of-hand normal) and its centre (3,).

    The rest thumb sits in front of the palm (MANO and the stand-in alike), so the third axis is oriented away
    from the thumb tip: it points out of the back of the hand.
    """
    c = v_template.mean(0)
    _, _, vt = np.linalg.svd(v_template - c, full_matrices=False)
    if (v_template[thumb_tip] - c) @ vt[2] > 0:
        vt[2] = -vt[2]
    return vt, c


def face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def compute_layout(v_template: np.ndarray, faces: np.ndarray, thumb_tip: int) -> dict:
    """UVs of one hand: {'uv': (F,3,2) per face corner in [0,1], 'dorsal': (F,) bool, back-of-hand faces}."""
    axes, c = hand_frame(v_template, thumb_tip)
    dorsal = face_normals(v_template, faces) @ axes[2] > 0
    p = (v_template - c) @ axes[:2].T  # (V,2): length, width
    lo, hi = p.min(0), p.max(0)
    scale = (1 - 4 * MARGIN) / 2 / (hi - lo).max()
    q = (p - lo) * scale  # fits in a (0.5 - 2 margin) square
    uv = q[faces]  # (F,3,2)
    uv[..., 1] += MARGIN + (1 - 2 * MARGIN - (hi - lo)[1] * scale) / 2
    uv[..., 0] += np.where(dorsal, MARGIN, 0.5 + MARGIN)[:, None]
    return {"uv": uv.astype(np.float32), "dorsal": dorsal}


def match_faces(faces_a: np.ndarray, faces_b: np.ndarray) -> np.ndarray | None:
    """For each face of b, the index of the face of a with the same vertex ids (any order); None if some differ."""
    key_a = {tuple(sorted(f)): i for i, f in enumerate(faces_a.tolist())}
    idx = [key_a.get(tuple(sorted(f))) for f in faces_b.tolist()]
    return None if any(i is None for i in idx) else np.array(idx)


def corner_uvs_for(faces_src: np.ndarray, uv_src: np.ndarray, faces_dst: np.ndarray, match: np.ndarray):
    """Carry per-corner UVs from faces_src to faces_dst (same vertex sets, maybe other corner order)."""
    out = np.empty((len(faces_dst), 3, 2), np.float32)
    for corner in range(3):
        vid = faces_dst[:, corner]
        src_faces = faces_src[match]
        pos = np.argmax(src_faces == vid[:, None], axis=1)
        out[:, corner] = uv_src[match, pos]
    return out


def build_layouts(models) -> dict:
    """{'right': {'uv', 'dorsal'}, 'left': ...}; the left shares the right's UVs where the meshes correspond."""
    r = models["right"]
    right = compute_layout(r.v_template, r.faces, int(r.tip_ids[0]))
    left_model = models["left"]
    match = match_faces(r.faces, left_model.faces)
    if match is None:
        left = compute_layout(left_model.v_template, left_model.faces, int(left_model.tip_ids[0]))
    else:
        left = {"uv": corner_uvs_for(r.faces, right["uv"], left_model.faces, match), "dorsal": right["dorsal"][match]}
    return {"right": right, "left": left}


def cache_dir(models) -> Path:
    """Where this hand model's UV layout and generated textures live."""
    from handmodel.models import cache_root

    return cache_root() / f"textures-{models.info['hash']}"


def load_or_build(models) -> dict:
    """The cached layout of this hand model, built and saved on first use."""
    path = cache_dir(models) / f"uv_layout_v{LAYOUT_VERSION}.npz"
    if path.is_file():
        data = np.load(path)
        return {h: {"uv": data[f"{h}_uv"], "dorsal": data[f"{h}_dorsal"]} for h in HANDS}
    layouts = build_layouts(models)
    with atomic_path(path) as tmp:
        np.savez(tmp, **{f"{h}_{k}": v for h in HANDS for k, v in layouts[h].items()})
    return layouts
