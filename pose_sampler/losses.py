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


def surface_attraction(sd: torch.Tensor, margin: float, radius: float) -> torch.Tensor:
    """Points outside the surface, closer than `radius` (m), drawn onto it: (w 1000 (sd - margin) (M,) mm, w (M,))
    with w = contact_weights(sd - margin, radius - margin) (no gradient through w), for signed distances (M,).
    Linear like the penetration term, so a weaker weight never pulls a hand into the other."""
    gap = torch.relu(sd - margin)
    w = contact_weights(gap.detach(), radius - margin) * (sd > margin)
    return w * 1000.0 * gap, w


def contact_weights(dist: torch.Tensor, radius: float) -> torch.Tensor:
    """RenderIH's pair weight 0.5 cos(pi d / r) + 0.5 for d < r, else 0: (…) metres -> (…)."""
    w = 0.5 * torch.cos(math.pi * dist / radius) + 0.5
    return torch.where(dist < radius, w, torch.zeros_like(w))


PARTNERS = 4  # nearest anchors of the other hand paired with each anchor


@torch.no_grad()
def anchor_pairs(verts_r: torch.Tensor, verts_l: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Contact pairs between the anchor vertices (A,) of the two hands (the same ids on both: the hands share a
    topology): for each anchor of either hand, its PARTNERS nearest anchors of the other. verts (B, V, 3) ->
    pairs (B, 2 A PARTNERS, 2) long (right vertex, left vertex)."""
    d = torch.cdist(verts_r[:, anchors], verts_l[:, anchors])  # (B, A, A)
    k = min(PARTNERS, len(anchors))
    to_left = d.topk(k, dim=2, largest=False).indices  # (B, A, k): left partners of each right anchor
    to_right = d.topk(k, dim=1, largest=False).indices.transpose(1, 2)  # (B, A, k): right partners of left
    own = anchors[None, :, None].expand_as(to_left)
    return torch.cat([torch.stack([own, anchors[to_left]], -1).flatten(1, 2),
                      torch.stack([anchors[to_right], own], -1).flatten(1, 2)], 1)  # fmt: skip


def anchor_contact_loss(verts_r, verts_l, pairs: torch.Tensor, radius: float, scale: float) -> torch.Tensor:
    """Mean over pairs of w d^2, mm^2, with w = scale * contact_weights(d, radius) recomputed from the current
    distance d (no gradient through w): verts (B, V, 3), pairs (B, K, 2) -> (B,)."""
    r = verts_r.gather(1, pairs[..., 0:1].expand(-1, -1, 3))
    l_ = verts_l.gather(1, pairs[..., 1:2].expand(-1, -1, 3))
    d2 = ((1000.0 * (r - l_)) ** 2).sum(-1)
    w = scale * contact_weights(d2.detach().sqrt() / 1000.0, radius)
    return (w * d2).mean(-1)


def edge_lengths(verts: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Lengths (B, E) of the edges (E, 2) of meshes verts (B, V, 3)."""
    return (verts.index_select(1, edges[:, 0]) - verts.index_select(1, edges[:, 1])).norm(dim=-1)


def edge_length_loss(verts: torch.Tensor, rest: torch.Tensor, edges: torch.Tensor, rest_length=None) -> torch.Tensor:
    """Mean squared change of the edge lengths (E, 2) of posed verts (B, V, 3) against the rest mesh (B, V, 3),
    mm^2 -> (B,). `rest_length` (B, E): `edge_lengths(rest, edges)` when the caller keeps it (rest is then unused)."""
    if rest_length is None:
        rest_length = edge_lengths(rest, edges)
    return ((1000.0 * (edge_lengths(verts, edges) - rest_length)) ** 2).mean(-1)


def farthest_point_anchors(verts: np.ndarray, count: int = 108) -> np.ndarray:
    """`count` vertex ids spread over the surface (farthest point sampling from vertex 0): verts (V, 3)."""
    chosen = [0]
    d = np.linalg.norm(verts - verts[0], axis=1)
    for _ in range(count - 1):
        k = int(d.argmax())
        chosen.append(k)
        d = np.minimum(d, np.linalg.norm(verts - verts[k], axis=1))
    return np.array(chosen, dtype=np.int64)
