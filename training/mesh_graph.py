"""The decoder's fixed geometry, computed from the active hand model's mesh and cached (nothing is downloaded).

Per hand: 252 vertices picked by geodesic farthest-point sampling, a graph over them (two picked vertices are
linked when their geodesic Voronoi regions touch), two halvings by greedy matching (252 -> 126 -> 63 nodes), the
fixed 252 -> 778 upsampling (inverse geodesic-distance weights over the 3 nearest picked vertices), the 63-node
positional code, the 21-joint regressor, and per-vertex colours for the dense maps.
Cached beside the hand model's cache (assets/cache/ or $HANDKIT_CACHE) as one .npz per hand-model hash.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from handmodel.atomic import atomic_path
from handmodel.joints import HANDS, MANO16_TIPS_TO_21, REFERENCE_BONE_M, ROOT_JOINT, root_bone_length
from handmodel.models import cache_root

LEVEL_SIZES = (63, 126, 252)
GRAPH_VERSION = 2


@dataclass
class HandGraph:
    """One hand's fixed decoder geometry (numpy). Level 0 is the coarsest (63 nodes), level 2 has 252."""

    adjacency: list  # per level, (n, n) float 0/1 symmetric, no self loops
    children: list  # children[l] (n_l, 2): the two level-(l+1) nodes each level-l node stands for (l = 0, 1)
    pooling: list  # per level, (n_l, 778): level-l node positions as averages of mesh vertices
    upsample: np.ndarray  # (778, 252): mesh vertices from the finest level; rows sum to 1
    positional: np.ndarray  # (63, 3): coarsest-level template positions, joint-9 root, wrist-joint9 units
    template: np.ndarray  # (778, 3): the template mesh normalised like the targets (joint-9 root, 0.095 m)
    regressor21: np.ndarray  # (21, 778): the 21 joints from the mesh vertices
    vertex_colors: np.ndarray  # (778, 3) in [0, 1]: template coordinates, for the dense maps
    faces: np.ndarray  # (F, 3) int64
    picked: np.ndarray  # (252,) vertex ids of the finest level


def mesh_adjacency(faces: np.ndarray, n_verts: int, positions: np.ndarray) -> sp.csr_matrix:
    """Symmetric sparse (V, V) matrix of edge lengths over the mesh's edges."""
    f = np.asarray(faces, dtype=np.int64)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    w = np.linalg.norm(positions[i] - positions[j], axis=1) + 1e-9
    a = sp.coo_matrix((w, (i, j)), shape=(n_verts, n_verts)).tocsr()
    a = a.maximum(a.T)
    return a


def farthest_point_sampling(graph: sp.csr_matrix, n: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic farthest-point sampling: n vertex ids and their distances to all vertices (n, V)."""
    picked = [start]
    rows = [dijkstra(graph, directed=False, indices=start)]
    nearest = rows[0].copy()
    for _ in range(n - 1):
        nxt = int(np.argmax(nearest))
        picked.append(nxt)
        rows.append(dijkstra(graph, directed=False, indices=nxt))
        nearest = np.minimum(nearest, rows[-1])
    return np.array(picked, dtype=np.int64), np.stack(rows)


def greedy_halving(adj: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Pair the nodes of a graph with an even node count: (n/2, 2) node ids.

    Nodes with the fewest neighbours pick first, each its closest unpaired neighbour; nodes left without an
    unpaired neighbour are paired with the closest leftover, so the count halves exactly.
    """
    n = len(adj)
    paired = np.zeros(n, dtype=bool)
    pairs = []
    for i in np.argsort(adj.sum(1), kind="stable"):
        if paired[i]:
            continue
        cand = np.flatnonzero((adj[i] > 0) & ~paired)
        cand = cand[cand != i]
        if len(cand):
            j = cand[np.argmin(np.linalg.norm(pos[cand] - pos[i], axis=1))]
            paired[[i, j]] = True
            pairs.append((i, j))
    left = list(np.flatnonzero(~paired))
    while left:
        i = left.pop(0)
        j = left.pop(int(np.argmin(np.linalg.norm(pos[left] - pos[i], axis=1))))
        pairs.append((i, j))
    return np.array(pairs, dtype=np.int64)


def coarsen(adj: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The graph over pairs: two pairs are linked when any of their members are."""
    n = len(pairs)
    member = np.zeros((n, len(adj)))
    member[np.arange(n)[:, None], pairs] = 1.0
    out = (member @ adj @ member.T > 0).astype(np.float64)
    np.fill_diagonal(out, 0.0)
    return out


def build_hand_graph(model) -> HandGraph:
    """Compute one hand's decoder geometry from its HandModel (v_template, faces, J_regressor, tip_ids)."""
    verts = np.asarray(model.v_template, dtype=np.float64)
    faces = np.asarray(model.faces, dtype=np.int64)
    n_verts = len(verts)
    mesh = mesh_adjacency(faces, n_verts, verts)
    if connected_components(mesh, directed=False)[0] != 1:
        raise ValueError("hand mesh is not connected")
    # Start from the vertex farthest from the centroid so the result does not depend on vertex order.
    start = int(np.argmax(np.linalg.norm(verts - verts.mean(0), axis=1)))
    picked, dist = farthest_point_sampling(mesh, LEVEL_SIZES[2], start)
    region = np.argmin(dist, axis=0)  # (V,) index into picked
    ii, jj = mesh.nonzero()
    adj252 = np.zeros((len(picked), len(picked)))
    adj252[region[ii], region[jj]] = 1.0
    np.fill_diagonal(adj252, 0.0)

    # Upsampling: inverse geodesic distance over the 3 nearest picked vertices (exact at the picked ones).
    near = np.argsort(dist, axis=0, kind="stable")[:3].T  # (V, 3)
    d = np.take_along_axis(dist.T, near, axis=1)
    w = 1.0 / np.maximum(d, 1e-9)
    w[d[:, 0] < 1e-12] = [1.0, 0.0, 0.0]
    w /= w.sum(1, keepdims=True)
    upsample = np.zeros((n_verts, len(picked)))
    np.put_along_axis(upsample, near, w, axis=1)

    pool252 = np.zeros((len(picked), n_verts))
    pool252[np.arange(len(picked)), picked] = 1.0
    pos252 = verts[picked]
    pairs126 = greedy_halving(adj252, pos252)
    adj126 = coarsen(adj252, pairs126)
    pool126 = pool252[pairs126].mean(1)
    pairs63 = greedy_halving(adj126, pool126 @ verts)
    adj63 = coarsen(adj126, pairs63)
    pool63 = pool126[pairs63].mean(1)

    tips = np.zeros((5, n_verts))
    tips[np.arange(5), np.asarray(model.tip_ids)] = 1.0
    regressor21 = np.concatenate([np.asarray(model.J_regressor, dtype=np.float64), tips])[MANO16_TIPS_TO_21]
    joints = regressor21 @ verts
    bone = root_bone_length(joints)
    positional = (pool63 @ verts - joints[ROOT_JOINT]) / bone
    template = (verts - joints[ROOT_JOINT]) * (REFERENCE_BONE_M / bone)
    lo, hi = verts.min(0), verts.max(0)
    colors = (verts - lo) / (hi - lo)
    return HandGraph(
        adjacency=[adj63, adj126, adj252],
        children=[pairs63, pairs126],
        pooling=[pool63, pool126, pool252],
        upsample=upsample,
        positional=positional,
        template=template,
        regressor21=regressor21,
        vertex_colors=colors,
        faces=faces,
        picked=picked,
    )


_FIELDS = ("upsample", "positional", "template", "regressor21", "vertex_colors", "faces", "picked")


def _save(path: Path, graphs: dict[str, HandGraph]) -> None:
    arrays = {}
    for hand, g in graphs.items():
        for lvl in range(3):
            arrays[f"{hand}_adjacency{lvl}"] = g.adjacency[lvl].astype(np.uint8)
            arrays[f"{hand}_pooling{lvl}"] = g.pooling[lvl]
        for lvl in range(2):
            arrays[f"{hand}_children{lvl}"] = g.children[lvl]
        for key in _FIELDS:
            arrays[f"{hand}_{key}"] = getattr(g, key)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


def _load(path: Path) -> dict[str, HandGraph]:
    with np.load(path) as z:
        return {
            hand: HandGraph(
                adjacency=[z[f"{hand}_adjacency{lvl}"].astype(np.float64) for lvl in range(3)],
                children=[z[f"{hand}_children{lvl}"] for lvl in range(2)],
                pooling=[z[f"{hand}_pooling{lvl}"] for lvl in range(3)],
                **{key: z[f"{hand}_{key}"] for key in _FIELDS},
            )
            for hand in HANDS
        }


def cache_path(model_hash: str, cache_dir: str | os.PathLike | None = None) -> Path:
    return Path(cache_dir or cache_root()) / f"training_graph_v{GRAPH_VERSION}_{model_hash}.npz"


def hand_graphs(models, cache_dir: str | os.PathLike | None = None) -> dict[str, HandGraph]:
    """Both hands' graphs for the loaded hand models, from the cache or computed (a second or two) and cached."""
    path = cache_path(models.info["hash"], cache_dir)
    if path.is_file():
        try:
            return _load(path)
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache file is recomputed below
    graphs = {hand: build_hand_graph(models[hand]) for hand in HANDS}
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, graphs)
    return graphs
