"""The webdataset form of a dataset (handmodel/shards.py): pack and unpack are lossless, the index is the JSON
shard list wids reads, random access by name gives the folder's bytes, and bad shards are one-line errors."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from dataset_tools.drawn import make_drawn_dataset
from handmodel.dataset_io import encode_depth_mm, list_samples, sample_paths
from handmodel.png import encode_png
from handmodel.shards import expand_pattern, open_samples, read_tar


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, but the run locks (which only name the run holding them)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock") and not p.name.startswith("lock-")}  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Seven drawn samples, two of them with a depth PNG (the format's optional member)."""
    root = make_drawn_dataset(tmp_path_factory.mktemp("shards") / "data", n=7, size=48)
    import numpy as np

    for name in list_samples(root)[:2]:
        path = sample_paths(root, name)["depth"]
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(encode_png(encode_depth_mm(np.full((48, 48), 0.5))))
    return Path(root)


def _run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def test_pack_then_unpack_gives_the_folder_back_byte_for_byte(dataset, tmp_path):
    r = _run("pack", dataset, "--out", tmp_path / "shards", "--shard-size", 3)
    assert r.exit_code == 0, r.output
    tars = sorted(p.name for p in (tmp_path / "shards").glob("*.tar"))
    assert tars == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert (tmp_path / "shards" / "meta.json").read_bytes() == (dataset / "meta.json").read_bytes()
    r = _run("unpack", tmp_path / "shards", "--out", tmp_path / "back")
    assert r.exit_code == 0, r.output
    original, back = _files(dataset), _files(tmp_path / "back")
    assert {k: v for k, v in back.items() if not k.startswith(".handkit")} == original
    # A rerun of either has nothing left to do.
    assert "0 written now" in _run("pack", dataset, "--out", tmp_path / "shards", "--shard-size", 3).output
    assert "0 written now" in _run("unpack", tmp_path / "shards", "--out", tmp_path / "back").output


def test_pack_again_after_the_folder_grew_rewrites_only_its_last_tar(dataset, tmp_path):
    import shutil

    shutil.copytree(dataset, tmp_path / "data")
    _run("pack", tmp_path / "data", "--out", tmp_path / "shards", "--shard-size", 3)
    first = {p.name: p.read_bytes() for p in (tmp_path / "shards").glob("*.tar")}
    for kind, path in sample_paths(tmp_path / "data", "00000006").items():
        if path.is_file():
            shutil.copy(path, sample_paths(tmp_path / "data", "00000007")[kind])
    r = _run("pack", tmp_path / "data", "--out", tmp_path / "shards", "--shard-size", 3)
    assert "packed 8 samples into 3 tar shards (1 written now)" in r.output
    now = {p.name: p.read_bytes() for p in (tmp_path / "shards").glob("*.tar")}
    assert {k: now[k] == first[k] for k in now} == {"shard-000000.tar": True, "shard-000001.tar": True,
                                                    "shard-000002.tar": False}  # fmt: skip
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    assert [e["nsamples"] for e in index["shardlist"]] == [3, 3, 2]
    assert open_samples(tmp_path / "shards").names == list_samples(tmp_path / "data")


def test_index_is_the_wids_shard_list_and_random_access_reads_the_folder_bytes(dataset, tmp_path):
    _run("pack", dataset, "--out", tmp_path / "shards", "--shard-size", 3)
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    assert index["__kind__"] == "wids-shard-index-v1" and index["wids_version"] == 1
    assert [(e["url"], e["nsamples"]) for e in index["shardlist"]] == [
        ("shard-000000.tar", 3), ("shard-000001.tar", 3), ("shard-000002.tar", 1)]  # fmt: skip
    folder, shards = open_samples(dataset), open_samples(tmp_path / "shards")
    pattern = open_samples(str(tmp_path / "shards" / "shard-{000000..000002}.tar"))
    assert folder.names == shards.names == pattern.names == list_samples(dataset)
    for name in folder.names:
        for kind in ("image", "mask", "depth", "annotation"):
            assert shards.read(name, kind) == pattern.read(name, kind) == folder.read(name, kind)
    # Members of a sample sit together under one key, the annotation last, as WebDataset groups them.
    names = [n for n, _ in read_tar(tmp_path / "shards" / "shard-000000.tar")]
    assert names == folder.names[:3]


def test_wids_reads_the_index_and_finds_every_sample_by_position(dataset, tmp_path):
    import wids

    _run("pack", dataset, "--out", tmp_path / "shards", "--shard-size", 3)
    ds = wids.ShardListDataset(str(tmp_path / "shards" / "index.json"), localname=lambda url: url, transformations=[])
    folder = open_samples(dataset)
    assert len(ds) == len(folder.names) == 7
    for i, name in enumerate(folder.names):
        sample = ds[i]
        assert sample["__key__"] == name
        assert sample[".image.jpg"].read() == folder.read(name, "image")
        assert sample[".annotation.json"].read() == folder.read(name, "annotation")


def test_the_index_keeps_the_counts_of_listed_tars_and_reads_new_ones(dataset, tmp_path):
    from handmodel.shards import write_index

    _run("pack", dataset, "--out", tmp_path / "shards", "--shard-size", 3)
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    (tmp_path / "shards" / "shard-000002.tar").rename(tmp_path / "shards" / "shard-000003.tar")
    again = write_index(tmp_path / "shards")
    assert [(e["url"], e["nsamples"]) for e in again["shardlist"]] == [
        ("shard-000000.tar", 3), ("shard-000001.tar", 3), ("shard-000003.tar", 1)]  # fmt: skip
    assert again["shardlist"][:2] == index["shardlist"][:2]


def test_brace_patterns_expand_like_webdatasets():
    assert [p.name for p in expand_pattern("d/train-{000008..000011}.tar")] == [
        "train-000008.tar", "train-000009.tar", "train-000010.tar", "train-000011.tar"]  # fmt: skip
    assert [str(p) for p in expand_pattern("{a,b}/x-{1..2}.tar")] == ["a/x-1.tar", "a/x-2.tar", "b/x-1.tar",
                                                                      "b/x-2.tar"]  # fmt: skip


def test_a_truncated_shard_is_a_one_line_error_naming_it(dataset, tmp_path):
    _run("pack", dataset, "--out", tmp_path / "shards", "--shard-size", 3)
    tar = tmp_path / "shards" / "shard-000001.tar"
    tar.write_bytes(tar.read_bytes()[:3000])
    r = _run("unpack", tmp_path / "shards", "--out", tmp_path / "back")
    assert r.exit_code == 1
    assert "shard-000001.tar: truncated or not a tar shard" in r.output and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output


def test_pack_refuses_a_folder_with_files_outside_the_format(dataset, tmp_path):
    import shutil

    shutil.copytree(dataset, tmp_path / "data")
    (tmp_path / "data" / "preview.png").write_bytes(b"x")
    r = _run("pack", tmp_path / "data", "--out", tmp_path / "shards")
    assert r.exit_code == 1 and "preview.png, which is not part of the dataset format" in r.output
    assert not (tmp_path / "shards").exists()


def test_a_url_of_shards_is_refused_in_one_line_saying_what_to_do():
    from handmodel.errors import InputError

    with pytest.raises(InputError, match=r"https://host/train-\{0..1\}\.tar: shards are read from a filesystem"):
        open_samples("https://host/train-{0..1}.tar")
