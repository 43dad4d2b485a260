"""Checkpoints: what a run saves, and loading one back with checks (model, hand model) that name the file."""

import io
import os
from pathlib import Path

import torch

from handmodel.atomic import atomic_write_bytes
from handmodel.errors import InputError
from handmodel.models import check_hand_model
from training.model import ARCH, ARCH_VERSION, TwoHandNet


def save_checkpoint(path: str | os.PathLike, model, cfg: dict, hand_model: dict, **state) -> None:
    """Write atomically: model weights, config, hand model identity, plus optimizer/scaler/epoch/step state."""
    net = model.module if hasattr(model, "module") else model
    payload = {
        "arch": ARCH,
        "arch_version": ARCH_VERSION,
        "hand_model": {"model": hand_model["model"], "hash": hand_model["hash"]},
        "config": cfg,
        "model": net.state_dict(),
        **state,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


CHECKPOINT_KEYS = ("model", "config", "hand_model")  # what eval, demo and --resume read (save_checkpoint writes them)
RESUME_KEYS = ("optimizer", "scaler", "step")  # what --resume reads besides


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a checkpoint file of this toolkit's model; InputError naming the file otherwise."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found (pass a .pt file or a run folder made by `train`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises pickle, zip and runtime errors alike for non-checkpoints
        raise InputError(f"{path}: not a torch checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("arch") != ARCH:
        found = ckpt.get("arch") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise InputError(f"{path}: a checkpoint of another model ({found!r}), expected one written by `train`")
    if ckpt.get("arch_version") != ARCH_VERSION:
        raise InputError(f"{path}: model version {ckpt.get('arch_version')}, this toolkit reads {ARCH_VERSION}")
    for key in CHECKPOINT_KEYS:
        if not isinstance(ckpt.get(key), dict):
            what = "missing" if key not in ckpt else f"not a mapping ({type(ckpt[key]).__name__})"
            raise InputError(f"{path}: key '{key}' is {what}: a truncated save, or another tool's checkpoint")
    if not isinstance(ckpt["config"].get("model"), dict):
        raise InputError(f"{path}: key 'config' has no 'model' section: a truncated save, or another tool's checkpoint")
    ckpt["path"] = str(path)
    return ckpt


def check_checkpoint_hand_model(ckpt: dict, models) -> None:
    check_hand_model(ckpt["hand_model"], models.info, ckpt["path"], made="trained with",
                     fix="use the same --mano-dir as for training")  # fmt: skip


def load_model(path: str | os.PathLike, models, graphs, device="cpu", ckpt: dict | None = None):
    """(TwoHandNet in eval mode on `device`, checkpoint dict) from a checkpoint, checked against `models` (`ckpt`:
    the checkpoint of `path` already read by `read_checkpoint`)."""
    ckpt = ckpt if ckpt is not None else read_checkpoint(path)
    check_checkpoint_hand_model(ckpt, models)
    model_cfg = dict(ckpt["config"]["model"], backbone_weights=None)  # the weights are in the state dict
    net = TwoHandNet(graphs, model_cfg)
    try:
        net.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise InputError(f"{ckpt['path']}: weights do not fit the model ({str(e).splitlines()[0]})") from None
    return net.to(device).eval(), ckpt
