"""Blender's Catmull-Clark subdivision as a fixed linear map, so that a moving mesh's subdivided surface costs a
sparse product per sample instead of the modifier's evaluation (about 5% of a sample's time with the forearms).

For a fixed topology the modifier's output vertices are linear in its input vertices (OpenSubdiv's stencils), so
the renderer asks the modifier itself for them once: it sets the input to probe patterns and reads the output.
Vertices far enough apart on the mesh never share an output vertex, so one probe asks about a whole class of them
at once (a colouring of the mesh's vertices, `probe_classes`): x = 1 on the class, y = a distinct code per vertex;
an output vertex's y / x names the one vertex of the class it depends on, x is the weight. The map is checked
against the modifier on a random shape before it is used (where it ever differed, `Subdivided` raises
SubdivisionMapError and leaves the object as it was: the scene then keeps the modifier), and kept on disk per
topology, so a worker pays the probes once per machine (about a second per mesh).

The subdivided mesh itself (faces, UVs, smooth shading) is the modifier's output at the probe shape; its faces'
`parent_face` lets a per-face value of the coarse mesh (the forearm's sleeve material) follow.
"""

import hashlib

import bpy
import numpy as np

from handmodel.atomic import atomic_path

# Two input vertices closer than this many edges can feed one output vertex of a level-1 limit surface (its
# stencil reaches two rings out); classes keep their vertices further apart, and the check after probing confirms.
SEPARATION_RINGS = 5
TOLERANCE_M = 1e-6  # the map against the modifier on a random shape of the mesh's size


class SubdivisionMapError(RuntimeError):
    """The probed map does not reproduce the modifier on this mesh."""


def probe_classes(faces: np.ndarray, n_verts: int, rings: int = SEPARATION_RINGS) -> np.ndarray:
    """(n_verts,) class of each vertex: two vertices of one class are more than `rings` edges apart."""
    adj = np.eye(n_verts, dtype=np.float32)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        adj[faces[:, a], faces[:, b]] = adj[faces[:, b], faces[:, a]] = 1.0
    near = adj.copy()
    for _ in range(rings - 1):
        near = np.minimum(near @ adj, 1.0)
    near = near > 0
    classes = np.full(n_verts, -1, dtype=np.int64)
    for v in np.argsort(-near.sum(1), kind="stable"):  # crowded vertices first: fewer classes
        taken = np.zeros(n_verts + 1, dtype=bool)
        taken[classes[near[v]]] = True  # -1 (unassigned) lands in the spare last slot
        classes[v] = int(np.argmin(taken[:n_verts]))
    return classes


def _evaluate(obj, coarse: np.ndarray) -> np.ndarray:
    """The modifier's output vertices (N,3) for input vertices `coarse`."""
    mesh = obj.data
    mesh.vertices.foreach_set("co", np.asarray(coarse, dtype=np.float32).ravel())
    mesh.update()
    graph = bpy.context.evaluated_depsgraph_get()
    graph.update()
    out = obj.evaluated_get(graph).data
    co = np.empty(3 * len(out.vertices), dtype=np.float32)
    out.vertices.foreach_get("co", co)
    return co.reshape(-1, 3).astype(np.float64)


def probe_stencil(obj, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cols (N,K) int, weights (N,K)) of output vertex i = sum_k weights[i,k] * input[cols[i,k]], asked of the
    subdivision modifier on `obj` (whose mesh has `faces`)."""
    n_in = len(obj.data.vertices)
    classes = probe_classes(faces, n_in)
    code = np.arange(1, n_in + 1, dtype=np.float64)  # y probe: vertex id + 1
    entries = []
    for c in range(int(classes.max()) + 1):
        member = classes == c
        probe = np.zeros((n_in, 3))
        probe[member, 0] = 1.0
        probe[member, 1] = code[member] / n_in  # keep the probe's size near 1 (float32 inside the modifier)
        out = _evaluate(obj, probe)
        weight = out[:, 0]
        rows = np.flatnonzero(np.abs(weight) > 1e-7)
        ids = np.rint(out[rows, 1] / weight[rows] * n_in).astype(np.int64) - 1
        ok = (ids >= 0) & (ids < n_in)
        ok[ok] &= member[ids[ok]]
        if not ok.all():
            raise SubdivisionMapError(f"subdivision probe: class {c} does not name one vertex for every output")
        entries.append((rows, ids, weight[rows]))
    rows, cols, weights = (np.concatenate(x) for x in zip(*entries))
    n_out = int(rows.max()) + 1
    width = int(np.bincount(rows, minlength=n_out).max())
    order = np.lexsort((cols, rows))
    rows, cols, weights = rows[order], cols[order], weights[order]
    slot = np.arange(len(rows)) - np.searchsorted(rows, rows)
    C, W = np.zeros((n_out, width), np.int64), np.zeros((n_out, width))
    C[rows, slot], W[rows, slot] = cols, weights
    return C, W


def _cache_path(faces: np.ndarray, levels: int, quality: int):
    from handmodel.models import cache_root

    key = hashlib.sha256(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    key.update(f"{levels}/{quality}/{bpy.app.version_string}".encode())
    return cache_root() / "subdivision" / f"{key.hexdigest()[:16]}.npz"


class Subdivided:
    """A mesh object whose subdivision modifier is replaced by its linear map. `set(coarse)` moves it;
    `parent_face` (subdivided faces,) is the coarse face each subdivided face came from."""

    def __init__(self, obj, faces: np.ndarray):
        mod = obj.modifiers[0]
        self.n_in = len(obj.data.vertices)
        path = _cache_path(faces, mod.levels, mod.quality)
        polygons = obj.data.polygons
        kept_index = np.empty(len(polygons), dtype=np.int32)
        polygons.foreach_get("material_index", kept_index)
        if len(faces) > 32767:  # material_index (a short) carries the parent face ids below
            raise SubdivisionMapError(f"{len(faces)} faces: more than the probe can name")
        try:
            C = W = None
            try:
                with np.load(path) as data:
                    C, W = data["cols"], data["weights"]
            except (OSError, ValueError, KeyError):  # none yet, or unreadable: probe again
                pass
            if C is None or not self._matches(obj, C, W):
                C, W = probe_stencil(obj, faces)
                if not self._matches(obj, C, W):
                    raise SubdivisionMapError("subdivision probe: the map does not reproduce the modifier")
                with atomic_path(path) as tmp:
                    np.savez(tmp, cols=C, weights=W)
            # Probe shape: the mesh's own face ids in material_index, so the output's faces name their parents.
            polygons.foreach_set("material_index", np.arange(len(faces), dtype=np.int32))
            graph = bpy.context.evaluated_depsgraph_get()
            graph.update()
            mesh = bpy.data.meshes.new_from_object(obj.evaluated_get(graph))
        finally:
            polygons.foreach_set("material_index", kept_index)
        self.cols, self.weights = C, W
        parent = np.empty(len(mesh.polygons), dtype=np.int32)
        mesh.polygons.foreach_get("material_index", parent)
        self.parent_face = parent
        mesh.polygons.foreach_set("material_index", kept_index[parent])
        old = obj.data
        if len(mesh.materials) != len(old.materials):
            mesh.materials.clear()
            for m in old.materials:
                mesh.materials.append(m)
        obj.modifiers.remove(mod)
        obj.data = mesh
        bpy.data.meshes.remove(old)
        self.obj = obj

    def _matches(self, obj, C, W) -> bool:
        rng = np.random.default_rng(0)
        shape = rng.normal(0.0, 0.05, size=(self.n_in, 3))
        out = _evaluate(obj, shape)
        return C.shape[0] == len(out) and float(np.abs(self.apply(shape, C, W) - out).max()) < TOLERANCE_M

    @staticmethod
    def apply(coarse: np.ndarray, C: np.ndarray, W: np.ndarray) -> np.ndarray:
        return np.einsum("nk,nkc->nc", W, np.asarray(coarse, dtype=np.float64)[C])

    def set(self, coarse: np.ndarray) -> None:
        mesh = self.obj.data
        mesh.vertices.foreach_set("co", self.apply(coarse, self.cols, self.weights).astype(np.float32).ravel())
        mesh.update()

    def set_face_values(self, name: str, coarse_values: np.ndarray) -> None:
        """A per-face integer attribute (e.g. 'material_index') given on the coarse faces."""
        self.obj.data.polygons.foreach_set(name, np.asarray(coarse_values, dtype=np.int32)[self.parent_face])
