"""The batched optimizer: joint angles of both hands and both translations, the same code on CPU and CUDA.

Variables per pose: the (twist, splay, bend) angles of joints 1-15 of both hands (joint frames of
handmodel.anatomy) and both translations; root rotations and shapes stay as seeded. Each step runs only the poses
still active, so a pose that has reached its goal leaves the batch (most of the speed on a CPU); nothing couples
the poses (per-pose loss, per-element Adam, per-pose stopping), so a pose's path depends only on its own start.

Schedule: RenderIH's four stages, as fractions of `iters` (balanced, contact-heavy, repulsion-heavy,
contact-leaning), each with a fresh Adam state; the contact pairs are searched afresh on the current poses at the
start of every stage, and their weights are recomputed at every step. Poses may stop from the second stage on,
once the proxy depth is under `tolerance_m`, the hands touch over at least `contact_vertices` vertices (when contact
is a goal) and both arms reach. The angles are projected onto the anatomy (limits and coupling) after every step.

Per step (`_loss_terms`): the lean skinning of `pose_sampler.skinning` (shape work done once per batch), one
point-triangle test per vertex near the other hand, on the face the last search (`_search`, every `search_every`
steps: nearest vertices, then the faces around them) found closest, the anchor-pair contact term, the edge-length
term against the shaped rest mesh, anatomy, naturalness, and the body terms of `pose_sampler.one_body`.

After the schedule (and `snap_into_contact`), `settle_contact` grows the touching area: a summed pull of every
point near the other surface against a penetration term that acts only inside, keeping each pose's best state.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from handmodel.anatomy import limits_rad
from handmodel.joints import HANDS
from pose_sampler import losses, skinning
from pose_sampler.one_body import BodyTerms
from pose_sampler.penetration import (
    MeshTopology,
    close_boundary,
    closest_points,
    face_and_vertex_normals,
    inner_radius,
    inside_rows,
    local_closest_faces,
    nearest_vertex_both,
    nearest_vertex_within,
    oriented_outward,
    penetration_depth,
    signed_distance_to_faces,
    vertex_groups,
)

# A posed hand can hold a point this much deeper than its rest pose does (bent knuckles thicken).
DEPTH_MARGIN = 1.5


@dataclass
class Stage:
    name: str
    iters: float  # share of the schedule, in RenderIH's iteration counts (50, 40, 75, 50 of 215)
    penetration: float  # multiplier of the base penetration weight
    contact: float  # multiplier of the base contact weight (anchor pairs, and the surface pull unless `attract`)
    may_stop: bool
    attract: float | None = None  # multiplier of the surface pull, when it differs from `contact`
    margin_m: float | None = None  # the penetration margin, when it differs from the run's
    summed: bool = False  # the surface pull summed over the pulled points (area counts) rather than their mean


def _renderih_stages() -> tuple:
    return (
        Stage("balanced", 50, penetration=1.0, contact=1.0, may_stop=False),
        Stage("contact-heavy", 40, penetration=0.1, contact=15.0, may_stop=True),
        Stage("repulsion-heavy", 75, penetration=30.0, contact=0.1, may_stop=True),
        Stage("contact-leaning", 50, penetration=1.0, contact=5.0, may_stop=True),
    )


@dataclass
class OptimSettings:
    iters: int = 90
    stages: tuple = field(default_factory=_renderih_stages)
    lr: float = 1e-2  # radians per step for angles
    trans_lr: float = 3e-4  # metres per step
    # Base weights; each stage multiplies penetration and contact by its own factors. The penetration weight is
    # high enough that even the contact-heavy stage does not push fingers into the other hand (a penetration that
    # forms there is seldom undone later).
    penetration: float = 200.0  # depth below the margin, mm summed over points
    contact: float = 3.0  # the anchor-pair term (mean weighted squared distance, mm^2)
    contact_radius_m: float = 0.020
    attract: float = 3.0  # vertices near the other surface drawn onto it (contact as a goal), mean mm
    attract_m: float = 0.006
    contact_pair_weight: float = 0.3
    anatomy: float = 3000.0
    naturalness: float = 2.0
    edge: float = 1.0  # mean squared edge-length change against the shaped rest mesh, mm^2
    reach: float = 1.0  # squared arm reach violation, mm^2
    forearm: float = 1.0  # the other hand's depth inside a forearm capsule, mm summed over points
    angle_reg: float = 0.5
    trans_reg: float = 1.0  # per cm^2
    margin_m: float = 0.0005  # contacts settle this far outside the surface (a larger margin keeps hands apart)
    tolerance_m: float = 0.0002
    contact_goal: bool = True
    contact_vertices: int = 1  # vertices of each hand within contact_m of the other's surface, to stop
    contact_m: float = 0.002
    reach_tolerance_m: float = 0.001
    # The contact settle (`settle_contact`), after the schedule: the hands' surfaces drawn together over an area,
    # the fingers free to wrap, and a pose keeps the state with the most vertices in contact that is still clear.
    settle_iters: int = 150
    settle_lr: float = 2e-2
    settle_trans_lr: float = 4e-4
    settle_radius_m: float = 0.015  # points this close to the other surface are pulled onto it
    settle_gap_m: float = 0.0015  # points farther than this are pulled (those closer count already)
    settle_attract: float = 3.0  # per pulled point, mm
    settle_penetration: float = 30.0  # per point inside, mm
    settle_margin_m: float = 0.0  # the penetration term acts on points deeper than minus this
    settle_max_depth_m: float = 0.0016  # a settled state is kept only if no point is deeper (the loop's depth)
    settle_exact_m: float = 0.0019  # ... and, at the end, if the exact depth is no deeper than this
    settle_vertices: int = 24  # a pose leaves the settle with this many vertices of each hand in contact
    search_every: int = 4  # steps between face searches (the surfaces move < 1 mm per step)
    search_slack_m: float = 0.003  # points this far beyond the margin are followed until the next search
    betas: tuple = (0.9, 0.999)

    def stage_steps(self) -> list[int]:
        total = sum(st.iters for st in self.stages)
        return [max(1, round(self.iters * st.iters / total)) for st in self.stages]

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "stages"}
        d["stages"] = [s.__dict__ for s in self.stages]
        return d


def touch_anchors(model, count: int = 108) -> np.ndarray:
    """`count` vertex ids spread (farthest point sampling) over the surfaces that touch in interaction: palm,
    finger pads and sides, thumb; not the back of the hand, the nails or the wrist. model: a HandModel (right)."""
    v, f, w = model.v_template, model.faces, model.weights
    j = model.J_regressor @ v
    palmar = np.cross(j[1] - j[0], j[7] - j[0])
    palmar /= np.linalg.norm(palmar)
    _, vn = face_and_vertex_normals(torch.as_tensor(v)[None], torch.as_tensor(f))
    facing = vn[0].numpy() @ palmar
    root = w.argmax(1) == 0
    axis = j[4] - j[0]
    along = (v - j[0]) @ axis / (axis @ axis)
    ok = (facing > -0.4) & ~(root & (along < 0.35))
    ok |= np.isin(w.argmax(1), (13, 14, 15)) & (facing > -0.8)  # the thumb touches with its sides too
    pool = np.flatnonzero(ok)
    return pool[losses.farthest_point_anchors(v[pool], min(count, len(pool)))]


class TwoHandGeometry:
    """Everything the losses need from the hand model, as tensors on one device.

    layer: handmodel.torch_layer.HandLayer; frames: handmodel.anatomy.joint_frames(models).
    """

    def __init__(self, models, layer, frames: dict, device, dtype=torch.float32, anchors: int = 108):
        self.layer, self.device, self.dtype = layer, torch.device(device), dtype
        self.mano = {h: skinning.ManoTensors.from_smplx(layer.mano[h]) for h in HANDS}
        self.topo, self.topo_open, depth = {}, {}, []
        for h in HANDS:
            m = models[h]
            closed = oriented_outward(m.v_template, close_boundary(m.faces))
            self.topo[h] = MeshTopology.build(closed, len(m.v_template), m.v_template, device=device)
            # The skin alone (the wrist cap is no surface a hand touches with): contact and triangle crossings.
            self.topo_open[h] = MeshTopology.build(m.faces, len(m.v_template), m.v_template, device, signs=False)
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
        # Compact vertex parts (finger segments, the palm in four) whose boxes prune the nearest-vertex search.
        groups = vertex_groups(models["right"].weights, models["right"].v_template)
        self.groups = torch.as_tensor(groups, device=device)
        self.max_edge = float(np.linalg.norm(v[f] - v[f][:, [1, 2, 0]], axis=-1).max()) * 1.5  # posed edges stretch
        self.frames = {h: torch.as_tensor(frames[h], dtype=dtype, device=device) for h in HANDS}
        lo, hi = limits_rad()
        self.lo = torch.as_tensor(lo, dtype=dtype, device=device)
        self.hi = torch.as_tensor(hi, dtype=dtype, device=device)
        self.anchors = torch.as_tensor(touch_anchors(models["right"], anchors), device=device)
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        self.edges = torch.as_tensor(np.unique(np.sort(edges, axis=1), axis=0), device=device)
        self.body = BodyTerms(models, device, dtype)

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
    """Per-pose loss (B,), proxy depth (B,) metres and posed vertices for the active poses.

    pen[hand] = (pose row (M,), vertex (M,), face of the other hand (M,), sign normal (M, 3)): this hand's vertices
    near or inside the other hand and the face each is closest to, from the last search (`_search`); only they
    get a signed distance (broad phase), one point-triangle test each.
    """
    v = {h: geom.verts(h, fixed[h]["root"], x[h]["angles"], fixed[h]["shape"], x[h]["trans"], fixed[h]["rest"])
         for h in HANDS}  # fmt: skip
    B = len(v["right"])
    total = v["right"].new_zeros(B)
    depth = v["right"].new_zeros(B)
    area = []
    for a, b in (("right", "left"), ("left", "right")):
        rb, rp, face, normal, _ = pen[a]
        sd = signed_distance_to_faces(v[a][rb, rp], rb, v[b], geom.topo[b], face, normal)
        margin = s.margin_m if stage.margin_m is None else stage.margin_m
        pen_loss = losses.penetration_loss(sd[:, None], margin)
        total = total + s.penetration * stage.penetration * v["right"].new_zeros(B).index_add(0, rb, pen_loss)
        attract = stage.contact if stage.attract is None else stage.attract
        if s.contact_goal and attract > 0:
            zeros = v["right"].new_zeros(B)
            if stage.summed:  # every point near the other surface pulls: the pose gains by touching over an area
                near, _ = losses.surface_attraction(sd, s.settle_gap_m, s.settle_radius_m)
                pull = zeros.index_add(0, rb, near)
            else:  # a mean over the attracted points: the pull of the whole hand stays bounded
                near, w = losses.surface_attraction(sd, s.margin_m, s.attract_m)
                pull = zeros.index_add(0, rb, near) / zeros.index_add(0, rb, w).clamp_min(1.0)
            total = total + s.attract * attract * pull
        depth = depth.scatter_reduce(0, rb, (-sd).detach(), reduce="amax")
        area.append(torch.zeros(B, dtype=torch.long, device=total.device).index_add(0, rb, (sd <= s.contact_m).long()))
    if stage.contact > 0:
        contact = losses.anchor_contact_loss(v["right"], v["left"], fixed["pairs"], s.contact_radius_m,
                                             s.contact_pair_weight)  # fmt: skip
        total = total + s.contact * stage.contact * contact
    for h in HANDS:
        ang = x[h]["angles"]
        total = total + s.anatomy * losses.anatomy_loss(ang, geom.lo, geom.hi)
        total = total + s.naturalness * prior.nll(ang)
        total = total + s.angle_reg * ((ang - fixed[h]["angles0"]) ** 2).sum((1, 2))
        total = total + s.trans_reg * ((100.0 * (x[h]["trans"] - fixed[h]["trans0"])) ** 2).sum(-1)
        total = total + s.edge * losses.edge_length_loss(v[h], None, geom.edges, fixed[h]["edge_rest"])
    wrist = {h: fixed[h]["rest"][1][:, 0] + x[h]["trans"] for h in HANDS}
    reach, capsule_depth = geom.body.losses(wrist, fixed["root_R"], v, fixed["body_to_world"])
    total = total + s.reach * (1000.0 * reach) ** 2 + s.forearm * 1000.0 * capsule_depth
    extra = {"verts": v, "reach": reach.detach(), "capsule": capsule_depth.detach(), "area": torch.minimum(*area)}
    return total, depth, extra


@torch.no_grad()
def _search(geom, v: dict, s: OptimSettings, reach_m: float = 0.0) -> dict:
    """The loop's broad phase and face search for posed vertices v (per hand (B, V, 3)), no gradient.

    Per hand: its vertices within reach of the other hand's nearest vertex, and of those the ones the loss can
    act on before the next search (closer than the margin plus `search_slack_m` to the surface, or inside it, on
    a face whose sign is trusted and not deeper than a hand is thick), with their closest face around that vertex,
    the pseudo-normal that signs it and the signed distance: (pose row (M,), vertex (M,), face (M,),
    normal (M, 3), signed distance (M,)).
    """
    out = {}
    # Only points this close to their nearest vertex of the other hand can be within the run's loss margin of its
    # surface (or the contact distance, or shallowly inside it) before the next search.
    far = max(s.margin_m + s.search_slack_m, s.contact_m, s.attract_m if s.contact_goal else 0.0, reach_m)
    reach = geom.face_reach + far
    nearest = dict(zip(HANDS, nearest_vertex_within(v["right"], v["left"], float(reach.max()), groups=geom.groups)))
    for a, b in (("right", "left"), ("left", "right")):
        idx, dist = nearest[a]
        rb, rp = (dist < reach[idx]).nonzero(as_tuple=True)
        normals = face_and_vertex_normals(v[b], geom.topo[b].faces)
        pts = v[a][rb, rp]
        sd, face, normal = local_closest_faces(pts, rb, v[b], geom.topo[b], normals, idx[rb, rp])
        # Where the skin folds the pseudo-normal's sign is not trusted: there the exact inside test decides, and
        # the normal that signs the point until the next search is the direction from its closest point.
        fold = geom.topo[b].unsure[face] & (sd.abs() < far)
        if bool(fold.any()):
            f_ids = geom.topo[b].faces[face[fold]]
            tri = [v[b][rb[fold], f_ids[:, k]] for k in range(3)]
            cp, _ = closest_points(pts[fold], *tri)
            inside = inside_rows(pts[fold], rb[fold], v[b], geom.topo[b].faces)
            sign = torch.where(inside, -1.0, 1.0).to(sd.dtype)
            sd[fold] = sign * sd[fold].abs()
            normal[fold] = sign[:, None] * (pts[fold] - cp)
        # Nothing is deeper than a hand is thick: such points get no loss here (the exact metrics still see them).
        keep = (sd < far) & (sd > -geom.max_depth)
        out[a] = (rb[keep], rp[keep], face[keep], normal[keep], sd[keep])
    return out


@dataclass
class _Adam:
    """Per-element Adam moments of one stage for every pose of the batch (rows of inactive poses stay put)."""

    m1: dict
    m2: dict
    t: int = 0

    @classmethod
    def fresh(cls, var: dict) -> "_Adam":
        zeros = {h: {k: torch.zeros_like(t) for k, t in var[h].items()} for h in HANDS}
        return cls(zeros, {h: {k: torch.zeros_like(t) for k, t in var[h].items()} for h in HANDS})

    def step(self, var: dict, x: dict, ids: torch.Tensor, lr: dict, betas: tuple, project) -> None:
        """One Adam update of the rows `ids` of var from the gradients on x (the active rows, leaf tensors)."""
        b1, b2 = betas
        self.t += 1
        for h in HANDS:
            for k in var[h]:
                g = x[h][k].grad
                m1 = b1 * self.m1[h][k][ids] + (1 - b1) * g
                m2 = b2 * self.m2[h][k][ids] + (1 - b2) * g * g
                self.m1[h][k][ids], self.m2[h][k][ids] = m1, m2
                step = lr[k] * (m1 / (1 - b1**self.t)) / ((m2 / (1 - b2**self.t)).sqrt() + 1e-8)
                new = x[h][k].detach() - step
                var[h][k][ids] = project(new) if k == "angles" else new


def _fixed_rows(fixed_all: dict, start: dict, ids: torch.Tensor) -> dict:
    """The fixed inputs of the active rows ids: per hand root, shape, start angles and translation, shaped rest
    (vertices, joints); the root rotation matrices, body frames and the stage's contact pairs."""
    fixed = {h: {k: fixed_all[h][k][ids] for k in ("root", "shape", "angles0", "trans0", "edge_rest")} for h in HANDS}
    for h in HANDS:
        fixed[h]["rest"] = (fixed_all[h]["v_shaped"][ids], fixed_all[h]["joints"][ids])
    fixed["root_R"] = {h: fixed_all[h]["root_R"][ids] for h in HANDS}
    fixed["body_to_world"] = start["body_to_world"][ids]
    fixed["pairs"] = fixed_all["pairs"][ids]
    return fixed


def _posed(geom, fixed: dict, x: dict) -> dict:
    with torch.no_grad():
        return {h: geom.verts(h, fixed[h]["root"], x[h]["angles"], fixed[h]["shape"], x[h]["trans"],
                              fixed[h]["rest"]) for h in HANDS}  # fmt: skip


def _contact_count(found: dict, n_rows: int, s: OptimSettings, device) -> torch.Tensor:
    """Per row, the smaller of the two hands' counts of vertices within contact_m outside the other's surface,
    from a search's signed distances."""
    counts = []
    for h in HANDS:
        rb, sd = found[h][0], found[h][4]
        near = (sd <= s.contact_m) & (sd >= -s.tolerance_m)
        counts.append(torch.zeros(n_rows, dtype=torch.long, device=device).index_add(0, rb, near.long()))
    return torch.minimum(*counts)


def _done(found, depth, extra, n_rows, s: OptimSettings, device) -> torch.Tensor:
    """Which of the searched rows have reached every goal: no depth, arms reach, forearms clear, contact."""
    ok = (depth < s.tolerance_m) & (extra["reach"] < s.reach_tolerance_m) & (extra["capsule"] < 1e-4)
    if s.contact_goal:
        ok &= _contact_count(found, n_rows, s, device) >= s.contact_vertices
    return ok


def optimize(geom: TwoHandGeometry, prior, start: dict, settings: OptimSettings, progress=None) -> dict:
    """Optimize a batch. start: per hand {'root' (B,3), 'angles' (B,15,3), 'shape' (B,10), 'trans' (B,3)} tensors,
    plus 'body_to_world' (B,4,4). Returns per hand {'angles', 'trans'} (projected onto the anatomy) and
    'iterations' (B,) long: the steps each pose took. `progress(n_steps, info)` is called per step."""
    s = settings
    B = len(start["right"]["angles"])
    dev = geom.device
    var = {h: {k: start[h][k].detach().clone() for k in ("angles", "trans")} for h in HANDS}
    fixed_all = _fixed_inputs(geom, start)
    steps = torch.zeros(B, dtype=torch.long, device=dev)
    active = torch.ones(B, dtype=torch.bool, device=dev)

    def project(a):
        return losses.project_anatomy(a, geom.lo, geom.hi)

    lr = {"angles": s.lr, "trans": s.trans_lr}
    found = None  # step 0 of every stage searches
    for stage, n_iter in zip(s.stages, s.stage_steps()):
        adam = _Adam.fresh(var)
        _search_pairs(geom, fixed_all, var, active)
        for i in range(n_iter):
            rows = _active_rows(geom, var, fixed_all, start, active, i, s, found)
            if rows is None:
                break
            ids, x, fixed, found, pen, fresh = rows
            loss, depth, extra = _loss_terms(geom, prior, x, fixed, stage, s, pen)
            loss.sum().backward()
            with torch.no_grad():
                adam.step(var, x, ids, lr, s.betas, project)
                steps[ids] += 1
                if stage.may_stop and fresh:  # the depth and the contact count are trusted right after a search
                    ok = _done(pen, depth, extra, len(ids), s, dev)
                    active[ids[ok]] = False
            if progress is not None:
                progress(1, {"loss": float(loss.detach().mean()), "pen_mm": 1000 * float(depth.max()),
                             "active": len(ids)})  # fmt: skip
    with torch.no_grad():
        out = {h: {"angles": project(var[h]["angles"]), "trans": var[h]["trans"]} for h in HANDS}
    out["iterations"] = steps
    return out


def _fixed_inputs(geom, start: dict) -> dict:
    """What stays fixed for the whole batch: roots, shapes, start values, the shaped rest meshes and joints
    (shape blend once per batch), their edge lengths, the root rotation matrices."""
    fixed = {}
    with torch.no_grad():
        for h in HANDS:
            v_shaped, joints = geom.shaped(h, start[h]["shape"])
            fixed[h] = {"root": start[h]["root"], "shape": start[h]["shape"], "angles0": start[h]["angles"],
                        "trans0": start[h]["trans"], "v_shaped": v_shaped, "joints": joints,
                        "root_R": skinning.rodrigues(start[h]["root"]),
                        "edge_rest": losses.edge_lengths(v_shaped, geom.edges)}  # fmt: skip
    return fixed


@torch.no_grad()
def _search_pairs(geom, fixed_all: dict, var: dict, active: torch.Tensor) -> None:
    """A stage's contact pairs, searched afresh on the current poses of every pose still active."""
    B = len(active)
    if "pairs" not in fixed_all:
        k = 2 * len(geom.anchors) * losses.PARTNERS
        fixed_all["pairs"] = torch.zeros(B, k, 2, dtype=torch.long, device=geom.device)
    ids = active.nonzero(as_tuple=True)[0]
    if len(ids) == 0:
        return
    v = {h: geom.verts(h, fixed_all[h]["root"][ids], var[h]["angles"][ids], fixed_all[h]["shape"][ids],
                       var[h]["trans"][ids], (fixed_all[h]["v_shaped"][ids], fixed_all[h]["joints"][ids]))
         for h in HANDS}  # fmt: skip
    fixed_all["pairs"][ids] = losses.anchor_pairs(v["right"], v["left"], geom.anchors)


def _active_rows(geom, var, fixed_all, start, active, i: int, s: OptimSettings, found, reach_m: float = 0.0):
    """Step i's rows of the batch: (ids, their variables x as leaves with gradients, their fixed inputs, the
    search results (searched afresh every `search_every` steps, else the last ones), their penetration rows,
    whether the search is fresh); None when no pose is active."""
    ids = active.nonzero(as_tuple=True)[0]
    if len(ids) == 0:
        return None
    x = {h: {k: var[h][k][ids].clone().requires_grad_(True) for k in var[h]} for h in HANDS}
    fixed = _fixed_rows(fixed_all, start, ids)
    fresh = i % s.search_every == 0
    if fresh:
        found = {h: (ids[rb], *rest) for h, (rb, *rest) in _search(geom, _posed(geom, fixed, x), s, reach_m).items()}
    return ids, x, fixed, found, _rows_of(found, ids, len(active), ids.device), fresh


def _rows_of(found: dict, ids: torch.Tensor, B: int, dev) -> dict:
    """The search's entries of poses still active (rows as global pose ids), renumbered to this step's rows."""
    row = torch.full((B,), -1, dtype=torch.long, device=dev)
    row[ids] = torch.arange(len(ids), device=dev)
    pen = {}
    for h, (gb, rp, face, normal, sd) in found.items():
        keep = row[gb] >= 0
        pen[h] = (row[gb[keep]], rp[keep], face[keep], normal[keep], sd[keep])
    return pen


@torch.no_grad()
def snap_into_contact(geom, final: dict, s: OptimSettings) -> None:
    """Move the left hand rigidly into contact where the optimization left the hands apart (in place on
    final['left']['trans']): along the line between the two hands' closest vertices, to first contact
    (`pose_sampler.placement.touching_shift`, no vertex inside, a small gap)."""
    from pose_sampler.placement import touching_shift

    v = {h: geom.verts(h, final[h]["root"], final[h]["angles"], final[h]["shape"], final[h]["trans"]) for h in HANDS}
    (idx, dist), _ = nearest_vertex_both(v["right"], v["left"])
    gap, i = dist.min(dim=1)
    apart = (gap > s.contact_m).nonzero(as_tuple=True)[0]
    if len(apart) == 0:
        return
    rows = torch.arange(len(gap), device=gap.device)[apart]
    pr = v["right"][rows, i[apart]]
    pl = v["left"][rows, idx[rows, i[apart]]]
    a = (pl - pr) / (pl - pr).norm(dim=-1, keepdim=True).clamp_min(1e-12)
    shift = touching_shift(v["right"][rows], v["left"][rows], a, geom.topo["right"], geom.topo["left"], s.margin_m)
    final["left"]["trans"][rows] = final["left"]["trans"][rows] + a * shift[:, None]


def _settle_stage(s: OptimSettings) -> Stage:
    pen, pull = s.settle_penetration / s.penetration, s.settle_attract / s.attract
    return Stage("settle", s.settle_iters, penetration=pen, contact=0.0, may_stop=True, attract=pull,
                 margin_m=s.settle_margin_m, summed=True)  # fmt: skip


def settle_contact(geom, prior, final: dict, start: dict, s: OptimSettings) -> torch.Tensor:
    """The contact settle, in place on final[hand]['angles'] and ['trans'] (B, ...): the poses' surfaces drawn
    together over an area. Every point of either hand within `settle_radius_m` of the other surface is pulled to
    `settle_gap_m` off it (a sum over points: more touching area, lower loss), while the penetration term acts only
    on points inside; as in the schedule only the finger angles and the translations move (roots and shapes stay),
    so the fingers bend onto the other hand. Each pose keeps the visited state with the most vertices in contact
    (the smaller count of the two hands, inside the other hand included: the reported contact-area figure) among
    those no deeper than `settle_max_depth_m` whose arms still reach, and falls back to its start if the exact depth of
    that state exceeds `settle_exact_m`: the settle never makes a pose worse than it found it. start: the start
    tensors of `optimize` (roots, shapes, start angles for the regularisers, body frames). Returns the settle
    steps each pose took (B,) long."""
    B = len(final["right"]["angles"])
    dev = geom.device
    stage = _settle_stage(s)
    var = {h: {k: final[h][k].detach().clone() for k in ("angles", "trans")} for h in HANDS}
    best = {h: {k: t.clone() for k, t in var[h].items()} for h in HANDS}
    best_count = torch.full((B,), -1, dtype=torch.long, device=dev)
    fixed_all = _fixed_inputs(geom, start)
    fixed_all["pairs"] = torch.zeros(B, 1, 2, dtype=torch.long, device=dev)  # no anchor term in the settle
    steps = torch.zeros(B, dtype=torch.long, device=dev)
    active = torch.ones(B, dtype=torch.bool, device=dev)
    adam = _Adam.fresh(var)
    lr = {"angles": s.settle_lr, "trans": s.settle_trans_lr}
    found = None  # step 0 searches
    for i in range(s.settle_iters + 1):
        rows = _active_rows(geom, var, fixed_all, start, active, i, s, found, s.settle_radius_m)
        if rows is None:
            break
        ids, x, fixed, found, pen, _ = rows
        loss, depth, extra = _loss_terms(geom, prior, x, fixed, stage, s, pen)
        with torch.no_grad():
            # The state x as it stands: between searches its points keep the faces of the last search, whose
            # distances are upper bounds of the closest face's (the count errs low, the depth high).
            count = extra["area"]
            ok = (depth <= s.settle_max_depth_m) & (extra["reach"] < s.reach_tolerance_m) & (extra["capsule"] < 1e-4)
            better = ok & (count > best_count[ids])
            rows = ids[better]
            for h in HANDS:
                for k in var[h]:
                    best[h][k][rows] = x[h][k].detach()[better]
            best_count[rows] = count[better]
            active[ids[best_count[ids] >= s.settle_vertices]] = False
            if i == s.settle_iters:
                break
        loss.sum().backward()
        with torch.no_grad():
            adam.step(var, x, ids, lr, s.betas, lambda a: losses.project_anatomy(a, geom.lo, geom.hi))
            steps[ids] += 1
    _keep_if_clear(geom, final, best, best_count, s)
    return steps


@torch.no_grad()
def _keep_if_clear(geom, final: dict, best: dict, best_count: torch.Tensor, s: OptimSettings) -> None:
    """Write the settled states into final where one was found and its exact depth is within settle_exact_m."""
    rows = (best_count >= 0).nonzero(as_tuple=True)[0]
    if len(rows) == 0:
        return
    v = {h: geom.verts(h, final[h]["root"][rows], best[h]["angles"][rows], final[h]["shape"][rows],
                       best[h]["trans"][rows]) for h in HANDS}  # fmt: skip
    deepest = torch.maximum(penetration_depth(v["right"], v["left"], geom.topo["left"]).amax(1),
                            penetration_depth(v["left"], v["right"], geom.topo["right"]).amax(1))  # fmt: skip
    rows = rows[deepest <= s.settle_exact_m]
    for h in HANDS:
        for k in ("angles", "trans"):
            final[h][k][rows] = best[h][k][rows]
