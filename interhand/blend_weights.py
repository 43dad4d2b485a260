"""`interhand blend-weights`: skinning-weight grids of a processed sequence (for inverse skinning in neural
avatars).

    lbs/canonical.npz       voxel_size, padding; per hand: {hand}_grid_min (3,), {hand}_weights (X,Y,Z,16),
                            {hand}_distance (X,Y,Z) signed metres (< 0 inside), {hand}_shape_offsets (X,Y,Z,3),
                            {hand}_vertices (778,3) the canonical (flat, shaped) hand, {hand}_shape (10,)
    lbs/frames/{frame}.npz  per hand of the frame: the posed grid around its world mesh ({hand}_grid_min,
                            {hand}_weights, {hand}_distance) and {hand}_pose_offsets (X,Y,Z,3) on the canonical
                            grid: the frame's pose-corrective offsets

Grid point x of a grid over a box: grid_min + voxel_size * (i, j, k). Each grid point takes the values of the
closest point of the mesh surface (barycentric interpolation of the per-vertex values on the closest triangle),
so the weights sum to one everywhere; the distance sign comes from the generalized winding number, which copes
with the hand mesh's open wrist.
"""

import os
from pathlib import Path

import numpy as np

from handmodel.skinning import mano_forward, rodrigues
from interhand.sequence import check_sequence_hand_model, frame_file, load_npz, read_annots, save_npz

VOXEL_SIZE = 0.025  # metres
PADDING = 0.05  # metres around the mesh's bounding box
_CHUNK_PAIRS = 400_000  # point-triangle pairs per chunk (memory)


def grid_points(verts: np.ndarray, voxel: float = VOXEL_SIZE, padding: float = PADDING):
    """The grid over verts' (V,3) bounding box padded by `padding`: (grid_min (3,), points (X,Y,Z,3))."""
    lo, hi = verts.min(0) - padding, verts.max(0) + padding
    n = np.ceil((hi - lo) / voxel).astype(int) + 1
    axes = [lo[d] + voxel * np.arange(n[d]) for d in range(3)]
    return lo, np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def _closest_barycentric(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (...,3) of the point of triangle (a, b, c) closest to p; all (...,3) and
    broadcast (Ericson, Real-Time Collision Detection 5.1.5)."""

    def dot(x, y):
        return np.einsum("...k,...k->...", x, y)

    ab, ac = b - a, c - a
    d1, d2 = dot(ab, p - a), dot(ac, p - a)
    d3, d4 = dot(ab, p - b), dot(ac, p - b)
    d5, d6 = dot(ab, p - c), dot(ac, p - c)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v_in, w_in = vb / denom, vc / denom
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    one, zero = np.ones_like(d1), np.zeros_like(d1)
    bary = np.stack([1 - v_in - w_in, v_in, w_in], axis=-1)
    # Regions in reverse order of Ericson's tests, so that the first test that holds wins.
    regions = [
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), (zero, 1 - t_bc, t_bc)),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), (1 - t_ac, zero, t_ac)),
        ((d6 >= 0) & (d5 <= d6), (zero, zero, one)),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), (1 - t_ab, t_ab, zero)),
        ((d3 >= 0) & (d4 <= d3), (zero, one, zero)),
        ((d1 <= 0) & (d2 <= 0), (one, zero, zero)),
    ]
    for cond, coords in regions:
        bary = np.where(cond[..., None], np.stack(coords, axis=-1), bary)
    return np.nan_to_num(bary, nan=1.0 / 3.0)


def closest_surface_points(points: np.ndarray, verts: np.ndarray, faces: np.ndarray):
    """For points (P,3): the closest triangle of the mesh (verts (V,3), faces (F,3)), the barycentric
    coordinates (P,3) of the closest point on it, and the unsigned distance (P,) in the verts' units.

    Broad phase: the nearest vertex bounds the distance from above, so only triangles whose bounding sphere
    comes closer than that can hold the closest point.
    """
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    a, b, c = (verts[faces[:, k]] for k in range(3))
    centroid = (a + b + c) / 3
    radius = np.max([np.linalg.norm(x - centroid, axis=1) for x in (a, b, c)], axis=0)
    upper, _ = cKDTree(verts).query(points)
    chunk = max(1, _CHUNK_PAIRS // len(faces))
    face_ids, barys, dists = [], [], []
    for i in range(0, len(points), chunk):
        p = points[i : i + chunk]
        reach = np.linalg.norm(p[:, None] - centroid[None], axis=-1) - radius[None]
        pi, fi = np.nonzero(reach <= upper[i : i + chunk, None] + 1e-12)
        bary = _closest_barycentric(p[pi], a[fi], b[fi], c[fi])
        closest = bary[:, 0:1] * a[fi] + bary[:, 1:2] * b[fi] + bary[:, 2:3] * c[fi]
        d = np.linalg.norm(closest - p[pi], axis=-1)
        order = np.lexsort((d, pi))  # by point, nearest first
        first = order[np.r_[0, np.flatnonzero(np.diff(pi[order])) + 1]]
        face_ids.append(fi[first])
        barys.append(bary[first])
        dists.append(d[first])
    return np.concatenate(face_ids), np.concatenate(barys), np.concatenate(dists)


def winding_number(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Generalized winding number (P,) of the mesh at points (P,3): about +-1 inside, 0 outside
    (sum of the triangles' solid angles over 4 pi, Van Oosterom and Strackee)."""
    out = []
    chunk = max(1, _CHUNK_PAIRS // len(faces))
    for i in range(0, len(points), chunk):
        p = points[i : i + chunk, None]
        a, b, c = (verts[faces[:, k]][None] - p for k in range(3))
        la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
        num = np.einsum("...k,...k->...", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("...k,...k->...", a, b) * lc + np.einsum("...k,...k->...", a, c) * lb
               + np.einsum("...k,...k->...", b, c) * la)  # fmt: skip
        out.append(2 * np.arctan2(num, den).sum(1) / (4 * np.pi))
    return np.concatenate(out)


def interpolate(values: np.ndarray, faces: np.ndarray, face_ids: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Per-vertex values (V, ...) at surface points given by face ids (P,) and barycentric coordinates (P,3)."""
    corner = values[faces[face_ids]]  # (P, 3, ...)
    return np.einsum("pk,pk...->p...", bary, corner)


def surface_grid(verts: np.ndarray, faces: np.ndarray, values: dict[str, np.ndarray], voxel: float = VOXEL_SIZE,
                 padding: float = PADDING) -> dict[str, np.ndarray]:  # fmt: skip
    """A grid around the mesh with, per point, the signed distance to the surface and each per-vertex array of
    `values` at the closest surface point. Returns {'grid_min', 'distance' (X,Y,Z), name: (X,Y,Z,...)} and,
    for reuse, 'face_ids' and 'bary' (X*Y*Z, ...)."""
    grid_min, pts = grid_points(verts, voxel, padding)
    shape = pts.shape[:3]
    flat = pts.reshape(-1, 3)
    face_ids, bary, dist = closest_surface_points(flat, verts, faces)
    # Outside the mesh's bounding box the winding number is 0 (exactly for a closed surface): skip those points.
    in_box = np.all((flat >= verts.min(0)) & (flat <= verts.max(0)), axis=1)
    inside = np.zeros(len(flat), bool)
    inside[in_box] = np.abs(winding_number(flat[in_box], verts, faces)) > 0.5
    out = {"grid_min": grid_min, "distance": np.where(inside, -dist, dist).reshape(shape), "face_ids": face_ids,
           "bary": bary}  # fmt: skip
    for name, v in values.items():
        out[name] = interpolate(v, faces, face_ids, bary).reshape(shape + v.shape[1:])
    return out


def pose_offsets(model, pose48: np.ndarray) -> np.ndarray:
    """Per-vertex pose-corrective offsets (V,3) of an absolute pose (48,): posedirs . (R_j - I)."""
    R = rodrigues(np.asarray(pose48).reshape(16, 3))
    return np.einsum("p,vkp->vk", (R[1:] - np.eye(3)).ravel(), model.posedirs)


def write_blend_weights(seq_dir: str | os.PathLike, models, progress: bool = True) -> dict:
    """Compute lbs/canonical.npz and lbs/frames/*.npz for a processed sequence (see module docstring).
    Returns {'hands': [...], 'frames': n, 'grid_shape': {hand: (X,Y,Z)}}."""
    from tqdm import tqdm

    seq_dir = Path(seq_dir)
    annots = read_annots(seq_dir)
    check_sequence_hand_model(seq_dir, annots, models)
    params = {f["frame"]: load_npz(frame_file(seq_dir, "params", f["frame"])) for f in annots["frames"]}
    hands = [h for h in ("right", "left") if any(f"{h}_shape" in p for p in params.values())]
    canonical, grids = {"voxel_size": np.float64(VOXEL_SIZE), "padding": np.float64(PADDING)}, {}
    for hand in hands:
        model = models[hand]
        shape = np.mean([p[f"{hand}_shape"] for p in params.values() if f"{hand}_shape" in p], axis=0)
        verts, _ = mano_forward(model, np.zeros((1, 48)), shape[None], np.zeros((1, 3)))
        shape_off = np.einsum("l,vkl->vk", shape, model.shapedirs)
        g = surface_grid(verts[0], model.faces, {"weights": model.weights, "shape_offsets": shape_off})
        grids[hand] = g
        canonical.update({f"{hand}_grid_min": g["grid_min"], f"{hand}_weights": g["weights"].astype(np.float32),
                          f"{hand}_distance": g["distance"].astype(np.float32),
                          f"{hand}_shape_offsets": g["shape_offsets"].astype(np.float32),
                          f"{hand}_vertices": verts[0], f"{hand}_shape": shape})  # fmt: skip
    (seq_dir / "lbs" / "frames").mkdir(parents=True, exist_ok=True)
    for frame in tqdm(sorted(params), desc="blend weights", unit="frame", disable=not progress):
        p, arrays = params[frame], {}
        world = load_npz(frame_file(seq_dir, "vertices", frame))
        for hand in hands:
            if f"{hand}_pose" not in p:
                continue
            model, g = models[hand], grids[hand]
            posed = surface_grid(world[hand], model.faces, {"weights": model.weights})
            offsets = interpolate(pose_offsets(model, p[f"{hand}_pose"]), model.faces, g["face_ids"], g["bary"])
            arrays[f"{hand}_grid_min"] = posed["grid_min"]
            arrays[f"{hand}_weights"] = posed["weights"].astype(np.float32)
            arrays[f"{hand}_distance"] = posed["distance"].astype(np.float32)
            arrays[f"{hand}_pose_offsets"] = offsets.reshape(g["distance"].shape + (3,)).astype(np.float32)
        save_npz(frame_file(seq_dir, "lbs/frames", frame), **arrays)
    save_npz(seq_dir / "lbs" / "canonical.npz", **canonical)
    return {"hands": hands, "frames": len(params), "grid_shape": {h: grids[h]["distance"].shape for h in hands}}
