"""Reading the InterHand2.6M release: the interacting MANO frames, the cameras, and errors on bad input."""

import json

import numpy as np
import pytest

from handmodel.errors import InputError
from handmodel.interhand_release import (
    annotation_path,
    check_release,
    interacting_mano_frames,
    read_cameras,
    read_images,
    read_joint_3d,
)
from handmodel.joints import interhand42_to_21
from handmodel.skinning import mano_forward

# The mini release's pitfalls (see interhand/mini_release.py) leave exactly these interacting frames valid:
# capture 0 frame 106 has a null left hand, capture 0 frames 200-212 are a right-hand-only sequence,
# capture 1 frame 100 has an invalid right wrist. Black images do not matter at this level.
EXPECTED_TRAIN_FRAMES = [(0, 100), (0, 112), (1, 106), (1, 112)]


def test_interacting_frames_skip_null_invalid_and_single_hand_frames(mini_annotations, models):
    root, summary = mini_annotations
    frames = interacting_mano_frames(root, "train", models)
    assert [(f["capture"], f["frame"]) for f in frames] == EXPECTED_TRAIN_FRAMES
    assert summary["train"]["interacting_frames"] == EXPECTED_TRAIN_FRAMES
    for f in frames:
        for hand in ("right", "left"):
            assert f[hand]["pose"].shape == (48,) and f[hand]["shape"].shape == (10,) and f[hand]["trans"].shape == (3,)


def test_interacting_frames_are_absolute_poses_that_reproduce_joint_3d(mini_annotations, models):
    root, _ = mini_annotations
    stored = json.loads(annotation_path(root, "train", "MANO_NeuralAnnot").read_text())
    joints = json.loads(annotation_path(root, "train", "joint_3d").read_text())
    for f in interacting_mano_frames(root, "train", models):
        world = interhand42_to_21(np.asarray(joints[str(f["capture"])][str(f["frame"])]["world_coord"]) / 1000)
        for hand in ("right", "left"):
            raw = stored[str(f["capture"])][str(f["frame"])][hand]
            np.testing.assert_allclose(f[hand]["pose"][3:], np.asarray(raw["pose"][3:]) + models[hand].hands_mean)
            np.testing.assert_allclose(f[hand]["pose"][:3], raw["pose"][:3])
            _, j21 = mano_forward(models[hand], f[hand]["pose"][None], f[hand]["shape"][None], f[hand]["trans"][None])
            err_mm = np.linalg.norm(j21[0] - world[hand], axis=-1) * 1000
            assert err_mm.max() < 5.0  # the release's 1 mm joint noise; mean-relative poses would be off by cm


def test_cameras_map_world_joints_into_view_in_front_of_the_camera(mini_annotations):
    root, _ = mini_annotations
    cams = read_cameras(root, "train")
    joints = read_joint_3d(root, "train")
    raw = json.loads(annotation_path(root, "train", "camera").read_text())
    for img in read_images(root, "train"):
        cam = cams[img.capture][img.camera]
        # Independent of the conversion: the release's own formula R (X - campos), in mm.
        X = joints[img.capture][img.frame]["world"] * 1000
        campos = np.asarray(raw[str(img.capture)]["campos"][img.camera])
        expected = (X - campos) @ np.asarray(raw[str(img.capture)]["camrot"][img.camera]).T / 1000
        np.testing.assert_allclose(X / 1000 @ cam.R.T + cam.t, expected, atol=1e-9)
        valid = joints[img.capture][img.frame]["valid"]
        uv = expected[valid] @ cam.K.T
        uv = uv[:, :2] / uv[:, 2:]
        assert (expected[valid, 2] > 0).all()
        assert (uv >= 0).all() and (uv[:, 0] < img.width).all() and (uv[:, 1] < img.height).all()


def test_not_a_release_and_missing_split_are_named(tmp_path, mini_annotations, models):
    with pytest.raises(InputError, match="not an InterHand2.6M release"):
        check_release(tmp_path, "train")
    with pytest.raises(InputError, match="no such folder"):
        check_release(tmp_path / "nowhere", "train")
    root, _ = mini_annotations
    for kind in ("data", "camera", "joint_3d", "MANO_NeuralAnnot"):
        assert annotation_path(root, "test", kind).is_file()
    for p in (root / "annotations" / "test").iterdir():
        p.unlink()
    (root / "annotations" / "test").rmdir()
    with pytest.raises(InputError, match=r"split 'test' missing.*train, val"):
        interacting_mano_frames(root, "test", models)


def test_malformed_mano_file_names_file_and_key(mini_annotations, models):
    root, _ = mini_annotations
    path = annotation_path(root, "train", "MANO_NeuralAnnot")
    data = json.loads(path.read_text())
    data["1"]["106"]["left"]["pose"] = data["1"]["106"]["left"]["pose"][:45]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"MANO_NeuralAnnot.json: '1/106/left/pose' has 45 values, expected 48"):
        interacting_mano_frames(root, "train", models)
    path.write_text(json.dumps(data)[:-10])
    with pytest.raises(InputError, match=r"MANO_NeuralAnnot.json: not valid JSON"):
        interacting_mano_frames(root, "train", models)
    path.unlink()
    with pytest.raises(InputError, match=r"MANO_NeuralAnnot.json: missing"):
        interacting_mano_frames(root, "train", models)


def test_malformed_joint_file_names_file_and_key(mini_annotations, models):
    root, _ = mini_annotations
    path = annotation_path(root, "train", "joint_3d")
    data = json.loads(path.read_text())
    del data["0"]["112"]["hand_type"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"joint_3d.json: '0/112' has no key 'hand_type'"):
        interacting_mano_frames(root, "train", models)


def test_render_rig_cameras_are_the_release_cameras_and_share_its_checks(tmp_path, mini_annotations):
    from blender_scripts.sampling import load_rig_cameras

    root, _ = mini_annotations
    path = annotation_path(root, "train", "camera")
    raw = json.loads(path.read_text())
    release = read_cameras(root, "train")
    rig = load_rig_cameras(path)
    assert [c["name"] for c in rig] == [f"{cap}/{cam}" for cap in raw for cam in sorted(raw[cap]["campos"], key=str)]
    for c in rig:
        cap, cam = c["name"].split("/")
        for key in ("K", "R", "t"):
            np.testing.assert_array_equal(c[key], getattr(release[int(cap)][cam], key))
        cx, cy = raw[cap]["princpt"][cam]
        assert c["size"] == (round(2 * cx), round(2 * cy))
    cap, cam = next(iter(raw)), next(iter(raw[next(iter(raw))]["focal"]))
    bad = json.loads(path.read_text())
    bad[cap]["focal"][cam] = [float("nan"), 1000.0]
    (tmp_path / "nan.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match=rf"nan.json: '{cap}/focal/{cam}' holds NaN"):
        load_rig_cameras(tmp_path / "nan.json")
    bad[cap]["camrot"][cam] = [[1.0, 0.0], [0.0, 1.0]]
    bad[cap]["focal"][cam] = [1000.0, 1000.0]
    (tmp_path / "rot.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match=rf"rot.json: '{cap}/camrot/{cam}' has 4 values, expected 9"):
        load_rig_cameras(tmp_path / "rot.json")
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(InputError, match=r"empty.json: no cameras in the file"):
        load_rig_cameras(tmp_path / "empty.json")
    with pytest.raises(InputError, match=r"absent.json: missing"):
        load_rig_cameras(tmp_path / "absent.json")
