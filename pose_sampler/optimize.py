"""The batched optimizer: joint angles of both hands and both translations, the same code on CPU and CUDA.

Variables per pose: the (twist, splay, bend) angles of joints 1-15 of both hands (joint frames of
handmodel.anatomy) and both translations; root rotations and shapes stay as seeded. Adam, written out here so a
pose that has converged can leave the batch: each step runs only the poses still active, which is most of the
speed on a CPU (most poses converge in the first half). Nothing couples the poses (per-pose loss, per-element
Adam, per-pose stopping), so a pose's result does not depend on the batch it ran in.

Schedule (fractions of `iters`): contact-heavy, then repulsion-heavy, then balanced (RenderIH's order). Poses
may stop from the second stage on, once the proxy depth is under `tolerance_m` and no limit is exceeded. The
angles are projected onto the limits after every step (projected Adam; about half the steps of a soft limit that
is projected only at the end), so no kept pose depends on a soft constraint.

Per step (`_loss_terms`): the lean skinning of `pose_sampler.skinning` (shape work done once per batch), and one
point-triangle test per vertex near the other hand, on the face the last search (`_search`, every `search_every`
steps: nearest vertices, then the faces around them) found closest.
"""

from dataclasses import dataclass

import numpy as np
import torch

from handmodel.anatomy import limits_rad
from handmodel.joints import HANDS
from pose_sampler import losses, skinning
from pose_sampler.penetration import (
    MeshTopology,
    close_boundary,
    face_and_vertex_normals,
    inner_radius,
    local_closest_faces,
    nearest_vertex_both,
    oriented_outward,
    signed_distance_to_faces,
)

# A posed hand can hold a point this much deeper than its rest pose does (bent knuckles thicken).
DEPTH_MARGIN = 1.5


@dataclass
class Stage:
    name: str
    fraction: float
    lr: float  # radians per step for angles; translations use lr * trans_lr_scale (metres)
    penetration: float
    contact: float
    may_stop: bool


@dataclass
class OptimSettings:
    iters: int = 90
    stages: tuple = (
        Stage("contact", 0.2, 1e-2, penetration=1.0, contact=1.0, may_stop=False),
        Stage("repulsion", 0.45, 1e-2, penetration=10.0, contact=0.1, may_stop=True),
        Stage("balanced", 0.35, 5e-3, penetration=5.0, contact=0.5, may_stop=True),
    )
    trans_lr_scale: float = 0.03
    anatomy: float = 3000.0
    naturalness: float = 2.0
    angle_reg: float = 0.5
    trans_reg: float = 1.0  # per cm^2
    margin_m: float = 0.002  # 1 mm left about 1 in 4 poses deeper than 2 mm (sandwiched fingers); 3 mm loses contact
    tolerance_m: float = 0.0002
    stop_anatomy_rad: float = 0.005
    search_every: int = 4  # steps between face searches (the surfaces move < 1 mm per step)
    search_slack_m: float = 0.002  # points this far beyond the margin are followed until the next search
    betas: tuple = (0.9, 0.999)
    project_every_step: bool = True

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "stages"}
        d["stages"] = [s.__dict__ for s in self.stages]
        return d


class TwoHandGeometry:
    """Everything the losses need from the hand model, as tensors on one device.

    layer: handmodel.torch_layer.HandLayer; frames: handmodel.anatomy.joint_frames(models).
    """

    def __init__(self, models, layer, frames: dict, device, dtype=torch.float32, anchors: int = 108):
        self.layer, self.device, self.dtype = layer, torch.device(device), dtype
        self.mano = {h: skinning.ManoTensors.from_smplx(layer.mano[h]) for h in HANDS}
        self.topo, depth = {}, []
        for h in HANDS:
            m = models[h]
            closed = oriented_outward(m.v_template, close_boundary(m.faces))
            self.topo[h] = MeshTopology.build(closed, len(m.v_template), m.v_template, device=device)
            depth.append(inner_radius(m.v_template, m.J_regressor @ m.v_template, m.parents, self.topo[h]))
        self.max_depth = DEPTH_MARGIN * max(depth)
        # The largest circumradius of the faces around each vertex of the rest mesh, (V,) metres: a point farther
        # than this plus d from its nearest vertex of the other hand is farther than d from that hand's surface.
        f, v = models["right"].faces, models["right"].v_template  # the open mesh: the wrist cap is not skin
        circum = np.linalg.norm(v[f] - v[f].mean(1, keepdims=True), axis=-1).max(1)
        around = np.zeros(len(v))
        for k in range(3):
            np.maximum.at(around, f[:, k], circum)
        self.face_reach = torch.as_tensor(around, dtype=dtype, device=device)
        self.frames = {h: torch.as_tensor(frames[h], dtype=dtype, device=device) for h in HANDS}
        lo, hi = limits_rad()
        self.lo = torch.as_tensor(lo, dtype=dtype, device=device)
        self.hi = torch.as_tensor(hi, dtype=dtype, device=device)
        v = models["right"].v_template
        self.anchors = torch.as_tensor(losses.farthest_point_anchors(v, anchors), device=device)

    def pose_from_angles(self, hand: str, angles: torch.Tensor) -> torch.Tensor:
        """angles (B, 15, 3) -> finger axis-angle (B, 45)."""
        return torch.einsum("jab,njb->nja", self.frames[hand], angles).reshape(len(angles), 45)

    def angles_from_pose(self, hand: str, aa45: torch.Tensor) -> torch.Tensor:
        return torch.einsum("jab,nja->njb", self.frames[hand], aa45.reshape(len(aa45), 15, 3))

    def shaped(self, hand: str, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shaped rest vertices (B, V, 3) and joints (B, 16, 3) for shape (B, 10): fixed while optimizing."""
        return skinning.shaped(self.mano[hand], shape)

    def verts(self, hand: str, root, angles, shape, trans, rest=None) -> torch.Tensor:
        """Posed vertices (B, V, 3), metres; `rest` = `shaped(hand, shape)` when the caller has it already."""
        pose = torch.cat([root, self.pose_from_angles(hand, angles)], dim=1)
        v_shaped, joints = self.shaped(hand, shape) if rest is None else rest
        return skinning.posed_vertices(self.mano[hand], v_shaped, joints, pose, trans)

    def normals(self, hand: str, verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Face normals (B, F, 3) and vertex pseudo-normals (B, V, 3) of posed verts (B, V, 3), no gradient."""
        with torch.no_grad():
            return face_and_vertex_normals(verts, self.topo[hand].faces)


def _loss_terms(geom, prior, x: dict, fixed: dict, stage: Stage, s: OptimSettings, pen: dict):
    """Per-pose loss (B,) and proxy depth (B,) metres for the active poses.

    pen[hand] = (pose row (M,), vertex (M,), face of the other hand (M,), sign normal (M, 3)): this hand's vertices
    near or inside the other hand and the face each is closest to, from the last search (`_search`); only they
    get a signed distance (broad phase), one point-triangle test each.
    """
    v = {h: geom.verts(h, fixed[h]["root"], x[h]["angles"], fixed[h]["shape"], x[h]["trans"], fixed[h]["rest"])
         for h in HANDS}  # fmt: skip
    B = len(v["right"])
    total = 0.0
    depth = v["right"].new_zeros(B)
    for a, b in (("right", "left"), ("left", "right")):
        rb, rp, face, normal = pen[a]
        sd = signed_distance_to_faces(v[a][rb, rp], rb, v[b], geom.topo[b], face, normal)
        pen_loss = losses.penetration_loss(sd[:, None], s.margin_m)
        total = total + stage.penetration * v["right"].new_zeros(B).index_add(0, rb, pen_loss)
        depth = depth.scatter_reduce(0, rb, (-sd).detach(), reduce="amax")
    total = total + stage.contact * losses.contact_loss(v["right"], v["left"], fixed["pairs"], fixed["weights"])
    for h in HANDS:
        ang = x[h]["angles"]
        total = total + s.anatomy * losses.anatomy_loss(ang, geom.lo, geom.hi)
        total = total + s.naturalness * prior.nll(ang)
        total = total + s.angle_reg * ((ang - fixed[h]["angles0"]) ** 2).sum((1, 2))
        total = total + s.trans_reg * ((100.0 * (x[h]["trans"] - fixed[h]["trans0"])) ** 2).sum(-1)
    return total, depth, v


@torch.no_grad()
def _search(geom, v: dict, s: OptimSettings) -> dict:
    """The loop's broad phase and face search for posed vertices v (per hand (B, V, 3)), no gradient.

    Per hand: its vertices within reach of the other hand's nearest vertex, and of those the ones the loss can
    act on before the next search (closer than the margin plus `search_slack_m` to the surface, or inside it, on
    a face whose sign is trusted and not deeper than a hand is thick), with their closest face around that vertex
    and the pseudo-normal that signs it: (pose row (M,), vertex (M,), face (M,), normal (M, 3)).
    """
    out = {}
    nearest = dict(zip(HANDS, nearest_vertex_both(v["right"], v["left"])))
    # Only points this close to their nearest vertex of the other hand can be within the run's loss margin of its
    # surface (or shallowly inside it) before the next search.
    reach = geom.face_reach + s.margin_m + s.search_slack_m
    for a, b in (("right", "left"), ("left", "right")):
        idx, dist = nearest[a]
        rb, rp = (dist < reach[idx]).nonzero(as_tuple=True)
        normals = face_and_vertex_normals(v[b], geom.topo[b].faces)
        sd, face, normal = local_closest_faces(v[a][rb, rp], rb, v[b], geom.topo[b], normals, idx[rb, rp])
        # Where the skin folds the sign is not trusted, and nothing is deeper than a hand is thick: such points
        # get no loss here (the exact metrics still see them).
        keep = (sd < s.margin_m + s.search_slack_m) & (sd > -geom.max_depth) & ~geom.topo[b].unsure[face]
        out[a] = (rb[keep], rp[keep], face[keep], normal[keep])
    return out


def optimize(geom: TwoHandGeometry, prior, start: dict, settings: OptimSettings, progress=None) -> dict:
    """Optimize a batch. start: per hand {'root' (B,3), 'angles' (B,15,3), 'shape' (B,10), 'trans' (B,3)} tensors,
    plus 'pairs' (B,K,2) and 'weights' (B,K) contact pairs. Returns per hand {'angles', 'trans'} (projected onto the
    limits) and 'iterations' (B,) long: the steps each pose took. `progress(n_steps, info)` is called per step."""
    s = settings
    B = len(start["right"]["angles"])
    dev = geom.device
    var = {h: {k: start[h][k].detach().clone() for k in ("angles", "trans")} for h in HANDS}
    fixed_all = {
        h: {"root": start[h]["root"], "shape": start[h]["shape"], "angles0": start[h]["angles"],
            "trans0": start[h]["trans"]}
        for h in HANDS
    }  # fmt: skip
    with torch.no_grad():  # the shape is fixed: shape blend and rest joints once per batch
        for h in HANDS:
            fixed_all[h]["v_shaped"], fixed_all[h]["joints"] = geom.shaped(h, start[h]["shape"])
    m1 = {h: {k: torch.zeros_like(t) for k, t in var[h].items()} for h in HANDS}
    m2 = {h: {k: torch.zeros_like(t) for k, t in var[h].items()} for h in HANDS}
    steps = torch.zeros(B, dtype=torch.long, device=dev)
    active = torch.ones(B, dtype=torch.bool, device=dev)
    b1, b2 = s.betas
    t = 0
    found = None  # the last search, rows as global pose ids
    for stage in s.stages:
        n_iter = max(1, round(stage.fraction * s.iters))
        for _ in range(n_iter):
            ids = active.nonzero(as_tuple=True)[0]
            if len(ids) == 0:
                break
            t += 1
            x = {h: {k: var[h][k][ids].clone().requires_grad_(True) for k in var[h]} for h in HANDS}
            fixed = {h: {k: fixed_all[h][k][ids] for k in fixed_all[h]} for h in HANDS}
            for h in HANDS:
                fixed[h]["rest"] = (fixed[h].pop("v_shaped"), fixed[h].pop("joints"))
            fixed["pairs"], fixed["weights"] = start["pairs"][ids], start["weights"][ids]
            fresh = t % s.search_every == 1 or s.search_every == 1
            if fresh:
                with torch.no_grad():
                    v0 = {h: geom.verts(h, fixed[h]["root"], x[h]["angles"], fixed[h]["shape"], x[h]["trans"],
                                        fixed[h]["rest"]) for h in HANDS}  # fmt: skip
                found = {h: (ids[rb], *rest) for h, (rb, *rest) in _search(geom, v0, s).items()}
            # The search's rows of poses still active, renumbered to this step's rows.
            row = torch.full((B,), -1, dtype=torch.long, device=dev)
            row[ids] = torch.arange(len(ids), device=dev)
            pen = {}
            for h, (gb, rp, face, normal) in found.items():
                keep = row[gb] >= 0
                pen[h] = (row[gb[keep]], rp[keep], face[keep], normal[keep])
            loss, depth, _ = _loss_terms(geom, prior, x, fixed, stage, s, pen)
            loss.sum().backward()
            with torch.no_grad():
                for h in HANDS:
                    for k in var[h]:
                        g = x[h][k].grad
                        m1[h][k][ids] = b1 * m1[h][k][ids] + (1 - b1) * g
                        m2[h][k][ids] = b2 * m2[h][k][ids] + (1 - b2) * g * g
                        lr = stage.lr * (s.trans_lr_scale if k == "trans" else 1.0)
                        mhat = m1[h][k][ids] / (1 - b1**t)
                        vhat = m2[h][k][ids] / (1 - b2**t)
                        new = x[h][k].detach() - lr * mhat / (vhat.sqrt() + 1e-8)
                        if k == "angles" and s.project_every_step:
                            new = losses.project_anatomy(new, geom.lo, geom.hi)
                        var[h][k][ids] = new
                steps[ids] += 1
                if stage.may_stop and fresh:  # the depth is trusted right after a search
                    ok = depth < s.tolerance_m
                    for h in HANDS:  # the final projection onto the limits takes care of the last fraction
                        a = x[h]["angles"].detach()
                        ok &= ((a - geom.hi).amax((1, 2)) <= s.stop_anatomy_rad) & (
                            (geom.lo - a).amax((1, 2)) <= s.stop_anatomy_rad
                        )
                    active[ids[ok]] = False
            if progress is not None:
                progress(
                    1, {"loss": float(loss.detach().mean()), "pen_mm": 1000 * float(depth.max()), "active": len(ids)}
                )
    with torch.no_grad():
        out = {h: {"angles": losses.project_anatomy(var[h]["angles"], geom.lo, geom.hi),
                   "trans": var[h]["trans"]} for h in HANDS}  # fmt: skip
    out["iterations"] = steps
    return out
