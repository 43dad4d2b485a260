"""Training throughput at 256x256, batch 64: data-loader images/s against the images/s the model consumes.

    .venv/bin/python benchmarks/bench_train.py [--data DATASET] [--device cpu|cuda] [--batch 64] [--size 256]
        [--workers 4] [--steps 3] [--loader-batches 4] [--backbone resnet50]

Prints one table: the loader (full augmentation, heatmaps, masks, dense maps, worker processes), one training
step of the default IntagHand-sized network (forward, losses, backward, AdamW; AMP on CUDA), and the ratio
loader / training (the aim: at least 2) in the same run. Without --data it writes 64 drawn two-hand
samples (dataset_tools/drawn.py, cv2, no Blender) at the input size into a temporary folder.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from handmodel import load_hand_models
from training.config import resolve_config
from training.dataset import HandDataset, MixedDataset
from training.losses import total_loss
from training.mesh_graph import hand_graphs
from training.model import TwoHandNet
from training.trainer import loss_geometry, make_loader


def loader_rate(cfg, mixed, batches: int) -> tuple[float, dict]:
    """Images/s of the data loader over `batches` batches after the first (worker start-up excluded)."""
    loader, _ = make_loader(cfg, mixed, cfg["stages"][0], batches + 1, 0, 1, "cpu")
    it = iter(loader)
    first = next(it)
    t = time.perf_counter()
    n = 0
    for batch in it:
        n += len(batch["image"])
    return n / (time.perf_counter() - t), first


def train_rate(cfg, graphs, batch: dict, device: str, steps: int) -> float:
    """Images/s of full training steps on one fixed batch (the first step, warm-up, is not timed)."""
    dev = torch.device(device)
    net = TwoHandNet(graphs, cfg["model"]).to(dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, foreach=True)
    geometry = loss_geometry(graphs, dev)
    batch = {k: v.to(dev) for k, v in batch.items()}
    amp = dev.type == "cuda"
    if amp:  # as the trainer does on CUDA
        net = net.to(memory_format=torch.channels_last)
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16

    def step():
        with torch.autocast(dev.type, dtype=dtype, enabled=amp):
            pred = net(batch["image"])
        loss, _ = total_loss(pred, batch, geometry, cfg["loss"], 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    if amp:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if amp:
        torch.cuda.synchronize()
    return steps * len(batch["image"]) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="A dataset folder (default: 64 drawn samples, made here).")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3, help="Timed training steps.")
    ap.add_argument("--loader-batches", type=int, default=4, help="Timed loader batches.")
    ap.add_argument("--backbone", default="resnet50")
    args = ap.parse_args()

    models = load_hand_models(quiet=True)
    graphs = hand_graphs(models)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from dataset_tools.drawn import make_drawn_dataset

            data = make_drawn_dataset(Path(tmp) / "drawn", n=64, size=args.size, models=models)
        cfg = resolve_config(
            {
                "data": {"bench": str(data)},
                "model": {"input_size": args.size, "backbone": args.backbone, "backbone_weights": None},
                "train": {"batch_size": args.batch, "workers": args.workers},
            }
        )
        mixed = MixedDataset({"bench": HandDataset(data, models, graphs, args.size, cfg["augment"], name="bench")})
        load, first = loader_rate(cfg, mixed, args.loader_batches)
        train = train_rate(cfg, graphs, first, args.device, args.steps)

    amp = " + AMP" if args.device.startswith("cuda") else ""
    rows = [
        (f"data loader ({args.workers} workers, augmentation on)", load, ""),
        (f"training step ({args.backbone}, {args.device}{amp})", train, "1.00 (baseline)"),
        ("loader / training", None, f"{load / train:.2f} (aim >= 2)"),
    ]
    print(f"\ntraining throughput at {args.size}x{args.size}, batch {args.batch}, torch {torch.__version__}")
    print(f"{'measure':<52} {'images/s':>10}  ratio")
    for name, rate, ratio in rows:
        value = f"{rate:10.1f}" if rate is not None else " " * 10
        print(f"{name:<52} {value}  {ratio or f'{rate / train:.2f}'}")


if __name__ == "__main__":
    main()
