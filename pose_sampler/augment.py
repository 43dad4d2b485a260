"""Augmentation: copies of a seed pose with each finger joint bent and splayed on its own (RenderIH's recipe).

Per joint, the new bend is drawn uniformly inside `[max(lo, a - bend_delta), min(hi, a + bend_delta)]` around the
seed's angle a, and (base joints only) the new splay likewise with `splay_delta`: nothing is clipped afterwards, so
the samples do not pile up on the range ends. The ranges are RenderIH's augmentation ranges, narrowed to the
anatomical limits of handmodel.anatomy (a draw outside them would only be projected back onto a limit by the
optimizer, which is exactly the pile-up the uniform draw avoids). Root rotation, translation and shape are kept.
RenderIH states its splay ranges with the radial side (toward the thumb) positive; the toolkit's splay is positive
toward the pinky side (handmodel.anatomy), so the ranges below are mirrored.
"""

import numpy as np

from handmodel.anatomy import LIMITS_DEG
from handmodel.joints import MANO_FINGER_JOINTS

# Bend ranges (degrees) by level (base, middle, distal); the thumb has its own.
_BEND_CLIP = {"finger": [(-25, 70), (-8, 110), (-8, 90)], "thumb": [(-20, 40), (-8, 50), (-8, 90)]}
# Splay ranges (degrees) of each finger's base joint, pinky side positive.
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
    for table, axis in ((bend, "bend"), (splay, "splay")):
        table[:, 0] = np.maximum(table[:, 0], LIMITS_DEG[axis][:, 0])
        table[:, 1] = np.minimum(table[:, 1], LIMITS_DEG[axis][:, 1])
    return bend, splay, splay_free


BEND_CLIP_DEG, SPLAY_CLIP_DEG, SPLAY_PERTURBED = _clip_ranges()


def uniform_around(rng: np.random.Generator, a: np.ndarray, delta: float, lo: np.ndarray, hi: np.ndarray):
    """One uniform draw per entry inside `[max(lo, a - delta), min(hi, a + delta)]` (degrees, any shape); an
    angle already beyond a range end, by more than delta, stays on that end."""
    low = np.clip(a - delta, lo, hi)
    high = np.clip(a + delta, lo, hi)
    return low + (high - low) * rng.uniform(size=np.shape(a))


def augment_angles(
    rng: np.random.Generator, angles: np.ndarray, bend_delta_deg: float = 120.0, splay_delta_deg: float = 30.0
) -> np.ndarray:
    """Perturb joint angles (n, 15, 3) radians (twist, splay, bend) -> (n, 15, 3) radians.

    Twist and the splay of the middle and distal joints are left as they are.
    """
    out = np.array(angles, dtype=np.float64, copy=True)
    bend = uniform_around(rng, np.degrees(out[..., 2]), bend_delta_deg, BEND_CLIP_DEG[:, 0], BEND_CLIP_DEG[:, 1])
    out[..., 2] = np.radians(bend)
    splay = uniform_around(rng, np.degrees(out[..., 1]), splay_delta_deg, SPLAY_CLIP_DEG[:, 0], SPLAY_CLIP_DEG[:, 1])
    out[..., 1] = np.where(SPLAY_PERTURBED, np.radians(splay), out[..., 1])
    return out
