"""`sample-poses` end to end: seeds -> augmentation -> optimization -> exact metrics -> filter -> poses file.

Work is split into chunks of `batch_size` consecutive sample ids; a chunk is the unit of sharding (`shard=(k, n)`
takes chunks c with c % n == k) and of resume (a finished chunk is a file and is skipped on a rerun). With
`out` a folder, the chunks are the output (`poses-00000.npz`, ...); with `out` a `.npz` file, they are kept in a
hidden folder beside it until all are done, then merged into the one file.
"""

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.poses_io import Poses, load_poses, save_poses
from pose_sampler.augment import augment_angles
from pose_sampler.seeds import rng_for

FORMAT_NOTE = "absolute axis-angle (flat_hand_mean=True), metres, world coordinates"


@dataclass
class SampleSettings:
    num: int = 64
    seed: int = 0
    copies: int = 8
    batch_size: int = 256
    iters: int = 90
    max_penetration_mm: float = 2.0
    max_anatomy_deg: float = 0.1
    bend_delta_deg: float = 120.0
    splay_delta_deg: float = 30.0
    interhand: str | None = None
    split: str = "train"
    device: str = "cpu"

    def validate(self) -> None:
        for name in ("num", "copies", "batch_size", "iters"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')}: must be at least 1, got {getattr(self, name)}")
        if self.max_penetration_mm < 0 or self.max_anatomy_deg < 0:
            raise InputError("--max-penetration-mm / --max-anatomy-deg: must not be negative")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"--device {self.device}: CUDA is not available here (use --device cpu)")

    def key(self) -> str:
        """A hash of every setting that changes the file's content (resume refuses chunks made otherwise)."""
        d = dict(self.__dict__)
        d.pop("device")  # CPU and CUDA runs agree to float precision; resuming on either is fine
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def output_layout(out: Path) -> dict:
    """Where the chunks, the naturalness prior and the report go for an output path."""
    if out.suffix == ".npz":
        return {"single": True, "chunks": out.parent / f".{out.stem}.parts", "prior": out.with_suffix(".prior.npz"),
                "report": out.parent / f"{out.stem}.report"}  # fmt: skip
    return {"single": False, "chunks": out, "prior": out / "prior.npz", "report": out / "report"}


def chunk_path(folder: Path, c: int) -> Path:
    return folder / f"poses-{c:05d}.npz"


def _finished(path: Path, ids: np.ndarray, key: str) -> bool:
    """Whether a chunk file is complete for these ids and settings; InputError if it was made differently."""
    if not path.is_file():
        return False
    poses = load_poses(path)
    if poses.meta.get("settings_key") != key:
        raise InputError(
            f"{path}: made with different settings than this run (use another --out, or delete it to start over)"
        )
    return np.array_equal(poses.ids, ids)


def sample_poses(out, settings: SampleSettings, shard=(0, 1), mano_dir=None, report: bool = True, progress=True):
    """Run the sampler; returns a summary dict (counts, quality figures, timings, paths written)."""
    settings.validate()
    k, n_shards = shard
    out = Path(out)
    layout = output_layout(out)
    if layout["single"] and n_shards > 1:
        raise InputError(f"{out}: --shard needs a folder as --out (each shard writes its own chunk files)")
    if not 0 <= k < n_shards:
        raise InputError(f"--shard {k}/{n_shards}: K must be in 0..N-1")
    key = settings.key()
    if layout["single"] and out.is_file():
        done = load_poses(out)
        if done.meta.get("settings_key") == key and len(done) == settings.num:
            return {"skipped": True, "out": str(out), "kept": int(done.metrics["kept"].sum()), "num": len(done)}

    from handmodel import load_hand_models
    from handmodel.anatomy import angles_from_pose, joint_frames
    from handmodel.torch_layer import HandLayer
    from pose_sampler.naturalness import fit_prior, save_prior
    from pose_sampler.optimize import OptimSettings, TwoHandGeometry
    from pose_sampler.seeds import InterHandSeeds, PriorSeeds

    t0 = time.perf_counter()
    models = load_hand_models(mano_dir=mano_dir)
    frames = joint_frames(models)
    device = torch.device(settings.device)
    layer = HandLayer(models, device=device)
    geom = TwoHandGeometry(models, layer, frames, device)
    n_seeds = -(-settings.num // settings.copies)
    if settings.interhand:
        source = InterHandSeeds(settings.interhand, settings.split, models)
    else:
        source = PriorSeeds(models, frames, layer, settings.seed, n_seeds)
    fit = source.fit_poses()
    prior = fit_prior(np.concatenate([angles_from_pose(fit[h], frames[h]) for h in HANDS]))
    save_prior(layout["prior"], prior)
    optim = OptimSettings(iters=settings.iters)
    meta = {
        "hand_model": dict(models.info),
        "convention": FORMAT_NOTE,
        "seed": settings.seed,
        "settings": {**settings.__dict__, "optimizer": optim.as_dict()},
        "settings_key": key,
        "seeds": source.description,
        "naturalness_prior": layout["prior"].name,
    }

    n_chunks = -(-settings.num // settings.batch_size)
    mine = [c for c in range(n_chunks) if c % n_shards == k]
    todo = []
    for c in mine:
        ids = np.arange(c * settings.batch_size, min((c + 1) * settings.batch_size, settings.num))
        if not _finished(chunk_path(layout["chunks"], c), ids, key):
            todo.append((c, ids))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(len(ids) for _, ids in todo), unit="pose", desc="sample-poses", dynamic_ncols=True)
    t_opt = time.perf_counter()
    stages = {"setup": t_opt - t0}
    for c, ids in todo:
        poses = _run_chunk(ids, settings, source, geom, prior, optim, bar, stages)
        poses.meta = meta
        t = time.perf_counter()
        save_poses(chunk_path(layout["chunks"], c), poses)
        stages["write"] = stages.get("write", 0.0) + time.perf_counter() - t
        if bar is not None:
            bar.update(len(ids))
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t_opt
    summary = {
        "skipped": False,
        "out": str(out),
        "chunks_run": len(todo),
        "seconds_sampling": seconds,
        "poses_run": int(sum(len(ids) for _, ids in todo)),
        "seconds_total": time.perf_counter() - t0,
        "seconds_by_stage": stages,
    }

    if layout["single"]:
        parts = [load_poses(chunk_path(layout["chunks"], c)) for c in range(n_chunks)]
        merged = Poses(
            params={h: {p: np.concatenate([x.params[h][p] for x in parts]) for p in parts[0].params[h]} for h in HANDS},
            ids=np.concatenate([x.ids for x in parts]),
            metrics={m: np.concatenate([x.metrics[m] for x in parts]) for m in parts[0].metrics},
            meta=meta,
        )
        save_poses(out, merged)
        shutil.rmtree(layout["chunks"], ignore_errors=True)
        result = merged
    else:
        done = [chunk_path(out, c) for c in mine]
        parts = [load_poses(p) for p in done]
        result = Poses(
            params={h: {p: np.concatenate([x.params[h][p] for x in parts]) for p in parts[0].params[h]} for h in HANDS},
            ids=np.concatenate([x.ids for x in parts]),
            metrics={m: np.concatenate([x.metrics[m] for x in parts]) for m in parts[0].metrics},
            meta=meta,
        )
    summary.update(quality_summary(result, settings))
    if report:
        from pose_sampler.report import write_report

        summary["report"] = str(write_report(layout["report"], result, models, frames, summary))
    return summary


def quality_summary(poses: Poses, settings: SampleSettings) -> dict:
    """The quality figures the summary reports, over all poses and over the kept ones."""
    m = poses.metrics
    kept = m["kept"].astype(bool)
    pen, viol = m["penetration_mm"], m["anatomy_violation_deg"]
    return {
        "num": len(poses),
        "kept": int(kept.sum()),
        "penetration_mm_before_median": float(np.median(m["penetration_mm_before"])),
        "penetration_mm_after_median": float(np.median(pen)),
        "penetration_mm_before_max": float(m["penetration_mm_before"].max()),
        "penetration_mm_after_max": float(pen.max()),
        "share_all_pen_le_2mm": float((pen <= 2.0).mean()),
        "share_kept_pen_le_2mm_and_anatomy_le_0.1deg": float(((pen <= 2.0) & (viol <= 0.1))[kept].mean())
        if kept.any()
        else 0.0,
        "anatomy_violation_deg_before_max": float(m["anatomy_violation_deg_before"].max()),
        "anatomy_violation_deg_after_max": float(viol.max()),
        "touching_share": float((m["contact_pairs"] > 0).mean()),
    }


def _start_parameters(ids: np.ndarray, settings: SampleSettings, source, geom):
    """Seeds and augmented copies for sample ids (n,): the start tensors for `optimize`."""
    from pose_sampler.losses import find_contact_pairs

    seed_ids = ids // settings.copies
    uniq, inverse = np.unique(seed_ids, return_inverse=True)
    seeds = source.seeds(uniq)
    original = source.is_original(seed_ids) & (ids % settings.copies == 0)
    dev, dt = geom.device, geom.dtype
    start, seed_start = {}, {}
    for h in HANDS:
        pose = seeds[h]["pose"][inverse]
        angles = np.einsum("jab,nja->njb", geom.frames[h].double().cpu().numpy(), pose[:, 3:].reshape(-1, 15, 3))
        aug = angles.copy()
        for i, sid in enumerate(ids):
            if not original[i]:
                rng = rng_for(settings.seed, f"augment-{h}", sid)
                aug[i] = augment_angles(rng, angles[i : i + 1], settings.bend_delta_deg, settings.splay_delta_deg)[0]

        def t(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=dev)

        common = {
            "root": t(pose[:, :3]),
            "shape": t(seeds[h]["shape"][inverse]),
            "trans": t(seeds[h]["trans"][inverse]),
        }
        start[h] = {**common, "angles": t(aug)}
        seed_start[h] = {**common, "angles": t(angles)}
    # Contact pairs come from the seed as it was, before augmentation moved the fingers.
    with torch.no_grad():
        v = {h: geom.verts(h, *(seed_start[h][k] for k in ("root", "angles", "shape", "trans"))) for h in HANDS}
        nr, nl = (geom.normals(h, v[h])[1] for h in HANDS)
        start["pairs"], start["weights"] = find_contact_pairs(v["right"], v["left"], nr, nl, geom.anchors)
    return start


def _run_chunk(ids, settings: SampleSettings, source, geom, prior, optim, bar, stages: dict) -> Poses:
    """One chunk of sample ids (n,) end to end; adds each stage's seconds to `stages`."""
    from pose_sampler.metrics import pose_metrics
    from pose_sampler.optimize import optimize

    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - clock[0]
        clock[0] = now

    start = _start_parameters(ids, settings, source, geom)
    lap("seeds + augmentation")
    before = pose_metrics(geom, start)
    lap("metrics before")

    def progress(_, info):
        if bar is not None:
            bar.set_postfix(loss=f"{info['loss']:.3g}", pen_mm=f"{info['pen_mm']:.2f}", active=info["active"])

    result = optimize(geom, prior, start, optim, progress=progress)
    lap("optimization")
    final = {h: {**start[h], **result[h]} for h in HANDS}
    # Metrics from the parameters exactly as stored (float32 axis-angle), so the file alone reproduces them.
    params, stored = {}, {}
    for h in HANDS:
        pose = torch.cat([final[h]["root"], geom.pose_from_angles(h, final[h]["angles"])], 1).cpu().numpy()
        params[h] = {"pose": pose.astype(np.float32), "shape": final[h]["shape"].cpu().numpy().astype(np.float32),
                     "trans": final[h]["trans"].cpu().numpy().astype(np.float32)}  # fmt: skip
        p32 = torch.as_tensor(params[h]["pose"], dtype=geom.dtype, device=geom.device)
        stored[h] = {"root": p32[:, :3], "angles": geom.angles_from_pose(h, p32[:, 3:]),
                     "shape": torch.as_tensor(params[h]["shape"], device=geom.device),
                     "trans": torch.as_tensor(params[h]["trans"], device=geom.device)}  # fmt: skip
    after = pose_metrics(geom, stored)
    lap("metrics after")
    nat = sum(prior.nll(stored[h]["angles"]).detach().cpu().numpy() for h in HANDS) / 2
    kept = (after["penetration_mm"] <= settings.max_penetration_mm) & (
        after["anatomy_violation_deg"] <= settings.max_anatomy_deg
    )
    metrics = {**after, "kept": kept}
    for name in ("penetration_mm", "penetration_vertices", "anatomy_violation_deg", "contact_pairs"):
        metrics[f"{name}_before"] = before[name]
    metrics["naturalness_nll"] = nat.astype(np.float32)
    metrics["iterations"] = result["iterations"].cpu().numpy()
    metrics["seed_id"] = (ids // settings.copies).astype(np.int64)
    metrics["copy"] = (ids % settings.copies).astype(np.int64)
    return Poses(params=params, ids=ids.astype(np.int64), metrics=metrics, meta={})


def remove_partial(out) -> None:
    """Remove the hidden chunk folder of a single-file output (for `--restart`)."""
    layout = output_layout(Path(out))
    if layout["single"] and layout["chunks"].exists():
        shutil.rmtree(layout["chunks"])
    elif not layout["single"] and Path(out).exists():
        for p in Path(out).glob("poses-*.npz"):
            os.unlink(p)
