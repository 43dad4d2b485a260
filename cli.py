"""The toolkit's command line: `python cli.py --help`.

Thin by design: each command parses its options and calls one function that a test can call too.
Heavy modules (torch, bpy) are imported inside the commands so `--help` stays fast.
"""

import json

import click


class ToolkitError(click.ClickException):
    """An error the user can act on: printed as one line, exit status 1."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    help="Folder with the licensed MANO_RIGHT.pkl and MANO_LEFT.pkl (default: $MANO_DIR, then assets/mano/).",
)


@assets.command("info")
@MANO_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print {model, dir, hash} as JSON.")
def assets_info(mano_dir, as_json):
    """Show which hand model is active and the folder smplx loads it from."""
    from handmodel import load_hand_models
    from handmodel.errors import InputError

    try:
        models = load_hand_models(mano_dir, quiet=as_json)
    except InputError as e:
        raise ToolkitError(str(e)) from None
    if as_json:
        click.echo(json.dumps(models.info))
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
    from handmodel.errors import InputError
    from handmodel.models import import_mano, load_model_dir

    try:
        info = load_model_dir(import_mano(mano_dir)).info
    except InputError as e:
        raise ToolkitError(str(e)) from None
    click.echo(f"MANO converted: {info['dir']} (hash {info['hash']})")
    click.echo("Point the toolkit at it with --mano-dir, $MANO_DIR, or by copying the two files to assets/mano/.")


# ---- end assets ----

# ---- sample-poses (pose_sampler/) ------------------------------------------------------------------------
# ---- end sample-poses ----

# ---- render, textures, hdri, preview (blender_scripts/, textures/, hdri/) -------------------------------


def _render_call(fn, *args, **kwargs):
    from handmodel.errors import InputError

    try:
        return fn(*args, **kwargs)
    except InputError as e:
        raise ToolkitError(str(e)) from None


@main.command("render")
@click.option("--poses", required=True, type=click.Path(dir_okay=False), help="Poses .npz made by sample-poses.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder (a rerun resumes).")
@click.option("--num", type=int, default=None, help="Render only the first NUM poses.")
@click.option("--shard", default="0/1", show_default=True, help="K/N: render the sample ids with id % N == K.")
@click.option("--resolution", type=int, default=256, show_default=True, help="Square image side in pixels.")
@click.option("--samples", type=int, default=16, show_default=True, help="Cycles samples per pixel.")
@click.option("--seed", type=int, default=0, show_default=True, help="Global seed (per sample: seed, sample id).")
@click.option("--cameras", type=click.Path(dir_okay=False), default=None,
              help="InterHand2.6M camera.json: render from its rigs instead of orbit cameras.")  # fmt: skip
@click.option("--hdri-dir", multiple=True, type=click.Path(file_okay=False), help="Add a folder of HDRIs.")
@click.option("--no-bundled-hdris", is_flag=True, help="Leave out the 8 HDRIs that ship with Blender.")
@click.option("--no-sky", is_flag=True, help="Leave out the procedural sky.")
@click.option("--texture-dir", multiple=True, type=click.Path(file_okay=False),
              help="Add a folder of skin textures painted in the hand UV layout.")  # fmt: skip
@click.option("--no-generated-textures", is_flag=True, help="Use only the --texture-dir textures.")
@click.option("--subdivision", type=int, default=1, show_default=True, help="Catmull-Clark levels at render time.")
@click.option("--restart-every", type=int, default=200, show_default=True,
              help="Restart the Blender worker every N samples so memory stays flat (0: one process).")  # fmt: skip
@click.option("--threads", type=int, default=0, show_default=True, help="Render threads (0: all cores).")
@MANO_DIR_OPTION
def render_cmd(poses, out, num, shard, resolution, samples, seed, cameras, hdri_dir, no_bundled_hdris, no_sky,
               texture_dir, no_generated_textures, subdivision, restart_every, threads, mano_dir):  # fmt: skip
    """Render photo-real two-hand samples with Blender Cycles: image, mask, depth and annotation per pose.

    The same code path as `blender -b -P blender_scripts/render.py -- --poses P --out D ...`.
    Resumable (finished samples are skipped) and sharded (--shard K/N for a job array).
    """
    from blender_scripts.render import RenderSettings, parse_shard, run

    def go():
        s = RenderSettings(
            poses=poses, out=out, num=num, shard=parse_shard(shard), resolution=resolution, samples=samples,
            seed=seed, cameras=cameras, hdri_dirs=list(hdri_dir), bundled_hdris=not no_bundled_hdris, sky=not no_sky,
            texture_dirs=list(texture_dir), generated_textures=not no_generated_textures, subdivision=subdivision,
            restart_every=restart_every, threads=threads, mano_dir=mano_dir,
        )  # fmt: skip
        return run(s)

    n = _render_call(go)
    click.echo(f"rendered {n} new samples into {out}")


@main.group()
def textures():
    """Skin textures in the hand's UV layout."""


@textures.command("make")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the textures (default: the hand model's cache, where `render` looks).")  # fmt: skip
@click.option("--size", type=int, default=512, show_default=True, help="Texture side in pixels.")
@click.option("--variants", type=int, default=2, show_default=True, help="Textures per skin tone (8 tones).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pigment patterns.")
@MANO_DIR_OPTION
def textures_make(out, size, variants, seed, mano_dir):
    """Generate skin albedo textures over 8 skin tones (nails, creases, pigment), plus uv_layout.png."""
    from tqdm import tqdm

    from handmodel import load_hand_models
    from textures.catalogue import make_textures

    models = _render_call(load_hand_models, mano_dir)
    paths = _render_call(make_textures, models, out, size, variants, seed, progress=lambda j: tqdm(j, unit="texture"))
    click.echo(f"{len(paths)} textures in {paths[0].parent}")


@main.group()
def hdri():
    """Environment lights for the renderer."""


@hdri.command("list")
@click.option("--hdri-dir", multiple=True, type=click.Path(file_okay=False), help="Add a folder of HDRIs.")
def hdri_list(hdri_dir):
    """Show the catalogue: the CC0 HDRIs bundled with Blender, your folders, and the procedural sky."""
    from hdri.catalogue import describe, list_hdris

    click.echo(describe(_render_call(list_hdris, list(hdri_dir))))


@main.command("preview")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Contact sheet .png to write.")
@click.option("--count", type=int, default=16, show_default=True, help="How many samples to draw.")
@click.option("--columns", type=int, default=4, show_default=True, help="Samples per row.")
@click.option("--scale", type=int, default=2, show_default=True, help="Enlarge each sample this many times.")
def preview_cmd(dataset, out, count, columns, scale):
    """Contact sheet of a dataset: images with mask outlines and 2D joints (right orange, left blue)."""
    from blender_scripts.preview import contact_sheet

    n = _render_call(contact_sheet, dataset, out, count, columns, scale)
    click.echo(f"{n} samples drawn into {out}")


@assets.command("preview")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--size", type=int, default=384, show_default=True, help="Image side in pixels.")
@MANO_DIR_OPTION
def assets_preview(out, size, mano_dir):
    """Render the active hand model's two rest-pose hands with Blender into OUT.png (shows which model is active)."""
    from blender_scripts.preview import model_preview

    info = _render_call(model_preview, out, mano_dir, size)
    click.echo(f"{info['model']} ({info['hash']}) rendered into {out}")


# ---- end render ----

# ---- train, eval, demo (training/) ---------------------------------------------------------------------
# ---- end train ----

# ---- interhand (interhand/) ----------------------------------------------------------------------------
# ---- end interhand ----


if __name__ == "__main__":
    main()
