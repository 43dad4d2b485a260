"""The two hands of one body, for the sampler: the body frame of a pose, reachability and the forearms as colliders.

Geometry and anthropometry come from `handmodel.body` (shoulders, arm lengths, `reach_violation`, the body-frame
estimate) and `handmodel.forearm` (the forearm axis follows the root joint rigidly; its collision capsule). This
module only applies them to batches of two-hand poses, as numpy (seeding, metrics) and torch (the loss).
Body-frame transforms are (N, 4, 4) body -> world, as stored in the poses file (`body_to_world`).
"""

import numpy as np
import torch

from handmodel.body import directions_to_body, estimate_body_frame, reach_violation, world_to_body
from handmodel.forearm import FOREARM, capsule, capsule_distance, posed_frames, rest_frame
from handmodel.joints import HANDS


def forearm_frames(models, params: dict) -> dict:
    """Per hand {'wrist' (N, 3), 'axis' (N, 3)} world frames of posed hands: params per hand {'pose', 'shape',
    'trans'} numpy arrays."""
    return {h: posed_frames(models[h], params[h]["pose"], params[h]["shape"], params[h]["trans"]) for h in HANDS}


def estimate(models, params: dict) -> np.ndarray:
    """A body frame (N, 4, 4) that the two posed hands fit (`handmodel.body.estimate_body_frame`)."""
    f = forearm_frames(models, params)
    return estimate_body_frame(f["right"]["wrist"], f["right"]["axis"], f["left"]["wrist"], f["left"]["axis"])


def reach_m(models, params: dict, body_to_world: np.ndarray) -> np.ndarray:
    """Worst reach violation of the two arms per pose (N,), metres (0: both wrists reachable with a real elbow)."""
    f = forearm_frames(models, params)
    worst = np.zeros(len(body_to_world))
    for h in HANDS:
        wrist = world_to_body(f[h]["wrist"], body_to_world)
        axis = directions_to_body(f[h]["axis"], body_to_world)
        worst = np.maximum(worst, reach_violation(wrist, axis, h))
    return worst


def forearm_depth_m(models, params: dict, verts: dict) -> np.ndarray:
    """How deep (m, >= 0) the other hand's vertices reach into each forearm's capsule, worst per pose (N,):
    verts per hand (N, V, 3) world."""
    f = forearm_frames(models, params)
    worst = np.zeros(len(verts["right"]))
    for h, other in (("right", "left"), ("left", "right")):
        c = capsule(f[h]["wrist"], f[h]["axis"])
        d = capsule_distance(verts[other], c["start"], c["end"], c["r_start"], c["r_end"])
        worst = np.maximum(worst, np.clip(-d, 0, None).max(1))
    return worst


class BodyTerms:
    """The body's loss terms on one device: reach of both arms and the forearm capsules against the other hand.

    rest wrist and axis per hand come from `handmodel.forearm.rest_frame`; a posed hand's wrist joint is its
    shaped rest root joint plus the translation (the root rotation pivots there), its forearm axis the root
    rotation applied to the rest axis.
    """

    def __init__(self, models, device, dtype=torch.float32):
        self.rest_axis = {}
        for h in HANDS:
            _, axis, _ = rest_frame(models[h])
            self.rest_axis[h] = torch.as_tensor(axis, dtype=dtype, device=device)
        self.r_start = float(np.mean(capsule(np.zeros((1, 3)), np.array([[0.0, 0.0, 1.0]]))["r_start"]))
        self.r_end = float(np.mean(FOREARM.elbow_semi_axes))

    def losses(self, wrist: dict, root_R: dict, verts: dict, body_to_world: torch.Tensor) -> tuple:
        """(reach (B,) m, capsule depth (B,) m summed over the other hand's vertices): wrist per hand (B, 3) world,
        root_R per hand (B, 3, 3), verts per hand (B, V, 3), body_to_world (B, 4, 4)."""
        R, t = body_to_world[:, :3, :3], body_to_world[:, :3, 3]
        reach = 0.0
        depth = 0.0
        for h, other in (("right", "left"), ("left", "right")):
            axis = (root_R[h] @ self.rest_axis[h][:, None])[..., 0]
            w_body = ((wrist[h] - t)[:, None, :] @ R)[:, 0]
            a_body = (axis[:, None, :] @ R)[:, 0]
            reach = reach + reach_violation(w_body, a_body, h)
            start = wrist[h] + FOREARM.capsule_start * axis
            end = wrist[h] + FOREARM.length * axis
            r0 = torch.full_like(start[:, 0], self.r_start)
            r1 = torch.full_like(start[:, 0], self.r_end)
            d = capsule_distance(verts[other], start, end, r0, r1)
            depth = depth + torch.relu(-d).sum(-1)
        return reach, depth
