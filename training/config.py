"""Training configuration: the defaults (IntagHand's published settings), YAML files, data presets and `--data/--mix`.

A config is a plain nested dict, so it round-trips through YAML exactly; `resolve_config` fills every missing key
from DEFAULTS and checks the values a user is likely to get wrong.
"""

import copy
import math
import os
from pathlib import Path

import yaml

from handmodel.errors import InputError
from handmodel.options import BATCH_SIZE_MAX, NETWORK_INPUT_MAX, SEED_MAX
from handmodel.validate import read_text

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
        "max_bad": 0.01,  # share of a dataset's samples that may be bad (skipped and counted) before training fails
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


# Keys whose default is None, and the type of their value when given.
OPTIONAL_TYPES = {"model.backbone_weights": str, "train.steps_per_epoch": int, "train.workers": int,
                  "train.max_steps": int, "train.threads": int}  # fmt: skip
# Bounds of numeric keys (None: unbounded on that side); the command-line options have the same.
RANGES = {"train.epochs": (1, None), "train.batch_size": (1, BATCH_SIZE_MAX), "train.steps_per_epoch": (1, None),
          "train.lr": (0, None), "train.weight_decay": (0, None), "train.warmup_epochs": (0, None),
          "train.workers": (0, None), "train.seed": (0, SEED_MAX), "train.checkpoint_every": (1, None),
          "train.max_steps": (1, None), "train.threads": (1, None), "train.grad_clip": (0, None),
          "model.input_size": (64, NETWORK_INPUT_MAX), "model.heads": (1, None), "model.tokens": (1, None),
          "model.blocks_per_level": (1, None), "augment.flip": (0, 1), "augment.color_gain": (0, 1),
          "train.max_bad": (0, 1)}  # fmt: skip
_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "text", list: "a list"}


def _check_value(key: str, value, default, where: str) -> None:
    """One config value against the type of its default (or OPTIONAL_TYPES) and RANGES; InputError naming the
    file and key (YAML reads `four` as text and `1e-3` as text too, so both are caught here, not in the trainer)."""
    want = OPTIONAL_TYPES.get(key) if default is None else type(default)
    if want is None or (value is None and (default is None or key == "model.backbone_weights")):  # null: random
        return
    numbers = (int, float) if want is float else (want,)
    ok = isinstance(value, numbers) and not (want is not bool and isinstance(value, bool))
    if ok and want is list:
        ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
    if ok and isinstance(value, float) and not math.isfinite(value):
        ok = False
    if not ok:
        raise InputError(f"{where}: {key} is {value!r}, expected {_TYPE_WORDS[want]}"
                         + (" of numbers" if want is list else ""))  # fmt: skip
    low, high = RANGES.get(key, (None, None))
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"from {low}" + (f" to {high}" if high is not None else " up")
        raise InputError(f"{where}: {key} is {value!r}, expected a value {bounds}")


def check_values(cfg: dict, where: str) -> None:
    """Every value of the sections with fixed keys (model, train, augment, loss) against its default's type."""
    for section in ("model", "train", "augment", "loss"):
        if not isinstance(cfg[section], dict):
            raise InputError(f"{where}: {section} is {cfg[section]!r}, expected a mapping of keys")
        for key, default in DEFAULTS[section].items():
            _check_value(f"{section}.{key}", cfg[section][key], default, where)
    if not isinstance(cfg["data"], dict) or not all(isinstance(v, str) for v in cfg["data"].values()):
        raise InputError(f"{where}: data is {cfg['data']!r}, expected a mapping of names to dataset folders")
    if not isinstance(cfg["stages"], list) or not all(isinstance(s, dict) and isinstance(s.get("mix"), dict)
                                                      for s in cfg["stages"]):  # fmt: skip
        raise InputError(f"{where}: stages must be a list of {{mix: {{NAME: RATIO}}, epochs, lr_scale}}")
    for stage in cfg["stages"]:
        for name, ratio in stage["mix"].items():
            if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not math.isfinite(ratio):
                raise InputError(f"{where}: mix ratio of {name!r} is {ratio!r}, expected a positive number")


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
    text = read_text(path, "config file not found")
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        what = " ".join(str(x) for x in (getattr(e, "problem", None), getattr(e, "context", None)) if x)
        raise InputError(f"{where}: not valid YAML ({what or type(e).__name__})") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: expected a mapping of sections (model, data, train, ...)")
    for section, value in cfg.items():
        want = type(DEFAULTS.get(section, {}))
        if not isinstance(value, want):
            raise InputError(f"{path}: {section} is {value!r}, expected a {'list' if want is list else 'mapping'}")
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
    check_values(cfg, where)
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
