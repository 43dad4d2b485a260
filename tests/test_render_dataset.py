"""The render pipeline end to end at tiny size: annotations, masks, resume after a kill, shards, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from blender_scripts.render import Job, RenderSettings, run
from handmodel.camera import project
from handmodel.dataset_io import SUBDIRS, list_samples, read_annotation, sample_paths
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.skinning import mano_forward
from pose_sampler.side_by_side import side_by_side_poses

REPO = Path(__file__).resolve().parent.parent
SIZE = 64


def settings(tmp_path, texture_dir, **kw) -> RenderSettings:
    base = dict(poses=str(tmp_path / "poses.npz"), out=str(tmp_path / "ds"), resolution=SIZE, samples=2,
                texture_dirs=[str(texture_dir)], generated_textures=False, restart_every=0, threads=1)  # fmt: skip
    base.update(kw)
    return RenderSettings(**base)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, models, texture_dir):
    tmp = tmp_path_factory.mktemp("render")
    side_by_side_poses(tmp / "poses.npz", models, 3)
    # A seed whose orbit cameras see both hands of all three poses (a camera may hide one hand behind the other).
    s = settings(tmp, texture_dir, seed=1)
    assert run(s, progress=False) == 3
    return s


def test_render_annotation_joints_equal_smplx_and_project_to_2d(rendered, models):
    from handmodel.torch_layer import HandLayer

    layer = HandLayer(models, dtype=torch.float64)
    names = list_samples(rendered.out)
    assert names == ["00000100", "00000101", "00000102"]
    for name in names:
        ann = read_annotation(rendered.out, name)
        for hand in HANDS:
            a = ann[hand]
            args = (torch.tensor(a[k][None]) for k in ("pose", "shape", "trans"))
            _, joints = layer(hand, *args)
            np.testing.assert_allclose(a["joints_3d"], joints[0].numpy(), atol=1e-5)
            np.testing.assert_allclose(a["joints_2d"], project(a["joints_3d"], ann["camera"]["K"]), atol=1e-6)
            assert np.all(a["joints_3d"][:, 2] > 0)


def test_render_masks_cover_each_hands_visible_vertices(rendered, models):
    for name in list_samples(rendered.out):
        ann = read_annotation(rendered.out, name)
        paths = sample_paths(rendered.out, name)
        mask = cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(paths["depth"]), cv2.IMREAD_UNCHANGED).astype(float) / 1000
        image = cv2.imread(str(paths["image"]))
        assert image.shape == (SIZE, SIZE, 3) and mask.dtype == np.uint8 and depth.shape == (SIZE, SIZE)
        for label, hand in enumerate(HANDS, start=1):
            a = ann[hand]
            verts, _ = mano_forward(models[hand], a["pose"][None], a["shape"][None], a["trans"][None])
            ij = np.rint(project(verts[0], ann["camera"]["K"])).astype(int)
            assert ij.min() >= 0 and ij.max() < SIZE  # framing keeps both hands in the picture
            # Visible: the rendered depth there is this vertex's depth (subdivision moves the surface < 3 mm).
            seen = np.abs(depth[ij[:, 1], ij[:, 0]] - verts[0][:, 2]) < 0.003
            assert seen.sum() > 30
            assert np.mean(mask[ij[seen, 1], ij[seen, 0]] == label) > 0.97


def test_render_labels_forearm_pixels_3_and_4_with_depth_and_bare_hands_have_none(rendered, models, texture_dir,
                                                                                   tmp_path):  # fmt: skip
    from handmodel.forearm import forearm_mesh, posed_frames, wrist_loop

    labelled = 0
    for name in list_samples(rendered.out):
        ann = read_annotation(rendered.out, name)
        paths = sample_paths(rendered.out, name)
        mask = cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(paths["depth"]), cv2.IMREAD_UNCHANGED).astype(float) / 1000
        assert set(np.unique(mask)) <= {0, 1, 2, 3, 4}
        assert ((depth > 0) == (mask > 0)).all()  # depth covers everything drawn, forearms included
        for label, hand in ((3, "right"), (4, "left")):
            a, m = ann[hand], models[hand]
            params = [a[k][None] for k in ("pose", "shape", "trans")]
            verts, _ = mano_forward(m, *params)
            fr = posed_frames(m, *params)
            loop = wrist_loop(m.faces)
            new, _ = forearm_mesh(verts[0], loop, fr["wrist"][0], fr["axis"][0], fr["lateral"][0])
            new = new[len(loop) :]  # the first ring borders the hand's mask (its strip belongs to the hand)
            ij = np.rint(project(new, ann["camera"]["K"])).astype(int)
            inside = (ij >= 0).all(1) & (ij < SIZE).all(1) & (new[:, 2] > 0)
            ij, z = ij[inside], new[inside, 2]
            seen = np.abs(depth[ij[:, 1], ij[:, 0]] - z) < 0.003
            if seen.sum() >= 5:
                assert np.mean(mask[ij[seen, 1], ij[seen, 0]] == label) > 0.9, (name, hand)
                labelled += 1
    assert labelled >= 2
    bare = settings(tmp_path, texture_dir, forearms=False, num=2, poses=rendered.poses)
    assert run(bare, progress=False) == 2
    for name in list_samples(bare.out):
        assert set(np.unique(cv2.imread(str(sample_paths(bare.out, name)["mask"]), cv2.IMREAD_UNCHANGED))) <= {0, 1, 2}


def test_render_rerun_after_kill_completes_without_duplicates(tmp_path, models, texture_dir):
    side_by_side_poses(tmp_path / "poses.npz", models, 4, seed=1)
    s = settings(tmp_path, texture_dir, restart_every=2)
    cmd = [sys.executable, str(REPO / "blender_scripts" / "render.py"), "--", "--poses", s.poses, "--out", s.out,
           "--resolution", str(SIZE), "--samples", "2", "--no-generated-textures", "--texture-dir", str(texture_dir),
           "--restart-every", "2", "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list_samples(s.out) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = list_samples(s.out)
    assert 1 <= len(first) < 4
    before = {n: sample_paths(s.out, n)["image"].read_bytes() for n in first}
    assert run(s, progress=False) == 4 - len(first)
    names = list_samples(s.out)
    assert names == [f"{100 + i:08d}" for i in range(4)]
    for sub in ("images", "masks", "depth", "annotations"):
        files = sorted(os.listdir(Path(s.out) / sub))
        assert len(files) == 4, files  # no duplicates, no temporary leftovers
    # Finished samples were kept as they were, and a third run has nothing to do.
    assert all(sample_paths(s.out, n)["image"].read_bytes() == b for n, b in before.items())
    assert run(s, progress=False) == 0


def test_render_shards_split_the_ids_deterministically(tmp_path, models, texture_dir):
    side_by_side_poses(tmp_path / "poses.npz", models, 7)
    shards = [Job(settings(tmp_path, texture_dir, shard=(k, 3))).names for k in range(3)]
    ids = [name for shard in shards for name in shard.values()]
    assert sorted(ids) == [f"{100 + i:08d}" for i in range(7)]


def test_render_rejects_bad_poses_and_foreign_output_folder(tmp_path, models, texture_dir):
    side_by_side_poses(tmp_path / "poses.npz", models, 2)
    data = dict(np.load(tmp_path / "poses.npz"))
    del data["left_shape"]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(InputError, match=r"bad\.npz: missing key 'left_shape'"):
        Job(settings(tmp_path, texture_dir, poses=str(tmp_path / "bad.npz")))
    from handmodel.outdir import open_output

    out = tmp_path / "ds"
    job = Job(settings(tmp_path, texture_dir))
    with open_output(out, "render", job.folder_fingerprint()):  # as `run` opens it
        job.write_meta()
    other = Job(settings(tmp_path, texture_dir, seed=5))
    with pytest.raises(InputError, match=r"belongs to another render run \(seed was 0, now 5\)"):
        with open_output(out, "render", other.folder_fingerprint()):
            pass
    assert json.loads((out / "meta.json").read_text())["seed"] == 0


def test_render_unreadable_texture_fails_naming_it_and_writes_no_sample(tmp_path, models):
    side_by_side_poses(tmp_path / "poses.npz", models, 1)
    bad = tmp_path / "tex"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match="broken.png: cannot read the texture"):
        run(settings(tmp_path, bad), progress=False)
    assert list_samples(tmp_path / "ds") == []
    # Not one file (sample or temporary) in any sample folder.
    sample_dirs = [tmp_path / "ds" / sub for sub, _ in SUBDIRS.values()]
    assert [p for d in sample_dirs if d.is_dir() for p in d.iterdir()] == []


def _rig_file(path, cameras: dict) -> None:
    """An InterHand2.6M-style camera file for capture 0: cameras {id: (eye (3,) m, target (3,) m)}."""
    from handmodel.camera import look_at

    rig = {"campos": {}, "camrot": {}, "focal": {}, "princpt": {}}
    for cam, (eye, target) in cameras.items():
        R, _ = look_at(np.asarray(eye, float), np.asarray(target, float))
        rig["campos"][cam] = (np.asarray(eye, float) * 1000).tolist()  # millimetres, camera = R (X - campos)
        rig["camrot"][cam] = R.tolist()
        rig["focal"][cam] = [600.0, 630.0]
        rig["princpt"][cam] = [167.0, 256.0]  # a 334 x 512 image
    path.write_text(json.dumps({"0": rig}))


def test_render_cameras_renders_from_the_rig_camera_that_sees_the_hands_into_the_square_crop(
    tmp_path, models, texture_dir
):
    side_by_side_poses(tmp_path / "poses.npz", models, 2)
    eye = np.array([0.05, -0.15, -0.8])
    # Camera 400002 looks away from the hands; 400007 looks at them.
    _rig_file(tmp_path / "camera.json", {"400002": (eye, eye * 2), "400007": (eye, [0.0, 0.0, 0.0])})
    # Bare hands: the silhouette checked below is the hands' alone (forearms would run out of the crop).
    s = settings(tmp_path, texture_dir, cameras=str(tmp_path / "camera.json"), forearms=False)
    assert run(s, progress=False) == 2
    rig = json.loads((tmp_path / "camera.json").read_text())["0"]
    R_rig = np.asarray(rig["camrot"]["400007"])
    for name in list_samples(s.out):
        ann = read_annotation(s.out, name)
        raw = json.loads(sample_paths(s.out, name)["annotation"].read_text())
        assert raw["source"]["camera"] == "0/400007"
        np.testing.assert_allclose(ann["camera"]["R"], R_rig, atol=1e-12)
        np.testing.assert_allclose(ann["camera"]["t"], -R_rig @ eye, atol=1e-12)
        K = ann["camera"]["K"]
        assert K[0, 0] / K[1, 1] == pytest.approx(600.0 / 630.0)  # the crop scales both axes alike
        # The posed hands fill 80% of the square, centred on its centre pixel.
        verts = []
        for hand in HANDS:
            h = ann[hand]
            v, _ = mano_forward(models[hand], h["pose"][None], h["shape"][None], h["trans"][None])
            verts.append(project(v[0], K))  # camera-space parameters: the camera sits at the origin
        uv = np.concatenate(verts)
        lo, hi = uv.min(0), uv.max(0)
        assert (hi - lo).max() == pytest.approx(0.8 * SIZE, rel=1e-6)
        np.testing.assert_allclose((lo + hi) / 2, [(SIZE - 1) / 2] * 2, atol=1e-6)
        # The rendered silhouette spans the same square: both hands' mask pixels reach the projected extremes.
        mask = cv2.imread(str(sample_paths(s.out, name)["mask"]), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(mask)) == {0, 1, 2}
        ys, xs = np.nonzero(mask)
        np.testing.assert_allclose([xs.min(), ys.min()], lo, atol=1.5)
        np.testing.assert_allclose([xs.max(), ys.max()], hi, atol=1.5)
    # A rig whose cameras all look away is an input error naming the file.
    _rig_file(tmp_path / "away.json", {"400002": (eye, eye * 2)})
    with pytest.raises(InputError, match=r"away.json: no camera sees both hands of pose 0"):
        run(settings(tmp_path, texture_dir, cameras=str(tmp_path / "away.json"), out=str(tmp_path / "ds2")),
            progress=False)  # fmt: skip
