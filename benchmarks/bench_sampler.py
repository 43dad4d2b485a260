"""Pose sampler benchmark: penetration query speed and error against libigl, and optimized poses per second.

    .venv/bin/python benchmarks/bench_sampler.py                       # CPU: batches 256 and 1024
    .venv/bin/python benchmarks/bench_sampler.py --device cuda --batches 1024 6144
    .venv/bin/python benchmarks/bench_sampler.py --batches 64 --pairs 16   # a quick look

Everything is measured in one run; ratios are against libigl on the same pairs (query table), the old code path
on the same inputs (component table: smplx's layer vs the lean LBS, the winding number vs ray crossings) and the
first batch size (throughput table, followed by its seconds per stage). End to end means `sample_poses` itself:
seeds, augmentation, optimization, exact before/after metrics and the file, without the report figures.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import igl  # noqa: E402
import numpy as np
import torch

from handmodel import load_hand_models
from handmodel.anatomy import joint_frames
from handmodel.joints import HANDS
from handmodel.skinning import mano_forward
from handmodel.torch_layer import HandLayer
from pose_sampler.optimize import TwoHandGeometry
from pose_sampler.penetration import (
    face_and_vertex_normals,
    local_signed_distance,
    nearest_vertex,
    penetration_depth,
)
from pose_sampler.prior import sample_prior_seeds
from pose_sampler.run import SampleSettings, sample_poses
from pose_sampler.seeds import rng_for


def _pairs(models, geom, n: int, device) -> dict:
    """n touching seed pairs from the built-in prior, the left hand pushed a few mm into the right."""
    frames = {h: geom.frames[h].cpu().double().numpy() for h in HANDS}
    seeds = sample_prior_seeds(lambda s, st: rng_for(11, st, s), np.arange(n), models, frames, geom.layer)
    shift = np.random.default_rng(0).normal(0.0, 0.006, size=(n, 3))
    return {
        h: mano_forward(
            models[h], seeds[h]["pose"], seeds[h]["shape"], seeds[h]["trans"] + (shift if h == "left" else 0)
        )[0]
        for h in HANDS
    }


def _timed(fn, sync):
    t = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t, out


def query_table(models, geom, n_pairs: int, device) -> list[tuple]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    pairs = _pairs(models, geom, n_pairs, device)
    rows = []
    a, b = "right", "left"
    faces = geom.topo[b].faces.cpu().numpy()
    t_igl, ref = _timed(
        lambda: np.stack(
            [
                np.clip(
                    -igl.signed_distance(
                        pairs[a][i], pairs[b][i], faces, sign_type=igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER
                    )[0],
                    0,
                    None,
                )
                for i in range(n_pairs)
            ]
        ),
        sync,
    )
    pts = torch.as_tensor(pairs[a], dtype=torch.float32, device=device)
    verts = torch.as_tensor(pairs[b], dtype=torch.float32, device=device)
    t_exact, depth = _timed(lambda: penetration_depth(pts, verts, geom.topo[b]), sync)
    err_exact = float(np.abs(depth.cpu().numpy() - ref).max()) * 1000

    def local():
        v = verts.clone().requires_grad_(True)
        p = pts.clone().requires_grad_(True)
        idx, dist = nearest_vertex(p.detach(), v.detach())
        rb, rp = (dist < geom.face_reach[idx] + 0.004).nonzero(as_tuple=True)
        sd, trusted = local_signed_distance(
            p[rb, rp], rb, v, geom.topo[b], face_and_vertex_normals(v.detach(), geom.topo[b].faces), idx[rb, rp]
        )
        torch.relu(-sd).sum().backward()
        return sd.detach(), trusted, rb, rp

    t_local, (sd, trusted, rb, rp) = _timed(local, sync)
    loc_depth = torch.zeros_like(pts[..., 0])
    loc_depth[rb, rp] = (-sd).clamp_min(0)
    seen = torch.zeros_like(loc_depth, dtype=torch.bool)
    seen[rb[trusted], rp[trusted]] = True  # queried, on a face whose sign the loop trusts
    ref_t = torch.as_tensor(ref, dtype=loc_depth.dtype, device=device)
    inside = (ref_t > 0) | (loc_depth > 0)
    err_local = (loc_depth - ref_t).abs()[inside & seen]
    print(f"  inside points the loop leaves out (unsure faces or out of reach): {float((inside & ~seen).sum())}"
          f" of {float(inside.sum())}")  # fmt: skip
    n_pts = n_pairs * pts.shape[1]
    rows += [
        ("libigl signed_distance (winding number), per pair", t_igl, n_pts, 1.0, 0.0),
        ("exact: bounding box + ray-crossing inside test + closest face", t_exact, n_pts, t_igl / t_exact, err_exact),
        (
            "local (loop): 1-ring of nearest vertex, fwd+bwd",
            t_local,
            n_pts,
            t_igl / t_local,
            float(np.percentile(err_local.cpu().numpy(), 99)) * 1000 if len(err_local) else 0.0,
        ),
    ]
    return rows


def component_table(models, geom, n_pairs: int, device, batch: int = 1024) -> list[tuple]:
    """The old path against the new one, same inputs, same run: (name, old s, new s, max difference, unit)."""
    from pose_sampler import skinning
    from pose_sampler.penetration import inside_mesh, winding_number

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(1)
    pose = torch.tensor(rng.normal(0, 0.4, size=(batch, 48)), dtype=torch.float32, device=device)
    shape = torch.tensor(rng.normal(0, 0.6, size=(batch, 10)), dtype=torch.float32, device=device)
    trans = torch.zeros(batch, 3, device=device)
    model = geom.mano["right"]
    rest = skinning.shaped(model, shape)  # once per batch in the optimizer

    def step(fn):
        p = pose.clone().requires_grad_(True)
        v = fn(p)
        (v**2).sum().backward()
        return v.detach()

    t_old, v_old = _timed(lambda: step(lambda p: geom.layer("right", p, shape, trans)[0]), sync)
    t_new, v_new = _timed(lambda: step(lambda p: skinning.posed_vertices(model, *rest, p, trans)), sync)
    rows = [(f"skinning fwd+bwd, one hand, batch {batch}: smplx layer -> lean LBS", t_old, t_new,
             float((v_old - v_new).abs().max()) * 1000, "mm")]  # fmt: skip
    pairs = _pairs(models, geom, n_pairs, device)
    faces = geom.topo["left"].faces
    pts = torch.as_tensor(pairs["right"], dtype=torch.float32, device=device)
    verts = torch.as_tensor(pairs["left"], dtype=torch.float32, device=device)
    t_old, w = _timed(lambda: [winding_number(pts[i], verts[i], faces) > 0.5 for i in range(n_pairs)], sync)
    t_new, r = _timed(lambda: [inside_mesh(pts[i], verts[i], faces) for i in range(n_pairs)], sync)
    differ = sum(int((a != b).sum()) for a, b in zip(w, r))
    rows.append((f"inside test, {n_pairs} x 778 points: winding number -> ray crossings", t_old, t_new, differ, "pts"))
    return rows


def throughput_table(batches, iters: int, device: str) -> list[tuple]:
    rows = []
    for b in batches:
        with tempfile.TemporaryDirectory() as tmp:
            settings = SampleSettings(num=b, batch_size=b, iters=iters, device=device, seed=0)
            t = time.perf_counter()
            s = sample_poses(Path(tmp) / "p.npz", settings, report=False, progress=False)
            seconds = time.perf_counter() - t
        rows.append((b, seconds, b / seconds, s["share_all_pen_le_2mm"], s["penetration_mm_before_median"],
                     s["penetration_mm_after_median"], s["kept"] / b, s["seconds_by_stage"]))  # fmt: skip
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--iters", type=int, default=90)
    ap.add_argument("--pairs", type=int, default=32, help="hand pairs for the query table")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--component-batch", type=int, default=1024, help="batch of the skinning comparison")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = load_hand_models()
    geom = TwoHandGeometry(models, HandLayer(models, device=device), joint_frames(models), device)
    print(f"device: {device} ({torch.get_num_threads()} CPU threads), hand model: {models.info['model']}")
    print(f"\npenetration query, {args.pairs} posed pairs x 778 vertices (right hand into the left)")
    print(f"{'method':58s} {'seconds':>8s} {'points/s':>10s} {'x libigl':>8s} {'err mm':>8s}")
    for name, sec, n, ratio, err in query_table(models, geom, args.pairs, device):
        print(f"{name:58s} {sec:8.3f} {n / sec:10.0f} {ratio:8.2f} {err:8.3f}")
    print("  (err: exact = max |depth - libigl depth|; local = 99th percentile over the points inside either")
    print("   query that the loop uses, i.e. on trusted faces)")
    print(f"\nold path -> new path, same inputs (batch {args.component_batch} for skinning)")
    print(f"{'component':72s} {'old s':>7s} {'new s':>7s} {'x':>6s} {'max diff':>10s}")
    for name, old, new, diff, unit in component_table(models, geom, args.pairs, device, args.component_batch):
        print(f"{name:72s} {old:7.3f} {new:7.3f} {old / new:6.1f} {diff:7.2g} {unit}")
    print(f"\nend to end (sample_poses, {args.iters} iterations, report off)")
    print(f"{'batch':>6s} {'seconds':>8s} {'poses/s':>8s} {'x first':>8s} {'<=2mm':>7s} {'pen before':>10s} "
          f"{'pen after':>9s} {'kept':>6s}")  # fmt: skip
    rows = throughput_table(args.batches, args.iters, args.device)
    for b, sec, rate, share, before, after, kept, _ in rows:
        print(f"{b:6d} {sec:8.1f} {rate:8.2f} {rate / rows[0][2]:8.2f} {share:7.1%} {before:8.2f}mm {after:7.2f}mm "
              f"{kept:6.1%}")  # fmt: skip
    print("\nseconds per stage (share of the run)")
    names = list(rows[0][7])
    print(f"{'stage':24s}" + "".join(f" {'batch ' + str(r[0]):>16s}" for r in rows))
    for name in names:
        print(f"{name:24s}" + "".join(f" {r[7].get(name, 0.0):8.1f} ({r[7].get(name, 0.0) / r[1]:5.1%})" for r in rows))


if __name__ == "__main__":
    main()
