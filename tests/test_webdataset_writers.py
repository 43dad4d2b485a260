"""`import` and `interhand prepare` with `--format webdataset`: the samples of the folder form, in whole tars per
task under --shard K/N, with the index the last task leaves."""

import json
import tarfile
from pathlib import Path

from click.testing import CliRunner
from importer_fixtures import make_layout

import cli
from dataset_tools.pack import PackSettings, pack
from handmodel.dataset_io import list_samples
from handmodel.shards import open_samples
from importers.run import import_dataset
from importers.settings import ImportSettings
from tests.interhand_fixtures import release_with_images


def _members(tar: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(tar) as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


def test_import_webdataset_tasks_write_the_tars_that_packing_the_folder_import_gives(models, tmp_path):
    root = make_layout(tmp_path / "ih", "intaghand", range(5), models, seed=1)
    import_dataset("intaghand", ImportSettings(src=root, out=tmp_path / "folder"), models, progress=False)
    pack(PackSettings(dataset=str(tmp_path / "folder"), out=str(tmp_path / "packed"), shard_size=2))
    out = tmp_path / "shards"
    reports = [import_dataset("intaghand", ImportSettings(src=root, out=out, shard=(k, 2), shard_size=2,
                                                          dataset_format="webdataset"), models, progress=False)
               for k in (1, 0)]  # fmt: skip
    assert [r["written"] for r in reports] == [2, 3]  # task 1: tar 1; task 0: tars 0 and 2
    tars = sorted(p.name for p in out.glob("*.tar"))
    assert tars == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    for name in tars:
        assert _members(out / name) == _members(tmp_path / "packed" / name)
    assert [e["nsamples"] for e in json.loads((out / "index.json").read_text())["shardlist"]] == [2, 2, 1]
    again = import_dataset("intaghand", ImportSettings(src=root, out=out, shard_size=2, dataset_format="webdataset"),
                           models, progress=False)  # fmt: skip
    assert again["written"] == 0 and again["existing"] == 5
    # The folder form cannot be written into the shard folder.
    r = CliRunner().invoke(cli.main, ["import", "intaghand", str(root), "--out", str(out)])
    assert r.exit_code == 1 and "layout.format was 'webdataset', now '(none)'" in r.output


def test_prepare_webdataset_holds_the_folder_forms_samples(tmp_path):
    root, _ = release_with_images()
    runner = CliRunner()
    base = ["interhand", "prepare", "--data_path", str(root), "--num", "6"]
    r = runner.invoke(cli.main, [*base, "--out", str(tmp_path / "folder")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.main, [*base, "--out", str(tmp_path / "shards"), "--format", "webdataset",
                                 "--shard-size", "4"])  # fmt: skip
    assert r.exit_code == 0, r.output
    folder, shards = open_samples(tmp_path / "folder"), open_samples(tmp_path / "shards")
    assert shards.names == folder.names == list_samples(tmp_path / "folder")
    for name in folder.names:
        for kind in ("image", "mask", "depth", "annotation"):
            assert shards.read(name, kind) == folder.read(name, kind)
    assert (tmp_path / "shards" / "meta.json").read_bytes() == (tmp_path / "folder" / "meta.json").read_bytes()
