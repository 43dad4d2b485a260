"""The CLI's one error boundary and its option checks: a user's mistake or the machine's state (disk full,
permissions, read-only disk) is one line naming the path and what to do, exit status 1 or 2, never a traceback."""

import errno
import io

import pytest
from click.testing import CliRunner

import handmodel.atomic
from cli import main


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line_error(r, code):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    lines = [x for x in r.output.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1, r.output
    return lines[0]


class _FullDisk(io.RawIOBase):
    def writable(self):
        return True

    def write(self, b):
        raise OSError(errno.ENOSPC, "No space left on device")  # what write(2) raises: no file name


def test_disk_full_during_a_write_names_the_file_and_what_to_do(tmp_path, monkeypatch):
    real_open = open

    def full_open(path, mode="r", *a, **k):
        return _FullDisk() if "w" in mode and ".tmp" in str(path) else real_open(path, mode, *a, **k)

    monkeypatch.setattr(handmodel.atomic, "open", full_open, raising=False)
    r = _invoke("textures", "make", "--out", tmp_path / "tex", "--size", 16, "--variants", 1)
    line = _one_line_error(r, 1)
    assert str(tmp_path / "tex") in line and "no space left on the device" in line and ".tmp" not in line
    left = [p.name for p in (tmp_path / "tex").rglob("*")] if (tmp_path / "tex").exists() else []
    assert not [n for n in left if ".tmp" in n]  # no temporary left; the folder itself is gone if nothing was written


@pytest.mark.parametrize(
    "err, words",
    [(errno.EACCES, "permission denied; choose a folder you may write to"),
     (errno.EROFS, "read-only file system; write to another folder")],
)  # fmt: skip
def test_permission_and_read_only_errors_name_the_path(tmp_path, monkeypatch, err, words):
    def refuse(src, dst):
        raise OSError(err, "refused", str(dst))

    monkeypatch.setattr(handmodel.atomic.os, "replace", refuse)
    r = _invoke("textures", "make", "--out", tmp_path / "tex", "--size", 16, "--variants", 1)
    line = _one_line_error(r, 1)
    assert str(tmp_path / "tex") in line and words in line


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["eval", "--checkpoint", "x.pt", "--data", ".", "--device", "banana"],
            "--device banana: expected cpu, mps, auto, cuda",
        ),
        (["train", "--data", "a=b", "--lr", "nan"], "'nan' is not a finite number"),
        (["train", "--data", "a=b", "--max-steps", "-1"], "--max-steps"),
        (["eval", "--checkpoint", "x.pt", "--data", ".", "--batch-size", "0"], "--batch-size"),
        (["eval", "--checkpoint", "x.pt", "--data", ".", "--workers", "-1"], "--workers"),
        (["preview", ".", "--out", "sheet.png", "--columns", "0"], "--columns"),
        (["preview", ".", "--out", "sheet.png", "--count", "0"], "--count"),
        (["preview", ".", "--out", "x.xyz"], "end the name in .png or .jpg"),
        (["sample-poses", "--out", "p.npz", "--device", "cuda:99"], "cuda:99"),
    ],
)
def test_option_ranges_are_checked_by_click(args, words):
    line = _one_line_error(_invoke(*args), 2)
    assert words in line


def test_train_batch_size_zero_is_refused_before_any_folder_is_made(tmp_path):
    line = _one_line_error(_invoke("train", "--data", "a=b", "--batch-size", 0, "--out", tmp_path / "run"), 2)
    assert "--batch-size" in line and not (tmp_path / "run").exists()


def test_cuda_without_a_gpu_is_an_option_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for cmd in (["eval", "--checkpoint", "x.pt", "--data", "."], ["demo", "--checkpoint", "x.pt", "--save-path", "o"]):
        line = _one_line_error(_invoke(*cmd, "--device", "cuda"), 2)
        assert "no CUDA GPU on this machine; use --device cpu" in line


def test_a_real_full_disk_is_one_line_naming_the_file(tmp_path):
    """On a 64 KiB tmpfs where this machine allows mounting one (root in a container); skipped elsewhere."""
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (the injected ENOSPC test covers the message)")
    try:
        r = _invoke("textures", "make", "--out", small / "tex", "--size", 128, "--variants", 2)
        line = _one_line_error(r, 1)
        assert f"{small / 'tex'}/" in line and line.endswith("no space left on the device; free some space or write "
                                                             "to another disk")  # fmt: skip
        assert not [p for p in (small / "tex").iterdir() if ".tmp" in p.name]
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
