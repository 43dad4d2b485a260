"""IntagHand's published training losses and weights, as pure functions over batched tensors.

Per hand: 3D vertex L1, 3D joint L1, 2D vertex MSE, normal consistency, edge length (from an epoch on), the same
3D/2D terms at the 252-node level; averaged over the two hands. Image maps: mask smooth-L1 (beta 0.05) on the raw
output, dense L1 inside each hand's mask, heatmap MSE. 3D in the targets' normalised units (training/targets.py),
2D in [-1, 1] (`training.targets.pixels_to_ndc`).
"""

import torch
import torch.nn.functional as F

from handmodel.joints import HANDS
from training.targets import gaussian_heatmaps_torch


def normal_loss(pred, gt, faces):
    """Mean |cos| between the predicted face edges and the ground-truth face normals. pred, gt (B,V,3)."""
    a, b, c = (gt[:, faces[:, i]] for i in range(3))
    n = F.normalize(torch.cross(b - a, c - a, dim=-1), dim=-1)
    pa, pb, pc = (pred[:, faces[:, i]] for i in range(3))
    cos = [(F.normalize(e, dim=-1) * n).sum(-1).abs() for e in (pb - pa, pc - pb, pa - pc)]
    return torch.stack(cos).mean()


def edge_loss(pred, gt, edges):
    """Mean |edge length difference| over the mesh edges (E,2). pred, gt (B,V,3)."""
    lp = (pred[:, edges[:, 0]] - pred[:, edges[:, 1]]).norm(dim=-1)
    lg = (gt[:, edges[:, 0]] - gt[:, edges[:, 1]]).norm(dim=-1)
    return (lp - lg).abs().mean()


def mesh_edges(faces: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges (E,2) of a triangle list (F,3)."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).sort(dim=1).values
    return torch.unique(e, dim=0)


def hand_losses(pred: dict, batch: dict, hand: str, geometry: dict, weights: dict, use_edge: bool) -> dict:
    """Weighted loss terms of one hand. geometry: faces (F,3), edges (E,2), pool252 (252, V) tensors.

    The right hand's 3D targets are moved by `root_rel` (its joint 9 relative to the left's), so the network
    predicts both hands in the left hand's joint-9 frame."""
    offset = batch["root_rel"][:, None] if hand == "right" else 0.0
    gt_v, gt_j = batch[f"{hand}_verts"] + offset, batch[f"{hand}_joints"] + offset
    gt_v2d = batch[f"{hand}_verts2d"]
    out = {
        "vert3d": weights["vert3d"] * (pred["verts"] - gt_v).abs().mean(),
        "joint3d": weights["joint3d"] * (pred["joints"] - gt_j).abs().mean(),
        "vert2d": weights["vert2d"] * ((pred["verts2d"] - gt_v2d) ** 2).mean(),
        "normal": weights["normal"] * normal_loss(pred["verts"], gt_v, geometry["faces"]),
    }
    if use_edge:
        out["edge"] = weights["edge"] * edge_loss(pred["verts"], gt_v, geometry["edges"])
    # Coarse terms at the 252-node level only.
    pool = geometry["pool252"]
    out["coarse3d"] = weights["vert3d"] * (pred["coarse"] - torch.matmul(pool, gt_v)).abs().mean()
    out["coarse2d"] = weights["vert2d"] * ((pred["coarse2d"] - torch.matmul(pool, gt_v2d)) ** 2).mean()
    return out


def total_loss(pred: dict, batch: dict, geometry: dict, weights: dict, epoch: int):
    """All terms -> (scalar loss, {term: float tensor}) ; hand terms averaged over both hands."""
    use_edge = epoch >= weights["edge_start_epoch"]
    terms = {}
    for hand in HANDS:
        for k, v in hand_losses(pred[hand], batch, hand, geometry[hand], weights, use_edge).items():
            terms[k] = terms.get(k, 0.0) + v / len(HANDS)
    # The mask head's raw output against 0/1 (smooth L1, beta 0.05); dense maps only inside each hand's mask.
    terms["mask"] = weights["mask"] * F.smooth_l1_loss(pred["mask"].float(), batch["mask"], beta=0.05)
    inside = batch["mask"].repeat_interleave(3, dim=1)
    terms["dense"] = weights["dense"] * (pred["dense"].float() * inside - batch["dense"]).abs().mean()
    target = gaussian_heatmaps_torch(batch["heatmap_points"], pred["heatmaps"].shape[-1])
    terms["heatmap"] = weights["heatmap"] * F.mse_loss(pred["heatmaps"].float(), target)
    return sum(terms.values()), terms
