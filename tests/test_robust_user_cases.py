"""The bad inputs a new user met (issue 26), one test each: every one ends in one line naming the file or option
and a non-zero exit (2 for options, 1 for input, 130/143 for interrupts), leaves nothing half-written, and a rerun
works."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def cli(*args, timeout=300, **kw):
    """Run `python cli.py ARGS` in a subprocess: (exit status, stdout + stderr)."""
    r = subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=REPO, capture_output=True,
                       text=True, timeout=timeout, **kw)  # fmt: skip
    return r.returncode, r.stdout + r.stderr


def error_line(output: str) -> str:
    """The one `Error:` line of a failed command (no traceback)."""
    lines = [x[x.index("Error:") :] for x in output.splitlines() if "Error:" in x]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


# ---- 2, 7, 16, 20: options out of range are usage errors (exit 2) before anything runs ----


@pytest.mark.parametrize(
    "args",
    [
        ["sample-poses", "--out", "{tmp}/p.npz", "--seed", "-1"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--seed", "-1"],
        ["train", "--data", "a={tmp}", "--out", "{tmp}/out", "--seed", "-1"],
        ["textures", "make", "--out", "{tmp}/out", "--seed", "-1"],
        ["interhand", "mini-release", "--out", "{tmp}/out", "--seed", "-1"],
        ["sample-poses", "--out", "{tmp}/p.npz", "--seed", str(2**32)],
        ["sample-poses", "--out", "{tmp}/p.npz", "--num", "1000000000000"],
        ["sample-poses", "--out", "{tmp}/p.npz", "--batch-size", "100000"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--resolution", "100000"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--cycles-samples", "1000000"],
        ["textures", "make", "--out", "{tmp}/out", "--resolution", "100000"],
        ["train", "--data", "a={tmp}", "--out", "{tmp}/out", "--batch-size", "1000000"],
        ["train", "--data", "a={tmp}", "--out", "{tmp}/out", "--resolution", "100000"],
        ["eval", "--checkpoint", "{tmp}/x.pt", "--data", "{tmp}", "--batch-size", "1000000"],
        ["interhand", "mini-release", "--out", "{tmp}/out", "--cycles-samples", "1000000"],
        ["preview", "{tmp}", "--out", "{tmp}/out.png", "--num", "1000000"],
        ["preview", "{tmp}", "--out", "{tmp}/out.png", "--scale", "1000"],
        ["assets", "preview", "{tmp}/out.png", "--resolution", "100000"],
        ["sample-poses", "--out", "{tmp}/p", "--shard", "3/2"],
        ["render", "--poses", "{tmp}/missing.npz", "--out", "{tmp}/out", "--shard", "a/b"],
        ["interhand", "prepare", "--data_path", "{tmp}", "--out", "{tmp}/out", "--shard", "1/1"],
        ["import", "renderih", "{tmp}", "--out", "{tmp}/out", "--shard", "0/0"],
    ],
)
def test_seeds_bounds_and_shards_out_of_range_are_usage_errors_before_anything_is_written(tmp_path, args):
    code, output = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args), timeout=60)
    line = error_line(output)
    flag = next(a for a in args if a.startswith("--") and a not in ("--out", "--poses", "--data", "--checkpoint",
                                                                    "--data_path"))  # fmt: skip
    assert code == 2 and "Invalid value" in line and flag in line, output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- 8: Ctrl-C and SIGTERM during sample-poses --workers 2 ----


def _lock_is_free(path: Path) -> bool:
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _interrupt_sampler(out: Path, sig: int) -> tuple[int, str]:
    """Start `sample-poses --workers 2` in its own process group, wait until its workers run, send `sig` to the
    whole group (as a terminal's Ctrl-C, or Slurm's SIGTERM, reaches every process)."""
    cmd = [sys.executable, str(REPO / "cli.py"), "sample-poses", "--out", str(out), "--num", "8", "--batch-size",
           "2", "--copies", "1", "--iters", "4000", "--workers", "2", "--no-report"]  # fmt: skip
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True,
                                                        text=True).stdout.split()) < 2:  # fmt: skip
        time.sleep(0.2)
    time.sleep(3)  # the workers are inside their chunks
    os.killpg(p.pid, sig)
    output, _ = p.communicate(timeout=60)
    return p.returncode, output


def test_interrupting_sample_poses_with_workers_is_one_line_and_releases_the_lock(tmp_path):
    out = tmp_path / "p.npz"
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):  # the second run starts: the lock was released
        status, output = _interrupt_sampler(out, sig)
        assert status == code, output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output and "Aborted" not in output, output
        assert output.strip().splitlines()[-1] == "interrupted; rerun the same command to resume", output
        assert _lock_is_free(tmp_path / ".p.npz.lock")
        assert not out.exists()
    leftovers = [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert not leftovers


# ---- 3, 4, 5, 6, 14: files that are not what they claim to be ----


def invoke(*args):
    """The CLI in this process (torch and the hand model loaded once): (exit status, output)."""
    from click.testing import CliRunner

    from cli import main

    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.output


def _train(data, out, *extra):
    import train_fixtures

    return invoke("train", "--config", train_fixtures.TINY_CONFIG, "--data", f"drawn={data}", "--max-steps", 1,
                  "--out", out, "--device", "cpu", "--loader-workers", 0, *extra)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(drawn_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    code, output = _train(drawn_dataset, out)
    assert code == 0, output
    return out


def _copy(dataset, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    return data


def test_an_annotation_that_is_not_utf8_is_named_by_train_eval_and_preview(drawn_dataset, tiny_run, tmp_path):
    from handmodel.dataset_io import sample_paths

    data = _copy(drawn_dataset, tmp_path)
    path = sample_paths(data, "00000001")["annotation"]
    path.write_bytes(b'{"camera": "\xff\xfe"}')
    for code, output in (_train(data, tmp_path / "run"),
                         invoke("eval", "--checkpoint", tiny_run, "--data", data, "--device", "cpu"),
                         invoke("preview", data, "--out", tmp_path / "sheet.png")):  # fmt: skip
        line = error_line(output)
        assert code == 1 and f"{path}: not UTF-8 text (byte 12 is 0xff)" in line, output
    assert not (tmp_path / "run").exists() and not (tmp_path / "sheet.png").exists()


def test_a_null_hand_in_an_annotation_names_the_file_and_the_key(drawn_dataset, tmp_path):
    import json

    from handmodel.dataset_io import read_annotation, sample_paths
    from handmodel.errors import InputError

    data = _copy(drawn_dataset, tmp_path)
    path = sample_paths(data, "00000002")["annotation"]
    ann = json.loads(path.read_text())
    ann["right"] = None
    path.write_text(json.dumps(ann))
    with pytest.raises(InputError) as e:
        read_annotation(data, "00000002")
    assert str(e.value) == f"{path}: 'right' is null, expected an object with pose, shape, trans, joints_3d, joints_2d"
    ann["right"] = {"pose": None}
    path.write_text(json.dumps(ann))
    with pytest.raises(InputError, match="'right' has no key 'shape'"):
        read_annotation(data, "00000002")


def test_a_run_record_that_is_not_utf8_is_a_damaged_record_and_overwrite_replaces_it(drawn_dataset, tiny_run,
                                                                                      tmp_path):  # fmt: skip
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    record = run / ".handkit" / "fingerprint.json"
    record.write_bytes(b"\x00\xff" * 8)
    code, output = _train(drawn_dataset, run, "--resume", run)
    line = error_line(output)
    assert code == 1 and f"{record}: the run record is damaged (not UTF-8 text" in line and "--overwrite" in line
    code, output = _train(drawn_dataset, run, "--overwrite")
    assert code == 0, output
    assert '"kind": "train"' in record.read_text()


def test_a_lock_file_that_is_not_utf8_is_taken_over_as_a_stale_lock(tmp_path):
    out = tmp_path / "poses"
    (out / ".handkit").mkdir(parents=True)
    (out / ".handkit" / "lock-0of1").write_bytes(b"\xff\xfe\x00garbage")
    code, output = cli("sample-poses", "--out", out, "--num", 2, "--batch-size", 2, "--copies", 1, "--iters", 2,
                       "--no-report", "--workers", 1)  # fmt: skip
    assert code == 0 and "Traceback" not in output, output
    assert "took over the stale lock" in output and (out / "poses-00000.npz").is_file()


def test_a_checkpoint_without_its_model_or_config_is_refused_by_eval_and_demo(tiny_run, drawn_dataset, tmp_path):
    import torch

    from handmodel.dataset_io import sample_paths

    full = torch.load(tiny_run / "checkpoints" / "last.pt", weights_only=True)
    for key in ("model", "config"):
        path = tmp_path / f"no_{key}.pt"
        torch.save({k: v for k, v in full.items() if k != key}, path)
        code, output = invoke("eval", "--checkpoint", path, "--data", drawn_dataset, "--device", "cpu")
        assert code == 1 and f"{path}: key '{key}' is missing" in error_line(output)
        image = sample_paths(drawn_dataset, "00000000")["image"]
        code, output = invoke("demo", "--checkpoint", path, "--img_path", image, "--out", tmp_path / "demo",
                              "--device", "cpu")  # fmt: skip
        assert code == 1 and f"{path}: key '{key}' is missing" in error_line(output)
        assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize(
    "yaml_text, words",
    [
        ("train:\n  batch_size: four\n", "c.yaml: train.batch_size is 'four', expected an integer"),
        ("train:\n  lr: 1e-3\n", "c.yaml: train.lr is '1e-3', expected a number"),  # YAML 1.1 reads this as text
        ("train:\n  seed: -3\n", "c.yaml: train.seed is -3, expected a value from 0 to 4294967295"),
        ("model:\n  input_size: 100000\n", "c.yaml: model.input_size is 100000, expected a value from 64 to 1024"),
        ("augment: [1, 2]\n", "c.yaml: augment is [1, 2], expected a mapping"),
        ("train:\n  batch_size: 4\n  epochs: [1, 2\n", "c.yaml:4:1: not valid YAML"),
        ("train:\n\tbatch_size: 4\n", "c.yaml:2:1: not valid YAML"),
        (b"train:\n  batch_size: \xff\n", "c.yaml: not UTF-8 text"),
    ],
)
def test_a_training_config_of_wrong_types_or_syntax_is_one_line_with_the_file(drawn_dataset, tmp_path, yaml_text,
                                                                               words):  # fmt: skip
    config = tmp_path / "c.yaml"
    config.write_bytes(yaml_text if isinstance(yaml_text, bytes) else yaml_text.encode())
    code, output = invoke("train", "--config", config, "--data", f"drawn={drawn_dataset}", "--out", tmp_path / "run",
                          "--device", "cpu")  # fmt: skip
    line = error_line(output)
    assert code == 1 and words in line, output
    assert not (tmp_path / "run").exists()


def test_a_train_that_fails_before_its_first_checkpoint_can_be_rerun_as_it_was(drawn_dataset, tmp_path):
    from handmodel.dataset_io import sample_paths

    data = _copy(drawn_dataset, tmp_path)
    path = sample_paths(data, "00000003")["annotation"]
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    out = tmp_path / "run"
    code, output = _train(data, out)
    assert code == 1 and str(path) in error_line(output)
    assert not out.exists()
    path.write_bytes(good)
    code, output = _train(data, out)
    assert code == 0, output
    assert (out / "checkpoints" / "last.pt").is_file()


# ---- 1, 9, 10, 11: poses a renderer cannot use are refused at load, before sample 0 is written ----


def _bad_poses(path, models, change):
    import numpy as np

    from pose_sampler.side_by_side import side_by_side_poses

    side_by_side_poses(path, models, 3)
    data = dict(np.load(path))
    data["body_to_world"] = np.tile(np.eye(4), (3, 1, 1))
    change(data)
    np.savez(path, **data)
    return path


def _set(key, row, value):
    def change(data):
        data[key][row] = value

    return change


def _meta_model(data):
    import json

    import numpy as np

    data["meta"] = np.array(json.dumps({"hand_model": {"model": "mano", "hash": "0123456789abcdef"}}))


@pytest.mark.parametrize(
    "change, words",
    [
        (_set("body_to_world", 2, float("nan")), "key 'body_to_world' holds NaN or infinite values"),
        (_set("right_trans", 1, 1e30), "key 'right_trans' holds 1e+30, expected values <= 5"),
        (_set("left_trans", 2, [2.5, 0.0, 0.0]), "row 2 places the hands 2.5"),
        (_set("right_pose", 0, 1e6), "key 'right_pose' holds 1e+06, expected values <= 12.5664"),
        (lambda d: d.update(body_to_world=d["body_to_world"][:, :3]), r"key 'body_to_world' has shape (3, 3, 4)"),
        (_meta_model, "made with hand model 'mano' (hash 0123456789abcdef), but the active hand model is"),
    ],
)
def test_render_refuses_poses_it_cannot_use_before_writing_anything(tmp_path, models, texture_dir, change, words):
    poses = _bad_poses(tmp_path / "poses.npz", models, change)
    out = tmp_path / "ds"
    code, output = cli("render", "--poses", poses, "--out", out, "--resolution", 32, "--cycles-samples", 1,
                       "--no-generated-textures", "--texture-dir", texture_dir, "--restart-every", 0)  # fmt: skip
    line = error_line(output)
    assert code == 1 and f"{poses}: " in line and words in line, output
    assert not out.exists()


# ---- 12, 13: corrupt images and masks are found; whole-dataset readers skip and count them (--max-bad) ----


def _truncate(path, share=0.7):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])


def _mask_label_77(path):
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    mask[3, 3] = 77
    cv2.imwrite(str(path), mask)


def _mask_of_another_size(path):
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(path), mask[:-8])


@pytest.mark.parametrize(
    "kind, spoil, words",
    [
        ("image", _truncate, "a truncated JPEG file (no end-of-image marker)"),
        ("mask", _truncate, "a truncated or damaged PNG file (no IEND chunk at its end)"),
        ("mask", _mask_label_77, "holds label 77, expected only 0 background, 1 right, 2 left"),
        ("mask", _mask_of_another_size, "size 96x88 differs from the image's ("),
    ],
)
def test_a_corrupt_image_or_mask_fails_train_eval_and_preview_naming_the_file(drawn_dataset, tiny_run, tmp_path, kind,
                                                                               spoil, words):  # fmt: skip
    from handmodel.dataset_io import sample_paths

    data = _copy(drawn_dataset, tmp_path)
    path = sample_paths(data, "00000002")[kind]
    spoil(path)
    for code, output in (_train(data, tmp_path / "run"),
                         invoke("eval", "--checkpoint", tiny_run, "--data", data, "--device", "cpu"),
                         invoke("preview", data, "--out", tmp_path / "sheet.png")):  # fmt: skip
        line = error_line(output)
        assert code == 1 and f"{path}: {words}" in line, output
        assert f"{data}: 1 of 4 samples are bad, more than --max-bad 0.01 allows ({path}: {words}" in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "sheet.png").exists()
    for code, output in (_train(data, tmp_path / "run", "--max-bad", 0.25),
                         invoke("eval", "--checkpoint", tiny_run, "--data", data, "--device", "cpu", "--max-bad", 0.25,
                                "--json", tmp_path / "m.json"),
                         invoke("preview", data, "--out", tmp_path / "sheet.png", "--max-bad", 0.25)):  # fmt: skip
        assert code == 0, output
        assert f"warning: {data}: skipped 1 bad sample of 4 ({path}: {words}" in output
    import json

    assert json.loads((tmp_path / "m.json").read_text())["samples"] == 3
    assert json.loads((tmp_path / "m.json").read_text())["bad_samples"] == 1


def test_demo_given_one_cut_image_fails_on_it(tiny_run, drawn_dataset, tmp_path):
    import shutil

    from handmodel.dataset_io import sample_paths

    image = tmp_path / "cut.jpg"
    shutil.copy(sample_paths(drawn_dataset, "00000000")["image"], image)
    _truncate(image)
    code, output = invoke("demo", "--checkpoint", tiny_run, "--img_path", image, "--out", tmp_path / "o", "--device",
                          "cpu")  # fmt: skip
    assert code == 1 and f"{image}: a truncated JPEG file" in error_line(output)
    assert not (tmp_path / "o").exists()


def test_a_depth_map_of_another_size_is_a_bad_sample(drawn_dataset, tmp_path):
    import numpy as np

    from handmodel.dataset_io import check_samples, encode_depth_mm, list_samples, sample_paths
    from handmodel.errors import InputError
    from handmodel.png import encode_png

    data = _copy(drawn_dataset, tmp_path)
    path = sample_paths(data, "00000001")["depth"]
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(encode_png(encode_depth_mm(np.full((50, 96), 0.5))))
    with pytest.raises(InputError, match=f"{path}: size 96x50 differs from the image's"):
        check_samples(data, list_samples(data))
    warned = []
    assert check_samples(data, list_samples(data), max_bad=0.5, warn=warned.append) == ["00000000", "00000002",
                                                                                         "00000003"]  # fmt: skip
    assert len(warned) == 1 and "skipped 1 bad sample of 4" in warned[0]


# ---- 18: a legal output name of up to 255 bytes works, its rerun too ----


def test_output_names_of_255_bytes_work_and_rerun(drawn_dataset, tmp_path):
    out = tmp_path / ("p" * 251 + ".npz")
    args = ("sample-poses", "--out", out, "--num", 2, "--batch-size", 2, "--copies", 1, "--iters", 2, "--workers", 1)
    code, output = cli(*args)
    assert code == 0 and out.is_file(), output
    code, output = cli(*args)
    assert code == 0 and "already complete" in output, output
    sheet = tmp_path / ("s" * 251 + ".png")
    for _ in range(2):
        code, output = invoke("preview", drawn_dataset, "--out", sheet)
        assert code == 0 and sheet.is_file(), output
    folder = tmp_path / ("t" * 255)
    code, output = invoke("textures", "make", "--out", folder, "--size", 16, "--variants", 1)
    assert code == 0 and any(folder.iterdir()), output
    assert not [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name]


# ---- 15, 19: interhand prepare refuses a data file without hand_type, and counts unreadable images as such ----


def test_prepare_intaghand_on_a_data_file_without_hand_type_is_refused(mini_annotations, tmp_path):
    import json

    from handmodel.interhand_release import annotation_path

    root, _ = mini_annotations
    path = annotation_path(root, "train", "data")
    data = json.loads(path.read_text())
    for ann in data["annotations"]:
        ann.pop("hand_type", None)
    path.write_text(json.dumps(data))
    code, output = invoke("interhand", "prepare", "--data_path", root, "--out", tmp_path / "ds", "--selection",
                          "intaghand")  # fmt: skip
    line = error_line(output)
    assert code == 1 and f"{path}: the annotation of image" in line and "has no 'hand_type'" in line
    assert not (tmp_path / "ds").exists()


def test_prepare_counts_an_unreadable_image_apart_from_a_missing_one(mini_release, models, tmp_path):
    import shutil

    from handmodel.interhand_release import image_dir
    from interhand.prepare import select_images

    root = tmp_path / "release"
    shutil.copytree(mini_release[0], root)
    jobs, _ = select_images(root, "train", models)
    _truncate(image_dir(root, "train") / jobs[0]["record"].file_name, 0.5)
    (image_dir(root, "train") / jobs[1]["record"].file_name).unlink()
    code, output = invoke("interhand", "prepare", "--data_path", root, "--out", tmp_path / "ds", "--num", 2,
                          "--workers", 1)  # fmt: skip
    assert code == 0, output
    assert "1 missing image" in output and "1 unreadable image" in output, output


def test_an_error_during_training_starts_its_own_line_after_the_progress_bar(drawn_dataset, tmp_path, monkeypatch):
    import training.dataset
    from handmodel.errors import InputError

    def fail(self, index):
        raise InputError(f"{self.root}/annotations/{self.names[index]}.json: changed while training")

    monkeypatch.setattr(training.dataset.HandDataset, "load", fail)
    code, output = _train(drawn_dataset, tmp_path / "run")
    assert code == 1 and "train:" in output, output
    lines = [x for x in output.splitlines() if "Error:" in x]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and lines[0].endswith("changed while training"), output


def test_render_with_a_rig_that_sees_no_pose_writes_nothing(tmp_path, models, texture_dir):
    import numpy as np

    from pose_sampler.side_by_side import side_by_side_poses
    from tests.test_render_dataset import _rig_file

    side_by_side_poses(tmp_path / "poses.npz", models, 3)
    eye = np.array([0.0, 0.0, -1.0])
    _rig_file(tmp_path / "away.json", {"400002": (eye, eye * 2)})  # looks away from the hands
    out = tmp_path / "ds"
    code, output = cli("render", "--poses", tmp_path / "poses.npz", "--out", out, "--cameras", tmp_path / "away.json",
                       "--resolution", 16, "--cycles-samples", 1, "--no-generated-textures", "--texture-dir",
                       texture_dir, "--restart-every", 1)  # fmt: skip
    line = error_line(output)
    assert code == 1 and f"{tmp_path / 'away.json'}: no camera sees both hands of pose 0" in line
    assert not out.exists()


def test_sigterm_during_render_stops_its_blender_worker_and_a_rerun_finishes(tmp_path, models, texture_dir):
    from handmodel.dataset_io import list_samples
    from pose_sampler.side_by_side import side_by_side_poses

    side_by_side_poses(tmp_path / "poses.npz", models, 6)
    out = tmp_path / "ds"
    args = ["render", "--poses", tmp_path / "poses.npz", "--out", out, "--resolution", 16, "--cycles-samples", 1,
            "--no-generated-textures", "--texture-dir", texture_dir, "--restart-every", 2, "--threads", 1]  # fmt: skip
    p = subprocess.Popen([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list_samples(out):
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGTERM)
    output, _ = p.communicate(timeout=60)
    assert p.returncode == 143 and "Traceback" not in output, output
    assert output.strip().splitlines()[-1] == "interrupted; rerun the same command to resume", output
    assert _lock_is_free(out / ".handkit" / "lock-0of1")
    assert not [x.name for x in out.rglob("*") if ".tmp" in x.name]
    done = len(list_samples(out))
    code, output = cli(*args)
    assert code == 0 and f"rendered {6 - done} new samples" in output, output
    assert len(list_samples(out)) == 6


def test_a_large_dataset_is_checked_by_several_processes_with_the_same_verdict(drawn_dataset, tmp_path, monkeypatch):
    import handmodel.dataset_io as dataset_io

    data = _copy(drawn_dataset, tmp_path)
    path = dataset_io.sample_paths(data, "00000001")["mask"]
    _truncate(path)
    names = dataset_io.list_samples(data)
    serial, parallel = [], []
    assert dataset_io.check_samples(data, names, max_bad=0.5, warn=serial.append) == ["00000000", "00000002",
                                                                                      "00000003"]  # fmt: skip
    monkeypatch.setattr(dataset_io, "PARALLEL_CHECK", 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert dataset_io.check_samples(data, names, max_bad=0.5, warn=parallel.append) == ["00000000", "00000002",
                                                                                        "00000003"]  # fmt: skip
    assert serial == parallel and str(path) in serial[0]


def test_a_damaged_poses_output_is_named_and_restart_replaces_it(tmp_path):
    out = tmp_path / "p.npz"
    args = ["sample-poses", "--out", out, "--num", 2, "--batch-size", 2, "--copies", 1, "--iters", 2, "--workers", 1,
            "--no-report"]  # fmt: skip
    assert invoke(*args)[0] == 0
    out.write_bytes(out.read_bytes()[:100])
    code, output = invoke(*args)
    line = error_line(output)
    assert code == 1 and f"{out}: cannot read as .npz" in line and line.endswith("--restart replaces it"), output
    code, output = invoke(*args, "--restart")
    assert code == 0, output
    from handmodel.poses_io import load_poses

    assert len(load_poses(out)) == 2


def _nap(items):
    time.sleep(2.0)
    return items


def _nothing(*_args):
    pass


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the executor's thread: quiet
def test_an_interrupted_worker_pool_stops_at_once_and_leaves_no_worker():
    """interhand prepare and import run their samples in a pool: an interrupt stops it without running the chunks
    still queued (13 chunks of 2 s on 2 workers would take 13 s)."""
    from multiprocessing import active_children

    from handmodel.worker_pool import run_in_workers

    def interrupt(_results):
        raise KeyboardInterrupt

    t0 = time.time()
    with pytest.raises(KeyboardInterrupt):
        run_in_workers(list(range(200)), 2, _nothing, (), _nap, _nothing, interrupt)
    assert time.time() - t0 < 8
    deadline = time.time() + 5
    while active_children() and time.time() < deadline:
        time.sleep(0.1)
    assert not active_children()
