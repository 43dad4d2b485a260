"""The CUDA paths, each run once with its figures printed: the parts of `benchmarks/gpu_check.sh`.

    .venv/bin/python benchmarks/gpu_check.py SECTION [--device cuda] [options]

Sections: `train` (one IntagHand-size training step, AMP bf16: images/s and peak memory), `ddp` (a one-process
NCCL DistributedDataParallel run of training steps), `sampler` (the pose sampler end to end at one batch: poses/s),
`cycles` (Blender Cycles on the GPU, s per sample at a given size; skipped when Cycles finds no GPU).
Every section also runs on the CPU (`--device cpu`, small sizes), which is how the tests check them.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batch(models, graphs, size: int, batch: int, tmp: Path) -> dict:
    """A training batch of `batch` items from 8 drawn two-hand samples (cv2, no Blender) at `size`."""
    from dataset_tools.drawn import make_drawn_dataset
    from training.dataset import HandDataset

    data = make_drawn_dataset(tmp / "drawn", n=8, size=size, models=models)
    ds = HandDataset(data, models, graphs, size, augment=None)
    items = [ds[i % len(ds)] for i in range(batch)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _model_config(backbone: str, size: int, batch: int, tiny: bool) -> dict:
    from training.config import load_yaml, resolve_config

    user = load_yaml(ROOT / "training" / "configs" / "tiny.yaml") if tiny else {}
    user.setdefault("model", {}).update(backbone=backbone, input_size=size, backbone_weights=None)
    user.setdefault("train", {}).update(batch_size=batch)
    return resolve_config(user)


def _training_setup(backbone: str, size: int, batch: int, tiny: bool, device: torch.device):
    """The config, hand models, graphs, one batch on `device`, and (net, optimizer, scaler, AMP dtype) from _build."""
    from handmodel import load_hand_models
    from training.mesh_graph import hand_graphs
    from training.trainer import _build

    cfg = _model_config(backbone, size, batch, tiny)
    models = load_hand_models(quiet=True)
    graphs = hand_graphs(models)
    with tempfile.TemporaryDirectory() as tmp:
        batch_t = {k: v.to(device) for k, v in _batch(models, graphs, size, batch, Path(tmp)).items()}
    return cfg, models, graphs, batch_t, _build(cfg, graphs, device)


def train_section(device: torch.device, backbone: str, size: int, batch: int, steps: int, tiny: bool) -> dict:
    """Timed training steps after one warm-up step: images/s, seconds per step, peak memory (CUDA)."""
    from training.trainer import loss_geometry, train_step

    cfg, models, graphs, batch_t, (net, opt, scaler, amp_dtype) = _training_setup(backbone, size, batch, tiny, device)
    net.train()
    geometry = loss_geometry(graphs, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    loss, _ = train_step(net, net, dict(batch_t), opt, scaler, geometry, cfg, 0, amp_dtype)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        loss, _ = train_step(net, net, dict(batch_t), opt, scaler, geometry, cfg, 0, amp_dtype)
    _sync(device)
    sec = (time.perf_counter() - t) / steps
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    params = sum(p.numel() for p in net.parameters() if p.requires_grad) / 1e6
    return {"images_per_s": batch / sec, "s_per_step": sec, "peak_gib": peak, "loss": loss,
            "amp": str(amp_dtype).replace("torch.", "") if amp_dtype else "off", "params_m": params}  # fmt: skip


def ddp_section(device: torch.device, backbone: str, size: int, batch: int, steps: int, tiny: bool) -> dict:
    """A one-process DistributedDataParallel group (NCCL on CUDA, gloo on CPU): an all-reduce and timed steps."""
    import socket

    import torch.distributed as dist

    from training.trainer import loss_geometry, train_step

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        x = torch.full((4,), 3.0, device=device)
        dist.all_reduce(x)
        cfg, models, graphs, batch_t, (net, opt, scaler, amp_dtype) = _training_setup(
            backbone, size, batch, tiny, device
        )
        ids = [device.index or 0] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)
        geometry = loss_geometry(graphs, device)
        train_step(model, net, dict(batch_t), opt, scaler, geometry, cfg, 0, amp_dtype)
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            loss, _ = train_step(model, net, dict(batch_t), opt, scaler, geometry, cfg, 0, amp_dtype)
        _sync(device)
        sec = (time.perf_counter() - t) / steps
        return {"backend": backend, "all_reduce": float(x[0]), "s_per_step": sec, "images_per_s": batch / sec,
                "loss": loss}  # fmt: skip
    finally:
        dist.destroy_process_group()


def sampler_section(device: torch.device, batch: int, iters: int) -> dict:
    """The pose sampler end to end at one batch: poses/s and the share of poses it keeps."""
    from pose_sampler.run import SampleSettings, sample_poses

    with tempfile.TemporaryDirectory() as tmp:
        settings = SampleSettings(out=Path(tmp) / "p.npz", num=batch, batch_size=batch, iters=iters,
                                  device=str(device), seed=0, report=False, workers=1)  # fmt: skip
        t = time.perf_counter()
        s = sample_poses(settings, progress=False)
        sec = time.perf_counter() - t
    return {"poses_per_s": batch / sec, "seconds": sec, "kept": s["kept"] / batch}


CYCLES_SCRIPT = r"""
import sys, time, json
import numpy as np
import bpy
from handmodel import load_hand_models
from handmodel.joints import HANDS
from blender_scripts.scene import HandScene

size, samples, renders = int(sys.argv[-3]), int(sys.argv[-2]), int(sys.argv[-1])
prefs = bpy.context.preferences.addons["cycles"].preferences
found = None
for kind in ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL"):
    try:
        prefs.compute_device_type = kind
    except TypeError:
        continue
    prefs.get_devices()
    gpus = [d for d in prefs.devices if d.type == kind]
    if gpus:
        for d in prefs.devices:
            d.use = d.type == kind
        found = (kind, [d.name for d in gpus])
        break
if found is None:
    print("RESULT " + json.dumps({"gpu": None}))
    sys.exit(0)
models = load_hand_models(quiet=True)
scene = HandScene({h: models[h].faces for h in HANDS}, size, size, samples=samples)
scene.scene.cycles.device = "GPU"
verts = {h: models[h].v_template - models[h].v_template.mean(0) + [0.05 * (1 if h == "right" else -1), 0, 0]
         for h in HANDS}
scene.set_hands(verts)
f = 1.2 * size / 0.25 * 0.5
scene.set_camera(np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]]), np.eye(3), np.array([0, 0, 0.6]))
scene.render()
t = time.perf_counter()
for _ in range(renders):
    scene.render()
sec = (time.perf_counter() - t) / renders
scene.close()
print("RESULT " + json.dumps({"gpu": found[0], "devices": found[1], "s_per_sample": sec}))
"""


def cycles_section(size: int, samples: int, renders: int) -> dict:
    """Blender Cycles on the GPU (OptiX, else CUDA) in a fresh process: s per sample at size x size."""
    import json
    import subprocess

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CYCLES_SCRIPT)
    try:
        code = f"import bpy, runpy, sys; sys.argv = ['x', '{size}', '{samples}', '{renders}']; "
        code += f"runpy.run_path({f.name!r}, run_name='__main__')"
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    finally:
        os.unlink(f.name)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    if r.returncode or not lines:
        raise RuntimeError(f"the Cycles check failed (exit {r.returncode}): {(r.stderr or r.stdout)[-800:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("section", choices=["train", "ddp", "sampler", "cycles"])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--size", type=int, default=256, help="network input or render side, pixels")
    ap.add_argument("--batch", type=int, default=64, help="training or sampler batch")
    ap.add_argument("--steps", type=int, default=5, help="timed training steps / renders")
    ap.add_argument("--iters", type=int, default=90, help="sampler iterations")
    ap.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel")
    ap.add_argument("--tiny", action="store_true", help="the tiny network config (CPU checks)")
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check {a.section}: no CUDA device visible to torch {torch.__version__} (run it on a GPU machine)")
        return 2
    if a.section == "train":
        r = train_section(device, a.backbone, a.size, a.batch, a.steps, a.tiny)
        print(f"train step   {a.backbone} {a.size}px batch {a.batch} amp {r['amp']}: {r['images_per_s']:.1f} "
              f"images/s, {r['s_per_step']:.3f} s/step, peak {r['peak_gib']:.2f} GiB, {r['params_m']:.2f} M "
              f"trainable, loss {r['loss']:.2f}")  # fmt: skip
    elif a.section == "ddp":
        r = ddp_section(device, a.backbone, a.size, a.batch, a.steps, a.tiny)
        ok = "ok" if r["all_reduce"] == 3.0 else f"WRONG ({r['all_reduce']})"
        print(f"ddp          {r['backend']} world 1: all_reduce {ok}, {r['images_per_s']:.1f} images/s, "
              f"{r['s_per_step']:.3f} s/step, loss {r['loss']:.2f}")  # fmt: skip
        return 0 if ok == "ok" else 1
    elif a.section == "sampler":
        r = sampler_section(device, a.batch, a.iters)
        print(f"sampler      batch {a.batch}, {a.iters} iters: {r['poses_per_s']:.1f} poses/s "
              f"({r['seconds']:.1f} s, kept {r['kept']:.1%})")  # fmt: skip
    else:
        r = cycles_section(a.size, a.samples, a.steps)
        if r["gpu"] is None:
            print("cycles       Blender finds no GPU compute device: skipped")
        else:
            print(f"cycles       {r['gpu']} ({', '.join(r['devices'])}) {a.size}px {a.samples} spp: "
                  f"{r['s_per_sample']:.2f} s/sample")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
