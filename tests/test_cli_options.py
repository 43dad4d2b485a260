"""Every command built from a settings dataclass offers exactly its fields as options, with the fields' flags,
defaults and choices, and refuses a bad value as a usage error (exit 2)."""

import dataclasses
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import cli
from handmodel.options import option_specs


def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


SETTINGS_COMMANDS = {path: c for path, c in _commands(cli.main) if hasattr(c.callback, "settings_class")}


def test_the_commands_that_write_datasets_and_poses_take_settings_classes():
    assert {" ".join(p) for p in SETTINGS_COMMANDS} >= {
        "sample-poses", "render", "interhand prepare", "import intaghand", "import renderih", "textures make",
        "train", "eval", "demo",
    }  # fmt: skip


@pytest.mark.parametrize("path", sorted(SETTINGS_COMMANDS), ids=" ".join)
def test_each_option_is_a_field_and_each_field_an_option(path):
    command = SETTINGS_COMMANDS[path]
    classes = [command.callback.settings_class, getattr(command.callback, "launch_class", None)]
    classes = [c for c in classes if c is not None]
    params = {p.name: p for p in command.params if p.name != "help"}
    assert set(params) == {f.name for c in classes for f in dataclasses.fields(c)}
    for spec in [s for c in classes for s in option_specs(c)]:
        param = params[spec.name]
        if spec.argument:
            assert isinstance(param, click.Argument)
            continue
        assert spec.flag in param.opts and set(spec.aliases) <= set(param.opts)
        assert param.required == spec.required
        if spec.choices:
            assert tuple(param.type.choices) == spec.choices
        if spec.kind == "value" and not spec.required:
            assert param.default == spec.default, spec.name


@pytest.mark.parametrize("path", sorted(p for p in SETTINGS_COMMANDS if any(
    s.name == "shard" for s in option_specs(SETTINGS_COMMANDS[p].callback.settings_class))), ids=" ".join)  # fmt: skip
def test_a_bad_shard_is_a_usage_error(path, tmp_path):
    cls = SETTINGS_COMMANDS[path].callback.settings_class
    args = []
    for spec in option_specs(cls):
        if spec.required:  # an existing folder or file for every required path
            value = str(tmp_path / "p.npz") if spec.path == "file" else str(tmp_path)
            args += [value] if spec.argument else [spec.flag, value]
    (tmp_path / "p.npz").write_bytes(b"")
    result = CliRunner().invoke(cli.main, [*path, *args, "--shard", "3/2"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--shard'" in result.output and "0 <= K < N" in result.output


def test_the_commands_that_write_shards_can_be_launched_on_a_cluster():
    launched = {" ".join(p) for p, c in SETTINGS_COMMANDS.items() if hasattr(c.callback, "launch_class")}
    assert launched == {"sample-poses", "render", "interhand prepare", "import intaghand", "import renderih"}


def _readme_names() -> dict:
    """{option: (commands, also accepted)} from the README's table of option names."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = text.split("<!-- cli-names -->")[1].split("<!-- /cli-names -->")[0]
    rows = {}
    for line in table.splitlines()[3:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4:
            rows[cells[0].strip("`")] = (
                [c.strip() for c in cells[2].split(",")],
                re.findall(r"`(--[\w-]+)`", cells[3]),
            )
    return rows


def test_every_command_uses_the_readme_names_and_the_old_spellings_only_as_aliases():
    primary = {}  # command -> {primary flag: all its flags}
    for path, command in _commands(cli.main):
        flags = {p.opts[0]: set(p.opts) for p in command.params if isinstance(p, click.Option) and p.name != "help"}
        primary[" ".join(path)] = flags
    for name, (commands, aliases) in _readme_names().items():
        named = [c for c in commands if not c.startswith("every")]
        for listed in named:
            matching = [c for c in primary if c == listed or c.startswith(listed + " ")]
            assert matching, f"README names a command {listed!r} that does not exist"
            for command in matching:
                assert name in primary[command], f"README: {command} should take {name}"
                old = [a for a in aliases if a in primary[command]]
                assert not old, f"{command}: {old} should be aliases of {name}"
    mano = [c for c, flags in primary.items() if "--mano_dir" in flags or "--mano-dir" in flags]
    assert len(mano) >= 10


def test_assets_info_writes_its_json_to_a_path_or_prints_it(tmp_path):
    import json

    printed = CliRunner().invoke(cli.main, ["assets", "info", "--json"])
    assert printed.exit_code == 0, printed.output
    info = json.loads(printed.output.strip().splitlines()[-1])
    written = CliRunner().invoke(cli.main, ["assets", "info", "--json", str(tmp_path / "info.json")])
    assert written.exit_code == 0, written.output
    assert json.loads((tmp_path / "info.json").read_text()) == info and set(info) == {"model", "dir", "hash"}
