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
# ---- end render ----

# ---- train, eval, demo (training/) ---------------------------------------------------------------------
# ---- end train ----

# ---- interhand (interhand/) ----------------------------------------------------------------------------
# ---- end interhand ----


if __name__ == "__main__":
    main()
