"""Augmentation: copies of a seed pose with each finger joint bent and splayed on its own (RenderIH's recipe).

Per joint, a bend delta uniform in +-`bend_delta_deg` and (base joints only) a splay delta uniform in
+-`splay_delta_deg`, then clipped to RenderIH's published augmentation ranges. Root rotation, translation and shape
are kept. RenderIH states its splay ranges with the radial side (toward the thumb) positive; the toolkit's splay is
positive toward the pinky side (handmodel.anatomy), so the ranges below are mirrored.
"""

import numpy as np

from handmodel.joints import MANO_FINGER_JOINTS

# Bend clip ranges (degrees) by level (base, middle, distal); the thumb has its own.
_BEND_CLIP = {"finger": [(-25, 70), (-8, 110), (-8, 90)], "thumb": [(-20, 40), (-8, 50), (-8, 90)]}
# Splay clip ranges (degrees) of each finger's base joint, pinky side positive.
_SPLAY_CLIP = {"index": (-20, 6), "middle": (-10, 10), "ring": (-6, 15), "pinky": (-6, 35), "thumb": (-80, 9)}


def _clip_ranges() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bend (15, 2), splay (15, 2), splay_free (15,) bool) in degrees, MANO joint order 1..15."""
    bend, splay = np.zeros((15, 2)), np.zeros((15, 2))
    splay_free = np.zeros(15, dtype=bool)
    for finger, joints in MANO_FINGER_JOINTS.items():
        for level, j in enumerate(joints):
            bend[j - 1] = _BEND_CLIP["thumb" if finger == "thumb" else "finger"][level]
        splay[joints[0] - 1] = _SPLAY_CLIP[finger]
        splay_free[joints[0] - 1] = True
    return bend, splay, splay_free


BEND_CLIP_DEG, SPLAY_CLIP_DEG, SPLAY_PERTURBED = _clip_ranges()


def augment_angles(
    rng: np.random.Generator, angles: np.ndarray, bend_delta_deg: float = 120.0, splay_delta_deg: float = 30.0
) -> np.ndarray:
    """Perturb joint angles (n, 15, 3) radians (twist, splay, bend) -> (n, 15, 3) radians.

    Twist and the splay of the middle and distal joints are left as they are.
    """
    out = np.array(angles, dtype=np.float64, copy=True)
    n = len(out)
    bend = np.degrees(out[..., 2]) + rng.uniform(-bend_delta_deg, bend_delta_deg, size=(n, 15))
    out[..., 2] = np.radians(np.clip(bend, BEND_CLIP_DEG[:, 0], BEND_CLIP_DEG[:, 1]))
    splay = np.degrees(out[..., 1]) + rng.uniform(-splay_delta_deg, splay_delta_deg, size=(n, 15))
    splay = np.clip(splay, SPLAY_CLIP_DEG[:, 0], SPLAY_CLIP_DEG[:, 1])
    out[..., 1] = np.where(SPLAY_PERTURBED, np.radians(splay), out[..., 1])
    return out
