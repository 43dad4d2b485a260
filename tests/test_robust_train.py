"""`train`, `preview` and `eval` never silently replace or mix runs, and refuse bad dataset values in one line."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import train_fixtures
from click.testing import CliRunner

from cli import main
from handmodel.dataset_io import sample_paths

REPO = Path(__file__).resolve().parent.parent


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _train(data, out, *extra):
    return _invoke("train", "--config", train_fixtures.TINY_CONFIG, "--data", f"drawn={data}", "--max-steps", 1,
                   "--out", out, "--device", "cpu", *extra)  # fmt: skip


def _error(r, code=1):
    assert r.exit_code == code, r.output
    lines = [x[x.index("Error:") :] for x in r.output.splitlines() if "Error:" in x]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    return lines[0]


def test_train_refuses_an_existing_run_without_resume_or_overwrite(drawn_dataset, tmp_path):
    out = tmp_path / "run"
    assert _train(drawn_dataset, out).exit_code == 0
    ckpt = (out / "checkpoints" / "last.pt").read_bytes()
    config = (out / "config.yaml").read_text()
    logs = sorted(p.name for p in (out / "logs").iterdir())
    line = _error(_train(drawn_dataset, out, "--lr", 0.01))
    assert f"{out} holds a training run; --resume {out} to continue it, --overwrite to start it again" in line
    assert (out / "checkpoints" / "last.pt").read_bytes() == ckpt and (out / "config.yaml").read_text() == config
    assert sorted(p.name for p in (out / "logs").iterdir()) == logs
    r = _train(drawn_dataset, out, "--resume", out, "--max-steps", 2)
    assert r.exit_code == 0, r.output
    r = _train(drawn_dataset, out, "--overwrite", "--lr", 0.01)
    assert r.exit_code == 0, r.output
    assert "lr: 0.01" in (out / "config.yaml").read_text() and len(list((out / "logs").iterdir())) == 1


def test_train_refuses_a_folder_that_holds_no_run(drawn_dataset, tmp_path):
    line = _error(_train(drawn_dataset, drawn_dataset, "--overwrite"))
    assert "holds files that no train wrote" in line


def test_train_failing_before_any_output_leaves_no_run_folder(tmp_path):
    r = _invoke("train", "--config", train_fixtures.TINY_CONFIG, "--data", f"x={tmp_path / 'missing'}", "--out",
                tmp_path / "run", "--device", "cpu")  # fmt: skip
    assert r.exit_code == 1 and not (tmp_path / "run").exists(), r.output


def test_two_trainings_into_one_folder_at_once_the_second_is_refused(drawn_dataset, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(REPO / "cli.py"), "train", "--config", str(train_fixtures.TINY_CONFIG), "--data",
           f"drawn={drawn_dataset}", "--max-steps", "40", "--out", str(out), "--device", "cpu"]  # fmt: skip
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = out / ".handkit" / "lock-0of1"
    deadline = time.time() + 120
    while not (lock.is_file() and lock.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    try:
        line = _error(_train(drawn_dataset, out, "--resume", out))
        assert f"is in use by another run: pid {first.pid}" in line
    finally:
        first.kill()
        first.wait()


def _nan_dataset(drawn_dataset, tmp_path):
    import shutil

    data = tmp_path / "nan"
    shutil.copytree(drawn_dataset, data)
    path = sample_paths(data, "00000001")["annotation"]
    ann = json.loads(path.read_text())
    ann["right"]["joints_3d"][4][0] = float("nan")
    path.write_text(json.dumps(ann))  # the non-standard token NaN
    return data, path


def test_nan_joints_in_a_dataset_are_one_line_errors_in_preview_and_train(drawn_dataset, tmp_path):
    data, path = _nan_dataset(drawn_dataset, tmp_path)
    line = _error(_invoke("preview", data, "--out", tmp_path / "sheet.png"))
    assert f"{path}: 'right.joints_3d' holds NaN or infinite values" in line
    for workers in (0, 1):
        line = _error(_train(data, tmp_path / f"run{workers}", "--workers", workers, "--max-steps", 4))
        assert f"{path}: 'right.joints_3d' holds NaN or infinite values" in line


@pytest.fixture(scope="module")
def tiny_run(drawn_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    r = _train(drawn_dataset, out)
    assert r.exit_code == 0, r.output
    return out


def test_demo_continues_past_an_unreadable_image_and_reports_it(tiny_run, drawn_dataset, tmp_path):
    import shutil

    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(sample_paths(drawn_dataset, "00000000")["image"], images / "a.jpg")
    (images / "b.jpg").write_bytes(b"not a jpeg")
    shutil.copy(sample_paths(drawn_dataset, "00000001")["image"], images / "c.jpg")
    r = _invoke("demo", "--checkpoint", tiny_run, "--img_path", images, "--save_path", tmp_path / "out", "--device",
                "cpu")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == ["a_overlay.jpg", "c_overlay.jpg"]
    assert f"warning: {images / 'b.jpg'}: neither a JPEG nor a PNG file; skipped" in r.output
    assert "wrote 2 overlay(s)" in r.output
    (images / "a.jpg").write_bytes(b"")
    (images / "c.jpg").write_bytes(b"")
    line = _error(_invoke("demo", "--checkpoint", tiny_run, "--img_path", images, "--save_path", tmp_path / "o2"))
    assert "none of its 3 image(s) could be read" in line


def test_eval_on_nan_joints_is_a_one_line_error(tiny_run, drawn_dataset, tmp_path):
    data, path = _nan_dataset(drawn_dataset, tmp_path)
    line = _error(_invoke("eval", "--checkpoint", tiny_run, "--data", data, "--device", "cpu"))
    assert f"{path}: 'right.joints_3d' holds NaN or infinite values" in line
