"""Settings dataclasses whose fields are also command-line options: one definition per option for every command.

A field made with `option(...)` carries its flag, type, default, help, choices, minimum, path kind and whether the
run's fingerprint holds it. Every parser is derived from the fields, never typed twice:
- cli.py builds a command's click options from `option_specs(cls)` (click stays in cli.py);
- `add_arguments` builds argparse options (standard library only: Blender's own Python runs it);
- `settings_from_values` turns either parser's values into the dataclass, `settings_to_argv` the dataclass back
  into the arguments a worker process parses; `fingerprinted` gives the values that change what a run writes.
"""

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass

# Documented bounds of options that allocate memory or time (README, "When something goes wrong"): a value past
# one is a usage error before anything runs, not a MemoryError or a render that never ends.
SEED_MAX = 2**32 - 1  # numpy's and torch's seeding take any seed in 0..2**32-1 (train adds the rank)
IMAGE_SIDE_MAX = 4096  # image sides (render, textures, assets preview): Cycles' passes at 4096 px take ~3 GB
CYCLES_SAMPLES_MAX = 4096  # samples per pixel: far past the point where denoised renders stop changing
NETWORK_INPUT_MAX = 1024  # the network's input side: activations grow with its square
BATCH_SIZE_MAX = 1024  # images per step or forward pass
POSES_MAX = 10**8  # poses of one sample-poses run: ~1 kB each in memory when merged and reported (~100 GB)


def option(help: str, default=dataclasses.MISSING, *, flag: str | None = None, aliases: tuple = (), choices=None,
           min=None, max=None, path: str | None = None, exists: bool = False, parse=None, format=None, check=None,
           required: bool | None = None, argument: bool = False, metavar: str | None = None, fingerprint: bool = False,
           default_factory=dataclasses.MISSING):  # fmt: skip
    """A dataclass field that is also a command-line option.

    help: the option's help line; flag: the option name (default `--field-name`; a bool field that is on by default
    gets `--no-field-name`); choices: the allowed values; min: the smallest allowed number; max: the largest (a
    documented bound on options that allocate memory or time, refused as a usage error before anything runs); path:
    'file', 'dir' or 'any' when the value names one (click checks the kind); parse / format: a value <-> its
    command-line text, for fields that are not a plain int, float or str (e.g. the shard (K, N) <-> 'K/N'). A field
    without a default is a required option; required=True makes one with a default (for settings made in code)
    required on the command line. aliases: other spellings of the flag that users type (the seed tools'
    `--data_path`); exists: the path must exist; check: a function of the value that raises InputError on a bad one
    (beyond choices, min and max); argument: a positional argument instead of an option (its metavar is the field
    name in capitals); metavar: how the help shows the value (e.g. NAME=PATH).

    fingerprint: the value changes what a run writes (pixels, annotations), so it is recorded in the output's
    meta.json and fingerprint under the field's name and a resumed run must repeat it.
    """
    meta = {"help": help, "flag": flag, "aliases": tuple(aliases), "choices": tuple(choices) if choices else None,
            "min": min, "max": max, "path": path, "exists": exists, "parse": parse, "format": format, "check": check,
            "required": required, "argument": argument, "metavar": metavar, "fingerprint": fingerprint}  # fmt: skip
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"option": meta})


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option as both parsers need it.

    kind: 'value' (one value), 'switch' (a flag without a value; given = not the field's default) or 'repeat'
    (the flag may be given several times; a list). type: int, float or str, the type of the command-line value.
    default: what the parser yields when the option is not given (the command-line text for parsed fields).
    """

    name: str
    flag: str
    kind: str
    type: type
    required: bool
    default: object
    help: str
    choices: tuple | None
    min: float | None
    path: str | None
    aliases: tuple = ()
    exists: bool = False
    parse: object = None
    check: object = None
    argument: bool = False
    metavar: str | None = None
    max: float | None = None


def _value_type(annotation) -> tuple[str, type]:
    """(kind, type) of a field annotation: int | None -> ('value', int), list[str] -> ('repeat', str), ..."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"option type {annotation}: only X | None is supported")
        annotation = args[0]
    if annotation is bool:
        return "switch", bool
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (str,)
        return "repeat", item
    if annotation in (int, float, str):
        return "value", annotation
    return "parsed", str  # text on the command line, the field's `parse` makes the value


def option_specs(cls) -> list[OptionSpec]:
    """The command-line options of a settings dataclass whose fields were made with `option`."""
    specs = []
    for f in dataclasses.fields(cls):
        meta = f.metadata["option"]
        kind, value_type = _value_type(f.type)
        if kind == "parsed":
            if meta["parse"] is None or meta["format"] is None:
                raise TypeError(f"{cls.__name__}.{f.name}: a {f.type} option needs parse= and format=")
            kind = "value"
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if meta["required"] is not None:
            required = meta["required"]
        flag = meta["flag"] or "--" + f.name.replace("_", "-")
        if kind == "switch":
            if f.default is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{f.name}: a switch needs a default")
            flag = meta["flag"] or ("--no-" if f.default else "--") + f.name.replace("_", "-")
            default = False
        elif kind == "repeat":
            default = ()
        elif required or f.default is None:
            default = None
        elif meta["format"] is not None:
            default = meta["format"](f.default)
        else:
            default = f.default
        specs.append(OptionSpec(f.name, flag, kind, value_type, required, default, meta["help"], meta["choices"],
                                meta["min"], meta["path"], meta["aliases"], meta["exists"], meta["parse"],
                                meta["check"], meta["argument"], meta["metavar"], meta["max"]))  # fmt: skip
    return specs


def settings_from_values(cls, values: dict):
    """A parser's values {field name: value as parsed} -> the settings dataclass (switches flip the default,
    repeated options become lists, parsed fields go through their `parse`)."""
    kwargs = {}
    for f, spec in zip(dataclasses.fields(cls), option_specs(cls), strict=True):
        raw = values[f.name]
        if spec.kind == "switch":
            kwargs[f.name] = (not f.default) if raw else f.default
        elif spec.kind == "repeat":
            kwargs[f.name] = list(raw or ())
        elif isinstance(raw, str) and f.metadata["option"]["parse"] is not None:
            kwargs[f.name] = f.metadata["option"]["parse"](raw)
        else:
            kwargs[f.name] = raw
    return cls(**kwargs)


def settings_to_argv(s) -> list[str]:
    """The command-line arguments that `build_parser` (or cli.py) parses back into `s`."""
    argv = []
    for f, spec in zip(dataclasses.fields(s), option_specs(type(s)), strict=True):
        value = getattr(s, f.name)
        fmt = f.metadata["option"]["format"] or str
        if spec.kind == "switch":
            if value != f.default:
                argv.append(spec.flag)
        elif spec.kind == "repeat":
            for v in value:
                argv += [spec.flag, str(v)]
        elif value is not None:
            argv += [spec.flag, fmt(value)]
    return argv


def check_settings(s) -> None:
    """InputError naming the option when a value is outside its choices or below its minimum (the parsers check
    the same; this covers settings made in code)."""
    from handmodel.errors import InputError

    for spec in option_specs(type(s)):
        value = getattr(s, spec.name)
        if spec.choices and value not in spec.choices:
            raise InputError(f"{spec.flag} {value}: expected one of {', '.join(map(str, spec.choices))}")
        if spec.min is not None and value is not None and not value >= spec.min:
            raise InputError(f"{spec.flag} {value}: must be >= {spec.min}")
        if spec.max is not None and value is not None and not value <= spec.max:
            raise InputError(f"{spec.flag} {value}: must be <= {spec.max}")
        if spec.check is not None and value is not None:
            spec.check(value)


def fingerprinted(s) -> dict:
    """{field name: value} of the settings that change what a run writes (`option(..., fingerprint=True)`)."""
    return {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.metadata["option"]["fingerprint"]}


def add_arguments(parser: argparse.ArgumentParser, cls) -> None:
    """Add a settings dataclass's options to an argparse parser (dest = field name)."""
    for spec in option_specs(cls):
        bounded = spec.min is not None or spec.max is not None
        value_type = _within(spec.type, spec.min, spec.max, spec.flag) if bounded else spec.type
        help_text = spec.help.replace("%", "%%")  # argparse %-formats help strings
        metavar = spec.metavar or (None if spec.choices else spec.flag.lstrip("-").replace("-", "_").upper())
        flags = (spec.flag, *spec.aliases)
        if spec.argument:
            parser.add_argument(spec.name, type=value_type, help=help_text)
        elif spec.kind == "switch":
            parser.add_argument(*flags, dest=spec.name, action="store_true", help=help_text)
        elif spec.kind == "repeat":
            parser.add_argument(*flags, dest=spec.name, action="append", type=value_type, default=None,
                                metavar=metavar, help=help_text)  # fmt: skip
        else:
            parser.add_argument(*flags, dest=spec.name, type=value_type, default=spec.default, metavar=metavar,
                                required=spec.required, choices=spec.choices, help=help_text)  # fmt: skip


def _within(value_type: type, low, high, flag: str):
    """An argparse type: `value_type` of the text, refused below `low` or above `high` (None: no bound; NaN refused
    for floats)."""

    def convert(text: str):
        try:
            v = value_type(text)
        except ValueError:
            what = "an integer" if value_type is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if low is not None and not v >= low:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"{flag} {text}: must be >= {low}")
        if high is not None and not v <= high:
            raise argparse.ArgumentTypeError(f"{flag} {text}: must be <= {high}")
        return v

    return convert


def format_shard(shard: tuple[int, int]) -> str:
    """(K, N) -> 'K/N', the text `handmodel.sharding.parse_shard` reads."""
    return f"{shard[0]}/{shard[1]}"
