"""`render --format webdataset`: the same samples as `render` then `pack`, whole tars per task under --shard K/N,
and a rerun that skips finished tars and extends a last tar that a larger --num adds to."""

import json
import tarfile
from pathlib import Path

import pytest

from blender_scripts.render import Job, RenderSettings, run
from dataset_tools.pack import PackSettings, pack
from pose_sampler.side_by_side import side_by_side_poses

SIZE = 48


def settings(tmp_path, texture_dir, **kw) -> RenderSettings:
    base = dict(poses=str(tmp_path / "poses.npz"), out=str(tmp_path / "ds"), resolution=SIZE, samples=2, seed=1,
                texture_dirs=[str(texture_dir)], generated_textures=False, restart_every=0, threads=1)  # fmt: skip
    base.update(kw)
    return RenderSettings(**base)


def _members(tar: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(tar) as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


@pytest.fixture(scope="module")
def poses(tmp_path_factory, models):
    tmp = tmp_path_factory.mktemp("render_wds")
    side_by_side_poses(tmp / "poses.npz", models, 3)
    return tmp


def test_render_webdataset_gives_the_samples_of_render_then_pack_and_resumes_by_tar(poses, tmp_path, texture_dir):
    folder = settings(poses, texture_dir, out=str(tmp_path / "folder"))
    assert run(folder, progress=False) == 3
    pack(PackSettings(dataset=folder.out, out=str(tmp_path / "packed"), shard_size=2))

    shards = settings(poses, texture_dir, out=str(tmp_path / "shards"), dataset_format="webdataset", shard_size=2)
    first = settings(poses, texture_dir, out=shards.out, dataset_format="webdataset", shard_size=2, num=1)
    assert run(first, progress=False) == 1  # tar 0 with the first sample alone
    assert run(shards, progress=False) == 2  # a larger --num: tar 0 extended (its sample kept), tar 1 rendered
    tars = {p.name: p.read_bytes() for p in (tmp_path / "shards").glob("*.tar")}
    assert run(shards, progress=False) == 0  # finished tars are skipped
    assert {p.name: p.read_bytes() for p in (tmp_path / "shards").glob("*.tar")} == tars

    out, packed = tmp_path / "shards", tmp_path / "packed"
    assert sorted(p.name for p in out.glob("*.tar")) == ["shard-000000.tar", "shard-000001.tar"]
    for name in ("shard-000000.tar", "shard-000001.tar"):
        assert _members(out / name) == _members(packed / name)
    assert json.loads((out / "meta.json").read_text()) == json.loads((packed / "meta.json").read_text())
    assert json.loads((out / "index.json").read_text())["shardlist"] == [
        {"url": "shard-000000.tar", "nsamples": 2}, {"url": "shard-000001.tar", "nsamples": 1}]  # fmt: skip
    assert not list((out / ".handkit").glob("staging-*"))  # staged samples are gone once in their tars
    # The packed folder has the render run's fingerprint with the form: render continues it as its own.
    assert run(settings(poses, texture_dir, out=str(packed), dataset_format="webdataset", shard_size=2),
               progress=False) == 0  # fmt: skip


def test_webdataset_tasks_write_whole_tars(tmp_path, models, texture_dir):
    side_by_side_poses(tmp_path / "poses.npz", models, 5)
    tasks = [Job(settings(tmp_path, texture_dir, shard=(k, 2), dataset_format="webdataset", shard_size=2)).names
             for k in range(2)]  # fmt: skip
    assert sorted(tasks[0].values()) == [f"{100 + i:08d}" for i in (0, 1, 4)]  # tars 0 and 2
    assert sorted(tasks[1].values()) == [f"{100 + i:08d}" for i in (2, 3)]  # tar 1
