"""Signed distance from points to a hand's wrist-closed surface, batched torch on CPU or CUDA.

Queries:

* `local_signed_distance` (the optimization loop, differentiable in the points and the mesh): each point's nearest
  vertex of the other hand (a no-grad batched-matmul argmin, refreshed every few steps), then the closest of the
  ~10 faces around it (searched without autograd, the winner redone with it), signed by the angle-weighted
  pseudo-normal of the closest feature (face, edge or vertex; Baerentzen and Aanaes 2005). Only points within
  reach of the other hand are queried (broad phase). That is B x P x V multiply-adds plus M x 10 point-triangle
  tests per step, against B x P x F tests for a dense query; it is exact when the closest face touches the
  nearest vertex, which holds near the surface, where the loss acts. Pseudo-normal signs are wrong where the skin
  folds through itself (the stand-in's thumb, bent knuckles); faces that fold at rest are flagged `unsure` and
  their points get no loss.
* The loop's cheaper variant: `local_closest_faces` (that search alone, no autograd, every few steps) and
  `signed_distance_to_faces` (one point-triangle test per point on the face found, each step).
* `penetration_depth` (the reported metrics) and `signed_distance` (tests, benchmark): exact, with libigl's
  winding-number sign, computed as a signed count of ray crossings (`inside_mesh`, the same integer for a closed
  mesh, several times cheaper than the solid-angle sum `winding_number`). Broad phase: bounding box; only points
  inside pay for the certified closest-face search (faces ranked by centroid distance minus circumradius; the
  best of the first k is exact when it beats the (k+1)-th bound, else every face is tried).

The alternatives for the loop were a per-bone capsule proxy or a skinned SDF grid in the rest frame: cheaper per
query, but the palm is a slab rather than a capsule, a grid is built for one shape, and both leave millimetres of
error that would have to be undone after optimization; the local query follows the real surface, shape and
pose-corrective offsets included. The figures are in benchmarks/bench_sampler.py.

MANO's mesh is open at the wrist; `close_boundary` caps each boundary loop with a zig-zag triangle strip over the
loop's own vertices (no new vertices, small valences), so the surface encloses a volume ("closed at the wrist").
"""

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from handmodel.geometry import boundary_loops


def close_boundary(faces: np.ndarray) -> np.ndarray:
    """Faces (F, 3) -> faces (F + sum(len(loop) - 2), 3) with every boundary loop capped.

    The cap runs against the loop's direction so its orientation matches the rest of the mesh; a zig-zag strip
    (alternating from both ends of the loop) keeps the triangles well shaped on a roughly convex wrist loop.
    """
    caps = [np.asarray(faces, dtype=np.int64)]
    for loop in boundary_loops(np.asarray(faces)):
        poly = loop[::-1]
        lo, hi, tris, left = 0, len(poly) - 1, [], True
        while hi - lo >= 2:
            if left:
                tris.append((lo, lo + 1, hi))
                lo += 1
            else:
                tris.append((lo, hi - 1, hi))
                hi -= 1
            left = not left
        caps.append(poly[np.array(tris, dtype=np.int64)])
    return np.concatenate(caps)


def oriented_outward(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces of a closed mesh, flipped if needed so the enclosed volume is positive (normals point out)."""
    a, b, c = (verts[faces[:, k]] for k in range(3))
    volume = np.einsum("fi,fi->", a, np.cross(b, c)) / 6.0
    return faces if volume > 0 else faces[:, [0, 2, 1]]


@dataclass
class MeshTopology:
    """What the queries need about one closed mesh's connectivity, as tensors on one device.

    faces (F, 3) long; edge_face (F, 3) long: the face across the edge opposite corner k;
    vertex_faces (V, K) long: faces around each vertex, padded by repeating the first;
    unsure (F,) bool: faces where the pseudo-normal sign cannot be trusted (see `unsure_faces`).
    """

    faces: torch.Tensor
    edge_face: torch.Tensor
    vertex_faces: torch.Tensor
    unsure: torch.Tensor

    @classmethod
    def build(cls, faces: np.ndarray, n_verts: int, rest_verts: np.ndarray, device="cpu", signs=True) -> "MeshTopology":
        """From faces (F, 3); `signs=False` skips the fold test (`unsure` all False) for queries that never use a
        sign (unsigned distances, crossings)."""
        faces = np.asarray(faces, dtype=np.int64)
        owner = {}
        for f, tri in enumerate(faces):
            for k in range(3):
                owner[(int(tri[(k + 1) % 3]), int(tri[(k + 2) % 3]))] = f
        edge_face = np.array(
            [
                [owner.get((int(tri[(k + 2) % 3]), int(tri[(k + 1) % 3])), f) for k in range(3)]
                for f, tri in enumerate(faces)
            ]
        )
        around = [[] for _ in range(n_verts)]
        for f, tri in enumerate(faces):
            for v in tri:
                around[v].append(f)
        width = max(len(a) for a in around)
        vertex_faces = np.array([(a + a[:1] * width)[:width] if a else [0] * width for a in around])
        t = lambda a: torch.as_tensor(a, dtype=torch.long, device=device)  # noqa: E731
        unsure = cached_unsure_faces(rest_verts, faces) if signs else np.zeros(len(faces), dtype=bool)
        return cls(t(faces), t(edge_face), t(vertex_faces), torch.as_tensor(unsure, device=device))


FOLD_PROBE_M = 0.001  # `unsure_faces` tests a point this far in front of each face


def cached_unsure_faces(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """`unsure_faces` of a rest mesh, kept in the cache folder by the mesh's content: the winding numbers take
    about half a second per hand, at every start of every command that builds the sampler's geometry."""
    from handmodel.atomic import atomic_path
    from handmodel.models import cache_root

    key = hashlib.sha256(np.ascontiguousarray(verts, dtype=np.float64).tobytes())
    key.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    key.update(f"unsure_faces v1, probe {FOLD_PROBE_M} m".encode())
    path = cache_root() / "unsure-faces" / f"{key.hexdigest()[:16]}.npy"
    try:
        cached = np.load(path)
        if cached.dtype == bool and cached.shape == (len(faces),):
            return cached
    except (OSError, ValueError):  # none yet, or unreadable: computed again below
        pass
    unsure = unsure_faces(verts, faces)
    try:
        with atomic_path(path) as tmp:
            np.save(tmp, unsure)
    except OSError:  # a read-only cache folder costs the half second again next time, nothing else
        pass
    return unsure


@torch.no_grad()
def unsure_faces(verts: np.ndarray, faces: np.ndarray, probe: float = FOLD_PROBE_M) -> np.ndarray:
    """Faces (F,) bool around which the skin folds through itself in the rest mesh verts (V, 3).

    A face is folded when a point just in front of it (along its normal) has winding number 1, i.e. it faces into
    the volume; the flag is spread to the faces sharing a vertex with it. Near such faces the closest feature's
    pseudo-normal can point the wrong way, so the loop gives their points no loss.
    """
    v = torch.as_tensor(verts, dtype=torch.float64)
    f = torch.as_tensor(faces)
    tri = v[f]
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-20)
    folded = (winding_number(tri.mean(1) + probe * n, v, f) > 0.5).numpy()
    touched = np.zeros(len(verts), dtype=bool)
    touched[faces[folded].ravel()] = True
    return touched[faces].any(1)


def face_and_vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit face normals (B, F, 3) and angle-weighted unit vertex pseudo-normals (B, V, 3) of verts (B, V, 3)."""
    tri = verts[:, faces]  # (B, F, 3, 3)
    fn = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
    fn = fn / fn.norm(dim=-1, keepdim=True).clamp_min(1e-20)
    vn = torch.zeros_like(verts)
    for k in range(3):
        e1 = tri[:, :, (k + 1) % 3] - tri[:, :, k]
        e2 = tri[:, :, (k + 2) % 3] - tri[:, :, k]
        cos = (e1 * e2).sum(-1) / (e1.norm(dim=-1) * e2.norm(dim=-1)).clamp_min(1e-20)
        angle = torch.acos(cos.clamp(-1.0, 1.0))
        vn = vn.index_add(1, faces[:, k], fn * angle[..., None])
    return fn, vn / vn.norm(dim=-1, keepdim=True).clamp_min(1e-20)


def closest_points(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor):
    """Closest point on triangles (a, b, c) to p, all (..., 3). Returns (point (..., 3), feature (...,) long).

    Feature: 0 face interior, 1/2/3 corner a/b/c, 4/5/6 edge bc/ca/ab (the edge opposite corner 0/1/2).
    Ericson's region tests (Real-Time Collision Detection, 5.1.5), written with `where` so it batches.
    """
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp = p - b
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    cp = p - c
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    tiny = 1e-30
    denom = (va + vb + vc).clamp_min(tiny)
    v, w = vb / denom, vc / denom  # interior
    feature = torch.zeros_like(d1, dtype=torch.long)
    # Later assignments take priority, so the tests run from the weakest condition to the strongest.
    on_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6)).clamp_min(tiny)
    v, w = torch.where(on_bc, 1 - t_bc, v), torch.where(on_bc, t_bc, w)
    feature = torch.where(on_bc, 4, feature)
    on_ca = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    t_ca = d2 / (d2 - d6).clamp_min(tiny)
    v, w = torch.where(on_ca, 0.0, v), torch.where(on_ca, t_ca, w)
    feature = torch.where(on_ca, 5, feature)
    at_c = (d6 >= 0) & (d5 <= d6)
    v, w = torch.where(at_c, 0.0, v), torch.where(at_c, 1.0, w)
    feature = torch.where(at_c, 3, feature)
    on_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    t_ab = d1 / (d1 - d3).clamp_min(tiny)
    v, w = torch.where(on_ab, t_ab, v), torch.where(on_ab, 0.0, w)
    feature = torch.where(on_ab, 6, feature)
    at_b = (d3 >= 0) & (d4 <= d3)
    v, w = torch.where(at_b, 1.0, v), torch.where(at_b, 0.0, w)
    feature = torch.where(at_b, 2, feature)
    at_a = (d1 <= 0) & (d2 <= 0)
    v, w = torch.where(at_a, 0.0, v), torch.where(at_a, 0.0, w)
    feature = torch.where(at_a, 1, feature)
    return a + ab * v[..., None] + ac * w[..., None], feature


def _closest_on_candidates(points, rows_b, verts, topo: MeshTopology, fn, vn, cand, grad: bool):
    """Closest of the candidate faces cand (M, K) for points (M, 3), each on mesh rows_b (M,) of verts (B, V, 3).

    Returns (pseudo-normal signed distance (M,), distance (M,), closest face (M,), the pseudo-normal of the closest
    feature (M, 3), unnormalised, which gives the sign); fn (B, F, 3), vn (B, V, 3) are the normals. With grad,
    the search runs without autograd and only the winning face is redone with it, so the backward pass costs one
    point-triangle test per point instead of K.
    """
    tri_v = topo.faces[cand]  # (M, K, 3)
    bi = rows_b[:, None]
    x = points[:, None, :]
    with torch.no_grad():
        cp, feature = closest_points(x, *(verts[bi, tri_v[..., i]] for i in range(3)))
        d2 = ((x - cp) ** 2).sum(-1)  # (M, K)
        best = d2.argmin(-1)
        ar = torch.arange(len(points), device=points.device)
        face, feat, cpb = cand[ar, best], feature[ar, best], cp[ar, best]
    if grad:
        tri = topo.faces[face]  # (M, 3)
        cpb, _ = closest_points(points, *(verts[rows_b, tri[:, i]] for i in range(3)))
        d2_best = ((points - cpb) ** 2).sum(-1)
    else:
        d2_best = d2[ar, best]
    with torch.no_grad():
        n_face = fn[rows_b, face]
        n_vert = vn[rows_b, topo.faces[face, (feat - 1).clamp(0, 2)]]
        n_edge = n_face + fn[rows_b, topo.edge_face[face, (feat - 4).clamp(0, 2)]]
        normal = torch.where((feat == 0)[:, None], n_face, torch.where((feat <= 3)[:, None], n_vert, n_edge))
        sign = torch.where(((points - cpb) * normal).sum(-1) < 0, -1.0, 1.0).to(points.dtype)
    dist = (d2_best + (1e-14 if grad else 0.0)).sqrt()
    return sign * dist, dist, face, normal


@torch.no_grad()
def nearest_vertex(points: torch.Tensor, verts: torch.Tensor, chunk=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest vertex of each point: points (B, P, 3), verts (B, V, 3) -> (index (B, P) long, distance (B, P) m)."""
    return nearest_vertex_both(points, verts, chunk)[0]


@torch.no_grad()
def nearest_vertex_both(a: torch.Tensor, b: torch.Tensor, chunk=None) -> tuple[tuple, tuple]:
    """Nearest vertex both ways between point sets a (B, P, 3) and b (B, V, 3): ((index into b (B, P) long,
    distance (B, P) m), (index into a (B, V) long, distance (B, V) m)).

    Squared distances as |x|^2 - 2 x.v + |v|^2 (one batched matmul, shared by both directions), chunked over the
    batch; the square root is taken of the minima only. The chunk (default: 4 poses on a CPU, whose 10 MB of
    distances stay in cache for both minima, 64 on a GPU) changes the speed only: each pose is its own product.
    """
    if chunk is None:
        chunk = 4 if a.device.type == "cpu" else 64
    out = ([], [], [], [])
    for s in range(0, len(a), chunk):
        p, v = a[s : s + chunk], b[s : s + chunk]
        d2 = torch.baddbmm((v * v).sum(-1)[:, None, :], p, v.transpose(1, 2), alpha=-2.0)
        d2 += (p * p).sum(-1)[:, :, None]
        for k, m in enumerate((d2.min(dim=2), d2.min(dim=1))):
            out[2 * k].append(m.indices)
            out[2 * k + 1].append(m.values.clamp_min(0).sqrt())
    i_ab, d_ab, i_ba, d_ba = (torch.cat(t) for t in out)
    return (i_ab, d_ab), (i_ba, d_ba)


@torch.no_grad()
def nearest_vertex_within(a: torch.Tensor, b: torch.Tensor, within: float, chunk=None, groups=None) -> tuple:
    """`nearest_vertex_both` for the points that matter when only distances up to `within` (m) do: a point
    farther than `within` from every box of the other set's groups gets distance inf (index 0); the others are
    searched among the other set's points that lie within `within` of one of the own set's boxes, which holds
    every point within `within` of them, so a distance up to `within` and its index are exact and a larger one is
    only known to exceed it. groups (G, W) long: a partition of the vertices into parts that stay compact when
    posed (`vertex_groups`), one box per part; None: one box around the whole set."""
    if chunk is None:
        chunk = 4 if a.device.type == "cpu" else 64
    boxes = [_group_boxes(x, groups, within) for x in (a, b)]
    cand = [_in_any_box(a, *boxes[1]), _in_any_box(b, *boxes[0])]
    idx = [torch.zeros(x.shape[:2], dtype=torch.long, device=a.device) for x in (a, b)]
    dist = [torch.full(x.shape[:2], float("inf"), dtype=a.dtype, device=a.device) for x in (a, b)]
    for s in range(0, len(a), chunk):
        sel, pts, valid = [], [], []
        for k, (x, far) in enumerate(((a, 1e3), (b, -1e3))):
            c = cand[k][s : s + chunk]
            n = int(c.sum(1).max())
            order = torch.sort(c.to(torch.int8), dim=1, descending=True, stable=True).indices[:, :n]
            ok = c.gather(1, order)  # the candidates first, then other points as padding, moved far away
            xs = x[s : s + chunk].gather(1, order[..., None].expand(-1, -1, 3))
            sel.append(order)
            valid.append(ok)
            pts.append(torch.where(ok[..., None], xs, torch.full_like(xs, far)))
        if sel[0].shape[1] == 0 or sel[1].shape[1] == 0:
            continue
        p, v = pts
        d2 = torch.baddbmm((v * v).sum(-1)[:, None, :], p, v.transpose(1, 2), alpha=-2.0)
        d2 += (p * p).sum(-1)[:, :, None]
        for k, m in enumerate((d2.min(dim=2), d2.min(dim=1))):
            d = torch.where(valid[k], m.values.clamp_min(0).sqrt(), torch.full_like(m.values, float("inf")))
            idx[k][s : s + chunk].scatter_(1, sel[k], sel[1 - k].gather(1, m.indices))
            dist[k][s : s + chunk].scatter_(1, sel[k], d)
    return (idx[0], dist[0]), (idx[1], dist[1])


def vertex_groups(weights: np.ndarray, rest_verts: np.ndarray, palm_parts: int = 4) -> np.ndarray:
    """A partition of a hand's vertices for `nearest_vertex_within`'s boxes, as a table (G, W) of vertex ids per
    part (a short part repeats its first vertex): each finger segment (the joint that moves it most), and the
    root's region split spatially into `palm_parts` (k-means on the rest mesh, deterministic start), since one box
    around the palm and wrist would hold most of the other hand."""
    part = weights.argmax(1)
    root = np.flatnonzero(part == 0)
    pts = rest_verts[root]
    centres = pts[np.linspace(0, len(pts) - 1, palm_parts).astype(int)]
    for _ in range(20):
        label = np.linalg.norm(pts[:, None] - centres[None], axis=-1).argmin(1)
        centres = np.stack([pts[label == k].mean(0) if (label == k).any() else centres[k] for k in range(palm_parts)])
    out = part.astype(np.int64) + palm_parts
    out[root] = label
    members = [np.flatnonzero(out == g) for g in np.unique(out)]
    width = max(len(m) for m in members)
    return np.stack([np.concatenate([m, np.full(width - len(m), m[0])]) for m in members])


def _group_boxes(x: torch.Tensor, groups, grow: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row the boxes (B, G, 3) lo and hi of the vertex groups (G, W) of x (B, V, 3), grown by `grow`."""
    if groups is None:
        return x.amin(1, keepdim=True) - grow, x.amax(1, keepdim=True) + grow
    members = x[:, groups.reshape(-1)].view(len(x), *groups.shape, 3)
    return members.amin(2) - grow, members.amax(2) + grow


def _in_any_box(p: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """(B, V) whether each point of p (B, V, 3) lies in one of its row's boxes (B, G, 3)."""
    inside = None
    for k in range(3):  # an axis at a time: (B, V, G) comparisons along contiguous memory
        q = p[:, :, k, None]
        t = (q >= lo[:, None, :, k]) & (q <= hi[:, None, :, k])
        inside = t if inside is None else inside & t
    return inside.any(-1)


def local_signed_distance(points, rows_b, verts, topo: MeshTopology, normals, nearest):
    """Signed distance (M,), metres, negative inside, of points (M, 3) to the closed meshes verts (B, V, 3) they
    belong to (rows_b (M,)), searching the faces around each point's nearest vertex `nearest` (M,).

    Returns (signed distance (M,), trusted (M,) bool: the closest face is not `unsure`, so the sign holds).
    Differentiable in points and verts; normals = `face_and_vertex_normals(verts, topo.faces)` (no gradient).
    """
    fn, vn = normals
    sd, _, face, _ = _closest_on_candidates(points, rows_b, verts, topo, fn, vn, topo.vertex_faces[nearest], True)
    return sd, ~topo.unsure[face]


@torch.no_grad()
def local_closest_faces(points, rows_b, verts, topo: MeshTopology, normals, nearest):
    """`local_signed_distance`'s search alone, without autograd: (signed distance (M,), closest face (M,), the
    closest feature's pseudo-normal (M, 3)), for `signed_distance_to_faces` to follow over the next few steps."""
    fn, vn = normals
    sd, _, face, normal = _closest_on_candidates(points, rows_b, verts, topo, fn, vn, topo.vertex_faces[nearest], False)
    return sd, face, normal


def signed_distance_to_faces(points, rows_b, verts, topo: MeshTopology, face, normal) -> torch.Tensor:
    """Signed distance (M,), metres, of points (M, 3) to one given face each (M,) of the meshes verts (B, V, 3)
    (rows_b (M,)), the sign taken against a given normal (M, 3) (no gradient): the loop's per-step query between
    the searches of `local_closest_faces`. Differentiable in points and verts; one point-triangle test per point.
    """
    tri = topo.faces[face]
    cp, _ = closest_points(points, *(verts[rows_b, tri[:, i]] for i in range(3)))
    diff = points - cp
    with torch.no_grad():
        sign = torch.where((diff * normal).sum(-1) < 0, -1.0, 1.0).to(points.dtype)
    return sign * ((diff**2).sum(-1) + 1e-14).sqrt()


def winding_number(points: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Generalized winding number of points (N, 3) against one closed mesh verts (V, 3), faces (F, 3) -> (N,).

    Van Oosterom and Strackee's solid angle per triangle, summed, over 4 pi: 1 inside, 0 outside, and still right
    where the surface folds through itself (a posed hand's knuckles), where pseudo-normal signs are not.
    """
    out = []
    for s in range(0, len(points), chunk):
        r = verts[None] - points[s : s + chunk, None]  # (n, V, 3)
        length = r.norm(dim=-1)
        a, b, c = (r[:, faces[:, k]] for k in range(3))
        la, lb, lc = (length[:, faces[:, k]] for k in range(3))
        det = (a * torch.cross(b, c, dim=-1)).sum(-1)
        den = la * lb * lc + (a * b).sum(-1) * lc + (a * c).sum(-1) * lb + (b * c).sum(-1) * la
        out.append(torch.atan2(det, den).sum(-1) / (2 * math.pi))
    return torch.cat(out) if out else points.new_zeros(0)


def inside_mesh(points: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Whether points (N, 3) lie inside one closed mesh verts (V, 3), faces (F, 3) -> (N,) bool.

    The winding number of a closed mesh is the signed count of the surface crossings along any ray from the point
    (+1 where the ray leaves through a face, -1 where it enters), so it is an integer and `winding_number(...) > 0.5`
    is `crossings >= 1`. Counted along +x: each face is a 2D point-in-triangle test in the yz-plane (three edge
    functions, the same sign for a hit) and a comparison of the hit's x, about a tenth of the solid-angle sum's
    work and exact (a ray grazing an edge or vertex exactly, a set of measure zero, is the one blind spot).
    """
    tri = verts[faces]  # (F, 3, 3)
    x = tri[..., 0]
    # Outward normal's x component (twice the projected signed area): +1 leaving, -1 entering along +x.
    y, z = tri[..., 1], tri[..., 2]
    nx = (y[:, 1] - y[:, 0]) * (z[:, 2] - z[:, 0]) - (z[:, 1] - z[:, 0]) * (y[:, 2] - y[:, 0])
    step = torch.where(nx > 0, 1.0, -1.0).to(verts.dtype)
    # Edge k runs from corner k to corner k + 1. Its edge function e_k(p) = dy (pz - z0) - dz (py - y0) is computed
    # from the edge's lower vertex id to its higher one and then signed, so the two faces sharing an edge get
    # exactly opposite values, and a zero counts as positive: a ray through an edge or vertex crosses exactly one
    # of the faces there (watertight, as a rasteriser's tie rule), in float32 too.
    a_id, b_id = faces, faces.roll(-1, 1)
    flip = a_id > b_id
    lo_id, hi_id = torch.where(flip, b_id, a_id), torch.where(flip, a_id, b_id)
    y0, z0 = verts[lo_id, 1], verts[lo_id, 2]
    dy, dz = verts[hi_id, 1] - y0, verts[hi_id, 2] - z0  # (F, 3)
    sgn = torch.where(flip, -1.0, 1.0).to(verts.dtype)
    x_opp = x.roll(-2, 1)  # the corner opposite edge k, which e_k weights in the barycentric x of the hit
    xmax = x.amax(1)
    # Broad phase: a ray can only cross a face whose yz bounding box holds the ray's origin (closed bounds, so the
    # tie rule's zeros on the box's edge stay in) and that reaches beyond the origin along +x; the edge functions
    # are evaluated for those (point, face) pairs only.
    ymin, ymax, zmin, zmax = y.amin(1), y.amax(1), z.amin(1), z.amax(1)
    out = []
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk]
        py, pz, px = p[:, 1, None], p[:, 2, None], p[:, 0, None]
        box = (py >= ymin) & (py <= ymax) & (pz >= zmin) & (pz <= zmax) & (xmax > px)  # (n, F)
        i, f = box.nonzero(as_tuple=True)
        qx, qy, qz = p[i, 0, None], p[i, 1, None], p[i, 2, None]
        e = dy[f] * (qz - z0[f]) - dz[f] * (qy - y0[f])  # (M, 3), canonical orientation
        sg = sgn[f]
        hit = torch.where(e >= 0, sg, -sg).sum(-1).abs() > 2.5
        e = e * sg
        w = e.sum(-1)
        hit &= ((e * x_opp[f]).sum(-1) - qx[:, 0] * w) * w > 0  # the crossing lies at x > px
        count = p.new_zeros(len(p)).index_add(0, i, torch.where(hit, step[f], torch.zeros_like(step[f])))
        out.append(count > 0.5)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool, device=points.device)


@torch.no_grad()
def inside_rows(points: torch.Tensor, rows: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """`inside_mesh` for points (M, 3) each against its own mesh verts[rows] (rows (M,), verts (B, V, 3)): (M,) bool.
    The same watertight ray-crossing count, batched over the points' meshes."""
    out = torch.zeros(len(points), dtype=torch.bool, device=points.device)
    for b in rows.unique():
        sel = (rows == b).nonzero(as_tuple=True)[0]
        out[sel] = inside_mesh(points[sel], verts[b], faces)
    return out


@torch.no_grad()
def closest_distance(points: torch.Tensor, verts: torch.Tensor, topo: MeshTopology, k: int = 24, chunk: int = 16):
    """Exact closest faces of points (B, P, 3) on the meshes verts (B, V, 3): (pseudo-normal signed distance,
    distance, face) each (B, P); metres.

    Faces are ranked by a lower bound on their distance (centroid distance minus circumradius); the closest of
    the first `k` is certain when it beats the (k+1)-th bound, and the other points are redone against every face.
    """
    out = []
    fn_all, vn_all = face_and_vertex_normals(verts, topo.faces)
    F = len(topo.faces)
    k = min(k, F - 1)
    for s in range(0, len(points), chunk):
        p, v = points[s : s + chunk], verts[s : s + chunk]
        fn, vn = fn_all[s : s + chunk], vn_all[s : s + chunk]
        tri = v[:, topo.faces]  # (b, F, 3, 3)
        centre = tri.mean(2)
        radius = (tri - centre[:, :, None]).norm(dim=-1).amax(-1)  # (b, F)
        bound = torch.cdist(p, centre) - radius[:, None, :]  # (b, P, F)
        ranked = bound.topk(k + 1, dim=-1, largest=False)
        n_b, n_p = p.shape[:2]
        rows_b = torch.arange(n_b, device=p.device).repeat_interleave(n_p)
        cand = ranked.indices[..., :k].reshape(n_b * n_p, k)
        found = _closest_on_candidates(p.reshape(-1, 3), rows_b, v, topo, fn, vn, cand, False)[:3]
        sd, dist, face = (t.reshape(n_b, n_p) for t in found)
        unsure = dist > ranked.values[..., k]
        if unsure.any():
            b, i = unsure.nonzero(as_tuple=True)
            for bb in b.unique():
                rows = i[b == bb]
                all_faces = torch.arange(F, device=p.device).expand(len(rows), F)
                one = torch.full((len(rows),), int(bb), device=p.device)
                sd[bb, rows], dist[bb, rows], face[bb, rows] = _closest_on_candidates(
                    p[bb, rows], one, v, topo, fn, vn, all_faces, False
                )[:3]
        out.append((sd, dist, face))
    return tuple(torch.cat(t) for t in zip(*out))


@torch.no_grad()
def signed_distance(points: torch.Tensor, verts: torch.Tensor, topo: MeshTopology, max_depth: float = float("inf")):
    """Exact signed distance (B, P), metres, negative inside, of points (B, P, 3) to closed meshes verts (B, V, 3).

    The sign is libigl's winding-number sign, evaluated for points nearer than `max_depth` to the surface (a
    farther point is outside when no point of the mesh lies deeper than that, see `inner_radius`).
    """
    _, dist, _ = closest_distance(points, verts, topo)
    near = dist < max_depth
    sign = torch.ones_like(dist)
    for b in near.any(1).nonzero(as_tuple=True)[0]:
        rows = near[b].nonzero(as_tuple=True)[0]
        inside = inside_mesh(points[b, rows], verts[b], topo.faces)
        sign[b, rows] = torch.where(inside, -1.0, 1.0).to(dist.dtype)
    return sign * dist


@torch.no_grad()
def inner_radius(verts: np.ndarray, joints: np.ndarray, parents: np.ndarray, topo: MeshTopology) -> float:
    """How deep (m) a point can sit inside one closed rest mesh (V, 3), estimated along its bones.

    The deepest interior points of a hand lie on its skeleton (the medial axis of fingers and palm): the distance
    from points along each bone (joints (J, 3), parents (J,)) to the surface, maximised.
    """
    t = np.linspace(0.0, 1.0, 9)[:, None, None]
    child, parent = joints[1:], joints[parents[1:]]
    pts = (parent[None] * (1 - t) + child[None] * t).reshape(1, -1, 3)
    v = torch.as_tensor(verts, dtype=torch.float64, device=topo.faces.device)
    return float(closest_distance(torch.as_tensor(pts, dtype=v.dtype, device=v.device), v[None], topo)[1].max())


@torch.no_grad()
def penetration_depth(points: torch.Tensor, verts: torch.Tensor, topo: MeshTopology) -> torch.Tensor:
    """Exact depth (B, P) >= 0, metres, of points (B, P, 3) inside the closed meshes verts (B, V, 3).

    Broad phase: points outside the mesh's bounding box are outside. The rest get the exact inside test
    (`inside_mesh`, libigl's winding-number sign; the pseudo-normal sign is not used here: a posed hand's fingers
    can pass through each other, and there it is wrong), and only the points inside pay for the closest-face search.
    """
    lo, hi = verts.min(dim=1, keepdim=True).values, verts.max(dim=1, keepdim=True).values
    cand = ((points >= lo) & (points <= hi)).all(-1)
    depth = points.new_zeros(points.shape[:2])
    for b in cand.any(1).nonzero(as_tuple=True)[0]:
        rows = cand[b].nonzero(as_tuple=True)[0]
        inside = rows[inside_mesh(points[b, rows], verts[b], topo.faces)]
        if len(inside):
            depth[b, inside] = closest_distance(points[b : b + 1, inside], verts[b : b + 1], topo)[1][0]
    return depth
