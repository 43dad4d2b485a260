"""The hand's UV layout: a two-sided projection of the rest-pose hand, computed once per hand model and cached.

The rest hand is nearly flat, so each side is close to a height field over its main plane: faces whose normal
points to the back of the hand go to the left half of the UV square, palm-side faces to the right half, each
projected onto the hand's two longest principal axes. Texture content is computed from the 3D rest surface (see
`skin.py`), so the seams along the hand's rim do not show. The left hand uses the right hand's UVs face by face
(the two MANO meshes share vertex ids), so one texture skins both hands.

Every face also carries a region (`REGIONS`: dorsal, palmar, nail, knuckle), found from the hand's own skeleton
(so it works for MANO and the stand-in alike): nails are the distal phalanges' faces turned to the nail side,
knuckles the back of the hand over the finger joints. The forearm (`handmodel.forearm`) samples two patches of
plain skin, on the back of the palm and on the palm (`forearm_uvs`), blended around it by `forearm_palm_share`, so
it takes the hand's skin tones from the same texture: the back of the hand's outside, the palm's inside.
"""

from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_path
from handmodel.joints import HANDS

LAYOUT_VERSION = 2
REGIONS = ("dorsal", "palmar", "nail", "knuckle")
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


def face_regions(model) -> np.ndarray:
    """(F,) uint8 index into REGIONS for each face of a right-hand rest model (see the module docstring)."""
    from handmodel.anatomy import frames_from_template
    from handmodel.joints import MANO_FINGER_JOINTS

    v, f, W = model.v_template, model.faces, model.weights
    J = model.J_regressor @ v
    frames = frames_from_template(J, v[model.tip_ids])  # columns: bone, palmar (thumb: rolled), bend
    normals = face_normals(v, f)
    centres = v[f].mean(1)
    axes, _ = hand_frame(v, int(model.tip_ids[0]))
    region = np.where(normals @ axes[2] > 0, 0, 1).astype(np.uint8)
    face_w = W[f].mean(1)  # (F, 16)
    tips = dict(zip(("thumb", "index", "middle", "ring", "pinky"), model.tip_ids))
    for finger, (j1, j2, j3) in MANO_FINGER_JOINTS.items():
        dorsal = -frames[j3 - 1][:, 1]
        tip = v[tips[finger]]
        length = np.linalg.norm(tip - J[j3])
        along = (centres - J[j3]) @ ((tip - J[j3]) / length) / length
        nail_side = normals @ dorsal > (0.35 if finger == "thumb" else 0.55)
        region[(face_w[:, j3] > 0.6) & (along > 0.3) & (along < 0.97) & nail_side] = REGIONS.index("nail")
        for j in (j1, j2, j3):
            if finger == "thumb" and j == j1:
                continue  # the thumb's CMC lies inside the thenar
            bone = frames[j - 1][:, 0]
            radius = np.linalg.norm(np.cross(centres - J[j], bone), axis=1)
            near = np.abs((centres - J[j]) @ bone) < 0.45 * np.clip(radius, 0.006, 0.012) + 0.002
            over = (normals @ -frames[j - 1][:, 1] > 0.45) & (radius < 0.02)
            region[near & over & (region == 0)] = REGIONS.index("knuckle")
    return region


def _patch(layout: dict, model, palmar: bool) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) UV corners of a patch of plain skin in the middle of the palm's back (or front): the 30th-70th
    percentile box of the UVs of faces that move with the palm alone, outside nails and knuckles."""
    region = REGIONS.index("palmar") if palmar else REGIONS.index("dorsal")
    rigid = (model.weights[:, 0] > 0.95)[model.faces].all(1) & (layout["region"] == region)
    uv = layout["uv"][rigid].reshape(-1, 2)
    return np.percentile(uv, 30, axis=0), np.percentile(uv, 70, axis=0)


def forearm_uvs(layout: dict, model, n_loop: int, palmar: bool = False) -> np.ndarray:
    """(K,3,2) UVs of the faces of `handmodel.forearm.forearm_mesh`: its cylindrical coordinates folded onto the
    middle of the back of the palm (plain dorsal skin, away from creases, nails and knuckles), or with `palmar`
    onto the middle of the palm."""
    from handmodel.forearm import forearm_corner_uvs

    lo, hi = _patch(layout, model, palmar)
    cyl = forearm_corner_uvs(n_loop).astype(np.float64)
    folded = np.stack([1 - np.abs(2 * cyl[..., 0] - 1), cyl[..., 1]], axis=-1)
    return (lo + folded * (hi - lo)).astype(np.float32)


def forearm_palm_share(model, loop: np.ndarray) -> np.ndarray:
    """(K,3) how much of each `forearm_mesh` face corner's skin is the palm's (0 on the back of the forearm, 1 on
    its inside, smooth around the sides): the forearm's inner side continues the palm's paler skin, its outer
    side the back of the hand's, so the wrist shows no tone step. From the angle of each wrist-loop vertex about
    the rest hand's back-of-hand normal."""
    from handmodel.forearm import forearm_corner_uvs

    axes, _ = hand_frame(model.v_template, int(model.tip_ids[0]))
    ring = model.v_template[loop]
    off = ring - ring.mean(0)
    length = axes[0] / np.linalg.norm(axes[0])
    off -= np.outer(off @ length, length)
    cos = (off @ axes[2]) / np.maximum(np.linalg.norm(off, axis=1), 1e-12)
    share = 0.5 - 0.5 * cos  # 0 facing the back of the hand, 1 facing the palm
    n = len(loop)
    u = forearm_corner_uvs(n)[..., 0].astype(np.float64) * n
    return np.interp(u, np.arange(n + 1), np.append(share, share[0])).astype(np.float32)


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
    right["region"] = face_regions(r)
    left_model = models["left"]
    match = match_faces(r.faces, left_model.faces)
    if match is None:
        left = compute_layout(left_model.v_template, left_model.faces, int(left_model.tip_ids[0]))
        left["region"] = np.where(left["dorsal"], 0, 1).astype(np.uint8)  # meshes that do not correspond
    else:
        left = {"uv": corner_uvs_for(r.faces, right["uv"], left_model.faces, match), "dorsal": right["dorsal"][match],
                "region": right["region"][match]}  # fmt: skip
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
        return {h: {k: data[f"{h}_{k}"] for k in ("uv", "dorsal", "region")} for h in HANDS}
    layouts = build_layouts(models)
    with atomic_path(path) as tmp:
        np.savez(tmp, **{f"{h}_{k}": v for h in HANDS for k, v in layouts[h].items()})
    return layouts
