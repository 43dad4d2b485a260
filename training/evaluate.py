"""The `eval` command: run a checkpoint over a dataset folder and report IntagHand's metrics, PA-MPJPE, MRRPE."""

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from handmodel import load_hand_models
from handmodel.atomic import atomic_write_json
from handmodel.dataset_io import MAX_BAD
from handmodel.joints import HANDS
from training.checkpoint import load_model, read_checkpoint
from training.dataset import HandDataset
from training.mesh_graph import hand_graphs
from training.metrics import evaluate_arrays, format_report


@torch.no_grad()
def predict_dataset(net, dataset, device="cpu", batch_size: int = 16, workers: int = 0, progress: bool = True):
    """Predictions and ground truth over a dataset, as stacked numpy arrays (see metrics.evaluate_arrays)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)
    pred = {h: {"joints": [], "verts": [], "cam": []} for h in HANDS}
    gt = {h: {"joints": [], "verts": [], "joints_cam": []} for h in HANDS}
    scales = []
    for batch in tqdm(loader, desc="eval", unit="batch", disable=not progress):
        out = net(batch["image"].to(device))
        scale = batch["scale"].double().numpy()
        scales.append(scale)
        for h in HANDS:
            for k in pred[h]:
                pred[h][k].append(out[h][k].double().cpu().numpy())
            # Targets are in normalised units (scale per metre), each hand relative to its own joint 9.
            gt[h]["joints"].append(batch[f"{h}_joints"].double().numpy() / scale[:, None, None])
            gt[h]["verts"].append(batch[f"{h}_verts"].double().numpy() / scale[:, None, None])
            gt[h]["joints_cam"].append(batch[f"{h}_joints_cam"].double().numpy())
    stack = lambda d: {h: {k: np.concatenate(v) for k, v in d[h].items()} for h in HANDS}  # noqa: E731
    return stack(pred), stack(gt), np.concatenate(scales)


def evaluate(checkpoint, data, json_out: str | os.PathLike | None = None, device: str = "cpu", batch_size: int = 16,
             workers: int = 0, mano_dir=None, progress: bool = True, max_bad: float = MAX_BAD) -> dict:  # fmt: skip
    """Metrics (mm) of `checkpoint` on the dataset folder `data`; printed by the CLI, optionally saved as JSON."""
    models = load_hand_models(mano_dir, quiet=True)
    graphs = hand_graphs(models)
    ckpt = read_checkpoint(checkpoint)
    size = ckpt["config"]["model"]["input_size"]
    dataset = HandDataset(data, models, graphs, size, augment=None, max_bad=max_bad)  # the data checked first
    net, ckpt = load_model(checkpoint, models, graphs, device, ckpt)
    pred, gt, scale = predict_dataset(net, dataset, device, batch_size, workers, progress)
    metrics = evaluate_arrays(pred, gt, scale)
    metrics["samples"] = len(dataset)
    metrics["bad_samples"] = len(dataset.samples.names) - len(dataset)  # the samples the check left out
    metrics["checkpoint"] = ckpt["path"]
    metrics["data"] = str(Path(data))
    if json_out:
        atomic_write_json(json_out, metrics, indent=2)
    return metrics


__all__ = ["evaluate", "predict_dataset", "format_report"]
