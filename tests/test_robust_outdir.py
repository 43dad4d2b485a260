"""Output folders: one run per folder and shard at a time (two real processes), fingerprints checked before
anything is written, stale locks reported and taken over, foreign folders refused."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from handmodel.errors import InputError
from handmodel.outdir import open_output, read_fingerprint

ROOT = Path(__file__).resolve().parent.parent  # the other processes run here: `python -c` imports this tree first


def _holder_process(folder, fingerprint, shard=(0, 1), seconds=30):
    """A second process that takes the folder and holds it; returns once it holds the lock."""
    code = textwrap.dedent(f"""
        import time
        from handmodel.outdir import open_output
        with open_output({str(folder)!r}, "render", {fingerprint!r}, shard={shard!r}):
            print("holding", flush=True)
            time.sleep({seconds})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_run_of_the_same_folder_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "ds"
    proc = _holder_process(out, {"seed": 0})
    try:
        with pytest.raises(InputError) as e:
            with open_output(out, "render", {"seed": 0}):
                pass
        message = str(e.value)
        assert f"pid {proc.pid} on host {socket.gethostname()}" in message and "in use by another run" in message
    finally:
        proc.kill()
        proc.wait()
    with open_output(out, "render", {"seed": 0}):  # the kernel dropped the dead holder's lock
        pass


def test_shards_of_one_run_share_a_folder_and_other_fingerprints_are_refused(tmp_path):
    out = tmp_path / "ds"
    proc = _holder_process(out, {"seed": 0, "size": 64}, shard=(0, 2))
    try:
        with open_output(out, "render", {"seed": 0, "size": 64}, shard=(1, 2)):
            pass
        with pytest.raises(InputError, match=r"belongs to another render run \(size was 64, now 32\)"):
            with open_output(out, "render", {"seed": 0, "size": 32}, shard=(1, 2)):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_two_runs_racing_into_an_empty_folder_one_fingerprint_wins(tmp_path):
    out = tmp_path / "ds"
    code = textwrap.dedent(f"""
        import sys, time
        from handmodel.errors import InputError
        from handmodel.outdir import open_output
        t0 = float(sys.argv[2])
        while time.time() < t0:
            pass
        try:
            with open_output({str(out)!r}, "render", {{"seed": int(sys.argv[1])}}, shard=(int(sys.argv[1]), 2)):
                time.sleep(0.5)
            print("ok")
        except InputError as e:
            print("refused", e)
    """)
    start = str(time.time() + 1.0)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i), start], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT) for i in (0, 1)]  # fmt: skip
    outs = sorted(p.communicate()[0].strip() for p in procs)
    assert outs[0] == "ok" and outs[1].startswith("refused") and "belongs to another render run" in outs[1]
    winner = read_fingerprint(out)["fingerprint"]["seed"]
    assert f"seed was {winner}" in outs[1]


def test_a_stale_lock_is_reported_and_taken_over(tmp_path):
    out = tmp_path / "ds"
    with open_output(out, "render", {"seed": 0}):
        pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = out / ".handkit" / "lock-0of1"
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "then", "command": "x"}))
    notices = []
    with open_output(out, "render", {"seed": 0}, warn=notices.append):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert len(notices) == 1 and f"stale lock of pid {dead.pid}" in notices[0] and "that process is gone" in notices[0]
    assert lock.read_text() == ""


def test_a_folder_with_files_that_no_render_wrote_is_refused_untouched(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "config.yaml").write_text("x: 1\n")
    with pytest.raises(InputError, match=r"holds files that no render wrote \(checkpoints, config.yaml\); choose an"):
        with open_output(out, "render", {"seed": 0}):
            pass
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.yaml"]


def test_the_output_of_another_command_is_refused(tmp_path):
    with open_output(tmp_path / "x", "prepare", {"split": "train"}):
        pass
    with pytest.raises(InputError, match="holds the output of `prepare`, not of `render`"):
        with open_output(tmp_path / "x", "render", {"split": "train"}):
            pass


def test_leftover_temporaries_of_a_killed_run_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "ds"
    code = textwrap.dedent(f"""
        import os
        from handmodel.atomic import atomic_path
        from handmodel.outdir import open_output
        with open_output({str(out)!r}, "render", {{}}):
            with atomic_path({str(out / "images" / "00000000.jpg")!r}) as tmp:
                tmp.write_bytes(b"half")
                os.kill(os.getpid(), 9)
    """)
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == -9
    left = [p.name for p in (out / "images").iterdir()]
    assert len(left) == 1 and left[0].startswith(".00000000.render-s0of1.")
    with open_output(out, "render", {}, warn=lambda m: None):
        assert list((out / "images").iterdir()) == []


def test_a_run_that_fails_before_writing_leaves_no_folder_but_keeps_a_shared_one(tmp_path):
    with pytest.raises(InputError):
        with open_output(tmp_path / "new", "render", {"seed": 0}):
            raise InputError("bad texture")
    assert not (tmp_path / "new").exists()
    proc = _holder_process(tmp_path / "shared", {"seed": 0}, shard=(0, 2))
    try:
        with pytest.raises(InputError):
            with open_output(tmp_path / "shared", "render", {"seed": 0}, shard=(1, 2)):
                raise InputError("bad texture")
        assert (tmp_path / "shared" / ".handkit" / "lock-0of2").is_file()
    finally:
        proc.kill()
        proc.wait()


def test_commands_that_write_folders_refuse_a_folder_held_by_another_run(tmp_path):
    from click.testing import CliRunner

    from cli import main

    out = tmp_path / "mini"
    code = textwrap.dedent(f"""
        import time
        from handmodel.outdir import open_output
        with open_output({str(out)!r}, "mini-release", None):
            print("holding", flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "holding"
    try:
        r = CliRunner().invoke(main, ["interhand", "mini-release", "--out", str(out), "--no-images"])
        assert r.exit_code == 1 and f"is in use by another run: pid {proc.pid}" in r.output, r.output
    finally:
        proc.kill()
        proc.wait()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    r = CliRunner().invoke(main, ["interhand", "mini-release", "--out", str(tmp_path / "other"), "--no-images"])
    assert r.exit_code == 1 and "holds files that no mini-release wrote (x.txt)" in r.output, r.output
