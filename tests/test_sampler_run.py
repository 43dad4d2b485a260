"""sample-poses end to end: the file alone reproduces the promised figures, seeds and shards give the same poses,
reruns resume, bad input fails cleanly."""

import subprocess
import sys
from pathlib import Path

import igl
import numpy as np
import pytest
import torch

from handmodel.anatomy import angles_from_pose, joint_frames, limit_violation_deg
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.poses_io import load_poses
from pose_sampler.penetration import close_boundary, oriented_outward
from pose_sampler.prior import CONFIG_NAMES
from pose_sampler.run import SampleSettings, sample_poses

REPO = Path(__file__).resolve().parent.parent
SMALL = dict(copies=4, iters=24)


def _arrays(poses):
    return {f"{h}_{k}": v for h in HANDS for k, v in poses.params[h].items()} | dict(poses.metrics)


def test_poses_rebuilt_with_smplx_from_the_file_show_the_written_metrics(tmp_path, sampler_models):
    import smplx

    out = tmp_path / "p.npz"
    summary = sample_poses(SampleSettings(out=out, num=12, batch_size=12, seed=5, **SMALL), progress=False)
    poses = load_poses(out)
    assert len(poses) == 12 and summary["num"] == 12
    for name in ("penetration_mm", "penetration_vertices", "anatomy_violation_deg", "contact_pairs", "kept"):
        assert poses.metrics[name].shape == (12,)
    assert poses.meta["hand_model"]["hash"] == sampler_models.info["hash"]
    assert Path(str(out).replace(".npz", ".prior.npz")).is_file()
    assert poses.body_to_world.shape == (12, 4, 4)
    assert set(poses.metrics["interaction"]) <= set(CONFIG_NAMES)
    for png in ("penetration.png", "angles.png", "poses.png", "interaction.png"):
        assert (tmp_path / "p.report" / png).stat().st_size > 10_000
    # Rebuild both hands with smplx directly (not the toolkit's layer) and measure with libigl.
    verts = {}
    for h in HANDS:
        mano = smplx.MANO(sampler_models.info["dir"], is_rhand=h == "right", use_pca=False, flat_hand_mean=True)
        p = {k: torch.tensor(v, dtype=torch.float32) for k, v in poses.params[h].items()}
        out_h = mano(global_orient=p["pose"][:, :3], hand_pose=p["pose"][:, 3:], betas=p["shape"], transl=p["trans"])
        verts[h] = out_h.vertices.detach().double().numpy()
    frames = joint_frames(sampler_models)
    for i in range(len(poses)):
        deepest, within = 0.0, []
        for a, b in (("right", "left"), ("left", "right")):
            faces = oriented_outward(sampler_models[b].v_template, close_boundary(sampler_models[b].faces))
            sd = igl.signed_distance(
                verts[a][i], verts[b][i], faces, sign_type=igl.SIGNED_DISTANCE_TYPE_WINDING_NUMBER
            )[0]
            deepest = max(deepest, float(np.clip(-sd, 0, None).max()) * 1000)
            skin = sampler_models[b].faces  # the open mesh; a vertex inside the other hand is 0 mm from it
            ud = np.abs(
                igl.signed_distance(verts[a][i], verts[b][i], skin, sign_type=igl.SIGNED_DISTANCE_TYPE_UNSIGNED)[0]
            )
            within.append(int((np.where(sd < 0, 0.0, ud) <= 0.002).sum()))
        assert abs(deepest - poses.metrics["penetration_mm"][i]) <= 0.5
        assert abs(min(within) - poses.metrics["contact_vertices"][i]) <= 1
        viol = 0.0
        for h in HANDS:
            angles = angles_from_pose(poses.params[h]["pose"][i, 3:], frames[h])
            bend = np.degrees(angles[:, 2])
            coupling = max(0.75 * bend[7] - bend[10], 0.0)  # ring PIP (MANO 11) >= 0.75 x pinky PIP (MANO 8)
            viol = max(viol, limit_violation_deg(angles).max(), coupling)
        assert abs(viol - poses.metrics["anatomy_violation_deg"][i]) <= 1e-3
    m = poses.metrics
    rule = (m["penetration_mm"] <= 2.0) & (m["anatomy_violation_deg"] <= 0.1) & m["one_body"].astype(bool)
    np.testing.assert_array_equal(m["kept"], rule & (m["surface_gap_mm"] <= 2.0))
    # the optimizer's projection leaves no limit or coupling exceeded, and contact is reached
    assert m["anatomy_violation_deg"].max() <= 0.1
    assert np.mean(m["surface_gap_mm"] <= 2.0) >= 0.9
    # ... over an area: the contact settle draws the surfaces together (2-3 vertices within 2 mm without it). How
    # large the area is belongs to the sampler's distribution, measured on 256 poses by benchmarks/check_poses.py;
    # this batch of 12 with a short schedule rounds differently on each CPU (14 to 23 seen), so the test asks for
    # twice the unsettled area, and test_sampler_settle asserts the settle's own effect.
    assert np.median(m["contact_vertices"][m["kept"].astype(bool)]) >= 6


def test_same_seed_gives_the_same_poses_under_shards_and_resume(tmp_path):
    settings = dict(num=4, batch_size=2, seed=7, copies=2, iters=10)
    one = tmp_path / "one.npz"
    sample_poses(SampleSettings(out=one, **settings, report=False), progress=False)
    folder = tmp_path / "shards"
    for k in (1, 0):
        sample_poses(SampleSettings(out=folder, **settings, shard=(k, 2), report=False), progress=False)
    a = load_poses(one)
    parts = [load_poses(folder / f"poses-0000{c}.npz") for c in (0, 1)]
    np.testing.assert_array_equal(np.concatenate([p.ids for p in parts]), a.ids)
    for key, value in _arrays(a).items():
        joined = np.concatenate([_arrays(p)[key] for p in parts])
        np.testing.assert_array_equal(joined, value, err_msg=key)  # the same bytes, not just close
    # A rerun finds everything done and touches nothing.
    before = {p: p.stat().st_mtime_ns for p in folder.glob("poses-*.npz")}
    again = sample_poses(SampleSettings(out=folder, **settings, shard=(0, 2), report=False), progress=False)
    assert again["chunks_run"] == 0
    assert before == {p: p.stat().st_mtime_ns for p in folder.glob("poses-*.npz")}
    assert sample_poses(SampleSettings(out=one, **settings, report=False), progress=False)["skipped"]
    # A different seed in the same folder is refused rather than mixed in.
    with pytest.raises(InputError, match="different settings"):
        sample_poses(SampleSettings(out=folder, **{**settings, "seed": 8}, shard=(0, 2), report=False), progress=False)


def test_a_poses_result_does_not_depend_on_num(tmp_path):
    settings = dict(batch_size=4, seed=3, copies=2, iters=10)
    few = tmp_path / "few.npz"
    more = tmp_path / "more.npz"
    sample_poses(SampleSettings(out=few, num=3, **settings, report=False), progress=False)
    sample_poses(SampleSettings(out=more, num=6, **settings, report=False), progress=False)
    a, b = load_poses(few), load_poses(more)
    for key, value in _arrays(a).items():
        np.testing.assert_array_equal(_arrays(b)[key][:3], value, err_msg=key)


def test_worker_processes_give_the_same_bytes_as_one_process(tmp_path):
    settings = dict(num=6, batch_size=2, seed=4, copies=2, iters=10)
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    sample_poses(SampleSettings(out=one, **settings, report=False, workers=1), progress=False)
    summary = sample_poses(SampleSettings(out=two, **settings, report=False, workers=2), progress=False)
    assert summary["chunks_run"] == 3
    a, b = _arrays(load_poses(one)), _arrays(load_poses(two))
    for key, value in a.items():
        np.testing.assert_array_equal(b[key], value, err_msg=key)
    with pytest.raises(InputError, match="--threads 1"):
        sample_poses(SampleSettings(out=tmp_path / "x.npz", **settings, workers=2, threads=2), progress=False)


def test_interhand_seeds_are_read_and_a_broken_release_fails_cleanly(tmp_path, sampler_models):
    from handmodel.interhand_release import annotation_path
    from interhand.mini_release import make_mini_release

    root = tmp_path / "ih"
    make_mini_release(root, sampler_models, with_images=False, seed=0)
    out = tmp_path / "ih.npz"
    settings = SampleSettings(out=out, num=4, batch_size=4, interhand=str(root), split="train", **SMALL, report=False)
    sample_poses(settings, progress=False)
    poses = load_poses(out)
    assert poses.meta["seeds"]["source"] == "interhand" and len(poses) == 4
    # copy 0 of a seed is the frame itself: its root rotation, shape and translation are the release's
    from handmodel.interhand_release import interacting_mano_frames

    first = interacting_mano_frames(root, "train", sampler_models)[0]
    for h in HANDS:
        np.testing.assert_allclose(poses.params[h]["shape"][0], first[h]["shape"], atol=1e-6)
        np.testing.assert_allclose(poses.params[h]["pose"][0, :3], first[h]["pose"][:3], atol=1e-6)
    mano = annotation_path(root, "train", "MANO_NeuralAnnot")
    mano.write_text(mano.read_text()[: len(mano.read_text()) // 2])  # truncated JSON
    bad = tmp_path / "bad.npz"
    with pytest.raises(InputError, match=mano.name):
        sample_poses(SampleSettings(out=bad, num=4, batch_size=4, interhand=str(root), **SMALL), progress=False)
    assert not bad.exists() and not list(tmp_path.glob(".bad*"))


def test_cli_help_and_bad_options_exit_cleanly(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "cli.py", "sample-poses", *args], cwd=REPO, capture_output=True, text=True
        )

    helped = run("--help")
    assert helped.returncode == 0 and "--max-penetration-mm" in helped.stdout
    bad = run("--out", str(tmp_path / "p.npz"), "--shard", "3/2")
    assert bad.returncode == 2 and "--shard 3/2: need N >= 1 and 0 <= K < N" in bad.stderr  # a usage error
    sharded_file = run("--out", str(tmp_path / "p.npz"), "--shard", "0/2", "--num", "2")
    assert sharded_file.returncode == 1 and "folder" in sharded_file.stderr
    assert "Traceback" not in sharded_file.stderr and not (tmp_path / "p.npz").exists()


def test_cli_poses_are_the_same_bytes_whatever_num_and_the_machines_thread_count(tmp_path):
    """The command line as a user runs it: --num 3 under two OpenMP threads and --num 6 under one give the first
    three poses byte for byte (the sampler pins its own thread count, so the environment's does not leak in)."""
    import os

    def run(num, omp):
        out = tmp_path / f"n{num}.npz"
        args = ["--out", str(out), "--num", str(num), "--batch-size", "4", "--copies", "2", "--iters", "10"]
        env = {**os.environ, "OMP_NUM_THREADS": str(omp), "MKL_NUM_THREADS": str(omp)}
        done = subprocess.run([sys.executable, "cli.py", "sample-poses", *args, "--seed", "3", "--no-report"],
                              cwd=REPO, capture_output=True, text=True, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return _arrays(load_poses(out))

    few, more = run(3, 2), run(6, 1)
    for key, value in few.items():
        np.testing.assert_array_equal(more[key][:3], value, err_msg=key)
