"""A lean batched MANO skinning for the optimizer: smplx's `lbs`, split so the shape work is done once per batch.

The shape is fixed during optimization, so the shaped template and its joints are computed once (`shaped`) and
each step only poses them (`posed_vertices`): Rodrigues, pose correctives (one matmul), the kinematic chain by
depth (three batched matmuls for MANO's 5 fingers x 3 levels instead of 15 sequential ones) and one matmul for
the blend of the 16 joint transforms. Reproduces `handmodel.torch_layer.HandLayer` (smplx's MANO,
flat_hand_mean=True) to float precision (tests/test_sampler_losses.py). Same code on CPU and CUDA.
"""

from dataclasses import dataclass

import torch


@dataclass
class ManoTensors:
    """One hand's model, as tensors on one device: v_template (V, 3), shapedirs (V, 3, S), posedirs (135, V*3),
    J_regressor (16, V), weights (V, 16), levels: joint ids per depth of the kinematic tree, parents (16,) long."""

    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    J_regressor: torch.Tensor
    weights: torch.Tensor
    parents: torch.Tensor
    levels: list

    @classmethod
    def from_smplx(cls, mano) -> "ManoTensors":
        """From a smplx MANO module (its buffers, in its dtype and device)."""
        parents = mano.parents.clone()
        parents[0] = -1
        depth = [0] * len(parents)
        for j in range(1, len(parents)):
            depth[j] = depth[int(parents[j])] + 1
        levels = [
            torch.tensor([j for j in range(len(parents)) if depth[j] == d], device=parents.device)
            for d in range(1, max(depth) + 1)
        ]
        return cls(mano.v_template, mano.shapedirs, mano.posedirs, mano.J_regressor, mano.lbs_weights, parents, levels)


def shaped(model: ManoTensors, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shaped rest vertices (B, V, 3) and joints (B, 16, 3), metres, for betas (B, S)."""
    v = model.v_template + torch.einsum("bl,mkl->bmk", betas, model.shapedirs)
    return v, torch.einsum("bik,ji->bjk", v, model.J_regressor)


def rodrigues(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle (N, 3) -> rotation matrices (N, 3, 3), smplx's formula (its 1e-8 guard included)."""
    angle = torch.norm(aa + 1e-8, dim=1, keepdim=True)
    r = aa / angle
    cos, sin = torch.cos(angle)[:, :, None], torch.sin(angle)[:, :, None]
    zero = torch.zeros_like(r[:, 0])
    K = torch.stack([zero, -r[:, 2], r[:, 1], r[:, 2], zero, -r[:, 0], -r[:, 1], r[:, 0], zero], 1).view(-1, 3, 3)
    return torch.eye(3, dtype=aa.dtype, device=aa.device) + sin * K + (1 - cos) * torch.bmm(K, K)


def posed_vertices(model: ManoTensors, v_shaped, joints, pose: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Posed vertices (B, V, 3), metres: v_shaped (B, V, 3) and joints (B, 16, 3) from `shaped`, pose (B, 48)
    absolute axis-angle (root first), trans (B, 3)."""
    B = len(pose)
    rot = rodrigues(pose.reshape(-1, 3)).view(B, -1, 3, 3)
    eye = torch.eye(3, dtype=pose.dtype, device=pose.device)
    offsets = ((rot[:, 1:] - eye).reshape(B, -1) @ model.posedirs).view(B, -1, 3)
    v_posed = v_shaped + offsets
    # World rotation and translation of each joint's frame, level by level down the tree.
    rel = joints.clone()
    rel[:, 1:] = joints[:, 1:] - joints[:, model.parents[1:]]
    R_all = torch.empty_like(rot)
    t_all = torch.empty_like(joints)
    R_all[:, 0], t_all[:, 0] = rot[:, 0], rel[:, 0]
    for ids in model.levels:
        par = model.parents[ids]
        R_all[:, ids] = R_all[:, par] @ rot[:, ids]
        t_all[:, ids] = (R_all[:, par] @ rel[:, ids, :, None])[..., 0] + t_all[:, par]
    # The transform that takes a rest point to its posed place: x -> R x + (t - R j).
    shift = t_all - (R_all @ joints[..., None])[..., 0]
    A = torch.cat([R_all, shift[..., None]], -1).reshape(B, -1, 12)  # (B, 16, 12)
    T = (model.weights @ A).view(B, -1, 3, 4)  # (B, V, 3, 4)
    return (T[..., :3] @ v_posed[..., None])[..., 0] + T[..., 3] + trans[:, None]
