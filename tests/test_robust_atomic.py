"""atomic_path: whole files or none, the usual permissions, and a killed run's temporaries removed by the next."""

import json
import os
import stat

import numpy as np
import pytest

from handmodel.atomic import RUN_TAG_ENV, atomic_path, atomic_write_bytes, atomic_write_json, remove_temporaries


def test_atomic_files_get_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        with atomic_path(tmp_path / "b.npz") as tmp:
            np.savez(tmp, a=np.zeros(3))
    finally:
        os.umask(old)
    for name in ("a.bin", "b.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_atomic_path_leaves_nothing_when_the_writer_fails(tmp_path):
    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "keep.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "keep.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_atomic_path_is_an_oserror_naming_the_file_when_nothing_was_written(tmp_path):
    with pytest.raises(OSError, match="x.png"):
        with atomic_path(tmp_path / "x.png"):
            pass


def test_atomic_json_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "a.json", {"K": [float("nan")]})
    assert not (tmp_path / "a.json").exists()
    atomic_write_json(tmp_path / "a.json", {"K": [1.0]})
    assert json.loads((tmp_path / "a.json").read_text()) == {"K": [1.0]}


def test_temporaries_of_a_killed_run_are_removed_by_the_next_run_of_that_tag_only(tmp_path, monkeypatch):
    monkeypatch.setenv(RUN_TAG_ENV, "render-s0of2")
    (tmp_path / "images").mkdir()
    with pytest.raises(KeyboardInterrupt):  # simulate the kill between write and rename: leave the temporary
        with atomic_path(tmp_path / "images" / "00000000.jpg") as tmp:
            tmp.write_bytes(b"half")
            os.link(tmp, tmp.with_name(tmp.name.replace(".tmp", "1.tmp").replace("-0", "-9")))
            raise KeyboardInterrupt
    mine = list((tmp_path / "images").iterdir())
    assert len(mine) == 1 and mine[0].name.startswith(".00000000.render-s0of2.")
    other = tmp_path / "images" / ".00000001.render-s1of2.123-0.tmp.jpg"  # a live sibling shard's
    other.write_bytes(b"busy")
    (tmp_path / "images" / "00000002.jpg").write_bytes(b"done")
    assert remove_temporaries(tmp_path) == 1
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [other.name, "00000002.jpg"]
