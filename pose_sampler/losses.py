"""The optimization's loss terms, each a pure function over batched tensors returning one value per pose (B,).

Angles are (B, 15, 3) radians (twist, splay, bend) in the joint frames of `handmodel.anatomy`; vertices (B, V, 3)
metres. Summing per-pose terms over the batch keeps the poses independent under Adam's per-element steps.
"""

import math

import numpy as np
import torch

from handmodel.anatomy import COUPLING


def coupling_deficit(angles: torch.Tensor) -> torch.Tensor:
    """How far (rad) the ring PIP bend falls short of handmodel.anatomy.COUPLING's share of the pinky PIP bend:
    angles (B, 15, 3) -> (B,), 0 where the rule holds."""
    c = COUPLING
    return torch.relu(c["ratio"] * angles[:, c["follows"] - 1, 2] - angles[:, c["joint"] - 1, 2])


def anatomy_loss(angles: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Squared hinge outside [lo, hi] (15, 3) (handmodel.anatomy.limits_rad), rad^2, plus the squared deficit of
    the ring/pinky coupling rule: angles (B, 15, 3) -> (B,)."""
    over = torch.relu(angles - hi) + torch.relu(lo - angles)
    return (over**2).sum((1, 2)) + coupling_deficit(angles) ** 2


def project_anatomy(angles: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """The nearest angles (B, 15, 3) inside the limits [lo, hi] (15, 3) that also meet the coupling rule: clamped,
    then the ring PIP raised to its share of the pinky PIP (inside its own limit, as the table allows)."""
    out = torch.maximum(torch.minimum(angles, hi), lo)
    c = COUPLING
    ring, pinky = c["joint"] - 1, c["follows"] - 1
    raised = torch.maximum(out[:, ring, 2], c["ratio"] * out[:, pinky, 2]).clamp_max(hi[ring, 2])
    return torch.cat([out[:, :ring], torch.stack([out[:, ring, 0], out[:, ring, 1], raised], -1)[:, None],
                      out[:, ring + 1 :]], 1)  # fmt: skip


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
