"""What one `sample-poses` run is told: `SampleSettings`, whose fields are also the command's options
(handmodel/options.py). Importing it is cheap (no torch), so `cli.py --help` stays fast."""

from dataclasses import dataclass

from handmodel.devices import check_device
from handmodel.interhand_release import SPLITS
from handmodel.models import MANO_DIR_HELP
from handmodel.options import (
    BATCH_SIZE_MAX,
    POSES_MAX,
    SEED_MAX,
    check_settings,
    fingerprinted,
    format_shard,
    option,
)
from handmodel.sharding import parse_shard

# --contact: 'touching' makes contact a goal (the optimizer pulls the hands together, a pose that ends apart is
# moved rigidly into contact, and a kept pose has its surfaces within CONTACT_MM); 'free' leaves contact to the
# loss alone.
CONTACT_GOALS = ("touching", "free")


def _check_sampler_device(device: str) -> None:
    check_device(device, kinds=("cpu", "cuda"))


@dataclass(kw_only=True)
class SampleSettings:
    """Everything one `sample-poses` run is told; the defaults are the command line's. The fingerprinted fields
    change the poses a run writes (the resume key and the folder's fingerprint hold them); the rest say where and
    how the run goes."""

    out: str = option("poses.npz (one file), or a folder of chunk files (needed for --shard).", None, required=True)
    num: int = option("Number of poses (sample ids 0..NUM-1).", 64, min=1, max=POSES_MAX, fingerprint=True)
    seed: int = option("Global seed; the same seed gives the same file.", 0, min=0, max=SEED_MAX, fingerprint=True)
    copies: int = option("Augmented copies per seed pose.", 8, min=1, fingerprint=True)
    batch_size: int = option("Poses optimized together; also the chunk of ids that sharding and resume work in (a "
                             "pose's result does not depend on --num or --shard, only on its id and this).", 64,
                             min=1, max=BATCH_SIZE_MAX, fingerprint=True)  # fmt: skip
    iters: int = option("Optimization steps (all stages).", 90, min=1, fingerprint=True)
    max_penetration_mm: float = option("Keep poses whose deepest vertex inside the other hand is at most this deep.",
                                       2.0, min=0.0, fingerprint=True)  # fmt: skip
    max_anatomy_deg: float = option("Keep poses with no joint angle beyond its limit by more than this.", 0.1,
                                    min=0.0, fingerprint=True)  # fmt: skip
    bend_delta_deg: float = option("Augmentation: each copy's flexion angles are redrawn within this many degrees "
                                   "of the seed's (inside the joint limits).", 120.0, min=0.0,
                                   fingerprint=True)  # fmt: skip
    splay_delta_deg: float = option("Augmentation: the same for the spread (abduction) angles.", 30.0, min=0.0,
                                    fingerprint=True)  # fmt: skip
    interhand: str | None = option("InterHand2.6M release root: seed from its interacting frames (default: the "
                                   "built-in prior).", None, path="dir", exists=True, fingerprint=True)  # fmt: skip
    split: str = option("InterHand2.6M split for --interhand.", "train", choices=SPLITS, fingerprint=True)
    contact: str = option("touching: the hands end in contact (a goal of the optimizer and of the filter); free: "
                          "left to the contact loss.", "touching", choices=CONTACT_GOALS, fingerprint=True)  # fmt: skip
    device: str = option("torch device: cpu, cuda, cuda:1, ... (CPU and CUDA runs agree to float precision, so "
                         "either resumes the other).", "cpu", check=_check_sampler_device)  # fmt: skip
    shard: tuple[int, int] = option("K/N: run the chunks c with c % N == K.", (0, 1), parse=parse_shard,
                                    format=format_shard)  # fmt: skip
    restart: bool = option("Discard finished chunks of an earlier run instead of resuming.", False)
    report: bool = option("Skip the report (PNG figures and summary.txt).", True)
    threads: int = option("CPU threads for torch while sampling (0: torch's default). A batched float reduction "
                          "rounds differently on another thread count, so the same poses need the same --threads.",
                          1, min=0)  # fmt: skip
    workers: int = option("Processes running chunks side by side (0: one per CPU core, up to 8; 1 on CUDA or with "
                          "--threads other than 1). Each chunk is the same bytes whatever the number of workers.", 0,
                          min=0)  # fmt: skip
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")

    def validate(self) -> None:
        """InputError naming the option for a value outside its choices, minimum or device (settings made in code;
        the command line checks the same)."""
        check_settings(self)

    def recorded(self) -> dict:
        """What a poses file's meta records of the run: the fingerprinted settings and the device."""
        return {**fingerprinted(self), "device": self.device}


def poses_fingerprint(settings: SampleSettings, models) -> dict:
    """The identity of a sample-poses run (handmodel/outdir.py): the fingerprinted settings, the poses format and
    the hand model. Chunks and files of other identities are refused, never mixed."""
    from handmodel.outdir import run_fingerprint
    from handmodel.poses_io import FORMAT_NAME, FORMAT_VERSION

    return run_fingerprint(settings, format=FORMAT_NAME, version=FORMAT_VERSION, hand_model=models.identity)
