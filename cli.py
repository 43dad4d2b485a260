"""The toolkit's command line: `python cli.py --help`.

Thin by design: each command parses its options and calls one function that a test can call too.
Heavy modules (torch, bpy) are imported inside the commands so `--help` stays fast.
"""

import json

import click

from blender_scripts.settings import RenderSettings
from cluster.settings import LaunchSettings
from dataset_tools.pack import PackSettings, UnpackSettings
from handmodel.dataset_io import MAX_BAD
from handmodel.interhand_release import SPLITS
from handmodel.models import MANO_DIR_HELP
from handmodel.options import CYCLES_SAMPLES_MAX, IMAGE_SIDE_MAX, SEED_MAX
from importers.settings import ImportSettings
from interhand.prepare import PrepareSettings
from pose_sampler.settings import SampleSettings
from textures.catalogue import TextureSettings
from training.settings import MAX_BAD_HELP, DemoSettings, EvalSettings, TrainSettings


class ToolkitError(click.ClickException):
    """An error the user can act on: printed as one line, exit status 1."""


class ToolkitGroup(click.Group):
    """The one error boundary: bad input (InputError) and the machine's state (OSError: disk full, permissions,
    read-only, MemoryError) become one line naming the file and what to do, exit status 1; an interrupt (Ctrl-C,
    SIGTERM) the line INTERRUPTED and exit status 130 or 143; never a traceback."""

    def invoke(self, ctx):
        import signal

        from handmodel.errors import INTERRUPTED, InputError, exit_status, os_error_message, raise_on_sigterm

        before = raise_on_sigterm()
        try:
            try:
                return super().invoke(ctx)
            finally:
                _end_progress_lines()
                if before is not None:  # a command run inside another program (tests) gives its handler back
                    signal.signal(signal.SIGTERM, before)
        except InputError as e:
            raise ToolkitError(_last_line(str(e))) from None
        except OSError as e:
            raise ToolkitError(os_error_message(e)) from None
        except MemoryError:
            raise ToolkitError("out of memory; use a smaller --num, --batch-size or --resolution, or fewer "
                               "workers") from None  # fmt: skip
        except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the locks are released by now (context managers)
            click.echo(INTERRUPTED, err=True)
            ctx.exit(exit_status(e))


def _end_progress_lines() -> None:
    """Close the progress bars (tqdm) that a failed or interrupted command left open, so that what follows starts
    its own line instead of continuing the bar's."""
    import sys

    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or ()):
        bar.close()


def _last_line(message: str) -> str:
    """A data-loader worker's InputError arrives with the worker's traceback in its message: keep the error."""
    if "Original Traceback" not in message:
        return message
    last = message.strip().splitlines()[-1]
    return last.split("InputError: ", 1)[-1]


class FiniteFloat(click.ParamType):
    """A finite float (click's FloatRange lets NaN through), optionally above a bound."""

    name = "number"

    def __init__(self, min: float | None = None, min_open: bool = False, max: float | None = None):
        self.min, self.min_open, self.max = min, min_open, max

    def convert(self, value, param, ctx):
        import math

        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.min is not None and (v <= self.min if self.min_open else v < self.min):
            self.fail(f"{v:g} must be {'>' if self.min_open else '>='} {self.min:g}", param, ctx)
        if self.max is not None and v > self.max:
            self.fail(f"{v:g} must be <= {self.max:g}", param, ctx)
        return v


PREVIEW_MAX = 4096  # tiles of one contact sheet: the sheet is held in memory


def _check_image_out(ctx, param, value):
    if value is not None and not value.lower().endswith((".png", ".jpg", ".jpeg")):
        raise click.BadParameter(f"{value}: the picture is written as PNG or JPEG; end the name in .png or .jpg", ctx,
                                 param)  # fmt: skip
    return value


class ParsedValue(click.ParamType):
    """A settings field's command-line text through its `parse` (e.g. --shard K/N -> (K, N)): a bad value is
    click's usage error (exit 2), like any other bad option value."""

    name = "text"

    def __init__(self, parse):
        self.parse = parse

    def convert(self, value, param, ctx):
        from handmodel.errors import InputError

        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except (InputError, ValueError) as e:
            self.fail(str(e), param, ctx)


def _checked(check):
    """A click callback running a settings field's `check` (InputError -> usage error, exit 2)."""

    def callback(ctx, param, value):
        from handmodel.errors import InputError

        if value is None:
            return value
        try:
            check(value)
        except InputError as e:
            raise click.BadParameter(str(e), ctx, param) from None
        return value

    return callback


def _settings_options(cls):
    """The click options of a settings dataclass, derived from its fields (handmodel/options.py): the same flags,
    aliases, defaults, help and choices as any other parser of it; values keep the field names. The command keeps
    the class as `settings_class`, so a test can hold every command's options against its fields."""
    from handmodel.options import option_specs

    def path_type(spec):
        return click.Path(exists=spec.exists, dir_okay=spec.path != "file", file_okay=spec.path != "dir")

    def decorate(fn):
        for spec in reversed(option_specs(cls)):
            kind = path_type(spec) if spec.path else spec.type
            if spec.min is not None or spec.max is not None:
                kind = click.IntRange(spec.min, spec.max) if spec.type is int else FiniteFloat(spec.min, max=spec.max)
            elif spec.type is float:
                kind = FiniteFloat()
            if spec.choices:
                kind = click.Choice(spec.choices)
            if spec.parse is not None:
                kind = ParsedValue(spec.parse)
            flags = (spec.flag, *spec.aliases, spec.name)
            callback = _checked(spec.check) if spec.check is not None else None
            if spec.argument:
                opt = click.argument(spec.name, type=kind, callback=callback)
            elif spec.kind == "switch":
                opt = click.option(*flags, is_flag=True, help=spec.help)
            elif spec.kind == "repeat":
                opt = click.option(*flags, multiple=True, type=kind, callback=callback, metavar=spec.metavar,
                                   help=spec.help)  # fmt: skip
            else:
                opt = click.option(*flags, type=kind, default=spec.default, required=spec.required, callback=callback,
                                   show_default=spec.default is not None, metavar=spec.metavar,
                                   help=spec.help)  # fmt: skip
            fn = opt(fn)
        fn.settings_class = cls
        return fn

    return decorate


def _launched(*command: str):
    """The launcher's options (cluster/settings.py) on a command that writes shards: with --launcher slurm or ray,
    or --tasks above 1, the command runs as tasks through the driver (cluster/launch.py) instead of in this
    process. Put it above `_settings_options`; the command keeps its settings class and gains `launch_class`."""
    import dataclasses
    import functools

    names = [f.name for f in dataclasses.fields(LaunchSettings)]

    def decorate(fn):
        settings_class = fn.settings_class

        @functools.wraps(fn)
        def command_fn(**values):
            from handmodel.options import settings_from_values

            launch = settings_from_values(LaunchSettings, {n: values.pop(n) for n in names})
            if launch.launcher == "local" and launch.tasks == 1:
                return fn(**values)
            from cluster.launch import launch as launch_run

            settings = settings_from_values(settings_class, values)
            r = launch_run(command, settings, launch, echo=lambda line: click.echo(line, err=True))
            click.echo(f"{' '.join(command)}: {r['tasks']} tasks finished on {launch.launcher} ({r['retries']} "
                       f"retried) in {r['seconds']:.1f} s -> {settings.out}")  # fmt: skip

        command_fn = _settings_options(LaunchSettings)(command_fn)
        params = command_fn.__click_params__  # click lists them in reverse: the launcher's options after the command's
        params[:] = params[-len(names) :] + params[: -len(names)]
        command_fn.settings_class, command_fn.launch_class = settings_class, LaunchSettings
        return command_fn

    return decorate


@click.group(cls=ToolkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Synthetic two-hand data and IntagHand-style training in one toolkit.

    Stages: sample-poses -> render -> train / eval / demo; `interhand` prepares InterHand2.6M.
    """


# ---- assets: the hand model (handmodel/) ---------------------------------------------------------------
@main.group()
def assets():
    """The hand model every stage shares: MANO if you have it, else the generated stand-in."""


MANO_DIR_OPTION = click.option(
    "--mano-dir",
    type=click.Path(file_okay=False),
    default=None,
    help=MANO_DIR_HELP,
)


@assets.command("info")
@MANO_DIR_OPTION
@click.option("--json", "json_path", is_flag=False, flag_value="-", default=None, metavar="PATH",
              help="Write {model, dir, hash} as JSON to PATH (no PATH, or -: print it).")  # fmt: skip
def assets_info(mano_dir, json_path):
    """Show which hand model is active and the folder smplx loads it from."""
    from handmodel import load_hand_models

    models = load_hand_models(mano_dir, quiet=json_path == "-")
    if json_path == "-":
        click.echo(json.dumps(models.info))
    elif json_path is not None:
        from handmodel.atomic import atomic_write_json

        atomic_write_json(json_path, models.info, indent=1)
        click.echo(f"{models.info['model']} ({models.info['hash']}) -> {json_path}")
    else:
        info = models.info
        click.echo(f"model: {info['model']}\ndir:   {info['dir']}\nhash:  {info['hash']}")
        click.echo(f"faces: {len(models['right'].faces)} per hand, tips: {models['right'].tip_ids.tolist()}")


@assets.command("import-mano")
@click.argument("mano_dir", type=click.Path(exists=True, file_okay=False))
def assets_import_mano(mano_dir):
    """Convert the licensed MANO files in MANO_DIR into the cache every stage loads (once per file content).

    The files are read without chumpy and without running anything a pickle asks for.
    """
    from handmodel.models import import_mano, load_model_dir

    info = load_model_dir(import_mano(mano_dir)).info
    click.echo(f"MANO converted: {info['dir']} (hash {info['hash']})")
    click.echo("Point the toolkit at it with --mano-dir, $MANO_DIR, or by copying the two files to assets/mano/.")


# ---- end assets ----


# ---- sample-poses (pose_sampler/) ------------------------------------------------------------------------
@main.command("sample-poses")
@_launched("sample-poses")
@_settings_options(SampleSettings)
def sample_poses_cmd(**values):
    """Sample interacting two-hand poses that do not interpenetrate and respect the joint limits.

    Seeds (InterHand2.6M frames or the built-in prior) are copied and perturbed, then optimized in batches
    (penetration, anatomy, contact, naturalness); every pose gets exact quality metrics and a `kept` flag.
    Reruns resume finished chunks. Writes OUT, the learned naturalness prior beside it, and a report folder.
    """
    from handmodel.options import settings_from_values
    from pose_sampler.outputs import open_poses_output
    from pose_sampler.run import sample_poses

    settings = settings_from_values(SampleSettings, values)
    out = settings.out
    with open_poses_output(settings):
        summary = sample_poses(settings)
    if summary["skipped"]:
        click.echo(f"{out}: already complete ({summary['kept']} of {summary['num']} kept); --restart to redo it")
        return
    if "report" in summary:
        from pathlib import Path

        click.echo(Path(summary["report"], "summary.txt").read_text(), nl=False)
        click.echo(f"report: {summary['report']}")
    else:
        click.echo(json.dumps(summary, indent=1))


# ---- end sample-poses ----


@main.command("status")
@click.argument("out", type=click.Path(exists=True, file_okay=False))
def status_cmd(out):
    """What a run into OUT has done, what is running and what failed (tasks, attempts, logs), on any launcher."""
    from cluster.status import format_status, run_status

    click.echo(format_status(run_status(out)))


# ---- render, textures, hdri, preview (blender_scripts/, textures/, hdri/, dataset_tools/) ------------------


@main.command("render")
@_launched("render")
@_settings_options(RenderSettings)
def render_cmd(**values):
    """Render photo-real two-hand samples with Blender Cycles: image, mask, depth and annotation per pose.

    The same code path as `blender -b -P blender_scripts/render.py -- --poses P --out D ...`.
    Resumable (finished samples are skipped) and sharded (--shard K/N for a job array).
    """
    from blender_scripts.exposure import describe
    from blender_scripts.render import run
    from handmodel.dataset_io import read_meta
    from handmodel.options import settings_from_values

    n = run(settings_from_values(RenderSettings, values))
    click.echo(f"rendered {n} new samples into {values['out']}")
    click.echo(describe(read_meta(values["out"]).get("quality", {"samples": 0})))


@main.group()
def textures():
    """Skin textures in the hand's UV layout."""


@textures.command("make")
@_settings_options(TextureSettings)
def textures_make(**values):
    """Generate skin albedo textures over 8 skin tones (nails, creases, pigment), plus uv_layout.png."""
    from tqdm import tqdm

    from handmodel import load_hand_models
    from handmodel.options import settings_from_values
    from handmodel.outdir import open_output
    from textures.catalogue import make_textures
    from textures.uv_layout import cache_dir

    settings = settings_from_values(TextureSettings, values)
    models = load_hand_models(settings.mano_dir)
    with open_output(settings.out or cache_dir(models), "textures", None):
        paths = make_textures(models, settings.out, settings.resolution, settings.variants, settings.seed,
                              progress=lambda j: tqdm(j, unit="texture"))  # fmt: skip
    click.echo(f"{len(paths)} textures in {paths[0].parent}")


@main.group()
def hdri():
    """Environment lights for the renderer."""


@hdri.command("list")
@click.option("--hdri-dir", multiple=True, type=click.Path(file_okay=False), help="Add a folder of HDRIs.")
def hdri_list(hdri_dir):
    """Show the catalogue: the CC0 HDRIs bundled with Blender, your folders, and the procedural sky."""
    from hdri.catalogue import describe, list_hdris

    click.echo(describe(list_hdris(list(hdri_dir))))


@main.command("preview")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), callback=_check_image_out,
              help="Contact sheet .png to write.")  # fmt: skip
@click.option("--num", "--count", "count", type=click.IntRange(1, PREVIEW_MAX), default=16, show_default=True,
              help="How many samples to draw.")  # fmt: skip
@click.option("--columns", type=click.IntRange(1, PREVIEW_MAX), default=4, show_default=True, help="Samples per row.")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Enlarge each sample this many times.")  # fmt: skip
@click.option(
    "--sort", default=None, help="Sort by a figure: luma, clipped, exposure, hdri, tone ('-' first: descending)."
)
@click.option("--only", default=None, help="Only samples that are outside-band, clipped (>5%), hdri=NAME or tone=NAME.")
@click.option("--max-bad", type=FiniteFloat(0, max=1), default=MAX_BAD, show_default=True, help=MAX_BAD_HELP)
def preview_cmd(dataset, out, count, columns, scale, sort, only, max_bad):
    """Contact sheet of a dataset: images with mask outlines and 2D joints (right orange, left blue); with --sort
    or --only, labelled with the hands' median luma, clipped share and HDRI."""
    from dataset_tools.preview import contact_sheet

    n = contact_sheet(dataset, out, count, columns, scale, sort=sort, only=only, max_bad=max_bad)
    click.echo(f"{n} samples drawn into {out}")


@main.command("pack")
@_settings_options(PackSettings)
def pack_cmd(**values):
    """Pack a dataset folder into WebDataset tar shards (SHARD-SIZE samples each, in name order) with an
    index.json that wids reads and the dataset's meta.json; the files go in unchanged, so `unpack` gives the
    folder back byte for byte. A rerun skips finished tars."""
    from dataset_tools.pack import pack
    from handmodel.options import settings_from_values

    settings = settings_from_values(PackSettings, values)
    r = pack(settings)
    click.echo(f"packed {r['samples']} samples into {r['shards']} tar shards ({r['written']} written now) -> "
               f"{settings.out}")  # fmt: skip


@main.command("unpack")
@_settings_options(UnpackSettings)
def unpack_cmd(**values):
    """Unpack a shard folder (from `pack` or --format webdataset) into a dataset folder of files, byte for byte
    as they were packed. A rerun skips complete samples."""
    from dataset_tools.pack import unpack
    from handmodel.options import settings_from_values

    settings = settings_from_values(UnpackSettings, values)
    r = unpack(settings)
    click.echo(f"unpacked {r['samples']} samples ({r['written']} written now) -> {settings.out}")


@assets.command("preview")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--resolution", "--size", "size", type=click.IntRange(16, IMAGE_SIDE_MAX), default=384,
              show_default=True,
              help="Image side in pixels.")  # fmt: skip
@MANO_DIR_OPTION
def assets_preview(out, size, mano_dir):
    """Render the active hand model's two rest-pose hands with Blender into OUT.png (shows which model is active)."""
    from blender_scripts.model_preview import model_preview

    info = model_preview(out, mano_dir, size)
    click.echo(f"{info['model']} ({info['hash']}) rendered into {out}")


# ---- end render ----

# ---- train, eval, demo (training/) ---------------------------------------------------------------------


def _default_device(device):
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@main.command("train")
@_settings_options(TrainSettings)
def train_cmd(**values):
    """Train the IntagHand-style two-hand network on datasets (rendered and/or InterHand2.6M), folders or shards.

    Writes OUT/config.yaml (all settings), OUT/checkpoints/last.pt and TensorBoard logs in OUT/logs.
    Multi-GPU: --gpu 0,1,2,3, or `torchrun --nproc_per_node 4 cli.py train ...`.
    """
    from handmodel.options import settings_from_values
    from training.config import build_config
    from training.run_folder import open_run_folder
    from training.trainer import slurm_rendezvous, train

    slurm_rendezvous()  # under srun: the ranks find each other from Slurm's variables (before the run folder's lock)
    settings = settings_from_values(TrainSettings, values)
    cfg = build_config(settings.config, settings.data, settings.mix, settings.preset, settings.overrides())
    with open_run_folder(settings.out, cfg, settings.resume, settings.overwrite):
        result = train(cfg, settings.out, _default_device(settings.device), settings.gpu, settings.resume,
                       settings.mano_dir)  # fmt: skip
    if result.get("rank", 0) == 0:  # under torchrun every rank returns here
        click.echo(f"checkpoint: {result['checkpoint']}")
        if result.get("skipped"):
            click.echo(f"skipped {result['skipped']} bad samples while streaming (named in the notices above)")


@main.command("eval")
@_settings_options(EvalSettings)
def eval_cmd(**values):
    """Joint and vertex mean error (IntagHand: joint-9 root and bone-length scale aligned), PA-MPJPE, MRRPE, in mm."""
    from handmodel.options import settings_from_values
    from training.evaluate import evaluate, format_report

    settings = settings_from_values(EvalSettings, values)
    metrics = evaluate(settings.checkpoint, settings.data, settings.json, _default_device(settings.device),
                       settings.batch_size, settings.workers, settings.mano_dir,
                       max_bad=settings.max_bad)  # fmt: skip
    click.echo(format_report(metrics))


@main.command("demo")
@_settings_options(DemoSettings)
def demo_cmd(**values):
    """Draw both predicted hand meshes over images, a video, or a webcam stream."""
    from handmodel.options import settings_from_values
    from handmodel.outdir import open_output
    from training.demo import demo

    settings = settings_from_values(DemoSettings, values)
    with open_output(settings.out, "demo", None):
        written = demo(settings.checkpoint, settings.out, settings.img_path, settings.video, settings.live,
                       _default_device(settings.device), settings.mano_dir, settings.camera)  # fmt: skip
    click.echo(f"wrote {len(written)} overlay(s) to {settings.out}")


# ---- end train ----

# ---- interhand (interhand/) ----------------------------------------------------------------------------
IH_DATA = click.option("--data_path", required=True, type=click.Path(file_okay=False),
                       help="Root of the InterHand2.6M release (holds images/ and annotations/).")  # fmt: skip
IH_SPLIT = click.option("--split", type=click.Choice(SPLITS), default="train", show_default=True,
                        help="Which split of the release.")  # fmt: skip
IH_CAPTURE = click.option("--capture", required=True, type=int, help="Capture number (the C of CaptureC).")
IH_SEQ = click.option("--seq", required=True, help="Sequence name, e.g. 0051_dinosaur.")
IH_OUT = click.option("--out", default="out/interhand", show_default=True, type=click.Path(file_okay=False),
                      help="Root of the processed sequences.")  # fmt: skip


@main.group("import")
def import_group():
    """Datasets researchers already have -> the toolkit's dataset format: `intaghand` (IntagHand-prepared
    InterHand2.6M: img/, anno/*.pkl, mask/) and `renderih` (the public RenderIH release: color_img/,
    color_annot/*.pkl; masks rendered with Blender)."""


def _import_command(kind: str, doc: str):
    @import_group.command(kind, help=doc)
    @_launched("import", kind)
    @_settings_options(ImportSettings)
    def command(**values):
        from handmodel import load_hand_models
        from handmodel.options import settings_from_values
        from importers.run import import_dataset

        settings = settings_from_values(ImportSettings, values)
        models = load_hand_models(settings.mano_dir)
        r = import_dataset(kind, settings, models, warn=lambda line: click.echo(line, err=True))
        click.echo(f"import {kind}: {r['written']} samples written ({r.get('rendered_mask', 0)} with masks rendered "
                   f"by Blender), {r['existing']} already there, {r['bad']} bad files skipped "
                   f"({r['candidates']} candidates) -> {settings.out}")  # fmt: skip

    return command


_import_command(
    "intaghand",
    "IntagHand-prepared InterHand2.6M (SRC/{split}/img, anno, mask) -> a dataset: camera-space MANO parameters "
    "(PCA -> axis-angle with the active hand model), 21 joints per hand, masks from the mask JPEGs' hand channels "
    "(rendered with Blender where a mask is missing). Bad files are named and skipped; a rerun resumes.",
)
_import_command(
    "renderih",
    "The RenderIH release (SRC/{split}/color_img, color_annot) -> a dataset, samples named by the release's "
    "global indices (from 366358), masks rendered with Blender. Bad files are named and skipped; a rerun resumes.",
)


@main.group()
def interhand():
    """InterHand2.6M: `prepare` a split for training, per-sequence tools (annots, blend-weights, masks, merge,
    gif, vis), and `mini-release`, a tiny generated release in the exact layout for trying them out.

    Per-sequence outputs go to OUT/{split}/Capture{c}/{seq}/ (--out, default out/interhand).
    """


def _sequence_lock(seq_dir, kind):
    """A processed sequence folder is filled by several commands (annots, blend-weights, masks), each checking its
    own inputs: one of them at a time."""
    from handmodel.outdir import open_output

    return open_output(seq_dir, kind, None)


def _interhand_models(mano_dir):
    from handmodel import load_hand_models

    return load_hand_models(mano_dir)


@interhand.command("prepare")
@_launched("interhand", "prepare")
@_settings_options(PrepareSettings)
def interhand_prepare(**values):
    """Interacting frames with both MANO hands valid -> the toolkit's dataset format: 256x256 crops around both
    hands (80% fill), camera-space MANO parameters, 21 joints per hand, masks and depth rendered with Blender.

    Black images and null or invalid hands are skipped and counted. A rerun resumes where it stopped.
    """
    from handmodel.options import settings_from_values
    from interhand.prepare import prepare_interhand

    settings = settings_from_values(PrepareSettings, values)
    r = prepare_interhand(settings, _interhand_models(settings.mano_dir))
    click.echo(f"prepare {settings.split}: {r['written']} samples written, {r['existing']} already there "
               f"({r['candidates']} candidate images) -> {settings.out}")  # fmt: skip
    skipped = {k: v for k, v in r.items() if k not in ("written", "existing", "candidates") and v}
    if skipped:
        click.echo("skipped images: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(skipped.items())))


@interhand.command("annots")
@IH_DATA
@IH_SPLIT
@IH_CAPTURE
@IH_SEQ
@IH_OUT
@MANO_DIR_OPTION
def interhand_annots(data_path, split, capture, seq, out, mano_dir):
    """Cameras (K, R, t), the frame list without black frames, per-frame world vertices and parameters
    (absolute pose, root split out as Rh/Th, shape) of one sequence; images linked into the sequence folder."""
    from interhand.sequence import sequence_dir, write_annots

    models = _interhand_models(mano_dir)
    with _sequence_lock(sequence_dir(out, split, capture, seq), "annots"):
        r = write_annots(data_path, out, split, capture, seq, models)
    click.echo(f"annots: {r['frames']} frames, {r['images']} images -> {sequence_dir(out, split, capture, seq)}")
    click.echo(f"skipped: {r.get('black_images', 0)} black images, {r.get('black_frames', 0)} black frames, "
               f"{r.get('no_valid_hand', 0)} frames without a valid hand")  # fmt: skip


@interhand.command("blend-weights")
@IH_SPLIT
@IH_CAPTURE
@IH_SEQ
@IH_OUT
@MANO_DIR_OPTION
def interhand_blend_weights(split, capture, seq, out, mano_dir):
    """Skinning-weight grids of a processed sequence (run `annots` first): the canonical grid (0.025 m voxels,
    0.05 m padding) with signed distance to the surface and shape offsets, and per frame the posed grid and the
    pose-corrective offsets. Written to lbs/ in the sequence folder."""
    from interhand.blend_weights import write_blend_weights
    from interhand.sequence import sequence_dir

    models = _interhand_models(mano_dir)
    with _sequence_lock(sequence_dir(out, split, capture, seq), "blend-weights"):
        r = write_blend_weights(sequence_dir(out, split, capture, seq), models)
    shapes = ", ".join(f"{h} {'x'.join(map(str, s))}" for h, s in r["grid_shape"].items())
    click.echo(f"blend weights: {r['frames']} frames; canonical grids {shapes}")


@interhand.command("masks")
@IH_SPLIT
@IH_CAPTURE
@IH_SEQ
@IH_OUT
@MANO_DIR_OPTION
def interhand_masks(split, capture, seq, out, mano_dir):
    """Mask PNGs (left 100, right 200) and float depth maps (.npy, metres) for every camera image of a processed
    sequence (run `annots` first), rendered with Blender. A rerun skips finished images."""
    from interhand.masks import write_masks
    from interhand.sequence import sequence_dir

    models = _interhand_models(mano_dir)
    with _sequence_lock(sequence_dir(out, split, capture, seq), "masks"):
        r = write_masks(sequence_dir(out, split, capture, seq), models)
    click.echo(f"masks: {r['written']} rendered, {r['existing']} already there")


@interhand.command("merge")
@IH_SPLIT
@IH_CAPTURE
@click.option("--seq", "seqs", required=True, multiple=True, help="A processed sequence to merge (repeat).")
@click.option("--new-name", required=True, help="Name of the merged sequence.")
@IH_OUT
def interhand_merge(split, capture, seqs, new_name, out):
    """Merge processed sequences of one capture into a new one by symbolic links (no extra space)."""
    from interhand.merge import merge_sequences
    from interhand.sequence import sequence_dir

    with _sequence_lock(sequence_dir(out, split, capture, new_name), "merge"):
        r = merge_sequences(out, split, capture, list(seqs), new_name)
    click.echo(f"merge: {new_name} with {r['frames']} frames ({r['links']} links)")


@interhand.command("gif")
@IH_DATA
@IH_SPLIT
@IH_CAPTURE
@click.option("--seq", "seqs", multiple=True, help="Only this sequence (repeat; default: every one).")
@IH_OUT
@click.option("--fps", default=30.0, show_default=True, type=FiniteFloat(0, min_open=True), help="Frames per second.")
@click.option("--scale", default=0.5, show_default=True, type=FiniteFloat(0, min_open=True), help="Image size factor.")
def interhand_gif(data_path, split, capture, seqs, out, fps, scale):
    """A GIF per camera of each sequence of a capture, from the release's images (black ones left out)."""
    from interhand.gif import write_gifs

    paths = write_gifs(data_path, out, split, capture, list(seqs) or None, fps=fps, scale=scale)
    click.echo(f"gif: {len(paths)} GIFs -> {out}/{split}/Capture{capture}/")


@interhand.command("vis")
@IH_DATA
@IH_SPLIT
@IH_CAPTURE
@IH_SEQ
@click.option("--frame", type=int, default=None, help="Frame to show (default: the first with valid joints).")
@IH_OUT
def interhand_vis(data_path, split, capture, seq, frame, out):
    """PNG plots of a sequence: the camera rig with the hands, the 3D joints of a frame, and the joints
    projected onto each camera image of that frame."""
    from interhand.vis import write_vis

    for path in write_vis(data_path, out, split, capture, seq, frame=frame):
        click.echo(str(path))


@interhand.command("mini-release")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write the release into.")
@click.option("--no-images", is_flag=True, help="Annotations only (no Blender rendering; fast).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, SEED_MAX))
@click.option("--cycles-samples", "--samples", "samples", default=4, show_default=True,
              type=click.IntRange(1, CYCLES_SAMPLES_MAX),
              help="Cycles samples per pixel of each image.")  # fmt: skip
@MANO_DIR_OPTION
def interhand_mini_release(out, no_images, seed, samples, mano_dir):
    """Generate a tiny InterHand2.6M release (exact layout and JSON structures, with the real release's pitfalls:
    null MANO entries, black frames, invalid wrists, single-hand frames) rendered with the active hand model."""
    from handmodel.outdir import open_output
    from interhand.mini_release import make_mini_release

    models = _interhand_models(mano_dir)
    fingerprint = {"seed": seed, "samples": samples, "images": not no_images, "hand_model": models.identity}
    with open_output(out, "mini-release", fingerprint, hint="write it into another --out"):
        summary = make_mini_release(out, models, with_images=not no_images, seed=seed, samples=samples)
    for split, info in summary.items():
        click.echo(f"{split}: {len(info['images'])} images, {len(info['interacting_frames'])} valid interacting "
                   f"frames, {len(info['black_images'])} black images")  # fmt: skip


# ---- end interhand ----


if __name__ == "__main__":
    main()
