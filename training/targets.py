"""Training targets from one annotated sample: normalised 3D, heatmaps, masks and dense maps (numpy).

The 3D targets follow IntagHand: each hand relative to its joint 9 (middle MCP), both scaled by one factor so
that the mean of their wrist-joint9 lengths is 0.095 m, and the right hand's offset from the left (`root_rel`).
Auxiliary maps are at a quarter of the network input (64x64 for 256).
"""

import cv2
import numpy as np

from handmodel.joints import REFERENCE_BONE_M, ROOT_JOINT, root_bone_length

HEATMAP_SIGMA = 2.0  # pixels of the heatmap


def two_hand_targets(joints: dict, verts: dict) -> dict:
    """Both hands' 3D targets by IntagHand's rule, from camera-space joints[hand] (21,3) and verts[hand] (V,3), m.

    One scale for both hands, scale = 0.095 / mean(wrist-joint9 length of the two hands), so their relative size
    and position survive; each hand relative to its own joint 9; `root_rel` = (right joint 9 - left joint 9) *
    scale, the offset the loss adds to the right hand's target. Returns {hand: {"joints", "verts", "bone" (m)},
    "scale" (normalised units per metre), "root_rel" (3,)}.
    """
    bones = {h: float(root_bone_length(joints[h])) for h in joints}
    scale = REFERENCE_BONE_M / max(np.mean(list(bones.values())), 1e-9)
    out = {
        h: {
            "joints": (joints[h] - joints[h][ROOT_JOINT]) * scale,
            "verts": (verts[h] - joints[h][ROOT_JOINT]) * scale,
            "bone": bones[h],
        }
        for h in joints
    }
    out["scale"] = scale
    out["root_rel"] = (joints["right"][ROOT_JOINT] - joints["left"][ROOT_JOINT]) * scale
    return out


def apply_affine(points: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Points (..., 2) through a (2,3) affine."""
    return points @ A[:, :2].T + A[:, 2]


def pixels_to_ndc(points, size: int):
    """Pixel coordinates (..., 2) of a size x size network input -> the network's [-1, 1] coordinates: the image's
    edges at -1 and 1 and its centre, (size - 1) / 2 with pixel centres at integers (handmodel/camera.py), at 0.
    numpy arrays or torch tensors."""
    return (points - (size - 1) / 2) / (size / 2)


def ndc_to_pixels(ndc, size: int):
    """The inverse of `pixels_to_ndc`: [-1, 1] coordinates (..., 2) -> pixels of the size x size input."""
    return ndc * (size / 2) + (size - 1) / 2


def rescale_affine(A: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Affine into a src x src image -> the same into dst x dst (pixel centres at integers, as cv2 uses)."""
    k = dst / src
    S = np.array([[k, 0.0, 0.5 * k - 0.5], [0.0, k, 0.5 * k - 0.5], [0.0, 0.0, 1.0]])
    return (S @ np.vstack([A, [0.0, 0.0, 1.0]]))[:2]


def gaussian_heatmaps(points: np.ndarray, size: int, sigma: float = HEATMAP_SIGMA) -> np.ndarray:
    """Points (J,2) in heatmap pixels -> (J, size, size) Gaussians with peak 1; zero for points outside."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    px = points[:, 0, None, None].astype(np.float32)
    py = points[:, 1, None, None].astype(np.float32)
    hm = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
    inside = (points[:, 0] > -0.5) & (points[:, 0] < size - 0.5) & (points[:, 1] > -0.5) & (points[:, 1] < size - 0.5)
    return hm * inside[:, None, None].astype(np.float32)


def gaussian_heatmaps_torch(points, size: int, sigma: float = HEATMAP_SIGMA):
    """Batched `gaussian_heatmaps` on any device: points (B,J,2) heatmap pixels -> (B,J,size,size)."""
    import torch

    r = torch.arange(size, device=points.device, dtype=torch.float32)
    px, py = points[..., 0, None].float(), points[..., 1, None].float()
    gx = torch.exp(-((r - px) ** 2) / (2 * sigma**2))  # (B,J,size): separable in x and y
    gy = torch.exp(-((r - py) ** 2) / (2 * sigma**2))
    inside = (px > -0.5) & (px < size - 0.5) & (py > -0.5) & (py < size - 0.5)
    return gy[..., :, None] * gx[..., None, :] * inside[..., None].float()


def rasterize_colors(verts2d: np.ndarray, verts3d: np.ndarray, faces: np.ndarray, colors: np.ndarray, size: int):
    """Painter's-algorithm rendering of a closed mesh's per-vertex colours: (size, size, 3) float32, 0 outside.

    verts2d (V,2) pixels, verts3d (V,3) camera metres (camera at the origin), faces (F,3), colors (V,3) in [0,1].
    Faces turned away from the camera are hidden behind the front of a closed mesh and are culled (half the
    work); the rest are drawn far to near with their mean vertex colour, which at 64x64 is what a z-buffer shows.
    """
    out = np.zeros((size, size, 3), dtype=np.float32)
    tri3 = verts3d[faces]
    normals = np.cross(tri3[:, 1] - tri3[:, 0], tri3[:, 2] - tri3[:, 0])
    # Outward normals have a positive signed volume; flip the test for meshes wound the other way.
    outward = np.sign(np.einsum("fi,fi->", normals, tri3[:, 0])) or 1.0
    front = np.flatnonzero(outward * np.einsum("fi,fi->f", normals, tri3[:, 0]) < 0)
    order = front[np.argsort(-tri3[front, :, 2].mean(1), kind="stable")]
    tri = np.round(verts2d[faces[order]] * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    face_colors = colors[faces[order]].mean(1).tolist()
    for poly, color in zip(tri, face_colors):
        cv2.fillConvexPoly(out, poly, color, lineType=cv2.LINE_8, shift=4)
    return out
