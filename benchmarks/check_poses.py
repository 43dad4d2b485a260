"""Check a poses file from the file alone: smplx rebuilds both hands, libigl measures them.

    .venv/bin/python benchmarks/check_poses.py out/poses.npz            # prints the figures, exit 1 if a target fails
    .venv/bin/python benchmarks/check_poses.py out/poses.npz --json     # the same as JSON

Nothing of the sampler is used: the hands come from smplx's MANO layer (the active hand model, which must be the one
the file names), the penetration from libigl's winding number (inside) and distance against the wrist-closed mesh,
the surface distance from libigl's unsigned distance to the open (skin) mesh, the joint limits and the coupling rule
from handmodel.anatomy's table, the arms from handmodel.body and handmodel.forearm. Targets (kept poses unless said
otherwise): at least 95 % kept; at most 2 mm penetration and 0.1 deg anatomy or coupling violation; at least 90 %
with the surfaces within 2 mm and a median of at least 20 vertices within 2 mm of the other hand; at most 10 % of
the joint angles that have a range within 0.5 deg of a limit; diversity (mean pairwise distance of the 42 joints in
the right wrist's frame) at least 63 mm; every kept pose's forearms from one body.
"""

import argparse
import contextlib
import json
import sys

import igl
import numpy as np
import torch

from handmodel.anatomy import LIMITS_HI_DEG, LIMITS_LO_DEG, anatomy_violation_deg, angles_from_pose, joint_frames
from handmodel.body import directions_to_body, reach_violation, world_to_body
from handmodel.errors import InputError
from handmodel.forearm import capsule, capsule_distance, posed_frames
from handmodel.joints import HANDS
from handmodel.models import check_hand_model, load_hand_models, load_model_dir
from handmodel.poses_io import load_poses
from pose_sampler.penetration import close_boundary, oriented_outward

TARGETS = {
    "kept_share": (">=", 0.95),
    "kept_max_penetration_mm": ("<=", 2.0),
    "kept_max_anatomy_deg": ("<=", 0.1),
    "kept_share_touching_2mm": (">=", 0.90),
    "kept_median_vertices_within_2mm": (">=", 20),
    "kept_share_angles_near_limit": ("<=", 0.10),
    "diversity_mm": (">=", 63.0),
    "kept_share_one_body": (">=", 1.0),
}


def rebuild(poses, model_dir: str) -> dict:
    """Per hand vertices (N, 778, 3) and joints (N, 21, 3) (16 MANO joints + 5 tips), world metres, via smplx."""
    import smplx

    models = load_model_dir(model_dir)
    out = {}
    for h in HANDS:
        with contextlib.redirect_stdout(sys.stderr):  # smplx prints its notices: keep stdout for the figures (--json)
            mano = smplx.MANO(model_dir, is_rhand=h == "right", use_pca=False, flat_hand_mean=True)
        p = {k: torch.tensor(v, dtype=torch.float32) for k, v in poses.params[h].items()}
        res = mano(global_orient=p["pose"][:, :3], hand_pose=p["pose"][:, 3:], betas=p["shape"], transl=p["trans"])
        v = res.vertices.detach().double().numpy()
        j = res.joints.detach().double().numpy()[:, :16]
        out[h] = {"verts": v, "joints": np.concatenate([j, v[:, models[h].tip_ids]], 1)}
    return out, models


def check(path) -> dict:
    poses = load_poses(path)
    active = load_hand_models(quiet=True)
    check_hand_model(poses.meta.get("hand_model"), active.info, path)
    hand, models = rebuild(poses, active.info["dir"])
    m = poses.metrics
    kept = m["kept"].astype(bool)
    n = len(poses)
    closed = {h: oriented_outward(models[h].v_template, close_boundary(models[h].faces)) for h in HANDS}
    pen, gap, within = np.zeros(n), np.full(n, np.inf), np.zeros(n)
    for i in range(n):
        counts = []
        for a, b in (("right", "left"), ("left", "right")):
            pa, vb = hand[a]["verts"][i], hand[b]["verts"][i]
            # Inside: winding number over 1/2. The depth is the distance to the closed surface (libigl's signed
            # distance scales it by 1 - 2w, i.e. triples it where a hand's own parts overlap and w is 2).
            inside = igl.winding_number(vb, closed[b], pa) > 0.5
            depth = np.abs(igl.signed_distance(pa, vb, closed[b], sign_type=igl.SIGNED_DISTANCE_TYPE_UNSIGNED)[0])
            pen[i] = max(pen[i], float(np.where(inside, depth, 0.0).max()) * 1000)
            ud = np.abs(igl.signed_distance(pa, vb, models[b].faces, sign_type=igl.SIGNED_DISTANCE_TYPE_UNSIGNED)[0])
            ud = np.where(inside, 0.0, ud)
            gap[i] = min(gap[i], float(ud.min()) * 1000)
            counts.append(int((ud <= 0.002).sum()))
        within[i] = min(counts)
    frames = joint_frames(models)
    angles = {h: angles_from_pose(poses.params[h]["pose"][:, 3:], frames[h]) for h in HANDS}
    anatomy = np.maximum(*(anatomy_violation_deg(angles[h]) for h in HANDS))
    ranged = LIMITS_HI_DEG > LIMITS_LO_DEG  # angles that may move at all
    near = []
    for h in HANDS:
        deg = np.degrees(angles[h][kept])
        d = np.minimum(np.abs(deg - LIMITS_LO_DEG), np.abs(deg - LIMITS_HI_DEG))
        near.append((d <= 0.5)[:, ranged])
    near = np.concatenate(near)
    # Diversity: the 42 joints in the right root's frame (the right wrist at the origin, its rotation undone).
    from scipy.spatial.transform import Rotation

    R = Rotation.from_rotvec(poses.params["right"]["pose"][:, :3]).as_matrix()
    j42 = np.concatenate([hand["right"]["joints"], hand["left"]["joints"]], 1)[kept]
    w = hand["right"]["joints"][kept, :1]
    local = np.einsum("nji,npj->npi", R[kept], j42 - w)
    flat = local.reshape(len(local), -1, 3)
    pair = [np.linalg.norm(flat[i + 1 :] - flat[i], axis=-1).mean(1) for i in range(len(flat) - 1)]
    diversity = float(np.concatenate(pair).mean()) * 1000 if pair else 0.0
    # One body: each wrist reachable from its shoulder in the file's body frame, no forearm through the other hand.
    body = poses.body_to_world
    reach = np.zeros(n)
    forearm = np.zeros(n)
    for h, other in (("right", "left"), ("left", "right")):
        f = posed_frames(models[h], *(poses.params[h][k] for k in ("pose", "shape", "trans")))
        reach = np.maximum(
            reach, reach_violation(world_to_body(f["wrist"], body), directions_to_body(f["axis"], body), h)
        )
        c = capsule(f["wrist"], f["axis"])
        d = capsule_distance(hand[other]["verts"], c["start"], c["end"], c["r_start"], c["r_end"])
        forearm = np.maximum(forearm, np.clip(-d, 0, None).max(1))
    one_body = (reach <= 0.001) & (forearm <= 0.001)
    k = kept if kept.any() else np.zeros(n, dtype=bool)
    res = {
        "num": n,
        "kept_share": float(kept.mean()),
        "kept_max_penetration_mm": float(pen[k].max()) if k.any() else 0.0,
        "kept_max_anatomy_deg": float(anatomy[k].max()) if k.any() else 0.0,
        "kept_share_touching_2mm": float((gap[k] <= 2.0).mean()) if k.any() else 0.0,
        "kept_median_vertices_within_2mm": float(np.median(within[k])) if k.any() else 0.0,
        "kept_share_angles_near_limit": float(near.mean()) if near.size else 0.0,
        "diversity_mm": diversity,
        "kept_share_one_body": float(one_body[k].mean()) if k.any() else 0.0,
        "all_share_touching_2mm": float((gap <= 2.0).mean()),
        "max_abs_diff_file_vs_check_penetration_mm": float(np.abs(pen - m["penetration_mm"]).max()),
        "median_intersecting_triangles_from_file": float(np.median(m["intersecting_triangles"])),
        "share_intersecting_triangles_le_75_from_file": float((m["intersecting_triangles"] <= 75).mean()),
    }
    res["targets"] = {name: bool(res[name] >= v if op == ">=" else res[name] <= v) for name, (op, v) in TARGETS.items()}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("poses")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        res = check(args.poses)
    except InputError as e:  # a file of another hand model, or not a poses file
        sys.exit(f"error: {e}")
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        for name, value in res.items():
            if name != "targets":
                mark = "" if name not in res["targets"] else ("  ok" if res["targets"][name] else "  MISSED")
                print(f"{name:48s} {value:10.3f}{mark}" if isinstance(value, float) else f"{name:48s} {value}")
    sys.exit(0 if all(res["targets"].values()) else 1)


if __name__ == "__main__":
    main()
