"""The optimization's loss terms, each a pure function over batched tensors returning one value per pose (B,).

Angles are (B, 15, 3) radians (twist, splay, bend) in the joint frames of `handmodel.anatomy`; vertices (B, V, 3)
metres. Summing per-pose terms over the batch keeps the poses independent under Adam's per-element steps.
"""

import math

import numpy as np
import torch

from handmodel.anatomy import LIMITS_DEG
from handmodel.joints import MANO_FINGER_JOINTS

_AXES = ("twist", "splay", "bend")
RING_PIP = MANO_FINGER_JOINTS["ring"][1] - 1
PINKY_PIP = MANO_FINGER_JOINTS["pinky"][1] - 1


def limits_rad() -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) each (15, 3) radians, from handmodel.anatomy.LIMITS_DEG."""
    lo = np.stack([LIMITS_DEG[k][:, 0] for k in _AXES], axis=-1)
    hi = np.stack([LIMITS_DEG[k][:, 1] for k in _AXES], axis=-1)
    return np.radians(lo), np.radians(hi)


def anatomy_loss(angles: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Squared hinge outside [lo, hi] (15, 3), rad^2, plus RenderIH's tendon coupling (ring PIP bend >= 0.75 x
    pinky PIP bend): angles (B, 15, 3) -> (B,)."""
    over = torch.relu(angles - hi) + torch.relu(lo - angles)
    coupling = torch.relu(0.75 * angles[:, PINKY_PIP, 2] - angles[:, RING_PIP, 2])
    return (over**2).sum((1, 2)) + coupling**2


def penetration_loss(sd: torch.Tensor, margin: float) -> torch.Tensor:
    """Depth below `margin` (m), summed over points, in millimetres: signed distances (B, P) -> (B,).

    Linear in depth, so shallow contacts still get a full-size push; the margin makes the optimum sit a little
    outside the surface, so the exact depth measured afterwards stays below the proxy's error.
    """
    return 1000.0 * torch.relu(margin - sd).sum(-1)


def contact_weights(dist: torch.Tensor, radius: float) -> torch.Tensor:
    """RenderIH's pair weight 0.5 cos(pi d / r) + 0.5 for d < r, else 0: (…) metres -> (…)."""
    w = 0.5 * torch.cos(math.pi * dist / radius) + 0.5
    return torch.where(dist < radius, w, torch.zeros_like(w))


def contact_loss(
    verts_r: torch.Tensor, verts_l: torch.Tensor, pairs: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted squared distance of anchor pairs, mm^2: pairs (B, K, 2) long (right vertex, left vertex),
    weights (B, K) (0 where there is no pair) -> (B,)."""
    r = verts_r.gather(1, pairs[..., 0:1].expand(-1, -1, 3))
    l_ = verts_l.gather(1, pairs[..., 1:2].expand(-1, -1, 3))
    return (weights * ((1000.0 * (r - l_)) ** 2).sum(-1)).sum(-1)


@torch.no_grad()
def find_contact_pairs(
    verts_r: torch.Tensor,
    verts_l: torch.Tensor,
    normals_r: torch.Tensor,
    normals_l: torch.Tensor,
    anchors: torch.Tensor,
    radius: float = 0.015,
    max_pairs: int = 4,
    min_opposition: float = 0.6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RenderIH's contact pairs between the anchor vertices (A,) of the two hands (same ids on both, the hands
    share a topology): pairs closer than `radius` with opposing normals (dot < -min_opposition), the `max_pairs`
    closest kept. Returns pairs (B, K, 2) long vertex ids and weights (B, K), zero where fewer pairs exist."""
    ar, al = verts_r[:, anchors], verts_l[:, anchors]
    d = torch.cdist(ar, al)  # (B, A, A)
    dot = torch.einsum("bik,bjk->bij", normals_r[:, anchors], normals_l[:, anchors])
    d = torch.where(dot < -min_opposition, d, torch.full_like(d, float("inf")))
    flat = d.flatten(1)
    k = min(max_pairs, flat.shape[1])
    best = flat.topk(k, dim=1, largest=False)
    i, j = best.indices // len(anchors), best.indices % len(anchors)
    pairs = torch.stack([anchors[i], anchors[j]], dim=-1)
    weights = contact_weights(best.values.clamp_max(1e3), radius)
    return pairs, weights


def farthest_point_anchors(verts: np.ndarray, count: int = 108) -> np.ndarray:
    """`count` vertex ids spread over the surface (farthest point sampling from vertex 0): verts (V, 3)."""
    chosen = [0]
    d = np.linalg.norm(verts - verts[0], axis=1)
    for _ in range(count - 1):
        k = int(d.argmax())
        chosen.append(k)
        d = np.minimum(d, np.linalg.norm(verts - verts[k], axis=1))
    return np.array(chosen, dtype=np.int64)
