"""`interhand gif`, `vis` and `mini-release`: outputs that open and hold what they should."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from handmodel.colours import HAND_COLOURS_BGR
from handmodel.errors import InputError
from handmodel.interhand_release import annotation_path
from interhand.gif import gif_path, write_gifs
from interhand.vis import write_vis
from tests.interhand_fixtures import release_with_images

SEQ0 = "0000_two_hands_clasp"


def test_gif_per_camera_holds_the_non_black_frames(tmp_path):
    root, _ = release_with_images()
    paths = write_gifs(root, tmp_path, "train", 0, [SEQ0], fps=10, scale=0.5, progress=False)
    assert sorted(paths) == sorted(gif_path(tmp_path, "train", 0, SEQ0, c) for c in ("400262", "400263", "400264"))
    for path in paths:
        cam = path.stem[3:]
        with Image.open(path) as gif:
            expected = 2 if cam == "400263" else 3  # camera 400263 is black at frame 112
            assert gif.n_frames == expected
            assert gif.info["duration"] == 100
            first = np.asarray(gif.convert("RGB"))
        original = cv2.imread(str(root / "images" / "train" / "Capture0" / SEQ0 / f"cam{cam}" / "image100.jpg"))
        small = cv2.resize(original, (first.shape[1], first.shape[0]), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        assert first.shape[:2] == (round(original.shape[0] / 2), round(original.shape[1] / 2))
        assert np.abs(first.astype(int) - small).mean() < 6  # the GIF palette quantizes colours
    with pytest.raises(InputError, match=r"capture 0 has no sequence 'nope'"):
        write_gifs(root, tmp_path, "train", 0, ["nope"], progress=False)


def test_vis_writes_plots_that_open_and_joint_overlays(tmp_path):
    root, _ = release_with_images()
    paths = write_vis(root, tmp_path, "train", 0, SEQ0)
    assert [p.name for p in paths] == ["rig.png", "joints_100.png", "images_100.png"]
    for p in paths:
        image = cv2.imread(str(p))
        assert image is not None and image.shape[0] >= 256 and image.std() > 5
    overlay = cv2.imread(str(paths[2]))
    assert overlay.shape[0] == 256 and overlay.shape[1] == round(334 * 256 / 512) * 2 + round(512 * 256 / 334)
    # Both hands' skeletons are drawn, each in its own colour.
    for colour in HAND_COLOURS_BGR.values():
        assert (np.abs(overlay.astype(int) - colour).max(-1) < 40).sum() > 30
    with pytest.raises(InputError, match=r"--frame 5: not a frame of"):
        write_vis(root, tmp_path, "train", 0, SEQ0, frame=5)


def test_mini_release_cli_writes_the_release_layout(tmp_path):
    import cli

    res = CliRunner().invoke(cli.main, ["interhand", "mini-release", "--out", str(tmp_path / "r"), "--no-images"])
    assert res.exit_code == 0, res.output
    assert "train: 27 images, 4 valid interacting frames, 4 black images" in res.output
    root = tmp_path / "r"
    assert (root / "annotations" / "skeleton.txt").read_text().splitlines()[21] == "r_wrist 20 -1"
    for split in ("train", "val", "test"):
        data = json.loads(annotation_path(root, split, "data").read_text())
        img, ann = data["images"][0], data["annotations"][0]
        assert set(img) == {"id", "file_name", "width", "height", "capture", "subject", "seq_name", "camera",
                            "frame_idx"}  # fmt: skip
        assert set(ann) == {"id", "image_id", "bbox", "joint_valid", "hand_type", "hand_type_valid"}
        assert (
            img["file_name"]
            == f"Capture{img['capture']}/{img['seq_name']}/cam{img['camera']}/image{img['frame_idx']}.jpg"
        )
        cams = json.loads(annotation_path(root, split, "camera").read_text())["0"]
        assert set(cams) == {"campos", "camrot", "focal", "princpt"}
        mano = json.loads(annotation_path(root, split, "MANO_NeuralAnnot").read_text())["0"]
        entry = next(v for v in mano.values() if v["right"] is not None)
        assert [len(entry["right"][k]) for k in ("pose", "shape", "trans")] == [48, 10, 3]
    assert not (root / "images").exists()


def test_mini_release_stores_mean_relative_poses(mini_annotations, models):
    root, _ = mini_annotations
    from handmodel.joints import interhand42_to_21
    from handmodel.skinning import mano_forward

    mano = json.loads(annotation_path(root, "val", "MANO_NeuralAnnot").read_text())["0"]["100"]
    joints = json.loads(annotation_path(root, "val", "joint_3d").read_text())["0"]["100"]
    world = interhand42_to_21(np.asarray(joints["world_coord"]) / 1000)
    for hand in ("right", "left"):
        p = {k: np.asarray(v) for k, v in mano[hand].items()}
        stored, absolute = p["pose"].copy(), p["pose"].copy()
        absolute[3:] += models[hand].hands_mean
        err = {}
        for name, pose in (("stored", stored), ("absolute", absolute)):
            _, j = mano_forward(models[hand], pose[None], p["shape"][None], p["trans"][None])
            err[name] = np.linalg.norm(j[0] - world[hand], axis=-1).max()
        assert err["absolute"] < 0.005 < err["stored"]  # only hands_mean + stored reproduces the joints


def test_mini_release_split_made_alone_equals_the_same_split_of_the_full_release(tmp_path, mini_annotations, models):  # noqa: F811
    from handmodel.interhand_release import SPLITS
    from interhand.mini_release import make_mini_release

    full, _ = mini_annotations
    for split in SPLITS[1:]:  # train alone is also first in the full release; the others moved
        alone = tmp_path / split
        make_mini_release(alone, models, with_images=False, seed=0, splits=(split,))
        for kind in ("data", "camera", "joint_3d", "MANO_NeuralAnnot"):
            got = json.loads(annotation_path(alone, split, kind).read_text())
            assert got == json.loads(annotation_path(full, split, kind).read_text()), (split, kind)
