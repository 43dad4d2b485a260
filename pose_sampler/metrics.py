"""Per-pose quality figures, measured with exact geometry (never the optimization's proxy).

All returned arrays are (N,) numpy. Keys:
  penetration_mm           deepest vertex of either hand inside the other hand's wrist-closed surface, mm
  penetration_vertices     vertices (both hands) inside the other hand
  anatomy_violation_deg    worst excess over the joint limits or the ring/pinky coupling of handmodel.anatomy,
                           degrees, both hands
  coupling_violation_deg   the coupling rule's share of it, degrees
  contact_pairs            vertices of either hand within `contact_mm` of the other hand's nearest vertex
  surface_gap_mm           the smallest distance from a vertex of either hand to the other hand's surface, mm
                           (0 where they penetrate)
  contact_vertices         the smaller of the two hands' counts of vertices within 2 mm of the other's surface
  intersecting_triangles   pairs of triangles (one per hand) that cross each other (RenderIH keeps <= 75)
  reach_mm                 worst arm reach violation of the two wrists in the pose's body frame, mm
  forearm_depth_mm         deepest vertex of either hand inside the other hand's forearm capsule, mm
  one_body                 both arms reach and neither forearm passes through the other hand (1 mm tolerance)
"""

import numpy as np
import torch

from handmodel.anatomy import anatomy_violation_deg, coupling_violation_deg
from handmodel.joints import HANDS
from pose_sampler import one_body
from pose_sampler.penetration import closest_distance, nearest_vertex_both, penetration_depth

CONTACT_SURFACE_MM = 2.0
ONE_BODY_TOLERANCE_MM = 1.0


@torch.no_grad()
def pose_metrics(geom, params: dict, body_to_world, models, stored: dict, contact_mm: float = 3.0, chunk=64):
    """params: per hand {'root' (N,3), 'angles' (N,15,3), 'shape' (N,10), 'trans' (N,3)} tensors on geom's device;
    body_to_world (N, 4, 4); stored: the same poses as the file's numpy {'pose', 'shape', 'trans'} per hand.

    Evaluated `chunk` poses at a time to bound memory.
    """
    n = len(params["right"]["angles"])
    keys = ("penetration_mm", "penetration_vertices", "contact_pairs", "surface_gap_mm", "contact_vertices",
            "intersecting_triangles")  # fmt: skip
    out = {k: [] for k in keys}
    verts_all = {h: [] for h in HANDS}
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        v = {h: geom.verts(h, *(params[h][k][sl] for k in ("root", "angles", "shape", "trans"))) for h in HANDS}
        deepest, inside, contacts = 0.0, 0, 0
        nearest = dict(zip(HANDS, nearest_vertex_both(v["right"], v["left"])))
        gap = np.full(len(v["right"]), np.inf)
        within = []
        for a, b in (("right", "left"), ("left", "right")):
            idx, nn_dist = nearest[a]
            depth = penetration_depth(v[a], v[b], geom.topo[b])
            deepest = np.maximum(deepest, depth.amax(1).cpu().double().numpy())
            inside = inside + (depth > 0).sum(1).cpu().numpy()
            contacts = contacts + (nn_dist <= contact_mm / 1000).sum(1).cpu().numpy()
            dist = surface_distance(
                v[a], v[b], geom.topo_open[b], geom.face_reach, idx, nn_dist, CONTACT_SURFACE_MM / 1000
            )
            dist = torch.where(depth > 0, torch.zeros_like(dist), dist)
            gap = np.minimum(gap, dist.amin(1).cpu().double().numpy())
            within.append((dist <= CONTACT_SURFACE_MM / 1000).sum(1).cpu().numpy())
        out["penetration_mm"].append(1000.0 * deepest)
        out["penetration_vertices"].append(inside.astype(np.int64))
        out["contact_pairs"].append(contacts.astype(np.int64))
        out["surface_gap_mm"].append(1000.0 * gap)
        out["contact_vertices"].append(np.minimum(*within).astype(np.int64))
        near = (nearest["right"][1], nearest["left"][1])
        out["intersecting_triangles"].append(intersecting_triangle_pairs(v["right"], v["left"], geom, near))
        for h in HANDS:
            verts_all[h].append(v[h].cpu().double().numpy())
    res = {k: np.concatenate(x) for k, x in out.items()}
    angles = {h: params[h]["angles"].cpu().double().numpy() for h in HANDS}
    res["anatomy_violation_deg"] = np.maximum(*(anatomy_violation_deg(angles[h]) for h in HANDS))
    res["coupling_violation_deg"] = np.maximum(*(coupling_violation_deg(angles[h]) for h in HANDS))
    body = np.asarray(body_to_world.cpu().double().numpy() if hasattr(body_to_world, "cpu") else body_to_world)
    res["reach_mm"] = 1000.0 * one_body.reach_m(models, stored, body)
    verts = {h: np.concatenate(verts_all[h]) for h in HANDS}
    res["forearm_depth_mm"] = 1000.0 * one_body.forearm_depth_m(models, stored, verts)
    res["one_body"] = (res["reach_mm"] <= ONE_BODY_TOLERANCE_MM) & (res["forearm_depth_mm"] <= ONE_BODY_TOLERANCE_MM)
    return res


@torch.no_grad()
def surface_distance(points, verts, topo, face_reach, idx, nn_dist, within: float, k: int = 96) -> torch.Tensor:
    """Unsigned distance (B, P) of points (B, P, 3) to the meshes verts (B, V, 3) (topology `topo`), exact where
        it is at most
    `within` metres: only the k points nearest the other hand can be that close (a point farther than `within`
        plus the faces' reach from its nearest vertex is farther than `within` from the surface), and those get the
        certified closest-face search; the others keep their nearest-vertex distance, an upper bound."""
    dist = nn_dist.clone()
    k = min(k, points.shape[1])
    near_d, near_i = nn_dist.topk(k, dim=1, largest=False)
    cand = near_d < within + face_reach[idx.gather(1, near_i)]
    if not bool(cand.any()):
        return dist
    pts = points.gather(1, near_i[..., None].expand(-1, -1, 3))
    exact = closest_distance(pts, verts, topo)[1]
    dist.scatter_(1, near_i, torch.where(cand, torch.minimum(exact, near_d), near_d))
    return dist


@torch.no_grad()
def intersecting_triangle_pairs(vr: torch.Tensor, vl: torch.Tensor, geom, nearest=None) -> np.ndarray:
    """Pairs (right face, left face) of the open hand meshes that cross each other, per pose (B,): a pair
    crosses when an edge of one passes through the other (Moller's test, edge by edge). Broad phase: faces with a
    vertex within an edge length of the other hand, then pairs whose bounding spheres overlap. `nearest`: the
    distances (B, V) from each right and each left vertex to the other hand's nearest vertex, when the caller has
    them (`nearest_vertex_both`)."""
    (_, d_r), (_, d_l) = nearest_vertex_both(vr, vl) if nearest is None else ((None, nearest[0]), (None, nearest[1]))
    near_m = geom.max_edge
    faces = geom.topo_open["right"].faces  # the same vertex triples on both hands
    counts = np.zeros(len(vr), dtype=np.int64)
    for b in range(len(vr)):
        fr = (d_r[b][faces] < near_m).any(1).nonzero(as_tuple=True)[0]
        fl = (d_l[b][faces] < near_m).any(1).nonzero(as_tuple=True)[0]
        if len(fr) == 0 or len(fl) == 0:
            continue
        tr, tl = vr[b][faces[fr]], vl[b][faces[fl]]  # (Fr, 3, 3), (Fl, 3, 3)
        cr, cl = tr.mean(1), tl.mean(1)
        rr = (tr - cr[:, None]).norm(dim=-1).amax(1)
        rl = (tl - cl[:, None]).norm(dim=-1).amax(1)
        i, j = (torch.cdist(cr, cl) <= rr[:, None] + rl[None]).nonzero(as_tuple=True)
        if len(i):
            counts[b] = int((_edges_cross(tr[i], tl[j]) | _edges_cross(tl[j], tr[i])).sum())
    return counts


def _edges_cross(ta: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
    """(P,) bool: some edge of triangle ta[p] (P, 3, 3) passes through triangle tb[p] (P, 3, 3)."""
    e1 = tb[:, 1] - tb[:, 0]
    e2 = tb[:, 2] - tb[:, 0]
    out = torch.zeros(len(ta), dtype=torch.bool, device=ta.device)
    for k in range(3):
        p0, p1 = ta[:, k], ta[:, (k + 1) % 3]
        d = p1 - p0
        pvec = torch.cross(d, e2, dim=-1)
        det = (e1 * pvec).sum(-1)
        ok = det.abs() > 1e-20
        inv = 1.0 / torch.where(ok, det, torch.ones_like(det))
        s = p0 - tb[:, 0]
        u = (s * pvec).sum(-1) * inv
        q = torch.cross(s, e1, dim=-1)
        v = (q * d).sum(-1) * inv
        t = (q * e2).sum(-1) * inv
        out |= ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)
    return out
