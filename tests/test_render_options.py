"""The render options are defined once (RenderSettings' fields): the click command and the argparse parser inside
Blender offer every one of them, with the same defaults and the same meaning, and `render --help` lists them."""

import dataclasses
import re

import pytest
from click.testing import CliRunner

import cli
from blender_scripts.render import build_parser, settings_from_args
from blender_scripts.settings import RenderSettings
from handmodel.options import option_specs, settings_from_values, settings_to_argv

SPECS = option_specs(RenderSettings)
REQUIRED = {"poses": "p.npz", "out": "ds"}
# Fields whose command-line text goes through a parse function: a non-default value of each.
PARSED = {"shard": (1, 3)}


def parse_argparse(argv: list[str]) -> RenderSettings:
    return settings_from_args(build_parser().parse_args(argv))


def parse_click(argv: list[str]) -> RenderSettings:
    ctx = cli.render_cmd.make_context("render", list(argv))
    return settings_from_values(RenderSettings, ctx.params)


def changed_value(f: dataclasses.Field, spec):
    """A value of field `f` different from its default, of the field's type."""
    if f.name in PARSED:
        return PARSED[f.name]
    assert f.metadata["option"]["parse"] is None, f"add a non-default value of {f.name} to PARSED"
    default = None if f.default is dataclasses.MISSING else f.default
    if spec.kind == "switch":
        return not default
    if spec.kind == "repeat":
        return [f"{f.name}_a", f"{f.name} b"]
    if spec.choices:
        return next(c for c in reversed(spec.choices) if c != default)
    if spec.type is int:
        return (default or 0) + 7
    if spec.type is float:
        return (default or 0.0) + 0.25
    return f"{f.name}_value.x"


def test_every_field_is_an_option_of_both_parsers_under_the_same_flags():
    names = [f.name for f in dataclasses.fields(RenderSettings)]
    assert [s.name for s in SPECS] == names
    click_flags = {p.name: p.opts for p in cli.render_cmd.params}
    argparse_flags = {a.dest: a.option_strings for a in build_parser()._actions}
    for spec in SPECS:
        assert click_flags[spec.name] == [spec.flag, *spec.aliases], spec.name
        assert argparse_flags[spec.name] == [spec.flag, *spec.aliases], spec.name
    assert len({s.flag for s in SPECS}) == len(SPECS)


def test_both_parsers_give_the_dataclass_defaults():
    argv = ["--poses", REQUIRED["poses"], "--out", REQUIRED["out"]]
    expected = RenderSettings(**REQUIRED)
    assert parse_argparse(argv) == expected
    assert parse_click(argv) == expected
    assert expected.shard == (0, 1) and expected.denoise == "fast" and expected.bundled_hdris is True


def test_every_option_changed_survives_the_worker_argv_in_both_parsers():
    fields = dataclasses.fields(RenderSettings)
    values = {f.name: changed_value(f, spec) for f, spec in zip(fields, SPECS, strict=True)}
    s = RenderSettings(**values)
    defaults = RenderSettings(**REQUIRED)
    for f in fields:
        if f.name not in REQUIRED:
            assert getattr(s, f.name) != getattr(defaults, f.name), f.name
    argv = settings_to_argv(s)
    assert parse_argparse(argv) == s
    assert parse_click(argv) == s


@pytest.mark.parametrize(
    "bad, click_says",
    [(["--denoise", "medium"], "'medium' is not one of"), (["--samples", "0"], "0 is not in the range 1<=x<=4096"),
     (["--resolution", "8"], "8 is not in the range 16<=x<=4096"), (["--threads", "-1"], "-1 is not in the range x>=0"),
     (["--resolution", "100000"], "100000 is not in the range 16<=x<=4096"),
     (["--seed", "-1"], "-1 is not in the range 0<=x<=4294967295")],
)  # fmt: skip
def test_both_parsers_refuse_values_outside_the_choices_and_ranges(bad, click_says, capsys):
    argv = ["--poses", "p", "--out", "o", *bad]
    with pytest.raises(SystemExit) as e:
        parse_argparse(argv)
    assert e.value.code == 2 and bad[0] in capsys.readouterr().err
    r = CliRunner().invoke(cli.main, ["render", *argv])
    assert r.exit_code == 2 and click_says in r.output


def test_render_help_lists_every_option_with_its_default():
    out = CliRunner().invoke(cli.main, ["render", "--help"]).output
    entries, flag = {}, None  # flag -> its help entry, wrapped lines joined
    for line in out.split("Options:\n")[1].splitlines():
        m = re.match(r"  (-[-\w]+)", line)
        if m:
            flag = m.group(1)
        entries[flag] = entries.get(flag, "") + " " + line.strip()
    for spec in SPECS:
        assert spec.flag in entries, f"{spec.flag} missing from render --help"
        assert " ".join(spec.help.split()[:3]) in entries[spec.flag]
        if spec.kind == "value" and spec.default is not None:
            assert re.search(rf"\[default: {re.escape(str(spec.default))}[;\]]", entries[spec.flag]), entries[spec.flag]
    inside_blender = build_parser().format_help()
    for spec in SPECS:
        assert spec.flag in inside_blender


def test_settings_made_in_code_are_checked_against_the_same_choices_and_ranges():
    from handmodel.errors import InputError
    from handmodel.options import check_settings

    check_settings(RenderSettings(**REQUIRED))
    for bad, message in ((dict(samples=0), "--cycles-samples 0: must be >= 1"), (dict(resolution=8), "--resolution 8"),
                         (dict(denoise="medium"), "--denoise medium: expected one of off, fast")):  # fmt: skip
        with pytest.raises(InputError, match=message):
            check_settings(RenderSettings(**REQUIRED, **bad))


def test_the_options_that_change_the_pixels_are_fingerprinted():
    from handmodel.options import fingerprinted

    s = RenderSettings(**REQUIRED, samples=5, seed=3)
    recorded = fingerprinted(s)
    assert {k: recorded[k] for k in ("samples", "denoise", "seed", "subdivision")} == {
        "samples": 5, "denoise": "fast", "seed": 3, "subdivision": 1}  # fmt: skip
    # how a run is scheduled never changes what it writes, so shards and resumes with other values share a folder
    assert not {"workers", "restart_every", "shard", "num", "out", "poses"} & set(recorded)
    # forearms and sleeves change the pixels
    assert recorded["forearms"] is True and recorded["sleeves"] == 0.0


def test_a_gpu_render_device_that_blender_cannot_find_is_one_line_and_writes_nothing(tmp_path):
    """--render-device names a Cycles GPU backend; on a machine without that GPU the worker's own line reaches the
    user (Blender prints hundreds of lines after it), exit 1, and no dataset folder is left."""
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    from handmodel.poses_io import Poses, save_poses

    if Path("/dev/nvidia0").exists():
        pytest.skip("this machine has an NVIDIA GPU: the render would find it")
    poses = tmp_path / "poses.npz"
    params = {h: {"pose": np.zeros((1, 48)), "shape": np.zeros((1, 10)), "trans": np.array([[x, 0.0, 0.5]])}
              for h, x in (("right", -0.05), ("left", 0.05))}  # fmt: skip
    save_poses(poses, Poses(params=params, ids=np.arange(1)))
    repo = Path(cli.__file__).resolve().parent
    r = subprocess.run([sys.executable, str(repo / "cli.py"), "render", "--poses", str(poses), "--out",
                        str(tmp_path / "ds"), "--resolution", "32", "--render-device", "cuda"], capture_output=True,
                       text=True, cwd=repo)  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (f"Error: --render-device cuda: Blender finds no CUDA GPU on "
                                                 f"{__import__('socket').gethostname()} (use --render-device cpu, or "
                                                 "run on a node with one)")  # fmt: skip
    assert not (tmp_path / "ds").exists()
