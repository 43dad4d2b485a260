"""Joint frames, anatomical limits and a natural-pose sampler for MANO hands (numpy only).

Each finger joint gets a frame in the flat hand's template coordinates: columns (twist, splay, bend) axes, where
twist is the bone direction, splay the palm normal (palmar) and bend their cross product. A joint's axis-angle
expressed in its frame gives (twist, splay, bend) angles: bend > 0 flexes toward the palm, splay > 0 moves toward
the pinky side. The left hand's frames mirror the right's (x -> -x) with a sign chosen so that the same angles mean
the same motion on both hands.

Limits and the ring/pinky coupling follow RenderIH's anatomy terms and live here once (`JOINT_TABLE_DEG`,
`COUPLING`): the sampler's losses, its filter and the reports all read them from this module.
"""

import numpy as np

from handmodel.joints import MANO_FINGER_JOINTS

# The anatomy table: per finger and level (base, middle, distal), the (lo, hi) degree ranges of (twist, splay,
# bend). No joint twists except the thumb's first (MANO joint 13, up to 0.5 rad); only base joints splay.
_TWIST_THUMB_DEG = float(np.degrees(0.5))
_NONE = (0.0, 0.0)
JOINT_TABLE_DEG = {
    "index": [(_NONE, (-25, 15), (-25, 70)), (_NONE, _NONE, (-4, 110)), (_NONE, _NONE, (-8, 90))],
    "middle": [(_NONE, (-15, 15), (-25, 80)), (_NONE, _NONE, (-7, 100)), (_NONE, _NONE, (-8, 90))],
    "ring": [(_NONE, (-25, 15), (-25, 70)), (_NONE, _NONE, (-10, 100)), (_NONE, _NONE, (-8, 90))],
    "pinky": [(_NONE, (-20, 30), (-22, 70)), (_NONE, _NONE, (-8, 90)), (_NONE, _NONE, (-8, 90))],
    "thumb": [((-_TWIST_THUMB_DEG, _TWIST_THUMB_DEG), (-30, 30), (-20, 40)), (_NONE, _NONE, (-35, 50)),
              (_NONE, _NONE, (-10, 100))],
}  # fmt: skip
AXES = ("twist", "splay", "bend")
# Ring and pinky share tendons: the ring PIP bends at least `ratio` times the pinky PIP (MANO joint ids).
COUPLING = {"joint": MANO_FINGER_JOINTS["ring"][1], "follows": MANO_FINGER_JOINTS["pinky"][1], "ratio": 0.75}


def _limits() -> dict[str, np.ndarray]:
    """{'twist' | 'splay' | 'bend': (15, 2) degrees} in MANO joint order 1..15, from JOINT_TABLE_DEG."""
    out = {k: np.zeros((15, 2)) for k in AXES}
    for finger, joints in MANO_FINGER_JOINTS.items():
        for level, j in enumerate(joints):
            for axis, rng in zip(AXES, JOINT_TABLE_DEG[finger][level]):
                out[axis][j - 1] = rng
    return out


LIMITS_DEG = _limits()
LIMITS_LO_DEG = np.stack([LIMITS_DEG[k][:, 0] for k in AXES], axis=-1)  # (15, 3) twist, splay, bend
LIMITS_HI_DEG = np.stack([LIMITS_DEG[k][:, 1] for k in AXES], axis=-1)


def limits_rad() -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) each (15, 3) radians (twist, splay, bend) of MANO joints 1..15."""
    return np.radians(LIMITS_LO_DEG), np.radians(LIMITS_HI_DEG)


# The thumb flexes across the palm: its bend axis is turned this far from the fingers' about the bone.
THUMB_FRAME_ROLL_DEG = 45.0
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def frames_from_template(joints16: np.ndarray, tips5: np.ndarray) -> np.ndarray:
    """Right-hand joint frames (15, 3, 3) from the rest joints (16, 3) and fingertips (5, 3: thumb..pinky)."""
    tip_of = {"thumb": 0, "index": 1, "middle": 2, "ring": 3, "pinky": 4}
    child = {}
    for finger, (a, b, c) in MANO_FINGER_JOINTS.items():
        child[a], child[b], child[c] = joints16[b], joints16[c], tips5[tip_of[finger]]
    wrist, index1, pinky1 = joints16[0], joints16[1], joints16[7]
    palmar = np.cross(index1 - wrist, pinky1 - wrist)  # a right hand's palm faces this way
    palmar /= np.linalg.norm(palmar)
    ulnar = pinky1 - index1
    ulnar /= np.linalg.norm(ulnar)
    frames = np.zeros((15, 3, 3))
    for j in range(1, 16):
        d = child[j] - joints16[j]
        d /= np.linalg.norm(d)
        n = palmar
        if j in MANO_FINGER_JOINTS["thumb"]:
            roll = np.radians(THUMB_FRAME_ROLL_DEG)
            n = np.cos(roll) * palmar + np.sin(roll) * ulnar
        n = n - d * (n @ d)
        n /= np.linalg.norm(n)
        frames[j - 1] = np.stack([d, n, np.cross(d, n)], axis=1)
    return frames


def joint_frames(models) -> dict[str, np.ndarray]:
    """{'right': (15, 3, 3), 'left': (15, 3, 3)} frames; the left mirrors the right (see module docstring)."""
    right = models["right"]
    joints = right.J_regressor @ right.v_template
    frames = frames_from_template(joints, right.v_template[right.tip_ids])
    return {"right": frames, "left": -_MIRROR @ frames}


def angles_from_pose(aa45: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Hand pose (..., 45) axis-angle -> (..., 15, 3) radians (twist, splay, bend) in each joint's frame."""
    aa = np.asarray(aa45).reshape(np.shape(aa45)[:-1] + (15, 3))
    return np.einsum("jab,...ja->...jb", frames, aa)


def pose_from_angles(angles: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Inverse of `angles_from_pose`: (..., 15, 3) radians -> (..., 45) axis-angle."""
    aa = np.einsum("jab,...jb->...ja", frames, np.asarray(angles))
    return aa.reshape(aa.shape[:-2] + (45,))


def limit_violation_deg(angles: np.ndarray) -> np.ndarray:
    """How far each angle lies outside its limit, degrees (..., 15, 3) (0 inside)."""
    deg = np.degrees(angles)
    return np.maximum(LIMITS_LO_DEG - deg, 0) + np.maximum(deg - LIMITS_HI_DEG, 0)


def coupling_violation_deg(angles: np.ndarray) -> np.ndarray:
    """How far the ring PIP bend falls short of COUPLING's share of the pinky PIP bend, degrees (...,) (0 if met)."""
    bend = np.degrees(np.asarray(angles)[..., 2])
    c = COUPLING
    return np.maximum(c["ratio"] * bend[..., c["follows"] - 1] - bend[..., c["joint"] - 1], 0)


def anatomy_violation_deg(angles: np.ndarray) -> np.ndarray:
    """The worst anatomy violation of each hand pose, limits and coupling together, degrees: (..., 15, 3) -> (...)."""
    return np.maximum(limit_violation_deg(angles).max((-2, -1)), coupling_violation_deg(angles))


def sample_natural_hand_poses(rng: np.random.Generator, n: int, frames: np.ndarray) -> np.ndarray:
    """Plausible hand poses (n, 45), absolute axis-angle, inside LIMITS_DEG.

    One grasp factor curls all fingers together (real hands curl in concert), each finger varies around it, the
    distal joints follow the middle ones, fingers spread when open, and the thumb moves on its own.
    """
    angles = np.zeros((n, 15, 3))
    grasp = rng.beta(1.1, 1.6, size=n)
    spread = rng.normal(0.0, 0.6, size=n)
    splay_pattern = {"index": -1.0, "middle": 0.0, "ring": 0.6, "pinky": 1.2}
    bend_lo, bend_hi = LIMITS_DEG["bend"][:, 0], LIMITS_DEG["bend"][:, 1]
    for finger, (mcp, pip, dip) in MANO_FINGER_JOINTS.items():
        if finger == "thumb":
            continue
        curl = np.clip(grasp + rng.normal(0.0, 0.15, size=n), 0.0, 1.0)
        for j, power in ((mcp, 1.2), (pip, 0.9)):
            lo, hi = 0.3 * bend_lo[j - 1], 0.9 * bend_hi[j - 1]
            angles[:, j - 1, 2] = lo + (hi - lo) * curl**power + rng.normal(0.0, 4.0, size=n)
        angles[:, dip - 1, 2] = 0.7 * angles[:, pip - 1, 2] + rng.normal(0.0, 4.0, size=n)
        splay = 10.0 * splay_pattern[finger] * spread * (1.0 - 0.7 * curl) + rng.normal(0.0, 3.0, size=n)
        angles[:, mcp - 1, 1] = splay
    ring_pip, pinky_pip = COUPLING["joint"] - 1, COUPLING["follows"] - 1
    angles[:, ring_pip, 2] = np.maximum(angles[:, ring_pip, 2], COUPLING["ratio"] * angles[:, pinky_pip, 2])
    t1, t2, t3 = (j - 1 for j in MANO_FINGER_JOINTS["thumb"])
    opposition = rng.uniform(0.0, 1.0, size=n)
    angles[:, t1, 2] = -15.0 + 50.0 * opposition + rng.normal(0.0, 4.0, size=n)
    angles[:, t1, 1] = rng.normal(0.0, 10.0, size=n)
    angles[:, t2, 2] = -20.0 + 60.0 * rng.uniform(0.0, 1.0, size=n) ** 1.3
    angles[:, t1, 0] = rng.normal(0.0, 6.0, size=n)
    angles[:, t3, 2] = -5.0 + 80.0 * np.clip(opposition + rng.normal(0.0, 0.25, size=n), 0.0, 1.0)
    angles = np.radians(np.clip(angles, LIMITS_LO_DEG, LIMITS_HI_DEG))
    return pose_from_angles(angles, frames)
