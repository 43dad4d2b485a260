"""The toolkit's command line: `python cli.py --help`.

Thin by design: each command parses its options and calls one function that a test can call too.
Heavy modules (torch, bpy) are imported inside the commands so `--help` stays fast.
"""

import json
import sys

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
