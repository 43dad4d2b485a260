"""Putting two posed hands in contact: the left hand slides along an approach direction until the surfaces touch.

`touching_shift` finds, per pose, how far to move the left hand along its approach direction so that no vertex of
either hand is inside the other's wrist-closed surface and the two surfaces are `gap_m` apart along that direction.
For a rigid slide, a vertex of the left hand meets the right surface where the line through it along the slide
crosses a right face (and a right vertex meets the left surface where its line along the opposite direction
crosses a left face), so the largest such line parameter over all vertices is where the hands first touch when
they come together from far away. Vertex-face contacts are exact this way; an edge can cross an edge by a fraction
of a millimetre at most. The line-triangle tests are three dot products per (vertex, face) pair, i.e. one batched
matmul per pose. Batched torch, the same code on CPU and CUDA; no gradient.
"""

import torch

from pose_sampler.penetration import MeshTopology, nearest_vertex_both


def line_crossings(origin: torch.Tensor, direction: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """Line parameters of crossings: lines origin (B, P, 3) + t direction (B, 3) against triangles tri (B, F, 3, 3)
    -> t (B, P, F), NaN where the line misses the triangle.

    Moller and Trumbore's barycentric test with the sign of t left free; for one direction per pose, u, v and t
    are each a dot product of (origin - corner 0) with a per-face vector, so all pairs come from one matmul.
    """
    e1 = tri[:, :, 1] - tri[:, :, 0]  # (B, F, 3)
    e2 = tri[:, :, 2] - tri[:, :, 0]
    d = direction[:, None, :].expand_as(e1)
    pvec = torch.cross(d, e2, dim=-1)
    det = (e1 * pvec).sum(-1)  # (B, F)
    ok = det.abs() > 1e-18
    inv = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), torch.zeros_like(det))
    w = torch.stack([pvec, torch.cross(e1, d, dim=-1), torch.cross(e1, e2, dim=-1)], 1) * inv[:, None, :, None]
    c = (w * tri[:, None, :, 0]).sum(-1)  # (B, 3, F): the corner-0 part of u, v and t
    B, F = len(tri), tri.shape[1]
    uvt = origin @ w.permute(0, 3, 1, 2).reshape(B, 3, 3 * F) - c.reshape(B, 1, 3 * F)  # (B, P, [u | v | t])
    u, v, t = uvt[..., :F], uvt[..., F : 2 * F], uvt[..., 2 * F :]
    miss = ~ok[:, None] | (u < 0) | (v < 0) | (u + v > 1)
    return t.masked_fill(miss, float("nan"))


# The vertices of each hand nearest the other whose crossings give `first_contact` its lower bound.
BOUND_VERTICES = 32
SLAB_SLACK_M = 1e-6  # `_slab` keeps pairs this close below the bound: its dot products round unlike the crossings


@torch.no_grad()
def first_contact(vr, vl, approach, topo_r: MeshTopology, topo_l: MeshTopology, chunk: int = 4, nearest=None):
    """The shift (B,) along approach (B, 3, unit) at which the left hand (vertices vl (B, V, 3) + shift * approach)
    first touches the right (vr) when it comes in from far away; NaN where no line crosses (the hands pass by).

    With `nearest` = k, only the k vertices of each hand nearest the other hand are tested: for hands already
    close (a perturbed copy of a touching pair) the last crossing comes from them. Without, every vertex is, and
    the answer is exact; on a CPU the crossings of the `BOUND_VERTICES` nearest give a lower bound first and the
    pairs that cannot beat it are left out (`_slab`, pose by pose), while a GPU tests all pairs in batches."""
    if nearest is None and vr.device.type == "cpu":
        bound = _crossings(vr, vl, approach, topo_r, topo_l, chunk, min(BOUND_VERTICES, vr.shape[1]))
        return _pruned_crossings(vr, vl, approach, topo_r, topo_l, bound)
    return _crossings(vr, vl, approach, topo_r, topo_l, chunk, nearest)


def _passes(pts_r, pts_l, vr, vl, topo_r: MeshTopology, topo_l: MeshTopology):
    """Left points along +approach against the right faces; right points along -approach against the left (a
    right vertex p meets the left surface where p - shift * approach lies on it): (points, the other mesh's
    vertices, its topology, sign of the approach) per pass."""
    return ((pts_l, vr, topo_r, 1.0), (pts_r, vl, topo_l, -1.0))


def _crossings(vr, vl, approach, topo_r, topo_l, chunk: int, nearest):
    """The largest crossing per pose (B,), NaN where none, of all vertices or of the `nearest` of each hand."""
    pts_r, pts_l = vr, vl
    if nearest is not None:
        k = min(int(nearest), vr.shape[1])
        (_, d_r), (_, d_l) = nearest_vertex_both(vr, vl)
        pts_r = vr.gather(1, d_r.topk(k, dim=1, largest=False).indices[..., None].expand(-1, -1, 3))
        pts_l = vl.gather(1, d_l.topk(k, dim=1, largest=False).indices[..., None].expand(-1, -1, 3))
    out = []
    for s in range(0, len(vr), chunk):
        sl = slice(s, s + chunk)
        a = approach[sl]
        best = torch.full((len(a),), -float("inf"), dtype=vr.dtype, device=vr.device)
        for p, other, topo, sign in _passes(pts_r[sl], pts_l[sl], vr[sl], vl[sl], topo_r, topo_l):
            t = line_crossings(p, sign * a, other[:, topo.faces])
            best = torch.maximum(best, t.nan_to_num_(nan=-float("inf")).flatten(1).amax(1))
        out.append(torch.where(torch.isinf(best), torch.full_like(best, float("nan")), best))
    return torch.cat(out)


def _slab(pts, other, faces, direction, bound):
    """Which points (P,) and faces (F,) can give a crossing beyond `bound`: a line through p along the direction
    meets a face at t = q . d - p . d for a point q of it, so t is at most (the face's highest corner along d) -
    p . d; pairs whose bound is below `bound` cannot raise the maximum."""
    along_p = pts @ direction
    along_f = (other @ direction)[faces].amax(1)
    bound = bound - SLAB_SLACK_M
    keep_p = along_p <= along_f.max() - bound
    keep_f = along_f >= along_p[keep_p].amin() + bound if bool(keep_p.any()) else torch.zeros_like(along_f, dtype=bool)
    return keep_p, keep_f


def _pruned_crossings(vr, vl, approach, topo_r, topo_l, bound):
    """Every vertex's crossings, pose by pose, without the pairs that cannot beat `bound` (B,) (NaN: none)."""
    out = torch.full((len(vr),), float("nan"), dtype=vr.dtype, device=vr.device)
    for i in range(len(vr)):
        low = float(bound[i]) if not torch.isnan(bound[i]) else -float("inf")
        best = low
        for p, other, topo, sign in _passes(vr[i], vl[i], vr[i], vl[i], topo_r, topo_l):
            d = sign * approach[i]
            keep_p, keep_f = _slab(p, other, topo.faces, d, low)
            if not bool(keep_f.any()):
                continue
            t = line_crossings(p[keep_p][None], d[None], other[topo.faces[keep_f]][None])
            best = max(best, float(t.nan_to_num(nan=-float("inf")).amax()))  # keep_f implies a point kept
        if best > -float("inf"):
            out[i] = best
    return out


@torch.no_grad()
def touching_shift(vr, vl, approach, topo_r: MeshTopology, topo_l: MeshTopology, gap_m: float = 0.0005, nearest=None):
    """Shifts (B,) metres along approach (B, 3, unit) that put the left hand's vertices vl (B, V, 3) just off the
    right's vr (B, V, 3): no vertex inside either closed surface, `gap_m` apart along the approach at the first
    contact. The left hand is moved by `shift * approach`; hands whose lines never cross stay where they are.
    `nearest`: see `first_contact`."""
    contact = first_contact(vr, vl, approach, topo_r, topo_l, nearest=nearest)
    return torch.where(torch.isnan(contact), torch.zeros_like(contact), contact + gap_m)
