"""Small geometry shared by the hand model, the forearm and the sampler: unit vectors and a mesh's boundary loops.

numpy only (Blender imports this).
"""

import numpy as np


def unit(v, eps: float = 1e-12) -> np.ndarray:
    """Vectors (..., 3) scaled to unit length along the last axis; a vector shorter than `eps` is divided by `eps`
    instead (so a zero vector stays zero rather than becoming NaN)."""
    v = np.asarray(v)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Vertex ids (int64) of each boundary loop of a triangle mesh's faces (F, 3), each ordered along the faces'
    directed boundary edges (the way the mesh's own faces run along it).

    Raises ValueError if the boundary edges do not form simple loops (a vertex where two of them start or end).
    """
    f = np.asarray(faces)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    directed = {(int(a), int(b)) for a, b in edges}
    boundary_edges = [(a, b) for a, b in directed if (b, a) not in directed]
    boundary = dict(boundary_edges)
    if len(boundary) != len(boundary_edges) or set(boundary) != set(boundary.values()):
        raise ValueError("mesh boundary: its edges do not form simple loops (a vertex where two start or end)")
    loops = []
    while boundary:
        start, nxt = boundary.popitem()
        loop = [start]
        while nxt != start:
            loop.append(nxt)
            nxt = boundary.pop(nxt)
        loops.append(np.array(loop, dtype=np.int64))
    return loops
