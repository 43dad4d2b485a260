"""Pose sampler benchmark: `sample-poses` end to end (old code against new), the penetration query against libigl.

    .venv/bin/python benchmarks/bench_sampler.py --old ../sampler-old --num 256   # CPU, old and new side by side
    .venv/bin/python benchmarks/bench_sampler.py --old ../sampler-old --floor    # ... and the floor row
    .venv/bin/python benchmarks/bench_sampler.py --device cuda --num 6144 --batch-size 6144
    .venv/bin/python benchmarks/bench_sampler.py --num 64 --tables            # plus the query/component tables

End to end means the `sample-poses` command itself, run as a subprocess with its default settings (seeds,
augmentation, optimization, exact metrics, the file and the report), timed in wall seconds and in the CPU seconds
of the child process; with `--old PATH` (a checkout of an earlier commit, e.g. `git worktree add ../sampler-old
<commit>`) the same command of that checkout runs in the same invocation, just before the new code's, so the ratio
is measured under the same machine load. The floor row (`--floor`) is the new code with the optimizer all but off
(one step per stage, `--contact free`: no snap, no settle) and everything else as by default: the time of the
seeds, placement, exact metrics, file and report, below which no optimizer can take the command. The tables
(`--tables`): ratios against libigl on the same pairs (query table) and the old code path on the same inputs
(component table: smplx's layer vs the lean LBS, the winding number vs ray crossings).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import igl
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


def end_to_end(checkout: Path, num: int, device: str, batch_size: int | None, repeats: int, keep=None,
               extra=()) -> dict:  # fmt: skip
    """`cli.py sample-poses --num NUM` of a checkout, defaults otherwise (`extra`: more options): best wall
    seconds, their CPU seconds. With `keep` (a folder), the last run's poses file and report stay there."""
    import resource
    import shutil
    import subprocess

    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "cli.py", "sample-poses", "--out", f"{tmp}/p.npz", "--num", str(num), "--seed", "0"]
            if device != "cpu":
                cmd += ["--device", device]
            if batch_size:
                cmd += ["--batch-size", str(batch_size)]
            cmd += list(extra)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            done = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, env=_env(checkout))
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise SystemExit(f"{checkout}: sample-poses failed:\n{done.stderr[-2000:]}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            kept = next((line for line in done.stdout.splitlines() if "kept" in line), "")
            if keep is not None:
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(tmp, keep)
        if best is None or wall < best["wall"]:
            best = {"wall": wall, "cpu": cpu, "kept": kept.strip()}
    return best


# The floor row: one step per stage of the schedule, no contact goal (so no snap and no settle); seeds, placement,
# exact metrics, the file and the report as by default. No optimizer, however fast, takes the command below it.
FLOOR_OPTIONS = ("--iters", "4", "--contact", "free")


def _env(checkout: Path) -> dict:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(checkout)
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--num", type=int, default=256, help="poses of the end-to-end runs")
    ap.add_argument("--batch-size", type=int, default=None, help="--batch-size of the new code (default: its own)")
    ap.add_argument("--old", type=Path, default=None, help="a checkout of the old code to compare with")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--tables", action="store_true", help="also the query and component tables")
    floor_help = f"also the new code with the optimizer all but off ({' '.join(FLOOR_OPTIONS)})"
    ap.add_argument("--floor", action="store_true", help=floor_help)
    ap.add_argument("--keep", type=Path, default=None, help="keep the new code's output in this folder")
    ap.add_argument("--pairs", type=int, default=32, help="hand pairs for the query table")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--component-batch", type=int, default=1024, help="batch of the skinning comparison")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    new = Path(__file__).resolve().parent.parent
    print(f"device: {device} ({torch.get_num_threads()} CPU threads)")
    print(f"\nend to end: cli.py sample-poses --num {args.num} --seed 0, defaults otherwise (report included)")
    print(f"{'code':8s} {'wall s':>8s} {'CPU s':>8s} {'poses/s':>8s} {'x old':>6s}  summary")
    rows = []
    runs = [("old", args.old, ()), ("new", new, ())] + ([("floor", new, FLOOR_OPTIONS)] if args.floor else [])
    for name, checkout, extra in runs:
        if checkout is None:
            continue
        r = end_to_end(checkout, args.num, args.device, args.batch_size if name != "old" else None, args.repeats,
                       args.keep if name == "new" else None, extra)  # fmt: skip
        rows.append((name, r))
    old = rows[0][1] if rows[0][0] == "old" else None
    for name, r in rows:
        ratio = f"{old['wall'] / r['wall']:6.2f}" if old else "     -"
        print(f"{name:8s} {r['wall']:8.1f} {r['cpu']:8.1f} {args.num / r['wall']:8.2f} {ratio}  {r['kept']}")
    if args.floor:
        print(f"  (floor: the new code with {' '.join(FLOOR_OPTIONS)}, everything but the optimizer's work)")
    if not args.tables:
        return
    models = load_hand_models()
    geom = TwoHandGeometry(models, HandLayer(models, device=device), joint_frames(models), device)
    print(f"\npenetration query, {args.pairs} posed pairs x 778 vertices (right hand into the left)")
    print(f"{'method':58s} {'seconds':>8s} {'points/s':>10s} {'x libigl':>8s} {'err mm':>8s}")
    for name, sec, n, ratio, err in query_table(models, geom, args.pairs, device):
        print(f"{name:58s} {sec:8.3f} {n / sec:10.0f} {ratio:8.2f} {err:8.3f}")
    print("  (err: exact = max |depth - libigl depth|; local = 99th percentile over the points inside either")
    print("   query that the loop uses, i.e. on trusted faces)")
    print(f"\nold path -> new path, same inputs (batch {args.component_batch} for skinning)")
    print(f"{'component':72s} {'old s':>7s} {'new s':>7s} {'x':>6s} {'max diff':>10s}")
    for name, old_s, new_s, diff, unit in component_table(models, geom, args.pairs, device, args.component_batch):
        print(f"{name:72s} {old_s:7.3f} {new_s:7.3f} {old_s / new_s:6.1f} {diff:7.2g} {unit}")


if __name__ == "__main__":
    main()
