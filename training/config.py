"""Training configuration: the defaults (IntagHand's published settings), YAML files, data presets and `--data/--mix`.

A config is a plain nested dict, so it round-trips through YAML exactly; `resolve_config` fills every missing key
from DEFAULTS and checks the values a user is likely to get wrong.
"""

import copy
import os
from pathlib import Path

import yaml

from handmodel.errors import InputError

DEFAULTS = {
    "model": {
        "arch": "intaghand",  # the network (training/model.py)
        "backbone": "resnet50",  # resnet18 | resnet34 | resnet50 (torchvision)
        "backbone_weights": "imagenet",  # torchvision's ImageNet weights (cached), a state_dict file, or null: random
        "input_size": 256,  # network input side, pixels; auxiliary maps are input_size / 4
        "global_dim": 509,  # global feature per vertex (+3 positional code = 512)
        "gcn_dims": [256, 128, 64],  # node features at the 63 / 126 / 252-node levels
        "decoder_dims": [256, 128, 128, 64],  # heatmap / dense decoder channels at S/32, S/16, S/8, S/4
        "blocks_per_level": 4,  # residual Chebyshev blocks per level
        "heads": 4,  # attention heads (PIFA and cross-hand attention)
        "tokens": 8,  # PIFA attends over a tokens x tokens grid of image features
    },
    "data": {},  # name -> dataset folder
    "stages": [],  # [{"mix": {name: ratio}, "epochs": int, "lr_scale": float}]; empty: all data, `epochs`
    "train": {
        "epochs": 200,
        "batch_size": 64,  # per process
        "steps_per_epoch": None,  # None: one pass over the mixed data per epoch
        "lr": 3e-4,
        "weight_decay": 1e-2,
        "warmup_epochs": 3,
        "lr_steps": [150],  # epochs at which the learning rate is multiplied by lr_gamma
        "lr_gamma": 0.1,
        "amp": True,  # mixed precision on CUDA (ignored on CPU)
        "workers": None,  # loader processes per training process; None: CUDA all spare cores, CPU 2
        "seed": 0,
        "checkpoint_every": 1,  # epochs
        "grad_clip": 1.0,
        "max_steps": None,  # stop after this many steps in all (quick runs, tests)
        "threads": None,  # torch CPU threads in the training process (None: torch's default, all cores)
        "cache": False,  # keep samples in memory after their first read (augmentation off; small datasets)
        # How samples are drawn: "stream" (shard after shard, training/stream.py), "index" (by name, MixSampler),
        # "auto" (stream when a dataset is in the webdataset form).
        "loader": "auto",
        "shuffle_buffer": 256,  # samples per dataset and loader worker in the stream's shuffle buffer (0: off)
    },
    "augment": {
        "enabled": True,
        "rotation_deg": 90.0,
        "scale": [0.9, 1.1],
        "flip": 0.5,
        "color_gain": 0.3,
    },
    "loss": {
        "vert3d": 100.0,
        "joint3d": 100.0,
        "vert2d": 50.0,
        "normal": 10.0,
        "edge": 2000.0,
        "edge_start_epoch": 50,
        "mask": 500.0,
        "dense": 30.0,
        "heatmap": 100.0,
    },
}

LOADERS = ("auto", "stream", "index")

# The data mixes of RenderIH's experiments by name; "real" is InterHand2.6M (`interhand prepare`), "synthetic" RenderIH.
PRESETS = {
    "real": [{"mix": {"interhand": 1.0}}],
    "real+synthetic": [{"mix": {"interhand": 0.5, "renderih": 0.5}}],
    "synthetic": [{"mix": {"renderih": 1.0}}],
    # A tenth of the real data mixed with the synthetic set (RenderIH's subset experiment).
    "real-subset+synthetic": [{"mix": {"interhand": 0.1, "renderih": 0.9}}],
    # Pretrain on synthetic data for 3/4 of the epochs, then fine-tune on real data at a tenth of the rate.
    "pretrain-finetune": [
        {"mix": {"renderih": 1.0}, "epoch_fraction": 0.75},
        {"mix": {"interhand": 1.0}, "epoch_fraction": 0.25, "lr_scale": 0.1},
    ],
}

BACKBONES = ("resnet18", "resnet34", "resnet50")
ARCHS = ("intaghand",)  # the model's architectures (training/model.py checks the same list)


def _merge(base: dict, override: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise InputError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict) and base[key] and isinstance(value, dict):
            out[key] = _merge(base[key], value, f"{where}.{key}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: expected a mapping of sections (model, data, train, ...)")
    return cfg


def save_yaml(path: str | os.PathLike, cfg: dict) -> None:
    from handmodel.atomic import atomic_write_bytes

    atomic_write_bytes(path, yaml.safe_dump(cfg, sort_keys=False).encode())


def parse_data_options(items: list[str]) -> dict[str, str]:
    """`--data name=PATH` options -> {name: path}."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--data {item!r}: expected NAME=PATH (e.g. renderih=data/renderih)")
        out[name.strip()] = path.strip()
    return out


def parse_mix(text: str) -> dict[str, float]:
    """`renderih:0.5,interhand:0.5` -> {name: ratio}."""
    out = {}
    for part in text.split(","):
        name, sep, ratio = part.partition(":")
        try:
            out[name.strip()] = float(ratio) if sep else 1.0
        except ValueError:
            raise InputError(f"--mix {text!r}: ratio {ratio!r} of {name!r} is not a number") from None
    return out


def resolve_config(user: dict | None = None, where: str = "config") -> dict:
    """Defaults overlaid with `user`, with stages expanded and every value checked."""
    cfg = _merge(DEFAULTS, user or {}, where)
    if str(cfg["model"]["backbone_weights"]).lower() == "none":  # `--backbone-weights none`: random
        cfg["model"]["backbone_weights"] = None
    if cfg["model"]["arch"] not in ARCHS:
        raise InputError(f"{where}: model.arch {cfg['model']['arch']!r} is not one of {ARCHS}")
    if len(cfg["model"]["decoder_dims"]) != 4:
        raise InputError(f"{where}: model.decoder_dims needs 4 sizes (S/32, S/16, S/8, S/4)")
    if cfg["model"]["backbone"] not in BACKBONES:
        raise InputError(f"{where}: model.backbone {cfg['model']['backbone']!r} is not one of {BACKBONES}")
    size = cfg["model"]["input_size"]
    if size % 32 or size < 64:
        raise InputError(f"{where}: model.input_size {size} must be a multiple of 32, at least 64")
    if any(d % cfg["model"]["heads"] for d in cfg["model"]["gcn_dims"]) or len(cfg["model"]["gcn_dims"]) != 3:
        raise InputError(f"{where}: model.gcn_dims needs 3 sizes divisible by model.heads")
    if cfg["train"]["loader"] not in LOADERS:
        raise InputError(f"{where}: train.loader {cfg['train']['loader']!r} is not one of {LOADERS}")
    if not int(cfg["train"]["shuffle_buffer"]) >= 0:
        raise InputError(f"{where}: train.shuffle_buffer must be >= 0")
    epochs = int(cfg["train"]["epochs"])
    if not cfg["stages"]:
        cfg["stages"] = [{"mix": {name: 1.0 for name in cfg["data"]}}]
    stages = []
    left = epochs
    n_stages = len(cfg["stages"])
    for i, stage in enumerate(cfg["stages"]):
        stage = dict(stage)
        if "epochs" not in stage:
            frac = stage.pop("epoch_fraction", 1.0 / n_stages)
            # Leave at least one epoch for every later stage; the last one takes what is left.
            later = n_stages - 1 - i
            stage["epochs"] = left if not later else min(max(1, round(epochs * frac)), left - later)
        stage.pop("epoch_fraction", None)
        stage.setdefault("lr_scale", 1.0)
        if int(stage["epochs"]) < 1:
            raise InputError(
                f"{where}: stage {i + 1} of {n_stages} gets {stage['epochs']} epochs (train.epochs {epochs} is too "
                f"few for this schedule: give at least one epoch per stage)"
            )
        left -= stage["epochs"]
        for name, ratio in stage["mix"].items():
            if name not in cfg["data"]:
                raise InputError(
                    f"{where}: the mix names dataset {name!r}, but no --data {name}=PATH was given "
                    f"(given: {', '.join(cfg['data']) or 'none'})"
                )
            if not ratio > 0:
                raise InputError(f"{where}: mix ratio of {name!r} must be positive, got {ratio}")
        stages.append(stage)
    cfg["stages"] = stages
    cfg["train"]["epochs"] = sum(s["epochs"] for s in stages)
    return cfg


def build_config(
    config_file: str | None = None,
    data: list[str] = (),
    mix: str | None = None,
    preset: str | None = None,
    overrides: dict | None = None,
) -> dict:
    """The CLI's view: a YAML file, then --data / --mix / --preset, then single options, then defaults."""
    user = load_yaml(config_file) if config_file else {}
    where = str(config_file or "config")
    if data:
        user.setdefault("data", {}).update(parse_data_options(list(data)))
    if preset and mix:
        raise InputError("--preset and --mix both given: use one (a preset is a named mix)")
    if preset:
        if preset not in PRESETS:
            raise InputError(f"--preset {preset!r}: not one of {', '.join(PRESETS)}")
        user["stages"] = copy.deepcopy(PRESETS[preset])
    if mix:
        user["stages"] = [{"mix": parse_mix(mix)}]
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, key = dotted.split(".")
        user.setdefault(section, {})[key] = value
    return resolve_config(user, where)
