"""The body that the two hands belong to: arm anthropometry, the body frame, reachability and the elbow.

Body frame: x towards the person's right-hand side, y down (towards the feet), z forward (the way the person faces);
right-handed, metres, origin midway between the two shoulder joints (glenohumeral joint centres). The right shoulder
is at (+s/2, 0, 0), the left at (-s/2, 0, 0). A poses file may carry `body_to_world (N, 4, 4)`, the rigid transform
from this frame to the poses' world frame; without it `estimate_body_frame` guesses one from the two hands.

Anthropometry (adult, sexes pooled; all lengths between joint centres):
- Segment lengths as fractions of stature H (Winter, "Biomechanics and Motor Control of Human Movement", 4th ed.,
  2009, Fig. 4.1, after Drillis and Contini 1966): upper arm (shoulder to elbow) 0.186 H, forearm (elbow to wrist)
  0.146 H, hand 0.108 H. With H = 1.72 m (the pooled adult mean of the ANSUR II survey, Gordon et al. 2014:
  men 1.756 m, women 1.628 m): upper arm 0.320 m, forearm 0.251 m.
- Shoulder joints: biacromial breadth (acromion to acromion) 0.40 m for men and 0.36 m for women (ANSUR II); each
  glenohumeral centre lies about 2 cm medial to its acromion's lateral edge, so the joint centres are about
  0.36 m apart (the 0.35-0.40 m range of the literature; Winter's 0.259 H shoulder width is the outer width).
- Elbow flexion reaches about 145 degrees (American Academy of Orthopaedic Surgeons, "Joint Motion: Method of
  Measuring and Recording", 1965): the wrist cannot come closer to its own shoulder than the third side of that
  triangle.
- Chest breadth about 0.32 m and chest depth about 0.24 m (ANSUR II, pooled): the torso below the shoulder line,
  which neither a wrist nor an elbow may enter.

`reach_violation` is a pure formula over batched arrays that runs unchanged on numpy arrays and torch tensors
(only arithmetic, indexing and `.clip`), so the pose sampler can use it as a loss and a filter.
"""

from dataclasses import dataclass

import numpy as np

from handmodel.geometry import unit

STATURE = 1.72  # m, pooled adult mean (ANSUR II)


@dataclass(frozen=True)
class ArmDims:
    """One body's arm and torso dimensions (metres, degrees)."""

    shoulder_spacing: float = 0.36
    upper_arm: float = 0.186 * STATURE  # 0.320 m
    forearm: float = 0.146 * STATURE  # 0.251 m
    max_elbow_flexion_deg: float = 145.0
    # Scapular motion (elevation, protraction) moves the shoulder joint a few centimetres: the elbow may be this much
    # nearer or farther than the upper-arm length from the nominal shoulder.
    shoulder_slack: float = 0.05
    # The elbow may rise this far above the shoulder line (y < 0) and go this far behind the shoulders' plane (z < 0).
    elbow_above_shoulder: float = 0.10
    elbow_behind: float = 0.12
    # The torso: an elliptic cylinder under the shoulder line, axis along y, centred slightly behind the shoulders.
    torso_half_breadth: float = 0.16
    torso_half_depth: float = 0.12
    torso_center_z: float = -0.02

    def shoulder(self, side: str) -> np.ndarray:
        """The shoulder joint centre of `side` ('right' / 'left') in the body frame (3,)."""
        return np.array([(0.5 if side == "right" else -0.5) * self.shoulder_spacing, 0.0, 0.0])

    @property
    def min_wrist_to_shoulder(self) -> float:
        """The nearest a wrist can come to its shoulder: elbow fully flexed, upper arm at its length."""
        inner = np.radians(180.0 - self.max_elbow_flexion_deg)
        a, b = self.upper_arm, self.forearm
        return float(np.sqrt(a * a + b * b - 2 * a * b * np.cos(inner)))


ARM = ArmDims()


def _as_array(x):
    """torch tensors pass through unchanged; anything else becomes a float64 numpy array."""
    return x if hasattr(x, "detach") else np.asarray(x, dtype=np.float64)


def _norm(v, eps: float = 1e-12):
    """Euclidean norm over the last axis, smooth at zero (for torch gradients)."""
    return ((v * v).sum(-1) + eps) ** 0.5


def _torso_depth(p, dims: ArmDims):
    """How far (metres, >= 0) points (..., 3) lie inside the torso cylinder below the shoulder line."""
    x = p[..., 0] / dims.torso_half_breadth
    z = (p[..., 2] - dims.torso_center_z) / dims.torso_half_depth
    inside = (1.0 - (x * x + z * z + 1e-12) ** 0.5).clip(min=0.0)
    below = (p[..., 1] / 0.05).clip(min=0.0, max=1.0)  # fades in over the first 5 cm under the shoulder line
    return inside * below * min(dims.torso_half_breadth, dims.torso_half_depth)


def reach_terms(wrist, forearm_dir, side: str, dims: ArmDims = ARM) -> dict:
    """Each way one arm can fail to reach, in metres (>= 0, zero when fine), for body-frame wrists (..., 3) and
    forearm directions (..., 3) of the `side` hand. Works on numpy arrays and torch tensors alike.

    'upper_arm': the elbow is farther from (or nearer to) its shoulder than the upper arm plus the shoulder slack;
    'flexion': the wrist is nearer its shoulder than a fully flexed elbow allows; 'elbow_high': the elbow is more
    than `elbow_above_shoulder` above the shoulder line; 'elbow_behind': the elbow is behind the torso's allowance;
    'torso': the wrist or the elbow is inside the torso.
    """
    wrist, forearm_dir = _as_array(wrist), _as_array(forearm_dir)
    elbow = wrist + dims.forearm * forearm_dir
    sx = (0.5 if side == "right" else -0.5) * dims.shoulder_spacing
    ex, ey, ez = elbow[..., 0] - sx, elbow[..., 1], elbow[..., 2]
    upper = (ex * ex + ey * ey + ez * ez + 1e-12) ** 0.5
    wx, wy, wz = wrist[..., 0] - sx, wrist[..., 1], wrist[..., 2]
    reach = (wx * wx + wy * wy + wz * wz + 1e-12) ** 0.5
    return {
        "upper_arm": (upper - dims.upper_arm - dims.shoulder_slack).clip(min=0.0)
        + (dims.upper_arm - dims.shoulder_slack - upper).clip(min=0.0),
        "flexion": (dims.min_wrist_to_shoulder - reach).clip(min=0.0),
        "elbow_high": (-dims.elbow_above_shoulder - ey).clip(min=0.0),
        "elbow_behind": (-dims.elbow_behind - ez).clip(min=0.0),
        "torso": _torso_depth(wrist, dims) + _torso_depth(elbow, dims),
    }


def reach_violation(wrist, forearm_dir, side: str, dims: ArmDims = ARM):
    """The sum of `reach_terms` (..., metres): 0 exactly when the `side` arm of a body in this frame can hold a
    wrist at `wrist` with its forearm along `forearm_dir` (both in the body frame). numpy or torch in, same out."""
    return sum(reach_terms(wrist, forearm_dir, side, dims).values())


def reachable(wrist, forearm_dir, side: str, dims: ArmDims = ARM, tolerance: float = 1e-3) -> np.ndarray:
    """(...) bool: the violation is at most `tolerance` metres."""
    v = reach_violation(wrist, forearm_dir, side, dims)
    v = v.detach().cpu().numpy() if hasattr(v, "detach") else v
    return np.asarray(v) <= tolerance


def world_to_body(points, body_to_world):
    """World points (N, ..., 3) -> body-frame points, for body_to_world (N, 4, 4) (or one (4, 4))."""
    T = np.asarray(body_to_world, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    if T.ndim == 2:
        return (p - T[:3, 3]) @ T[:3, :3]
    extra = p.ndim - 2
    R = T[:, :3, :3].reshape((len(T),) + (1,) * extra + (3, 3))
    t = T[:, :3, 3].reshape((len(T),) + (1,) * extra + (3,))
    return np.einsum("...k,...kj->...j", p - t, R)


def directions_to_body(dirs, body_to_world):
    """World directions (N, ..., 3) -> body-frame directions (rotation only)."""
    T = np.asarray(body_to_world, dtype=np.float64).copy()
    if T.ndim == 2:
        T[:3, 3] = 0
    else:
        T[:, :3, 3] = 0
    return world_to_body(dirs, T)


# When the body frame is unknown: forearms typically rise this much from the elbow to the hand when the hands meet
# in front of the chest, and the elbows sit this far below and in front of the shoulder line.
_FOREARM_RISE_DEG = 20.0
_ELBOW_BELOW = 0.24
_ELBOW_FORWARD = 0.12


def estimate_body_frame(right_wrist, right_dir, left_wrist, left_dir, dims: ArmDims = ARM) -> np.ndarray:
    """A body frame that the two hands fit, for poses without `body_to_world`: (N, 4, 4) body -> world.

    Inputs are world-frame wrists (N, 3) and forearm directions (N, 3, unit, wrist -> elbow). The x axis runs from
    the left elbow to the right one; forward is the hands' mean distal direction (elbow -> wrist) tilted down by the
    typical forearm rise; the origin starts below-behind the elbows and is then moved (a few Gauss-Newton steps)
    so that each elbow is one upper-arm length from its shoulder, staying as near the start as that allows.
    """
    wr, dr = np.atleast_2d(right_wrist).astype(np.float64), unit(np.atleast_2d(right_dir).astype(np.float64))
    wl, dl = np.atleast_2d(left_wrist).astype(np.float64), unit(np.atleast_2d(left_dir).astype(np.float64))
    er, el = wr + dims.forearm * dr, wl + dims.forearm * dl
    x = er - el
    weak = np.linalg.norm(x, axis=1) < 0.05
    x[weak] = (wr - wl)[weak]
    x = unit(x)
    distal = -(dr + dl)
    distal -= np.sum(distal * x, axis=1, keepdims=True) * x
    # Forearms pointing straight at each other leave no forward direction: fall back on the part of the world's
    # z axis (then its -y axis) orthogonal to x.
    for fallback in (np.array([0.0, 0.0, 1.0]), np.array([0.0, -1.0, 0.0])):
        bad = np.linalg.norm(distal, axis=1) < 1e-3
        if not bad.any():
            break
        f = np.broadcast_to(fallback, x[bad].shape)
        distal[bad] = f - np.sum(f * x[bad], axis=1, keepdims=True) * x[bad]
    b = unit(distal)
    c = np.cross(x, b)
    a = np.radians(_FOREARM_RISE_DEG)
    z = np.cos(a) * b - np.sin(a) * c
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=-1)  # columns: body axes in world coordinates
    mid = (er + el) / 2
    t0 = mid - _ELBOW_BELOW * y - _ELBOW_FORWARD * z
    t = t0.copy()
    half = 0.5 * dims.shoulder_spacing * x
    prior = 0.1  # metres of residual per metre of departure from the start
    for _ in range(8):
        rows, res = [], []
        for e, s in ((er, t + half), (el, t - half)):
            d = s - e
            n = np.linalg.norm(d, axis=1, keepdims=True)
            rows.append(d / np.maximum(n, 1e-9))
            res.append(n[:, 0] - dims.upper_arm)
        J = np.stack(rows + [prior * np.broadcast_to(np.eye(3)[k], t.shape) for k in range(3)], axis=1)  # (N,5,3)
        r = np.stack(res + [prior * (t - t0)[:, k] for k in range(3)], axis=1)  # (N,5)
        step = np.linalg.solve(np.einsum("nik,nil->nkl", J, J) + 1e-9 * np.eye(3), np.einsum("nik,ni->nk", J, r))
        t = t - step
    T = np.zeros((len(t), 4, 4))
    T[:, :3, :3] = R
    T[:, :3, 3] = t
    T[:, 3, 3] = 1.0
    return T
