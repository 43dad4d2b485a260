"""The built-in seed prior: two natural hands of one body, placed in contact in one of its interaction types.

Each hand's finger pose comes from `handmodel.anatomy.sample_natural_hand_poses` (joint angles inside the limits,
correlated curl). The pair is placed in one of the interaction types below, expressed in the right hand's palm
frame (distal, palmar, side): the left palm's orientation relative to the right's, where the left hand's centre
aims on the right hand, and the direction it comes from. The left hand then slides in along that direction until
the surfaces touch exactly (`pose_sampler.placement`: no vertex inside, a 0.5 mm gap), so every seed starts in
contact. The two hands must belong to one body: a body frame is estimated from the pair (`pose_sampler.one_body`)
and a pair that no body's arms can hold (an unreachable wrist, a forearm through the other hand) is drawn again
from the seed's next placement stream, up to `MAX_ATTEMPTS` times.
"""

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from handmodel.anatomy import sample_natural_hand_poses
from handmodel.joints import HANDS
from handmodel.skinning import matrix_to_axis_angle, rest_joints
from pose_sampler import one_body
from pose_sampler.placement import touching_shift

# Per interaction type: the left hand's rotation about the right palm normal, degrees (lo, hi) (a range with
# lo >= 0 is used with either sign), the left palm normal as a multiple of the right's, where the left hand's
# centre aims (metres from the right palm centre), and the direction the left hand comes from, both in the right
# palm frame (distal, palmar, side).
CONFIGURATIONS = {
    "palm_to_palm": {"angle": (-35, 35), "palmar": -1, "aim": (0.0, 0.0, 0.0), "approach": (0.0, 1.0, 0.0)},
    "clasped": {"angle": (60, 110), "palmar": -1, "aim": (0.0, 0.0, 0.0), "approach": (0.0, 1.0, 0.0)},
    "interlocked": {"angle": (-20, 20), "palmar": -1, "aim": (0.04, 0.0, 0.009), "approach": (0.0, 1.0, 0.0)},
    "pinch": {"angle": (70, 110), "palmar": 1, "aim": (0.08, 0.02, 0.0), "approach": (1.0, 0.3, 0.0)},
    "stacked": {"angle": (-30, 30), "palmar": 1, "aim": (0.0, 0.0, 0.0), "approach": (0.0, -1.0, 0.0)},
    "crossed": {"angle": (55, 120), "palmar": 1, "aim": (0.0, 0.0, 0.0), "approach": (0.0, -1.0, 0.0)},
    "fingertips": {"angle": (160, 200), "palmar": 1, "aim": (0.0, 0.0, 0.0), "approach": (1.0, 0.0, 0.0)},
    "grasp_fingers": {"angle": (70, 110), "palmar": -1, "aim": (0.03, 0.0, 0.0), "approach": (0.0, 1.0, 0.0)},
    "grasp_wrist": {"angle": (70, 110), "palmar": 1, "aim": (-0.07, 0.0, 0.0), "approach": (0.0, 1.0, 0.0)},
}
CONFIG_NAMES = tuple(CONFIGURATIONS)
MAX_ATTEMPTS = 8
REACH_TOLERANCE_M = 0.005  # a seed's arms may miss by this much; the optimizer's body term takes up the rest


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


def _draw_pairs(rng_for, ids, attempt: int, pf, fingers, models) -> tuple:
    """One placement draw per seed id: params (translations zero), approach directions and aims (n, 3), types."""
    n = len(ids)
    params = {h: {"pose": np.zeros((n, 48)), "shape": np.zeros((n, 10)), "trans": np.zeros((n, 3))} for h in HANDS}
    approach, aim, configs = np.zeros((n, 3)), np.zeros((n, 3)), []
    for i, sid in enumerate(ids):
        rng = rng_for(int(sid), "placement" if attempt == 0 else f"placement-{attempt}")
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
        aim[i] = world @ (np.array(CONFIGURATIONS[config]["aim"]) + rng.normal(0.0, 0.005, size=3))
    approach /= np.linalg.norm(approach, axis=1, keepdims=True)
    return params, approach, aim, configs


def sample_prior_seeds(rng_for, ids: np.ndarray, models, frames: dict, layer, topo=None, gap_m: float = 0.0005):
    """Seed pairs for seed ids (n,): {'right': {'pose' (n,48), 'shape' (n,10), 'trans' (n,3)}, 'left': ...,
    'config': (n,) interaction type names, 'approach': (n, 3) the direction the left hand came from,
    'body_to_world': (n, 4, 4) the body both hands belong to}.

    `rng_for(seed_id, stream)` gives each seed its own generators, so a seed is the same under any batching.
    `layer` is a `handmodel.torch_layer.HandLayer` (no gradients); `topo` per hand the closed meshes'
    `pose_sampler.penetration.MeshTopology` on the layer's device (built here when None).
    """
    ids = np.asarray(ids)
    n = len(ids)
    pf = palm_frames(models)
    fingers = finger_poses(rng_for, ids, frames)
    topo = topo or closed_topologies(models, _layer_device(layer))
    out = None
    todo = np.arange(n)
    for attempt in range(MAX_ATTEMPTS):
        params, approach, aim, configs = _draw_pairs(
            rng_for, ids[todo], attempt, pf, {h: fingers[h][todo] for h in HANDS}, models
        )
        place_in_contact(params, approach, aim, layer, topo, gap_m)
        body = one_body.estimate(models, params)
        ok = one_body.reach_m(models, params, body) <= REACH_TOLERANCE_M
        if out is None:
            out = {h: {k: v.copy() for k, v in params[h].items()} for h in HANDS}
            out["config"], out["approach"], out["body_to_world"] = np.array(configs, dtype=object), approach, body
        else:
            take = todo[ok] if attempt < MAX_ATTEMPTS - 1 else todo
            sel = ok if attempt < MAX_ATTEMPTS - 1 else np.ones(len(todo), dtype=bool)
            for h in HANDS:
                for k in params[h]:
                    out[h][k][take] = params[h][k][sel]
            out["config"][take] = np.array(configs, dtype=object)[sel]
            out["approach"][take], out["body_to_world"][take] = approach[sel], body[sel]
        todo = todo[~ok]
        if len(todo) == 0:
            break
    out["config"] = out["config"].astype(str)
    return out


def closed_topologies(models, device) -> dict:
    """Per hand the wrist-closed, outward mesh topology that the exact queries use."""
    from pose_sampler.penetration import MeshTopology, close_boundary, oriented_outward

    return {
        h: MeshTopology.build(
            oriented_outward(models[h].v_template, close_boundary(models[h].faces)),
            len(models[h].v_template), models[h].v_template, device=device,
        )
        for h in HANDS
    }  # fmt: skip


def _layer_device(layer):
    return next(b for b in layer.buffers() if b.is_floating_point()).device


@torch.no_grad()
def place_in_contact(params: dict, approach: np.ndarray, aim: np.ndarray, layer, topo: dict, gap_m: float) -> None:
    """Set both translations in place: the left hand's centre at `aim` (n, 3) from the right's, then slid along
    `approach` (n, 3) to first contact (`pose_sampler.placement.touching_shift`), the pair centred on the origin."""
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
    cr, cl = vr.mean(1), vl.mean(1)
    a = torch.as_tensor(approach, dtype=dtype, device=dev)
    offset = cr - cl + torch.as_tensor(aim, dtype=dtype, device=dev)
    shift = touching_shift(vr, vl + offset[:, None], a, topo["right"], topo["left"], gap_m)
    t_left = (offset + a * shift[:, None]).cpu().double().numpy()
    centre = 0.5 * (cr.cpu().double().numpy() + (cl.cpu().double().numpy() + t_left))
    params["right"]["trans"] = -centre
    params["left"]["trans"] = t_left - centre
