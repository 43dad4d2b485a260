"""Every input format the toolkit reads, spoiled in every way a table can name, against every command that reads it.

Per format a table of corruptions (empty, cut short at 10/50/90%, random bytes, non-UTF-8 text, wrong dtype or
shape, NaN and infinity, out of range, missing key, extra key, null, a folder or a dangling link in place of the
file, no read permission) is run against each command that reads the format, through the CLI's one error
boundary. What must hold for each (format, corruption, command):
- `error`: exit status 1 (2 where click's check of a path option refuses it: a folder named as the file), exactly
  one `Error:` line and it names the file, no traceback, and no new output (the
  output the command was told to write does not exist afterwards; a rerun is not refused by anything it left);
- `ok`: the corruption is harmless by the format's rules (an extra key): the command, or where the command would
  render or train, the format's reader, accepts it.
Dataset files are read under the whole-dataset policy (handmodel.dataset_io.BadSamples): in a 4-sample dataset
one bad sample is more than the default --max-bad of 1%, so the command fails naming it; each such case is also
run through the reader with --max-bad 0.5, where the sample must be skipped and counted instead.

Most cases run in this process (CliRunner: the same boundary, no interpreter start per case, hand model loaded
once); `test_one_case_per_format_in_a_subprocess` runs one case per format as a real process.
"""

import builtins
import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import train_fixtures
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent


# ---- corruptions: functions of the file's path --------------------------------------------------------------


def empty(path):
    path.write_bytes(b"")


def cut(share):
    def corrupt(path):
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * share)])

    corrupt.__name__ = f"cut{int(share * 100)}"
    return corrupt


def random_bytes(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, max(64, path.stat().st_size), np.uint8).tobytes())


def not_utf8(path):
    data = path.read_bytes()
    path.write_bytes(data[:8] + b"\xff\xfe\xc3\x28" + data[8:])


def folder(path):
    path.unlink()
    path.mkdir()


def dangling_link(path):
    path.unlink()
    path.symlink_to(path.parent / "nothing-here")


NO_READ = "no_read"  # applied by `_no_read_permission` (the tests run as root, whom chmod does not stop)
BYTE_CORRUPTIONS = [empty, cut(0.1), cut(0.5), cut(0.9), random_bytes, folder, dangling_link, NO_READ]
TEXT_CORRUPTIONS = BYTE_CORRUPTIONS + [not_utf8]


def json_edit(edit, name):
    def corrupt(path):
        value = json.loads(path.read_text())
        value = edit(value)
        path.write_text(json.dumps(value))  # NaN and Infinity go in as the tokens Python's reader takes back

    corrupt.__name__ = name
    return corrupt


def _setter(keys, value):
    def edit(obj):
        target = obj
        for k in keys[:-1]:
            target = target[k]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value
        return obj

    return edit


_DELETE = object()


def js(name, *keys, value):
    return json_edit(_setter(list(keys), value), name)


# ---- formats: a valid input, the commands that read it, and the table ---------------------------------------


@pytest.fixture(scope="module")
def release(models, tmp_path_factory):
    """A mini InterHand2.6M release without images (annotations only): (root, summary)."""
    from interhand.mini_release import make_mini_release

    root = tmp_path_factory.mktemp("fuzz-release") / "release"
    return root, make_mini_release(root, models, with_images=False, seed=0, splits=("train",))


@pytest.fixture(scope="module")
def run_dir(drawn_dataset, tmp_path_factory):
    """A 1-step training run on the drawn dataset (its checkpoint and run record)."""
    out = tmp_path_factory.mktemp("fuzz-run") / "run"
    r = _invoke("train", "--config", train_fixtures.TINY_CONFIG, "--data", f"drawn={drawn_dataset}", "--max-steps",
                1, "--out", out, "--device", "cpu", "--loader-workers", 0)  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


def _invoke(*args):
    from cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def _dataset_commands(data, tmp, run_dir):
    return {
        "train": [
            "train",
            "--config",
            train_fixtures.TINY_CONFIG,
            "--data",
            f"d={data}",
            "--max-steps",
            1,
            "--out",
            tmp / "out",
            "--device",
            "cpu",
            "--loader-workers",
            0,
        ],  # fmt: skip
        "eval": ["eval", "--checkpoint", run_dir, "--data", data, "--device", "cpu", "--json", tmp / "out.json"],
        "preview": ["preview", data, "--out", tmp / "out.png"],
    }


def npz_edit(name, edit):
    def corrupt(path):
        data = dict(np.load(path))
        edit(data)
        np.savez(path, **data)

    corrupt.__name__ = name
    return corrupt


def _put(key, value):
    return lambda d: d.__setitem__(key, value(d) if callable(value) else value)


POSES_TABLE = [(c, "error") for c in BYTE_CORRUPTIONS] + [
    (npz_edit("wrong_dtype", _put("right_pose", lambda d: d["right_pose"].astype(str))), "error"),
    (npz_edit("wrong_shape", _put("right_pose", lambda d: d["right_pose"][:, :47])), "error"),
    (npz_edit("nan", _put("right_trans", lambda d: d["right_trans"] * np.nan)), "error"),
    (npz_edit("inf", _put("left_shape", lambda d: d["left_shape"] + np.inf)), "error"),
    (npz_edit("out_of_range", _put("right_trans", lambda d: d["right_trans"] + 1e30)), "error"),
    (npz_edit("negative_id", _put("ids", lambda d: d["ids"] - 1000)), "error"),
    (npz_edit("missing_key", lambda d: d.pop("left_pose")), "error"),
    (npz_edit("extra_key", _put("my_metric", lambda d: np.arange(len(d["ids"])))), "ok"),
    (npz_edit("null_meta", _put("meta", np.array("null"))), "error"),
    (npz_edit("body_wrong_shape", _put("body_to_world", np.zeros((3, 3, 4)))), "error"),
    (npz_edit("body_nan", _put("body_to_world", np.full((3, 4, 4), np.nan))), "error"),
]


def _annotation_table():
    return [(c, "error") for c in TEXT_CORRUPTIONS] + [
        (js("wrong_dtype", "right", "pose", value=["a"] * 48), "error"),
        (js("wrong_shape", "right", "joints_3d", value=lambda v: v[:20]), "error"),
        (js("nan", "left", "trans", value=[float("nan"), 0.0, 0.5]), "error"),
        (js("inf", "camera", "t", value=[0.0, float("inf"), 0.0]), "error"),
        (js("out_of_range", "camera", "K", value=[[-1.0, 0, 48], [0, -1.0, 48], [0, 0, 1]]), "error"),
        (js("not_a_rotation", "camera", "R", value=[[2.0, 0, 0], [0, 1, 0], [0, 0, 1]]), "error"),
        (js("missing_key", "left", value=_DELETE), "error"),
        (js("missing_inner_key", "camera", "K", value=_DELETE), "error"),
        (js("extra_key", "notes", value="x"), "ok"),
        (js("null_hand", "right", value=None), "error"),
        (js("null_value", "right", "pose", value=None), "error"),
        (json_edit(lambda v: [v], "list_at_top"), "error"),
    ]


def _png(path, array):
    from handmodel.png import encode_png

    path.write_bytes(encode_png(array))


def image_of_size(path):
    cv2.imwrite(str(path), np.full((40, 40, 3), 128, np.uint8))


def png_in_a_jpg(path):
    image = cv2.imread(str(path))
    cv2.imwrite(str(path.with_suffix(".png")), image)
    path.write_bytes(path.with_suffix(".png").read_bytes())
    path.with_suffix(".png").unlink()


def mask_edit(name, edit):
    def corrupt(path):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        _png(path, edit(mask))

    corrupt.__name__ = name
    return corrupt


IMAGE_TABLE = [(c, "error") for c in BYTE_CORRUPTIONS] + [(image_of_size, "error"), (png_in_a_jpg, "ok")]
MASK_TABLE = [(c, "error") for c in BYTE_CORRUPTIONS] + [
    (mask_edit("unknown_label", lambda m: np.where(m == 0, 77, m).astype(np.uint8)), "error"),
    (mask_edit("other_size", lambda m: m[:-8]), "error"),
    (mask_edit("three_channels", lambda m: np.stack([m] * 3, -1)), "error"),
    (mask_edit("wrong_dtype", lambda m: m.astype(np.uint16)), "error"),
]


def _depth_file(path):
    from handmodel.dataset_io import encode_depth_mm

    path.parent.mkdir(exist_ok=True)
    _png(path, encode_depth_mm(np.full((96, 96), 0.5)))


DEPTH_TABLE = [(c, "error") for c in BYTE_CORRUPTIONS] + [
    (mask_edit("other_size", lambda d: d[:50]), "error"),
    (mask_edit("wrong_dtype", lambda d: (d // 256).astype(np.uint8)), "error"),
]
META_TABLE = [(c, "error") for c in TEXT_CORRUPTIONS] + [
    (js("missing_key", "format", value=_DELETE), "error"),
    (js("out_of_range", "version", value=99), "error"),
    # training needs the hand model the dataset was made with; the contact sheet draws without one
    (
        js("other_hand_model", "hand_model", value={"model": "mano", "hash": "0123456789abcdef"}),
        {"train": "error", "eval": "error", "preview": "ok"},
    ),
    (json_edit(lambda v: None, "null"), "error"),
    (json_edit(lambda v: [v], "list_at_top"), "error"),
    (js("extra_key", "notes", value="x"), "ok"),
]


def _ckpt_edit(name, edit):
    def corrupt(path):
        import torch

        ckpt = torch.load(path, weights_only=True)
        edit(ckpt)
        torch.save(ckpt, path)

    corrupt.__name__ = name
    return corrupt


def _shrink_a_weight(ckpt):
    key = next(iter(ckpt["model"]))
    ckpt["model"][key] = ckpt["model"][key].flatten()[:1]


CHECKPOINT_TABLE = [(c, "error") for c in BYTE_CORRUPTIONS] + [
    (_ckpt_edit("missing_model", lambda c: c.pop("model")), "error"),
    (_ckpt_edit("missing_config", lambda c: c.pop("config")), "error"),
    (_ckpt_edit("missing_hand_model", lambda c: c.pop("hand_model")), "error"),
    (_ckpt_edit("null_config", lambda c: c.__setitem__("config", None)), "error"),
    (_ckpt_edit("other_arch", lambda c: c.__setitem__("arch", "other")), "error"),
    (_ckpt_edit("wrong_shape", _shrink_a_weight), "error"),
    (_ckpt_edit("extra_key", lambda c: c.__setitem__("notes", {"a": 1})), "ok"),
]


def yaml_text(name, text):
    def corrupt(path):
        path.write_text(text)

    corrupt.__name__ = name
    return corrupt


CONFIG_TABLE = [(c, "error") for c in (empty, random_bytes, folder, dangling_link, NO_READ, not_utf8)] + [
    (yaml_text("wrong_dtype", "model:\n  gcn_dims: [a, b, c]\n"), "error"),
    (yaml_text("wrong_type", "train:\n  batch_size: four\n"), "error"),
    (yaml_text("out_of_range", "train:\n  lr: -1.0\n"), "error"),
    (yaml_text("nan", "train:\n  lr: .nan\n"), "error"),
    (yaml_text("null_section", "train: null\n"), "error"),
    (yaml_text("extra_key", "train:\n  lr_rate: 0.1\n"), "error"),  # an unknown key is refused, not ignored
    (yaml_text("syntax", "train: [1, 2\n"), "error"),
    (yaml_text("list_at_top", "- 1\n- 2\n"), "error"),
]
CONFIG_TABLE[0] = (empty, "ok")  # an empty config is the defaults


RECORD_TABLE = [(c, "error") for c in TEXT_CORRUPTIONS] + [
    (json_edit(lambda v: None, "null"), "error"),
    (json_edit(lambda v: [v], "list_at_top"), "error"),
    (js("missing_key", "kind", value=_DELETE), "error"),
    (js("other_kind", "kind", value="render"), "error"),
    (js("other_settings", "fingerprint", "model", "backbone", value="resnet50"), "error"),
    (js("extra_key", "notes", value="x"), "ok"),
]


def _first_camera(value):
    cap = next(iter(value))
    return value[cap], next(iter(value[cap]["campos"]))


def cam_edit(name, field, new):
    def edit(value):
        rig, cam = _first_camera(value)
        if new is _DELETE:
            del rig[field][cam]
        else:
            rig[field][cam] = new
        return value

    return json_edit(edit, name)


CAMERA_TABLE = [(c, "error") for c in TEXT_CORRUPTIONS] + [
    (cam_edit("nan", "campos", [float("nan"), 0.0, 0.0]), "error"),
    (cam_edit("wrong_shape", "camrot", [[1.0, 0.0], [0.0, 1.0]]), "error"),
    (cam_edit("wrong_dtype", "focal", ["a", "b"]), "error"),
    (cam_edit("out_of_range", "focal", [-100.0, 100.0]), "error"),
    (cam_edit("missing_key", "princpt", _DELETE), "error"),
    (cam_edit("null", "campos", None), "error"),
    (json_edit(lambda v: {}, "no_cameras"), "error"),
    (
        json_edit(lambda v: dict(v, notes={"campos": {}, "camrot": {}, "focal": {}, "princpt": {}}), "extra_capture"),
        "error",
    ),  # a capture key that is not a number
]


def mano_edit(name, hand_key, new):
    def edit(value):
        for frames in value.values():
            for entry in frames.values():
                if entry.get("right"):
                    entry["right"][hand_key] = new
                    return value
        raise AssertionError("no MANO entry")

    return json_edit(edit, name)


RELEASE_TABLE = [(c, "error") for c in TEXT_CORRUPTIONS] + [
    (mano_edit("nan", "trans", [float("nan"), 0.0, 0.0]), "error"),
    (mano_edit("wrong_shape", "pose", [0.0] * 47), "error"),
    (mano_edit("wrong_dtype", "shape", ["a"] * 10), "error"),
    (mano_edit("out_of_range", "shape", [1e9] * 10), "error"),
    (json_edit(lambda v: None, "null"), "error"),
    (json_edit(lambda v: [v], "list_at_top"), "error"),
    (mano_edit("extra_key", "notes", "x"), "ok"),
]


def _first_image(value):
    return value["images"][0]


DATA_TABLE = [(c, "error") for c in TEXT_CORRUPTIONS] + [
    (js("missing_key", "images", value=_DELETE), "error"),
    (json_edit(lambda v: (_first_image(v).__setitem__("capture", "x"), v)[1], "wrong_dtype"), "error"),
    (json_edit(lambda v: (_first_image(v).pop("file_name"), v)[1], "missing_inner_key"), "error"),
    (json_edit(lambda v: (v["annotations"].__setitem__(0, None), v)[1], "null"), "error"),
    (json_edit(lambda v: [v], "list_at_top"), "error"),
    (js("extra_key", "info", value={"a": 1}), "ok"),
]


def joints_edit(name, field, new):
    def edit(value):
        entry = next(iter(next(iter(value.values())).values()))
        if new is _DELETE:
            del entry[field]
        else:
            entry[field] = new(entry[field]) if callable(new) else new
        return value

    return json_edit(edit, name)


JOINTS_TABLE = [(c, "error") for c in TEXT_CORRUPTIONS] + [
    (joints_edit("nan", "world_coord", lambda w: [[float("nan")] * 3] + w[1:]), "error"),
    (joints_edit("wrong_shape", "world_coord", lambda w: w[:41]), "error"),
    (joints_edit("out_of_range", "hand_type", "both"), "error"),
    (joints_edit("missing_key", "joint_valid", _DELETE), "error"),
    (joints_edit("null_value", "joint_valid", None), "error"),
    (json_edit(lambda v: None, "null_top"), "error"),
    (joints_edit("extra_key", "notes", "x"), "ok"),
]


# ---- building each case ---------------------------------------------------------------------------------------


def _poses_case(tmp, models, texture_dir, **_):
    from pose_sampler.side_by_side import side_by_side_poses

    path = tmp / "poses.npz"
    side_by_side_poses(path, models, 3)
    data = dict(np.load(path))
    data["body_to_world"] = np.tile(np.eye(4), (3, 1, 1))
    np.savez(path, **data)
    commands = {"render": ["render", "--poses", path, "--out", tmp / "out", "--resolution", 16, "--cycles-samples", 1,
                           "--no-generated-textures", "--texture-dir", texture_dir, "--restart-every", 0]}  # fmt: skip

    def read(p):
        from handmodel.poses_io import load_poses

        load_poses(p)

    return path, commands, [tmp / "out"], read


def _sampler_args(path):
    return ["sample-poses", "--out", path, "--num", 2, "--batch-size", 2, "--copies", 1, "--iters", 2, "--workers", 1,
            "--no-report"]  # fmt: skip


@pytest.fixture(scope="module")
def sampler_output(tmp_path_factory):
    """A finished one-file sample-poses output, and the prior written beside it."""
    path = tmp_path_factory.mktemp("fuzz-poses") / "poses.npz"
    r = _invoke(*_sampler_args(path))
    assert r.exit_code == 0, r.output
    return path


def _sampler_output_case(tmp, sampler_output, **_):
    """sample-poses reads its one-file output back on a rerun (resume, or 'already complete')."""
    path = tmp / "poses.npz"
    for p in sampler_output.parent.iterdir():
        shutil.copy(p, tmp / p.name) if p.is_file() else shutil.copytree(p, tmp / p.name)
    return path, {"sample-poses": _sampler_args(path)}, [], None


def _dataset_case(kind, tmp, drawn_dataset, run_dir, **_):
    from handmodel.dataset_io import sample_paths

    data = tmp / "data"
    shutil.copytree(drawn_dataset, data)
    if kind == "meta":
        path = data / "meta.json"
    else:
        path = sample_paths(data, "00000002")[kind]
        if kind == "depth":
            _depth_file(path)

    def read(p):
        from handmodel.dataset_io import check_samples, list_samples, read_meta

        read_meta(data)
        check_samples(data, list_samples(data))

    return path, _dataset_commands(data, tmp, run_dir), [tmp / "out", tmp / "out.json", tmp / "out.png"], read


def _checkpoint_case(tmp, run_dir, drawn_dataset, **_):
    from handmodel.dataset_io import sample_paths

    path = tmp / "model.pt"
    shutil.copy(run_dir / "checkpoints" / "last.pt", path)
    image = sample_paths(drawn_dataset, "00000000")["image"]
    commands = {"eval": ["eval", "--checkpoint", path, "--data", drawn_dataset, "--device", "cpu", "--json",
                         tmp / "out.json"],
                "demo": ["demo", "--checkpoint", path, "--img_path", image, "--out", tmp / "out", "--device",
                         "cpu"]}  # fmt: skip

    def read(p):
        from training.checkpoint import read_checkpoint

        read_checkpoint(p)

    return path, commands, [tmp / "out.json", tmp / "out"], read


def _config_case(tmp, drawn_dataset, **_):
    def read(p):
        from training.config import build_config

        build_config(str(p), [f"d={drawn_dataset}"])

    path = tmp / "c.yaml"
    shutil.copy(train_fixtures.TINY_CONFIG, path)
    args = ["train", "--config", path, "--data", f"d={drawn_dataset}", "--max-steps", 1, "--out", tmp / "out",
            "--device", "cpu", "--loader-workers", 0, "--backbone", "resnet18", "--backbone-weights", "none",
            "--resolution", 64]  # fmt: skip
    return path, {"train": args}, [tmp / "out"], read


def _record_case(tmp, run_dir, drawn_dataset, **_):
    run = tmp / "run"
    shutil.copytree(run_dir, run)
    path = run / ".handkit" / "fingerprint.json"
    args = ["train", "--config", train_fixtures.TINY_CONFIG, "--data", f"d={drawn_dataset}", "--max-steps", 2,
            "--out", run, "--resume", run, "--device", "cpu", "--loader-workers", 0]  # fmt: skip
    return path, {"train --resume": args}, [], None


def _camera_case(tmp, models, release, texture_dir, **_):
    from handmodel.interhand_release import annotation_path
    from pose_sampler.side_by_side import side_by_side_poses

    root, _summary = release
    path = tmp / "camera.json"
    shutil.copy(annotation_path(root, "train", "camera"), path)
    side_by_side_poses(tmp / "poses.npz", models, 2)
    args = ["render", "--poses", tmp / "poses.npz", "--out", tmp / "out", "--cameras", path, "--resolution", 16,
            "--cycles-samples", 1, "--no-generated-textures", "--texture-dir", texture_dir, "--restart-every",
            0]  # fmt: skip

    def read(p):
        from blender_scripts.sampling import load_rig_cameras

        load_rig_cameras(p)

    return path, {"render --cameras": args}, [tmp / "out"], read


def _release_case(kind, tmp, release, **_):
    from handmodel.interhand_release import annotation_path

    root = tmp / "release"
    shutil.copytree(release[0], root)
    path = annotation_path(root, "train", kind)
    commands = {
        "interhand prepare": ["interhand", "prepare", "--data_path", root, "--out", tmp / "out", "--num", 1,
                              "--workers", 1],
        "sample-poses --interhand": ["sample-poses", "--interhand", root, "--out", tmp / "p.npz", "--num", 2,
                                     "--batch-size", 2, "--copies", 1, "--iters", 2, "--workers", 1, "--no-report"],
    }  # fmt: skip

    def read(p):
        from interhand.prepare import select_images

        select_images(root, "train", _models())

    outputs = [tmp / "out", tmp / "p.npz", tmp / "p.prior.npz", tmp / "p.discriminator.pt"]
    return path, commands, outputs, read


def _models():
    from handmodel import load_hand_models

    return load_hand_models(quiet=True)


FORMATS = {
    "poses": (_poses_case, POSES_TABLE),
    # A link to nothing in place of the output is replaced by the file the rerun writes.
    "poses-output": (_sampler_output_case, [(c, "ok" if c is dangling_link else "error") for c in BYTE_CORRUPTIONS]),
    "annotation": (lambda **k: _dataset_case("annotation", **k), _annotation_table()),
    "image": (lambda **k: _dataset_case("image", **k), IMAGE_TABLE),
    "mask": (lambda **k: _dataset_case("mask", **k), MASK_TABLE),
    "depth": (lambda **k: _dataset_case("depth", **k), DEPTH_TABLE),
    "meta": (lambda **k: _dataset_case("meta", **k), META_TABLE),
    "checkpoint": (_checkpoint_case, CHECKPOINT_TABLE),
    "config": (_config_case, CONFIG_TABLE),
    "run-record": (_record_case, RECORD_TABLE),
    "camera": (_camera_case, CAMERA_TABLE),
    "interhand-mano": (lambda **k: _release_case("MANO_NeuralAnnot", **k), RELEASE_TABLE),
    "interhand-data": (lambda **k: _release_case("data", **k), DATA_TABLE),
    "interhand-joints": (lambda **k: _release_case("joint_3d", **k), JOINTS_TABLE),
    "interhand-camera": (lambda **k: _release_case("camera", **k), CAMERA_TABLE),
}
COMMANDS = {
    "poses": ["render"],
    "poses-output": ["sample-poses"],
    **{f: ["train", "eval", "preview"] for f in ("annotation", "image", "mask", "depth", "meta")},
    "checkpoint": ["eval", "demo"],
    "config": ["train"],
    "run-record": ["train --resume"],
    "camera": ["render --cameras"],
    "interhand-mano": ["interhand prepare", "sample-poses --interhand"],
    "interhand-data": ["interhand prepare"],
    "interhand-joints": ["interhand prepare", "sample-poses --interhand"],
    "interhand-camera": ["interhand prepare"],
}
# Commands that would render or train for a while when their input is fine: an `ok` case is checked with the
# format's reader instead.
HEAVY = {("poses", "render"), ("camera", "render --cameras"), ("interhand-mano", "interhand prepare"),
         ("config", "train"), ("checkpoint", "eval"),
         *((f, c) for f in ("annotation", "image", "mask", "depth", "meta") for c in ("train", "eval"))}  # fmt: skip
CASES = [(fmt, corrupt, expect if isinstance(expect, str) else expect[command], command)
         for fmt, (_make, table) in FORMATS.items() for corrupt, expect in table
         for command in COMMANDS[fmt]]  # fmt: skip


def _name(c):
    return c if isinstance(c, str) else c.__name__


def _no_read_permission(path: Path):
    """Reading `path` fails with EACCES: chmod where that stops this user, else a patched open (root reads any
    file whatever its mode)."""
    import contextlib
    from unittest import mock

    if os.geteuid() != 0:
        path.chmod(0)
        return contextlib.nullcontext()
    real_open = builtins.open
    target = os.path.realpath(path)

    def guarded(file, *a, **k):
        if isinstance(file, (str, os.PathLike)) and os.path.realpath(file) == target:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *a, **k)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(builtins, "open", guarded))
    stack.enter_context(mock.patch.object(io, "open", guarded))
    return stack


def _check_error(r, path: Path, outputs: list[Path], fmt: str = ""):
    lines = [x for x in r.output.splitlines() if "Error:" in x]
    # 1: bad input; 2: click's own check of a path given on the command line (a folder where a file must be)
    assert r.exit_code == 1 or (r.exit_code == 2 and "Invalid value" in r.output), r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output, r.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    # the file, or for the run record the run folder whose record it is (what the user chose and can act on)
    named = str(path.parent.parent) if fmt == "run-record" else str(path)
    assert named in lines[0], lines[0]
    assert not [p for p in outputs if p.exists()], f"output left behind: {[p for p in outputs if p.exists()]}"


@pytest.mark.parametrize(
    "fmt, corrupt, expect, command", CASES, ids=[f"{f}-{_name(c)}-{cmd.replace(' ', '_')}" for f, c, _, cmd in CASES]
)
def test_a_spoiled_input_is_one_line_naming_the_file(tmp_path, fmt, corrupt, expect, command, models, texture_dir,
                                                     drawn_dataset, run_dir, release, sampler_output):  # fmt: skip
    make, _table = FORMATS[fmt]
    path, commands, outputs, read = make(tmp=tmp_path, models=models, texture_dir=texture_dir,
                                         drawn_dataset=drawn_dataset, run_dir=run_dir, sampler_output=sampler_output,
                                         release=release)  # fmt: skip
    before = {p for p in outputs if p.exists()}
    if corrupt == NO_READ:
        with _no_read_permission(path):
            r = _invoke(*commands[command])
        _check_error(r, path, [p for p in outputs if p not in before], fmt)
        return
    corrupt(path)
    if expect == "ok" and (fmt, command) in HEAVY:
        read(path)
        return
    r = _invoke(*commands[command])
    if expect == "ok":
        assert r.exit_code == 0, r.output
        return
    _check_error(r, path, [p for p in outputs if p not in before], fmt)
    if fmt in ("annotation", "image", "mask", "depth") and command == "preview":
        # The same sample under a --max-bad that allows it: skipped and counted, the command goes on.
        r = _invoke(*commands[command], "--max-bad", 0.5)
        assert r.exit_code == 0 and "skipped 1 bad sample of 4" in r.output and str(path) in r.output, r.output


# A case of most formats as a real process: the interpreter's own error boundary, start to exit (the training
# config and the run record, read by `train` only, run in this process above).
SUBPROCESS_CASES = [("poses", "nan", "render"), ("poses-output", "cut50", "sample-poses"),
                    ("annotation", "not_utf8", "train"), ("image", "cut90", "preview"),
                    ("mask", "unknown_label", "preview"), ("depth", "other_size", "preview"),
                    ("meta", "null", "preview"), ("checkpoint", "missing_model", "demo"),
                    ("camera", "nan", "render --cameras"),
                    ("interhand-mano", "cut50", "interhand prepare")]  # fmt: skip


@pytest.mark.parametrize("fmt, corruption, command", SUBPROCESS_CASES, ids=[f"{f}-{c}" for f, c, _ in SUBPROCESS_CASES])
def test_one_case_per_format_in_a_subprocess(tmp_path, fmt, corruption, command, models, texture_dir, drawn_dataset,
                                             run_dir, release, sampler_output):  # fmt: skip
    make, table = FORMATS[fmt]
    corrupt = next(c for c, _ in table if _name(c) == corruption)
    path, commands, outputs, _read = make(tmp=tmp_path, models=models, texture_dir=texture_dir,
                                          drawn_dataset=drawn_dataset, run_dir=run_dir, sampler_output=sampler_output,
                                          release=release)  # fmt: skip
    before = {p for p in outputs if p.exists()}
    corrupt(path)
    r = subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, commands[command])], cwd=REPO,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = [x for x in r.stderr.splitlines() if "Error:" in x]
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert len(lines) == 1 and str(path) in lines[0], r.stderr
    assert not [p for p in outputs if p.exists() and p not in before]
