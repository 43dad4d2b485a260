"""The render settings, defined once: every `RenderSettings` field is also a command-line option
(`handmodel/options.py`), from which both `cli.py render` (click) and `blender -b -P blender_scripts/render.py --
...` (argparse, inside Blender) are built.

Adding a render option is adding one field below (`option(...)`; `fingerprint=True` when it changes what is
written) and reading it where it matters.
"""

from dataclasses import dataclass

from blender_scripts.quality import CYCLES_DEVICES, DENOISERS
from handmodel.models import MANO_DIR_HELP
from handmodel.options import CYCLES_SAMPLES_MAX, IMAGE_SIDE_MAX, SEED_MAX, format_shard, option
from handmodel.shard_output import format_option, shard_size_option
from handmodel.sharding import parse_shard


@dataclass
class RenderSettings:
    """Everything one `render` run is told; the defaults are the command line's."""

    poses: str = option("Poses made by sample-poses: a .npz file, or the folder of pose chunks that a sharded "
                        "or launched sample-poses writes (only the chunks a run needs are read).",
                        path="any")  # fmt: skip
    out: str = option("Dataset folder (created; a rerun resumes it).", path="dir")
    num: int | None = option("Render only the first NUM poses.", None, min=1)
    shard: tuple[int, int] = option("K/N: render the sample ids with id % N == K (0 <= K < N); with --format "
                                    "webdataset the tar shards j with j % N == K.", (0, 1), parse=parse_shard,
                                    format=format_shard)  # fmt: skip
    dataset_format: str = format_option()
    shard_size: int = shard_size_option()
    resolution: int = option("Square image side in pixels.", 256, min=16, max=IMAGE_SIDE_MAX)
    samples: int = option("Cycles samples per pixel (denoised, so 9 is enough at 256 px).", 9, min=1,
                          max=CYCLES_SAMPLES_MAX,
                          flag="--cycles-samples", aliases=("--samples",), fingerprint=True)  # fmt: skip
    denoise: str = option("OpenImageDenoise quality (off: raw Cycles samples).", "fast", choices=DENOISERS,
                          fingerprint=True)  # fmt: skip
    seed: int = option("Global seed; each sample draws from (seed, sample id).", 0, min=0, max=SEED_MAX,
                       fingerprint=True)  # fmt: skip
    cameras: str | None = option("InterHand2.6M camera.json: render from its rigs instead of orbit cameras.", None,
                                 path="file")  # fmt: skip
    hdri_dirs: list[str] = option("Add a folder of HDRIs (repeatable).", flag="--hdri-dir", path="dir",
                                  default_factory=list)  # fmt: skip
    bundled_hdris: bool = option("Leave out the HDRIs that ship with Blender.", True)
    sky: bool = option("Leave out the procedural sky.", True)
    texture_dirs: list[str] = option("Add a folder of skin textures painted in the hand UV layout (repeatable).",
                                     flag="--texture-dir", path="dir", default_factory=list)  # fmt: skip
    generated_textures: bool = option("Use only the --texture-dir textures.", True)
    subdivision: int = option("Catmull-Clark levels at render time.", 1, min=0, fingerprint=True)
    exposure_spread: float = option("Spread of each sample's exposure around the well-exposed target, in stops "
                                    "(uniform within +-SPREAD; 0: every sample on target).", 0.5, min=0,
                                    fingerprint=True)  # fmt: skip
    forearms: bool = option("Render bare hands (closed wrists, no forearms), as RenderIH did.", True,
                            fingerprint=True)  # fmt: skip
    sleeves: float = option("Probability that the arms wear sleeves (cloth over part of each forearm).", 0.0,
                            min=0.0, fingerprint=True)  # fmt: skip
    restart_every: int = option("Restart the Blender worker every N samples so memory stays flat (0: one process).",
                                200, min=0)  # fmt: skip
    threads: int = option("Render threads (0: all cores).", 0, min=0)
    render_device: str = option("Where Cycles renders: cpu, or all the GPUs of one backend Blender finds (cuda or "
                                "optix for NVIDIA, hip, oneapi, metal).", "cpu", choices=CYCLES_DEVICES)  # fmt: skip
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")
