"""What one `train`, `eval` or `demo` run is told: settings dataclasses whose fields are also the commands' options
(handmodel/options.py). The training options left at None take the YAML config's value (training/config.py's
DEFAULTS, whose values the help texts quote). Importing this is cheap (no torch)."""

from dataclasses import dataclass

from handmodel.dataset_io import MAX_BAD
from handmodel.devices import check_device
from handmodel.errors import InputError
from handmodel.models import MANO_DIR_HELP
from handmodel.options import BATCH_SIZE_MAX, NETWORK_INPUT_MAX, SEED_MAX, option
from training.config import BACKBONES, DEFAULTS, PRESETS

RUN_HELP = "Checkpoint .pt (or run folder) from `train`."
MAX_BAD_HELP = ("Share of the dataset's samples that may be bad (unreadable, cut short, unknown mask labels, bad "
                "values): they are skipped, counted and the first few named; more fails the command.")  # fmt: skip


def _positive(value: float) -> None:
    if not value > 0:
        raise InputError(f"{value}: must be > 0")


def _default(section: str, key: str) -> str:
    return f"(default {DEFAULTS[section][key]})"


DEVICE_HELP = "cpu, cuda, cuda:N, or auto (CUDA when available)."


@dataclass(kw_only=True)
class TrainSettings:
    """Everything one `train` run is told; None: the config's value."""

    config: str | None = option("YAML config (sections model, data, stages, train, augment, loss); options below "
                                "override it.", None, path="file")  # fmt: skip
    data: list[str] = option("A dataset by name (repeat): a dataset folder, a shard folder (pack, --format "
                             "webdataset) or a brace pattern of tars, e.g. --data renderih=out/renderih --data "
                             "'ih=shards/shard-{000000..000099}.tar'. Shards stream (train.loader, "
                             "train.shuffle_buffer in the config).", metavar="NAME=PATH",
                             default_factory=list)  # fmt: skip
    mix: str | None = option("Sampling ratios, e.g. renderih:0.5,interhand:0.5.", None, metavar="NAME:RATIO,...")
    preset: str | None = option("A named mix over datasets called 'interhand' (real) and 'renderih' (synthetic).",
                                None, choices=PRESETS)  # fmt: skip
    out: str = option("Run folder: config.yaml, checkpoints/last.pt, logs/ (TensorBoard).", "runs/train", path="dir")
    resume: str | None = option("Checkpoint (or run folder) to continue from.", None)
    overwrite: bool = option("Replace the run in OUT (default: refuse it; --resume continues it).", False)
    device: str = option(DEVICE_HELP, "auto", check=check_device)
    gpu: str | None = option("Train on these GPUs, one DDP process each (or launch with torchrun).", None,
                             metavar="0,1,...")  # fmt: skip
    epochs: int | None = option(f"Epochs in all {_default('train', 'epochs')}.", None, min=1)
    batch_size: int | None = option(f"Images per step per process {_default('train', 'batch_size')}.", None, min=1,
                                    max=BATCH_SIZE_MAX)  # fmt: skip
    lr: float | None = option(f"Peak AdamW learning rate {_default('train', 'lr')}.", None, min=0.0, check=_positive)
    steps_per_epoch: int | None = option("Steps per epoch (default: one pass over the data).", None, min=1)
    max_steps: int | None = option("Stop after this many steps in all (quick runs).", None, min=1)
    workers: int | None = option("Data-loader processes per training process (default: spare cores on CUDA, 2 on "
                                 "CPU; 0: load in the training process).", None, min=0, flag="--loader-workers",
                                 aliases=("--workers",))  # fmt: skip
    resolution: int | None = option(f"Network input side in pixels {_default('model', 'input_size')}.", None, min=32,
                                    max=NETWORK_INPUT_MAX,
                                    aliases=("--input-size",))  # fmt: skip
    backbone: str | None = option(f"ResNet encoder {_default('model', 'backbone')}.", None, choices=BACKBONES)
    backbone_weights: str | None = option("Encoder initialisation: 'imagenet' (torchvision's ImageNet weights, fetched "
                                          "once into its cache; the default), a local state_dict FILE, or 'none' "
                                          "(random).", None)  # fmt: skip
    augment: bool = option("Turn off rotation, scale, flip and colour augmentation.", True)
    max_bad: float | None = option(f"Share of a dataset's samples that may be bad (unreadable, cut short, unknown mask "
                                   f"labels, bad values): they are skipped and counted; more fails the run "
                                   f"{_default('train', 'max_bad')}.", None, min=0.0, max=1.0)  # fmt: skip
    seed: int | None = option(f"Seed of initialisation, sampling and augmentation {_default('train', 'seed')}.", None,
                              min=0, max=SEED_MAX)  # fmt: skip
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")

    def overrides(self) -> dict:
        """{'section.key': value} of the options given, for training.config.build_config."""
        return {
            "train.epochs": self.epochs,
            "train.batch_size": self.batch_size,
            "train.lr": self.lr,
            "train.steps_per_epoch": self.steps_per_epoch,
            "train.max_steps": self.max_steps,
            "train.workers": self.workers,
            "train.seed": self.seed,
            "train.max_bad": self.max_bad,
            "model.input_size": self.resolution,
            "model.backbone": self.backbone,
            "model.backbone_weights": self.backbone_weights,
            "augment.enabled": None if self.augment else False,
        }


@dataclass(kw_only=True)
class EvalSettings:
    checkpoint: str = option(RUN_HELP, None, required=True)
    data: str = option("Dataset to evaluate on: a dataset folder, a shard folder or a brace pattern of tars (read "
                       "by random access).", None, required=True, path="dir")  # fmt: skip
    json: str | None = option("Also write the metrics here.", None, path="file")
    batch_size: int = option("Images per forward pass.", 16, min=1, max=BATCH_SIZE_MAX)
    max_bad: float = option(MAX_BAD_HELP, MAX_BAD, min=0.0, max=1.0)
    workers: int = option("Data-loader processes (0: load in this process).", 0, min=0, flag="--loader-workers",
                          aliases=("--workers",))  # fmt: skip
    device: str = option(DEVICE_HELP, "auto", check=check_device)
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")


@dataclass(kw_only=True)
class DemoSettings:
    checkpoint: str = option(RUN_HELP, None, required=True)
    img_path: str | None = option("An image or a folder of images (hands roughly centred, filling most of the "
                                  "frame).", None, flag="--img_path", aliases=("--img-path",))  # fmt: skip
    video: str | None = option("A video file: writes NAME_overlay.mp4.", None, path="file")
    live: bool = option("Webcam: a window if OpenCV has GUI support, else OUT/live_overlay.jpg.", False)
    camera: int = option("Webcam index for --live.", 0, min=0)
    out: str = option("Folder for the overlays (NAME_overlay.jpg per image).", None, required=True, path="dir",
                      aliases=("--save_path", "--save-path"))  # fmt: skip
    device: str = option(DEVICE_HELP, "auto", check=check_device)
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")
