"""Per-pose quality figures, measured with the exact signed distance (never the optimization's proxy).

All returned arrays are (N,) numpy. Keys:
  penetration_mm         deepest vertex of either hand inside the other hand's wrist-closed surface, mm
  penetration_vertices   vertices (both hands) inside the other hand
  anatomy_violation_deg  worst excess over the joint limits or the ring/pinky coupling of handmodel.anatomy,
                         degrees, both hands
  contact_pairs          vertices of either hand within `contact_mm` of the other hand's nearest vertex
"""

import numpy as np
import torch

from handmodel.anatomy import anatomy_violation_deg
from handmodel.joints import HANDS
from pose_sampler.penetration import nearest_vertex_both, penetration_depth


@torch.no_grad()
def pose_metrics(geom, params: dict, contact_mm: float = 3.0, chunk: int = 256) -> dict[str, np.ndarray]:
    """params: per hand {'root' (N,3), 'angles' (N,15,3), 'shape' (N,10), 'trans' (N,3)} tensors on geom's device.

    Evaluated `chunk` poses at a time to bound memory.
    """
    n = len(params["right"]["angles"])
    out = {k: [] for k in ("penetration_mm", "penetration_vertices", "anatomy_violation_deg", "contact_pairs")}
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        v = {h: geom.verts(h, *(params[h][k][sl] for k in ("root", "angles", "shape", "trans"))) for h in HANDS}
        deepest, inside, contacts = 0.0, 0, 0
        nearest = dict(zip(HANDS, nearest_vertex_both(v["right"], v["left"])))
        for a, b in (("right", "left"), ("left", "right")):
            nn_dist = nearest[a][1]
            depth = penetration_depth(v[a], v[b], geom.topo[b])
            deepest = np.maximum(deepest, depth.amax(1).cpu().double().numpy())
            inside = inside + (depth > 0).sum(1).cpu().numpy()
            contacts = contacts + (nn_dist <= contact_mm / 1000).sum(1).cpu().numpy()
        viol = 0.0
        for h in HANDS:
            ang = params[h]["angles"][sl].cpu().double().numpy()
            viol = np.maximum(viol, anatomy_violation_deg(ang))
        out["penetration_mm"].append(1000.0 * deepest)
        out["penetration_vertices"].append(inside.astype(np.int64))
        out["anatomy_violation_deg"].append(viol)
        out["contact_pairs"].append(contacts.astype(np.int64))
    return {k: np.concatenate(v) for k, v in out.items()}
