"""Where a point of a rest-pose hand lies, anatomically: which finger and how far along it, which way round the bone
(palmar or dorsal), or where on the palm. Computed from any hand model's geometry (joints, skinning weights,
fingertip vertices), so the skin textures work for MANO's UV layout as for the stand-in's. Numpy only.

Finger coordinates: `along` runs 0 at the base joint (MCP; the thumb's MCP for the thumb), 1 at the middle joint,
2 at the distal joint, 3 at the fingertip vertex (beyond the tip it keeps growing); `angle` is the angle (radians)
about the bone from the palmar midline (0 palmar, +-pi dorsal); `radius` the distance from the bone.
Palm coordinates: `palm_x` 0 at the index MCP, 1 at the pinky MCP across the hand; `palm_y` 0 at the wrist,
1 at the middle MCP along it; `palmar` the cosine between the surface normal and the palm's normal.
"""

from dataclasses import dataclass

import numpy as np

from handmodel.anatomy import frames_from_template
from handmodel.joints import FINGERS, MANO_FINGER_JOINTS

# Skinning weight of a finger's joints above which a point belongs to that finger (the thumb: its two distal joints;
# its metacarpal belongs to the palm, as the thenar eminence).
FINGER_WEIGHT = 0.5


@dataclass
class HandRegions:
    finger: np.ndarray  # (N,) int: index into FINGERS, -1 on the palm
    along: np.ndarray  # (N,)
    angle: np.ndarray  # (N,) radians
    radius: np.ndarray  # (N,) metres
    palm_x: np.ndarray  # (N,)
    palm_y: np.ndarray  # (N,)
    palmar: np.ndarray  # (N,)
    segment_length: np.ndarray  # (N,) metres: length of the bone segment the point lies on
    palm_size: tuple  # (width between index and pinky MCPs, length wrist -> middle MCP), metres

    def palmar_weight(self, softness: float = 0.35) -> np.ndarray:
        """0 on the back of the hand, 1 on the palm side, a smooth band along the sides of the fingers."""
        c = np.where(self.finger >= 0, np.cos(self.angle), self.palmar)
        return np.clip(0.5 + c / (2 * softness), 0.0, 1.0)


def _finger_chain(model, joints: np.ndarray, finger: str) -> tuple:
    """The finger's 4 points (base joint, middle joint, distal joint, fingertip) and the joint id whose frame each
    of its 3 segments uses. The thumb has one joint fewer: its MCP -> IP phalanx is split in two halves (`along`
    0-2) and IP -> tip is its distal segment (2-3), like the fingers'."""
    tip = model.v_template[model.tip_ids[FINGERS.index(finger)]]
    a, b, c = MANO_FINGER_JOINTS[finger]
    if finger == "thumb":
        return np.stack([joints[b], (joints[b] + joints[c]) / 2, joints[c], tip]), (b, b, c)
    return np.stack([joints[a], joints[b], joints[c], tip]), (a, b, c)


def hand_regions(model, points: np.ndarray, normals: np.ndarray, weights: np.ndarray) -> HandRegions:
    """Anatomical coordinates of surface points of the rest-pose `model` (a right HandModel).

    points, normals: (N,3) on the rest surface (metres, unit normals); weights: (N,16) skinning weights there.
    """
    v = model.v_template
    joints = model.J_regressor @ v
    frames = frames_from_template(joints, v[model.tip_ids])  # (15,3,3): columns bone, palmar, bend
    n = len(points)
    finger = np.full(n, -1)
    along, angle, radius, seg_len = (np.zeros(n) for _ in range(4))
    finger_weight = np.zeros((n, len(FINGERS)))
    for f, name in enumerate(FINGERS):
        chain = MANO_FINGER_JOINTS[name]
        ids = chain[1:] if name == "thumb" else chain
        finger_weight[:, f] = weights[:, list(ids)].sum(1)
    best = finger_weight.argmax(1)
    member = finger_weight.max(1) >= FINGER_WEIGHT
    for f, name in enumerate(FINGERS):
        sel = np.flatnonzero(member & (best == f))
        if not len(sel):
            continue
        pts, ids = _finger_chain(model, joints, name)
        p = points[sel]
        dist = np.full((len(sel), 3), np.inf)
        us = np.zeros((len(sel), 3))
        for k in range(3):
            a, b = pts[k], pts[k + 1]
            ab = b - a
            u = (p - a) @ ab / (ab @ ab)
            u = np.clip(u, 0.0 if k > 0 else -np.inf, 1.0 if k < 2 else np.inf)
            dist[:, k] = np.linalg.norm(p - (a + u[:, None] * ab), axis=1)
            us[:, k] = u
        k = dist.argmin(1)
        u = us[np.arange(len(sel)), k]
        a, b = pts[k], pts[k + 1]
        q = p - (a + u[:, None] * (b - a))
        fr = frames[np.asarray(ids)[k] - 1]  # (M,3,3)
        bone, palm, bend = fr[:, :, 0], fr[:, :, 1], fr[:, :, 2]
        q = q - np.sum(q * bone, 1, keepdims=True) * bone
        finger[sel] = f
        along[sel] = k + u
        angle[sel] = np.arctan2(np.sum(q * bend, 1), np.sum(q * palm, 1))
        radius[sel] = np.linalg.norm(q, axis=1)
        seg_len[sel] = np.linalg.norm(b - a, axis=1)
    wrist, index1, middle1, pinky1 = joints[0], joints[1], joints[4], joints[7]
    palm_normal = np.cross(index1 - wrist, pinky1 - wrist)
    palm_normal /= np.linalg.norm(palm_normal)
    up = middle1 - wrist
    length = float(np.linalg.norm(up))
    up /= length
    across = pinky1 - index1
    across -= (across @ up) * up
    width = float(np.linalg.norm(across))
    across /= width
    palm_x = (points - index1) @ across / width
    palm_y = (points - wrist) @ up / length
    palmar = normals @ palm_normal
    return HandRegions(finger=finger, along=along, angle=angle, radius=radius, palm_x=palm_x, palm_y=palm_y,
                       palmar=palmar, segment_length=seg_len, palm_size=(width, length))  # fmt: skip
