"""Joint orders, in one place.

MANO's 16 skinning joints: 0 wrist, 1-3 index, 4-6 middle, 7-9 pinky, 10-12 ring, 13-15 thumb (base -> tip).
The toolkit's 21 joints per hand: wrist, then thumb, index, middle, ring, pinky, each 1-4 from base to tip,
where joint 4 of each finger is a fingertip vertex of the hand model.
InterHand2.6M's 42 joints: per hand thumb, index, middle, ring, pinky each from tip to base, then the wrist;
right hand 0-20, left hand 21-41.
"""

import numpy as np

HANDS = ("right", "left")
FINGERS = ("thumb", "index", "middle", "ring", "pinky")

MANO_PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], dtype=np.int64)
MANO_JOINT_NAMES = (
    "wrist",
    "index1", "index2", "index3",
    "middle1", "middle2", "middle3",
    "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3",
    "thumb1", "thumb2", "thumb3",
)  # fmt: skip
# The three MANO joints of each finger, base to tip.
MANO_FINGER_JOINTS = {"thumb": (13, 14, 15), "index": (1, 2, 3), "middle": (4, 5, 6),
                      "ring": (10, 11, 12), "pinky": (7, 8, 9)}  # fmt: skip

# Fingertip vertex ids of the licensed MANO meshes (thumb, index, middle, ring, pinky).
MANO_TIP_VERTEX_IDS = np.array([745, 317, 444, 556, 673], dtype=np.int64)

JOINT_NAMES_21 = ("wrist",) + tuple(f"{f}{k}" for f in FINGERS for k in range(1, 5))

# Index into concat(mano16, tips5 in FINGERS order) that gives the 21-joint order.
MANO16_TIPS_TO_21 = np.array(
    [0] + [j for i, f in enumerate(FINGERS) for j in (*MANO_FINGER_JOINTS[f], 16 + i)], dtype=np.int64
)
# Parent of each of the 21 joints (for drawing skeletons and bone lengths).
PARENTS_21 = np.array([-1] + [p for i in range(5) for p in (0, 4 * i + 1, 4 * i + 2, 4 * i + 3)], dtype=np.int64)

# For one hand block of InterHand2.6M (21 entries: 5 fingers tip->base, then wrist), the block index of each
# of our 21 joints.
INTERHAND_BLOCK_TO_21 = np.array([20] + [4 * i + (3 - k) for i in range(5) for k in range(4)], dtype=np.int64)
INTERHAND_HAND_OFFSET = {"right": 0, "left": 21}

# The root of a hand for training targets, metrics and the decoder's template: joint 9 (middle finger base), and
# the wrist -> joint 9 length that normalised hands have.
ROOT_JOINT = 9
REFERENCE_BONE_M = 0.095


def root_bone_length(joints: np.ndarray) -> np.ndarray:
    """Wrist -> joint 9 length of 21-joint hands (..., 21, 3) -> (...), in the joints' unit."""
    joints = np.asarray(joints)
    return np.linalg.norm(joints[..., 0, :] - joints[..., ROOT_JOINT, :], axis=-1)


def mano_to_21(joints16: np.ndarray, vertices: np.ndarray, tip_ids: np.ndarray) -> np.ndarray:
    """Joints (..., 16, 3) and vertices (..., V, 3) -> 21 joints (..., 21, 3) in the toolkit's order."""
    tips = np.take(vertices, tip_ids, axis=-2)
    return np.take(np.concatenate([joints16, tips], axis=-2), MANO16_TIPS_TO_21, axis=-2)


def interhand42_to_21(values: np.ndarray) -> dict[str, np.ndarray]:
    """InterHand2.6M's 42-joint array -> {'right': ..., 'left': ...} with 21 joints each, in our order.

    Coordinates (..., 42, C) (C = 2 or 3) -> (..., 21, C); per-joint flags (..., 42) -> (..., 21). The joint axis
    is the last one when it has 42 entries, else the one before it.
    """
    values = np.asarray(values)
    if values.ndim >= 1 and values.shape[-1] == 42:
        axis = -1
    elif values.ndim >= 2 and values.shape[-2] == 42:
        axis = -2
    else:
        raise ValueError(
            f"expected InterHand2.6M's 42 joints on the last or second-last axis, got shape {values.shape}"
        )
    return {
        hand: np.take(values, INTERHAND_BLOCK_TO_21 + off, axis=axis) for hand, off in INTERHAND_HAND_OFFSET.items()
    }


def ours21_to_interhand42(right: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Inverse of `interhand42_to_21` for coordinates (..., 21, 3) -> (..., 42, 3)."""
    out = np.zeros(right.shape[:-2] + (42,) + right.shape[-1:], dtype=np.result_type(right, left))
    out[..., INTERHAND_BLOCK_TO_21, :] = right
    out[..., 21 + INTERHAND_BLOCK_TO_21, :] = left
    return out
