"""Training on the webdataset form (training/stream.py): the same batches as the folder form without a shuffle
buffer, a resumed streamed run continues with the batches it would have drawn, DDP ranks over unequal shards
finish their epochs, bad shards are skipped and counted (or, with nothing readable, a one-line error), and eval
and preview read shards by random access."""

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import train_fixtures

from dataset_tools.drawn import make_drawn_dataset
from dataset_tools.pack import PackSettings, pack
from handmodel.errors import InputError
from handmodel.shards import folder_files, shard_file, write_tar
from training.trainer import _Data, make_loader, run

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    """One drawn dataset of 10 samples as a folder, packed whole (one tar, as a folder streams) and packed in
    tars of 4, 4 and 2 samples."""
    root = tmp_path_factory.mktemp("forms")
    folder = make_drawn_dataset(root / "folder", n=10, size=64)
    pack(PackSettings(dataset=str(folder), out=str(root / "shards")))
    pack(PackSettings(dataset=str(folder), out=str(root / "unequal"), shard_size=4))
    return {"folder": Path(folder), "shards": root / "shards", "unequal": root / "unequal"}


def _cfg(data, **train):
    return train_fixtures.tiny_config({"hands": data}, train={"batch_size": 2, "loader": "stream",
                                                              "shuffle_buffer": 0, **train})  # fmt: skip


def _batches(cfg, steps: int, epoch: int = 0):
    data = _Data(cfg, None, 0, 1)
    loader, sampler = make_loader(cfg, data.mixed, cfg["stages"][0], steps, 0, 1, "cpu")
    sampler.set_epoch(epoch)
    return list(loader)


@pytest.fixture(scope="module")
def folder_run(forms, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "folder"
    return out, run(_cfg(forms["folder"], max_steps=50, workers=2), out, progress=False)


def test_fifty_steps_on_shards_and_on_the_folder_draw_the_same_batches(forms, folder_run, tmp_path):
    a = _batches(_cfg(forms["folder"], workers=2), 25)
    b = _batches(_cfg(forms["shards"], workers=2), 25)
    assert len(a) == len(b) == 25
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        assert all(torch.equal(x[k], y[k]) for k in x)
    assert len({x["image"].float().sum().item() for x in a}) == 5  # all 10 samples, in batches of 2
    shards = run(_cfg(forms["shards"], max_steps=50, workers=2), tmp_path / "shards", progress=False)
    folder = folder_run[1]
    assert shards["step"] == folder["step"] == 50
    assert shards["history"] == folder["history"] and shards["skipped"] == 0
    assert shards["drawn"] == folder["drawn"] == {"hands": 100}


def test_a_resumed_streamed_run_draws_the_batches_of_the_run_that_was_not_stopped(forms, folder_run, tmp_path):
    folder_out, whole = folder_run
    first = run(_cfg(forms["shards"], max_steps=31, workers=2), tmp_path / "run", progress=False)
    rest = run(_cfg(forms["shards"], max_steps=50, workers=2), tmp_path / "run", progress=False,
               resume=str(tmp_path / "run"))  # fmt: skip
    assert first["step"] == 31 and rest["step"] == 50
    np.testing.assert_allclose(first["history"] + rest["history"], whole["history"], rtol=1e-5)


def test_shuffle_buffer_and_ratios_change_the_order_not_the_length(forms):
    plain = _batches(_cfg(forms["unequal"]), 6)
    shuffled = _batches(_cfg(forms["unequal"], shuffle_buffer=8), 6)
    assert len(plain) == len(shuffled) == 6
    assert any(not torch.equal(x["image"], y["image"]) for x, y in zip(plain, shuffled))
    # A buffer larger than the dataset fills from shard after shard (resampled) before its first sample leaves.
    assert len(_batches(_cfg(forms["unequal"], shuffle_buffer=256), 3)) == 3


def test_two_gloo_ranks_over_unequal_shards_finish_their_epochs(forms, tmp_path):
    """Tars of 4, 4 and 2 samples over 2 ranks x 2 loader workers: every rank draws its fixed epoch length."""
    code = f"""
import sys; sys.path.insert(0, {str(REPO / "tests")!r})
import train_fixtures
from training.trainer import spawn
cfg = train_fixtures.tiny_config({{"hands": {str(forms["unequal"])!r}}},
                                 train={{"batch_size": 2, "epochs": 2, "steps_per_epoch": 3, "workers": 2,
                                         "shuffle_buffer": 4}})
spawn(cfg, {str(tmp_path / "run")!r}, ["cpu", "cpu"], progress=False)
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["world"] == 2 and ckpt["step"] == 6 and ckpt["epoch"] == 1


def _bad_shards(forms, root: Path) -> Path:
    """The 10 samples in tars of 4: a corrupt JPEG (00000001), a sample without its mask (00000005) and a tar cut
    off in the middle (the third)."""
    shutil.copytree(forms["unequal"], root)
    names = [f"{i:08d}" for i in range(10)]
    files = {n: folder_files(forms["folder"], n) for n in names}
    files["00000001"]["image"] = b"\xff\xd8 not a jpeg"
    del files["00000005"]["mask"]
    for j in (0, 1):
        write_tar(root / shard_file(j), ((n, files[n]) for n in names[4 * j : 4 * j + 4]))
    third = root / shard_file(2)
    third.write_bytes(third.read_bytes()[:2500])
    return root


def test_bad_members_and_a_truncated_tar_are_skipped_and_counted(forms, tmp_path, capfd):
    root = _bad_shards(forms, tmp_path / "bad")
    batches = _batches(_cfg(root, loader="auto"), 12)  # the index counts only names; the stream meets the rest
    assert len(batches) == 12
    skipped = int(sum(b["skipped"].sum() for b in batches))
    err = capfd.readouterr().err
    assert skipped >= 2
    assert "shard-000000.tar: 00000001.image: a truncated JPEG file (no end-of-image marker); skipped" in err
    assert "shard-000001.tar: 00000005.mask: missing; skipped" in err
    assert "shard-000002.tar: 1 of the 2 samples its index lists (truncated?); skipped" in err


def test_train_prints_how_many_bad_samples_it_skipped(forms, tmp_path):
    from click.testing import CliRunner

    import cli

    root = _bad_shards(forms, tmp_path / "bad")
    r = CliRunner().invoke(cli.main, ["train", "--config", str(train_fixtures.TINY_CONFIG), "--data", f"h={root}",
                                      "--max-steps", "2", "--batch-size", "2", "--loader-workers", "0",
                                      "--out", str(tmp_path / "run")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "bad samples while streaming (named in the notices above)" in r.output


def test_a_dataset_with_nothing_readable_is_a_one_line_error_not_a_hang(forms, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(forms["unequal"], root)
    for j in range(3):
        names = [f"{i:08d}" for i in range(4 * j, min(4 * j + 4, 10))]
        write_tar(root / shard_file(j), ((n, {**folder_files(forms["folder"], n), "image": b"x"}) for n in names))
    with pytest.raises(InputError, match="no readable sample in any of its 3 shards"):
        _batches(_cfg(root), 3)


def test_eval_and_preview_read_shards_like_the_folder(forms, folder_run, tmp_path):
    from dataset_tools.preview import contact_sheet
    from training.evaluate import evaluate

    ckpt = folder_run[0]
    on_folder = evaluate(ckpt, forms["folder"], progress=False)
    on_shards = evaluate(ckpt, forms["unequal"], progress=False)
    keys = [k for k in on_folder if k not in ("data", "checkpoint")]
    assert {k: on_folder[k] for k in keys} == {k: on_shards[k] for k in keys}
    contact_sheet(forms["folder"], tmp_path / "a.png", count=6)
    contact_sheet(forms["unequal"], tmp_path / "b.png", count=6)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_tar_members_written_by_the_toolkit_read_in_webdataset_itself(forms):
    import webdataset as wds

    keys = [
        s["__key__"] for s in wds.WebDataset(str(forms["unequal"] / "shard-{000000..000002}.tar"), shardshuffle=False)
    ]
    assert keys == [f"{i:08d}" for i in range(10)]
    with tarfile.open(forms["unequal"] / "shard-000000.tar") as tar:
        assert tar.getnames()[:3] == ["00000000.image.jpg", "00000000.mask.png", "00000000.annotation.json"]
