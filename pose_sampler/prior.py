"""The built-in seed prior: two natural hands placed where hands interact.

Each hand's finger pose comes from `handmodel.anatomy.sample_natural_hand_poses` (joint angles inside the limits,
correlated curl). The pair is placed in one of a few interaction configurations, expressed in the right hand's
palm frame (distal, palmar, side): palm to palm, clasped (palms facing, fingers crossing), stacked (the left palm on
the back of the right hand), crossed (stacked, the hands at an angle) and fingertips (the hands facing each other
tip to tip). The left hand then approaches along the configuration's direction until the two surfaces come within
a small gap, so every seed starts touching.
"""

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from handmodel.anatomy import sample_natural_hand_poses
from handmodel.joints import HANDS
from handmodel.skinning import matrix_to_axis_angle, rest_joints
from pose_sampler.penetration import nearest_vertex

# Per configuration: the left hand's rotation about the right palm normal, degrees (lo, hi) (a range with lo >= 0
# is used with either sign), the left palm normal as a multiple of the right's, and the direction the left hand
# comes from, in the right palm frame (distal, palmar, side).
CONFIGURATIONS = {
    "palm_to_palm": {"angle": (-35, 35), "palmar": -1, "approach": (0.0, 1.0, 0.0)},
    "clasped": {"angle": (60, 110), "palmar": -1, "approach": (0.0, 1.0, 0.0)},
    "stacked": {"angle": (-30, 30), "palmar": 1, "approach": (0.0, -1.0, 0.0)},
    "crossed": {"angle": (55, 120), "palmar": 1, "approach": (0.0, -1.0, 0.0)},
    "fingertips": {"angle": (160, 200), "palmar": 1, "approach": (1.0, 0.0, 0.0)},
}
CONFIG_NAMES = tuple(CONFIGURATIONS)


def palm_frames(models) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per hand: (rotation (3, 3) with columns distal, palmar, side in template coordinates, palm centre (3,))."""
    out = {}
    for sign, hand in zip((1.0, -1.0), HANDS):
        j = rest_joints(models[hand], np.zeros((1, 10)))[0]
        distal = j[4] - j[0]
        distal /= np.linalg.norm(distal)
        palmar = sign * np.cross(j[1] - j[0], j[7] - j[0])
        palmar -= distal * (palmar @ distal)
        palmar /= np.linalg.norm(palmar)
        frame = np.stack([distal, palmar, np.cross(distal, palmar)], axis=1)
        out[hand] = (frame, (j[0] + j[1] + j[4] + j[7] + j[10]) / 5)
    return out


def _relative_frame(rng: np.random.Generator, config: str, jitter_deg: float) -> np.ndarray:
    """The left palm frame expressed in the right palm frame (3, 3) for one configuration."""
    c = CONFIGURATIONS[config]
    angle = rng.uniform(*c["angle"]) * (rng.choice([-1, 1]) if c["angle"][0] >= 0 else 1)
    spin = Rotation.from_rotvec(np.radians(angle) * np.array([0.0, 1.0, 0.0])).as_matrix()
    base = np.diag([1.0, float(c["palmar"]), float(c["palmar"])])  # keep it a rotation
    jitter = Rotation.from_rotvec(rng.normal(0.0, np.radians(jitter_deg), size=3)).as_matrix()
    return jitter @ spin @ base


def finger_poses(rng_for, ids: np.ndarray, frames: dict) -> dict[str, np.ndarray]:
    """Natural finger poses (n, 45) per hand for seed ids (n,), from the stream 'fingers' of each id."""
    out = {h: np.zeros((len(ids), 45)) for h in HANDS}
    for i, sid in enumerate(ids):
        rng = rng_for(int(sid), "fingers")
        for hand in HANDS:
            out[hand][i] = sample_natural_hand_poses(rng, 1, frames[hand])[0]
    return out


def sample_prior_seeds(rng_for, ids: np.ndarray, models, frames: dict, layer, gap_m: float = 0.001) -> dict:
    """Seed pairs for seed ids (n,): {'right': {'pose' (n,48), 'shape' (n,10), 'trans' (n,3)}, 'left': ...,
    'config': (n,) configuration names}.

    `rng_for(seed_id, stream)` gives each seed its own generators, so a seed is the same under any batching.
    `layer` is a `handmodel.torch_layer.HandLayer` (used without gradients to find the touching distance).
    """
    n = len(ids)
    pf = palm_frames(models)
    params = {h: {"pose": np.zeros((n, 48)), "shape": np.zeros((n, 10)), "trans": np.zeros((n, 3))} for h in HANDS}
    fingers = finger_poses(rng_for, ids, frames)
    approach = np.zeros((n, 3))
    configs = []
    for i, sid in enumerate(ids):
        rng = rng_for(int(sid), "placement")
        config = CONFIG_NAMES[rng.integers(len(CONFIG_NAMES))]
        configs.append(config)
        shape = np.clip(rng.normal(0.0, 0.6, size=10), -2, 2)  # one person: both hands share a shape
        world = Rotation.random(random_state=rng).as_matrix()  # the right palm frame in the world
        rel = _relative_frame(rng, config, jitter_deg=8.0)
        wanted = {"right": world, "left": world @ rel}
        for hand in HANDS:
            params[hand]["pose"][i, 3:] = fingers[hand][i]
            params[hand]["pose"][i, :3] = matrix_to_axis_angle(wanted[hand] @ pf[hand][0].T)
            params[hand]["shape"][i] = shape
        lateral = rng.normal(0.0, 0.01, size=3) * np.array([1.0, 0.0, 1.0])
        approach[i] = world @ (np.array(CONFIGURATIONS[config]["approach"]) + lateral)
    approach /= np.linalg.norm(approach, axis=1, keepdims=True)
    _place_touching(params, approach, models, layer, gap_m)
    params["config"] = np.array(configs)
    return params


@torch.no_grad()
def _place_touching(params: dict, approach: np.ndarray, models, layer, gap_m: float) -> None:
    """Set both translations in place: the pair centred on the origin, the left hand moved along `approach`
    (n, 3) from far away to where the closest vertices of the two hands are `gap_m` apart."""
    ref = next(b for b in layer.buffers() if b.is_floating_point())
    dev, dtype = ref.device, ref.dtype

    def verts(hand):
        p = params[hand]
        return layer(
            hand,
            torch.as_tensor(p["pose"], dtype=dtype, device=dev),
            torch.as_tensor(p["shape"], dtype=dtype, device=dev),
            torch.zeros(len(p["pose"]), 3, dtype=dtype, device=dev),
        )[0]

    vr, vl = verts("right"), verts("left")
    # Palm centres (mean of the vertices is close enough to move the hands apart along the approach).
    cr, cl = vr.mean(1), vl.mean(1)
    a = torch.as_tensor(approach, dtype=dtype, device=dev)

    def gap(dist):
        shifted = vl + (cr - cl + a * dist[:, None])[:, None]
        return nearest_vertex(shifted, vr)[1].min(dim=1).values

    # March in from 25 cm in 1 cm steps to the first distance that touches, then bisect that step.
    far = torch.full((len(a),), 0.25, dtype=dtype, device=dev)
    near = torch.zeros_like(far)
    found = torch.zeros(len(a), dtype=torch.bool, device=dev)
    for d in np.arange(0.24, -0.005, -0.01):
        cur = torch.full_like(far, float(d))
        touching = (gap(cur) <= gap_m) & ~found
        near[touching] = cur[touching]
        far[touching] = cur[touching] + 0.01
        found |= touching
        step_on = ~found
        far[step_on] = cur[step_on]
        if bool(found.all()):
            break
    for _ in range(8):
        mid = 0.5 * (near + far)
        touching = gap(mid) <= gap_m
        near = torch.where(touching, mid, near)
        far = torch.where(touching, far, mid)
    t_left = (cr - cl + a * far[:, None]).cpu().double().numpy()
    centre = 0.5 * (cr.cpu().double().numpy() + (cl.cpu().double().numpy() + t_left))
    params["right"]["trans"] = -centre
    params["left"]["trans"] = t_left - centre
