"""`sample-poses` end to end: seeds -> augmentation -> optimization -> exact metrics -> filter -> poses file.

Work is split into chunks of `batch_size` consecutive sample ids; a chunk is the unit of sharding (`shard=(k, n)`
takes chunks c with c % n == k) and of resume (a finished chunk is a file and is skipped on a rerun). With
`out` a folder, the chunks are the output (`poses-00000.npz`, ...); with `out` a `.npz` file, they are kept in a
hidden folder beside it until all are done, then merged into the one file.
"""

import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from handmodel.atomic import fit_name
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.outdir import first_difference
from handmodel.poses_io import Poses, chunk_path, concat_poses, load_poses, save_poses
from handmodel.sharding import in_shard
from pose_sampler.augment import augment_angles
from pose_sampler.seeds import rng_for
from pose_sampler.settings import SampleSettings, poses_fingerprint

FORMAT_NOTE = "absolute axis-angle (flat_hand_mean=True), metres, world coordinates"
CONTACT_MM = 2.0


def output_layout(out: Path) -> dict:
    """Where the chunks, the naturalness prior (and, with --interhand, its discriminator) and the report go for an
    output path."""
    if out.suffix == ".npz":
        beside = {"chunks": f".{out.stem}.parts", "prior": f"{out.stem}.prior.npz",
                  "discriminator": f"{out.stem}.discriminator.pt", "report": f"{out.stem}.report"}  # fmt: skip
        return {"single": True, **{k: out.parent / fit_name(name) for k, name in beside.items()}}
    return {"single": False, "chunks": out, "prior": out / "prior.npz", "discriminator": out / "discriminator.pt",
            "report": out / "report"}  # fmt: skip


def _finished(path: Path, ids: np.ndarray, fingerprint: dict) -> bool:
    """Whether a chunk file is complete for these ids and this run; InputError if another run made it."""
    if not path.is_file():
        return False
    poses = load_poses(path)
    diff = first_difference(poses.meta.get("fingerprint", {}), fingerprint)
    if diff is not None:
        raise InputError(f"{path}: made with different settings than this run ({diff}; use another --out, or delete "
                         "it to start over)")  # fmt: skip
    return np.array_equal(poses.ids, ids)


def sample_poses(settings: SampleSettings, progress=True) -> dict:
    """Run the sampler; returns a summary dict (counts, quality figures, timings, paths written).

    settings.threads: torch's CPU threads for the run (0: leave torch's setting). A pose's bytes depend on it:
    batched float reductions and matmuls split their sums by thread, so a pose is reproduced only at the same thread
    count; the default 1 gives the same poses on any machine of one CPU kind, whatever its cores or load (and on a
    shared machine one thread per process is also the fastest).

    settings.workers: processes that run the chunks side by side on a CPU (0: one per CPU core this process may
    use, at most `AUTO_WORKERS`, and one on CUDA or with threads other than 1). Each worker runs whole chunks at
    `threads` threads, so the poses are the same bytes whatever the number of workers."""
    settings.validate()
    workers = _workers(settings.workers, settings, settings.threads)
    before = torch.get_num_threads()
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    try:
        return _sample_poses(settings, progress, workers)
    finally:
        torch.set_num_threads(before)


AUTO_WORKERS = 8


def _workers(workers: int, settings: SampleSettings, threads: int) -> int:
    """The number of chunk processes for `workers` (0: automatic); InputError where processes cannot be used."""
    if workers < 0:
        raise InputError(f"--workers {workers}: must not be negative")
    on_cpu = not settings.device.startswith("cuda")
    if workers == 0:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return min(cores, AUTO_WORKERS) if on_cpu and threads == 1 else 1
    if workers > 1 and not on_cpu:
        raise InputError(f"--workers {workers}: worker processes run on the CPU only (use 1 with --device cuda)")
    if workers > 1 and threads != 1:
        raise InputError(f"--workers {workers}: worker processes need --threads 1 (got {threads})")
    return workers


def _sample_poses(settings: SampleSettings, progress, workers: int) -> dict:
    out, shard, mano_dir, report = Path(settings.out), settings.shard, settings.mano_dir, settings.report
    layout = output_layout(out)
    _check_shard(out, layout, shard)
    from handmodel import load_hand_models

    fingerprint = poses_fingerprint(settings, load_hand_models(mano_dir, quiet=True))
    if layout["single"] and out.is_file() and not settings.restart:
        done = load_poses(out)
        if done.meta.get("fingerprint") == fingerprint and len(done) == settings.num:
            return {"skipped": True, "out": str(out), "kept": int(done.metrics["kept"].sum()), "num": len(done)}
    t0 = time.perf_counter()
    run = _setup(settings, layout, fingerprint, mano_dir)
    mine, todo = _plan(settings, layout, fingerprint, shard)
    stages = {"setup": time.perf_counter() - t0}
    t_run = time.perf_counter()
    _run_chunks(todo, settings, run, layout, stages, progress, workers)
    summary = {
        "skipped": False,
        "out": str(out),
        "chunks_run": len(todo),
        "seconds_sampling": time.perf_counter() - t_run,
        "poses_run": int(sum(len(ids) for _, ids in todo)),
        "seconds_total": time.perf_counter() - t0,
        "seconds_by_stage": stages,
    }
    if run["discriminator"] is not None:
        summary["discriminator"] = {"path": str(layout["discriminator"]), **run["discriminator"]}
    if layout["single"]:
        result = merge_chunks([chunk_path(layout["chunks"], c) for c in range(_n_chunks(settings))], run["meta"])
        save_poses(out, result)
        shutil.rmtree(layout["chunks"], ignore_errors=True)
    else:
        result = merge_chunks([chunk_path(out, c) for c in mine], run["meta"])
    summary.update(quality_summary(result, settings))
    if report:
        from pose_sampler.report import write_report

        summary["report"] = str(write_report(layout["report"], result, run["models"], run["frames"], summary))
    return summary


def _check_shard(out: Path, layout: dict, shard) -> None:
    k, n_shards = shard
    if layout["single"] and n_shards > 1:
        raise InputError(f"{out}: --shard needs a folder as --out (each shard writes its own chunk files)")
    if not 0 <= k < n_shards:
        raise InputError(f"--shard {k}/{n_shards}: K must be in 0..N-1")


def _setup(settings: SampleSettings, layout: dict, fingerprint: dict, mano_dir) -> dict:
    """Hand model, geometry on the device, seed source, the naturalness prior (fitted and saved), the file meta."""
    from handmodel import load_hand_models
    from handmodel.anatomy import angles_from_pose, joint_frames
    from handmodel.torch_layer import HandLayer
    from pose_sampler.naturalness import fit_prior, save_prior
    from pose_sampler.optimize import OptimSettings, TwoHandGeometry
    from pose_sampler.seeds import InterHandSeeds, PriorSeeds

    models = load_hand_models(mano_dir=mano_dir)
    frames = joint_frames(models)
    device = torch.device(settings.device)
    layer = HandLayer(models, device=device)
    geom = TwoHandGeometry(models, layer, frames, device)
    if settings.interhand:
        source = InterHandSeeds(settings.interhand, settings.split, models)
    else:
        source = PriorSeeds(models, frames, layer, settings.seed, geom.topo)
    fit = source.fit_poses()
    fit_angles = {h: angles_from_pose(fit[h], frames[h]) for h in HANDS}
    prior = fit_prior(np.concatenate([fit_angles[h] for h in HANDS]))
    save_prior(layout["prior"], prior)
    figures = None
    if settings.interhand:  # RenderIH's discriminator, trained real (the frames) vs augmented, beside the Gaussian
        from pose_sampler.discriminator import Naturalness, save_discriminator, train_discriminator

        trained = train_discriminator(np.stack([fit_angles[h] for h in HANDS], 1), settings.seed,
                                      settings.bend_delta_deg, settings.splay_delta_deg)  # fmt: skip
        save_discriminator(layout["discriminator"], trained)
        prior, figures = Naturalness(prior, trained.model), trained.figures
    optim = OptimSettings(iters=settings.iters, contact_goal=settings.contact == "touching")
    meta = {
        "hand_model": models.identity,  # no local path: files made on any machine carry the same meta
        "convention": FORMAT_NOTE,
        "seed": settings.seed,
        "settings": {**settings.recorded(), "optimizer": optim.as_dict()},
        "fingerprint": fingerprint,
        "seeds": source.description,
        "naturalness_prior": layout["prior"].name,
    }
    if figures is not None:
        meta["naturalness_discriminator"] = {"file": layout["discriminator"].name, **figures}
    return {"models": models, "frames": frames, "geom": geom, "source": source, "prior": prior, "optim": optim,
            "meta": meta, "discriminator": figures}  # fmt: skip


def _n_chunks(settings: SampleSettings) -> int:
    return -(-settings.num // settings.batch_size)


def _plan(settings: SampleSettings, layout: dict, fingerprint: dict, shard) -> tuple[list, list]:
    """This shard's chunks, and of those the ones still to run, as (chunk, ids) pairs."""
    mine = [c for c in range(_n_chunks(settings)) if in_shard(c, shard)]
    todo = []
    for c in mine:
        ids = np.arange(c * settings.batch_size, min((c + 1) * settings.batch_size, settings.num))
        if not _finished(chunk_path(layout["chunks"], c), ids, fingerprint):
            todo.append((c, ids))
    return mine, todo


def _run_chunks(todo: list, settings: SampleSettings, run: dict, layout: dict, stages: dict, progress,
                workers: int = 1) -> None:  # fmt: skip
    """Run and write the chunks `todo`, in this process or in `workers` forked ones (stage seconds summed)."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(len(ids) for _, ids in todo), unit="pose", desc="sample-poses", dynamic_ncols=True)
    workers = min(workers, len(todo))
    if workers > 1:
        import multiprocessing

        from handmodel.errors import quiet_worker

        global _FORKED  # what the forked workers read: nothing of it is pickled
        _FORKED = (settings, run, layout, torch.get_num_threads())
        try:
            # Leaving the block (done, failed or interrupted) terminates the workers; they print nothing of it.
            with multiprocessing.get_context("fork").Pool(workers, initializer=quiet_worker) as pool:
                for n, chunk_stages in pool.imap_unordered(_chunk_job, todo):
                    for k, v in chunk_stages.items():
                        stages[k] = stages.get(k, 0.0) + v
                    if bar is not None:
                        bar.update(n)
        finally:
            _FORKED = None
    else:
        for c, ids in todo:
            _write_chunk(c, ids, settings, run, layout, bar, stages)
            if bar is not None:
                bar.update(len(ids))
    if bar is not None:
        bar.close()


_FORKED = None


def _chunk_job(item) -> tuple[int, dict]:
    """One chunk in a worker process: (poses run, its stage seconds)."""
    c, ids = item
    settings, run, layout, threads = _FORKED
    torch.set_num_threads(threads)
    stages = {}
    _write_chunk(c, ids, settings, run, layout, None, stages)
    return len(ids), stages


def _write_chunk(c: int, ids, settings: SampleSettings, run: dict, layout: dict, bar, stages: dict) -> None:
    poses = _run_chunk(c, ids, settings, run, bar, stages)
    poses.meta = run["meta"]
    t = time.perf_counter()
    save_poses(chunk_path(layout["chunks"], c), poses)
    stages["write"] = stages.get("write", 0.0) + time.perf_counter() - t


def merge_chunks(paths: list, meta: dict) -> Poses:
    """The chunk files, in order, as one Poses with the run's meta."""
    return concat_poses([load_poses(p) for p in paths], meta)


def quality_summary(poses: Poses, settings: SampleSettings) -> dict:
    """The quality figures the summary reports, over all poses and over the kept ones."""
    m = poses.metrics
    kept = m["kept"].astype(bool)
    pen, viol = m["penetration_mm"], m["anatomy_violation_deg"]

    def share(x):
        return float(x[kept].mean()) if kept.any() else 0.0

    out = {
        "num": len(poses),
        "kept": int(kept.sum()),
        "penetration_mm_after_median": float(np.median(pen)),
        "penetration_mm_after_max": float(pen.max()),
        "share_all_pen_le_2mm": float((pen <= 2.0).mean()),
        "share_kept_pen_le_2mm_and_anatomy_le_0.1deg": share((pen <= 2.0) & (viol <= 0.1)),
        "anatomy_violation_deg_after_max": float(viol.max()),
        "coupling_violation_deg_after_max": float(m["coupling_violation_deg"].max()),
        "touching_share": float((m["surface_gap_mm"] <= 2.0).mean()),
        "share_kept_touching_2mm": share(m["surface_gap_mm"] <= 2.0),
        "median_kept_contact_vertices": float(np.median(m["contact_vertices"][kept])) if kept.any() else 0.0,
        "share_all_intersecting_triangles_le_75": float((m["intersecting_triangles"] <= 75).mean()),
        "share_kept_one_body": share(m["one_body"].astype(bool)),
    }
    if "penetration_mm_before" in m:
        out["penetration_mm_before_median"] = float(np.median(m["penetration_mm_before"]))
    return out


def _start_parameters(ids: np.ndarray, settings: SampleSettings, source, geom) -> dict:
    """Seeds and augmented copies for sample ids (n,): the start tensors for `optimize`."""
    seed_ids = ids // settings.copies
    uniq, inverse = np.unique(seed_ids, return_inverse=True)
    seeds = source.seeds(uniq)
    original = source.is_original(seed_ids) & (ids % settings.copies == 0)
    dev, dt = geom.device, geom.dtype

    def t(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=dev)

    start = {}
    for h in HANDS:
        pose = seeds[h]["pose"][inverse]
        angles = np.einsum("jab,nja->njb", geom.frames[h].double().cpu().numpy(), pose[:, 3:].reshape(-1, 15, 3))
        aug = angles.copy()
        for i, sid in enumerate(ids):
            if not original[i]:
                rng = rng_for(settings.seed, f"augment-{h}", sid)
                aug[i] = augment_angles(rng, angles[i : i + 1], settings.bend_delta_deg, settings.splay_delta_deg)[0]
        start[h] = {"root": t(pose[:, :3]), "shape": t(seeds[h]["shape"][inverse]),
                    "trans": t(seeds[h]["trans"][inverse]), "angles": t(aug)}  # fmt: skip
    start["body_to_world"] = t(seeds["body_to_world"][inverse])
    start["label"] = np.asarray(seeds["label"])[inverse]
    _place_copies(start, torch.as_tensor(~original, device=dev), geom)
    return start


@torch.no_grad()
def _place_copies(start: dict, moved: torch.Tensor, geom) -> None:
    """Slide each augmented copy's left hand (rows `moved`) to first contact with the right along the line
    between the hands' centres: the perturbed fingers neither start inside the other hand nor away from it."""
    from pose_sampler.placement import touching_shift

    rows = moved.nonzero(as_tuple=True)[0]
    if len(rows) == 0:
        return
    v = {h: geom.verts(h, *(start[h][k][rows] for k in ("root", "angles", "shape", "trans"))) for h in HANDS}
    a = v["left"].mean(1) - v["right"].mean(1)
    a = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    shift = touching_shift(v["right"], v["left"], a, geom.topo["right"], geom.topo["left"], nearest=256)
    start["left"]["trans"][rows] += a * shift[:, None]


def _padded(ids: np.ndarray, settings: SampleSettings) -> np.ndarray:
    """A chunk's ids padded to the full chunk (ids past --num are computed and dropped): a pose's result then
    never depends on how many poses the run has, as a batched float computation can round differently."""
    first = ids[0] - ids[0] % settings.batch_size
    return np.arange(first, first + settings.batch_size)


def _run_chunk(c: int, ids, settings: SampleSettings, run: dict, bar, stages: dict) -> Poses:
    """One chunk of sample ids (n,) end to end; adds each stage's seconds to `stages`."""
    from pose_sampler.metrics import pose_metrics
    from pose_sampler.optimize import optimize, settle_contact, snap_into_contact

    geom, prior = run["geom"], run["prior"]
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - clock[0]
        clock[0] = now

    full = _padded(ids, settings)
    start = _start_parameters(full, settings, run["source"], geom)
    lap("seeds + augmentation")

    def progress(_, info):
        if bar is not None:
            bar.set_postfix(loss=f"{info['loss']:.3g}", pen_mm=f"{info['pen_mm']:.2f}", active=info["active"])

    result = optimize(geom, prior, start, run["optim"], progress=progress)
    final = {h: {**start[h], **result[h]} for h in HANDS}
    if run["optim"].contact_goal:
        snap_into_contact(geom, final, run["optim"])
        result["iterations"] = result["iterations"] + settle_contact(geom, prior, final, start, run["optim"])
    lap("optimization")
    # Metrics of the whole padded chunk, then cut: a batched float computation may round differently for another
    # number of rows, and a pose's figures must not depend on --num either.
    params, stored = _stored(geom, final, slice(None))
    body = start["body_to_world"]
    after = pose_metrics(geom, stored, body, run["models"], params)
    lap("metrics")
    keep = slice(0, len(ids))
    nat = sum(prior.nll(stored[h]["angles"]).cpu().numpy() for h in HANDS) / 2
    params = {h: {k: v[keep] for k, v in params[h].items()} for h in HANDS}
    after = {k: v[keep] for k, v in after.items()}
    kept = (after["penetration_mm"] <= settings.max_penetration_mm) & (
        after["anatomy_violation_deg"] <= settings.max_anatomy_deg
    )
    kept &= after["one_body"].astype(bool)
    if settings.contact == "touching":
        kept &= after["surface_gap_mm"] <= CONTACT_MM
    metrics = {**after, "kept": kept}
    metrics["naturalness_nll"] = nat[keep].astype(np.float32)
    metrics["iterations"] = result["iterations"][keep].cpu().numpy()
    metrics["seed_id"] = (ids // settings.copies).astype(np.int64)
    metrics["copy"] = (ids % settings.copies).astype(np.int64)
    metrics["interaction"] = start["label"][keep].astype(str)
    body_to_world = body[keep].cpu().double().numpy()
    return Poses(params=params, ids=ids.astype(np.int64), metrics=metrics, meta={}, body_to_world=body_to_world)


def _stored(geom, final: dict, keep: slice) -> tuple[dict, dict]:
    """The parameters exactly as the file stores them (float32 axis-angle) and the tensors rebuilt from them, so
    the metrics are those of the file alone."""
    params, stored = {}, {}
    for h in HANDS:
        f = {k: v[keep] for k, v in final[h].items()}
        pose = torch.cat([f["root"], geom.pose_from_angles(h, f["angles"])], 1).cpu().numpy()
        params[h] = {"pose": pose.astype(np.float32), "shape": f["shape"].cpu().numpy().astype(np.float32),
                     "trans": f["trans"].cpu().numpy().astype(np.float32)}  # fmt: skip
        p32 = torch.as_tensor(params[h]["pose"], dtype=geom.dtype, device=geom.device)
        stored[h] = {"root": p32[:, :3], "angles": geom.angles_from_pose(h, p32[:, 3:]),
                     "shape": torch.as_tensor(params[h]["shape"], device=geom.device),
                     "trans": torch.as_tensor(params[h]["trans"], device=geom.device)}  # fmt: skip
    return params, stored


def remove_partial(out) -> None:
    """Remove the hidden chunk folder of a single-file output (for `--restart`)."""
    layout = output_layout(Path(out))
    if layout["single"] and layout["chunks"].exists():
        shutil.rmtree(layout["chunks"])
    elif not layout["single"] and Path(out).exists():
        for p in Path(out).glob("poses-*.npz"):
            os.unlink(p)
