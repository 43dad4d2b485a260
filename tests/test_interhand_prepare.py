"""`interhand prepare` on the generated mini release: which images become samples, and what the samples hold."""

import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from handmodel.dataset_io import list_samples, read_annotation, read_meta, sample_paths
from handmodel.interhand_release import annotation_path
from handmodel.joints import interhand42_to_21
from interhand.prepare import PrepareSettings, prepare_interhand, select_images
from tests.interhand_fixtures import (
    hand_models,
    interior_pixels,
    release_with_images,
)
from tests.render_fixtures import raycast_pixels

# Interacting frames with both hands valid (see test_handmodel_interhand_release.py), minus the black images: capture 0
# frame 112 camera 400263, and capture 1 frame 112 in every camera.
CAMERAS = ("400262", "400263", "400264")
EXPECTED_IMAGES = sorted(
    [(0, 100, c) for c in CAMERAS] + [(0, 112, "400262"), (0, 112, "400264")] + [(1, 106, c) for c in CAMERAS]
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root, _ = release_with_images()
    out = tmp_path_factory.mktemp("prepared") / "dataset"
    report = prepare_interhand(PrepareSettings(data_path=root, out=out), hand_models(), progress=False)
    return root, out, report


def _release_camera(root, capture, camera):
    raw = json.loads(annotation_path(root, "train", "camera").read_text())[str(capture)]
    return np.asarray(raw["camrot"][camera]), np.asarray(raw["campos"][camera])


def test_prepare_keeps_exactly_the_valid_interacting_images(prepared):
    root, out, report = prepared
    names = list_samples(out)
    got = sorted(
        (a["source"]["capture"], a["source"]["frame"], a["source"]["camera"])
        for a in (read_annotation(out, n) for n in names)
    )
    assert got == EXPECTED_IMAGES
    # 27 train images: 9 of the right-hand-only sequence, 3 with a null left hand (capture 0 frame 106), 3 with an
    # invalid right wrist (capture 1 frame 100), 4 black, 8 samples.
    assert report["written"] == 8 and report["black"] == 4
    assert report["not_interacting"] == 9 and report["null_mano"] == 3 and report["invalid_hand"] == 3
    meta = read_meta(out)
    assert meta["image_size"] == [256, 256] and meta["split"] == "train" and meta["hand_model"]["model"]


def test_prepare_joints_match_the_release_joints_and_project_onto_the_crop(prepared):
    root, out, _ = prepared
    joints = json.loads(annotation_path(root, "train", "joint_3d").read_text())
    for name in list_samples(out):
        ann = read_annotation(out, name)
        src = ann["source"]
        R, campos = _release_camera(root, src["capture"], src["camera"])
        world = np.asarray(joints[str(src["capture"])][str(src["frame"])]["world_coord"])
        cam = interhand42_to_21((world - campos) @ R.T / 1000)  # the release's own camera formula, in metres
        K = ann["camera"]["K"]
        for hand in ("right", "left"):
            j3d = ann[hand]["joints_3d"]
            assert np.linalg.norm(j3d - cam[hand], axis=-1).max() < 0.005  # 1 mm noise in the release joints
            uvw = j3d @ K.T
            np.testing.assert_allclose(ann[hand]["joints_2d"], uvw[:, :2] / uvw[:, 2:], atol=1e-6)
            assert (ann[hand]["joints_2d"] > 0).all() and (ann[hand]["joints_2d"] < 256).all()
        both = np.concatenate([ann[h]["joints_2d"] for h in ("right", "left")])
        extent = (both.max(0) - both.min(0)).max()
        assert extent == pytest.approx(0.8 * 256, rel=1e-6)  # the hands fill 80% of the crop


def test_prepare_crop_pixels_are_the_release_pixels_seen_through_the_crop_camera(prepared):
    root, out, _ = prepared
    for name in list_samples(out)[:3]:
        ann = read_annotation(out, name)
        src = ann["source"]
        original = cv2.imread(str(root / "images" / "train" / src["file_name"])).astype(np.float64)
        crop = cv2.imread(str(sample_paths(out, name)["image"])).astype(np.float64)
        R, campos = _release_camera(root, src["capture"], src["camera"])
        raw = json.loads(annotation_path(root, "train", "camera").read_text())[str(src["capture"])]
        (fx, fy), (cx, cy) = raw["focal"][src["camera"]], raw["princpt"][src["camera"]]
        K0 = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        # Crop pixel -> original pixel through the two intrinsics (same rays), sampled on a grid.
        ys, xs = np.mgrid[20:236:12, 20:236:12]
        pix = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1)
        src_pix = pix @ np.linalg.inv(ann["camera"]["K"]).T @ K0.T
        u, v = src_pix[:, 0], src_pix[:, 1]
        inside = (u > 1) & (v > 1) & (u < original.shape[1] - 2) & (v < original.shape[0] - 2)
        sampled = cv2.remap(original.astype(np.float32), u.astype(np.float32)[None], v.astype(np.float32)[None],
                            cv2.INTER_LINEAR)[0]  # fmt: skip
        diff = np.abs(sampled[inside] - crop[ys.ravel()[inside], xs.ravel()[inside]])
        assert np.median(diff) < 4 and np.mean(diff) < 8  # JPEG twice and bilinear resampling


def test_prepare_masks_and_depth_match_a_raycast_of_the_annotated_hands(prepared, models):
    from handmodel.skinning import mano_forward

    _, out, _ = prepared
    for name in list_samples(out)[::3]:
        ann = read_annotation(out, name)
        paths = sample_paths(out, name)
        mask = cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED)
        depth_mm = cv2.imread(str(paths["depth"]), cv2.IMREAD_UNCHANGED)
        assert mask.dtype == np.uint8 and depth_mm.dtype == np.uint16 and mask.shape == (256, 256)
        assert set(np.unique(mask)) == {0, 1, 2}
        meshes = {}
        for label, hand in ((1, "right"), (2, "left")):
            h = ann[hand]
            verts, _ = mano_forward(models[hand], h["pose"][None], h["shape"][None], h["trans"][None])
            meshes[label] = (verts[0], models[hand].faces)  # camera-space parameters -> camera-space mesh
        pix = interior_pixels(mask, 6, depth_mm, max_jump=5)
        labels, depth = raycast_pixels(meshes, ann["camera"]["K"], pix)
        rendered = mask[pix[:, 1], pix[:, 0]]
        assert (labels == rendered).mean() > 0.98
        hit = (labels == rendered) & (labels > 0)
        assert hit.sum() > 50
        err_mm = np.abs(depth_mm[pix[hit, 1], pix[hit, 0]] - depth[hit] * 1000)
        assert np.percentile(err_mm, 95) <= 1.0 and err_mm.max() < 5
        assert (depth_mm[mask == 0] == 0).all()


def test_prepare_resumes_and_refuses_a_folder_of_another_run(prepared, tmp_path):
    root, out, _ = prepared
    copy = tmp_path / "dataset"
    import shutil

    shutil.copytree(out, copy)
    names = list_samples(copy)
    sample_paths(copy, names[2])["annotation"].unlink()
    before = {n: os.stat(sample_paths(copy, n)["image"]).st_mtime_ns for n in names}
    report = prepare_interhand(PrepareSettings(data_path=root, out=copy), hand_models(), progress=False)
    assert report["written"] == 1 and report["existing"] == 7 and report["black"] == 4
    assert list_samples(copy) == names
    after = {n: os.stat(sample_paths(copy, n)["image"]).st_mtime_ns for n in names}
    assert [n for n in names if after[n] != before[n]] == [names[2]]
    from handmodel.errors import InputError

    # another frame rule is another run: refused by the folder's fingerprint, before anything is written
    with pytest.raises(InputError, match=r"belongs to another prepare run \(selection was 'default', now 'intagh"):
        prepare_interhand(PrepareSettings(data_path=root, out=copy, selection="intaghand"), hand_models(),
                          progress=False)  # fmt: skip
    assert list_samples(copy) == names


def test_prepare_cli_reports_bad_input_in_one_line(tmp_path, mini_annotations):
    import cli

    runner = CliRunner()
    res = runner.invoke(cli.main, ["interhand", "prepare", "--data_path", str(tmp_path), "--save_path",
                                   str(tmp_path / "out")])  # fmt: skip
    assert res.exit_code == 1
    assert "not an InterHand2.6M release" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()
    root, _ = mini_annotations
    path = annotation_path(root, "val", "camera")
    path.write_text(path.read_text()[:-5])
    res = runner.invoke(cli.main, ["interhand", "prepare", "--data_path", str(root), "--save_path",
                                   str(tmp_path / "out"), "--split", "val"])  # fmt: skip
    assert res.exit_code == 1 and "InterHand2.6M_val_camera.json: not valid JSON" in res.output
    assert not (tmp_path / "out").exists()


def test_prepare_cli_in_parallel_writes_the_same_samples_as_a_serial_run(prepared, tmp_path):
    import cli

    root, out, _ = prepared
    res = CliRunner().invoke(cli.main, ["interhand", "prepare", "--data_path", str(root), "--save_path",
                                        str(tmp_path / "par"), "--workers", "2", "--num", "4"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "prepare train: 4 samples written, 0 already there (4 candidate images)" in res.output
    assert "skipped images: 3 invalid hand, 9 not interacting, 3 null mano" in res.output
    names = list_samples(tmp_path / "par")
    assert names == list_samples(out)[:4]
    for name in names:
        a, b = read_annotation(tmp_path / "par", name), read_annotation(out, name)
        assert a["source"] == b["source"]
        for hand in ("right", "left"):
            np.testing.assert_allclose(a[hand]["joints_2d"], b[hand]["joints_2d"])
        masks = [cv2.imread(str(sample_paths(d, name)["mask"]), cv2.IMREAD_UNCHANGED) for d in (tmp_path / "par", out)]
        assert (masks[0] != masks[1]).mean() < 0.01  # one jittered sample per pixel: silhouettes may differ


def test_prepare_shards_fill_one_folder_with_the_serial_samples(prepared, tmp_path):
    import cli

    root, out, _ = prepared
    runner = CliRunner()
    base = ["interhand", "prepare", "--data_path", str(root), "--save_path", str(tmp_path / "sh"), "--num", "6"]
    res = runner.invoke(cli.main, base + ["--shard", "2/2"])
    assert res.exit_code == 2 and "--shard 2/2: need N >= 1 and 0 <= K < N" in res.output  # a usage error
    for k in (0, 1):
        res = runner.invoke(cli.main, base + ["--shard", f"{k}/2"])
        assert res.exit_code == 0, res.output
        assert "3 candidate images" in res.output
    names = list_samples(tmp_path / "sh")
    assert names == [n for n in list_samples(out) if int(n) < 6]
    for name in names:
        a, b = read_annotation(tmp_path / "sh", name), read_annotation(out, name)
        assert a["source"] == b["source"]
        np.testing.assert_allclose(a["right"]["joints_3d"], b["right"]["joints_3d"])


def _intaghand_rule_images(root) -> list[tuple]:
    """IntagHand's frame rule read straight from the release's JSON: the data file's annotation says
    'interacting' and hand_type_valid, and both MANO entries are present (no wrist check)."""
    data = json.loads(annotation_path(root, "train", "data").read_text())
    mano = json.loads(annotation_path(root, "train", "MANO_NeuralAnnot").read_text())
    ann = {a["image_id"]: a for a in data["annotations"]}
    keep = []
    for img in data["images"]:
        a = ann[img["id"]]
        entry = mano.get(str(img["capture"]), {}).get(str(img["frame_idx"]))
        if a["hand_type"] == "interacting" and a["hand_type_valid"] and entry and entry["right"] and entry["left"]:
            keep.append((img["capture"], img["frame_idx"], str(img["camera"])))
    return sorted(keep)


def test_intaghand_selection_keeps_exactly_the_frames_its_rule_keeps(mini_release, tmp_path):
    root, _ = mini_release
    rule = _intaghand_rule_images(root)
    jobs, skipped = select_images(root, "train", hand_models(), selection="intaghand")
    got = sorted((j["record"].capture, j["record"].frame, j["record"].camera) for j in jobs)
    assert got == rule
    # The default rule drops capture 1 frame 100 (invalid right wrist); IntagHand's keeps it.
    assert {(1, 100, c) for c in CAMERAS} <= set(got) and not {(1, 100, c) for c in CAMERAS} & set(EXPECTED_IMAGES)
    out = tmp_path / "intaghand"
    report = prepare_interhand(
        PrepareSettings(data_path=root, out=out, selection="intaghand"), hand_models(), progress=False
    )
    written = sorted(
        (a["source"]["capture"], a["source"]["frame"], a["source"]["camera"])
        for a in (read_annotation(out, n) for n in list_samples(out))
    )
    # Images with a mean under 10 (of 255) are dropped: computed here from the release's image files.
    from PIL import Image

    recs = {(j["record"].capture, j["record"].frame, j["record"].camera): j["record"] for j in jobs}
    bright = [k for k in rule if np.asarray(Image.open(root / "images" / "train" / recs[k].file_name)).mean() >= 10]
    assert written == bright and report["written"] == len(bright) and len(bright) < len(rule)
    assert report["black"] + report.get("dark", 0) == len(rule) - len(bright)
    # The crop is around both hands' projected vertices: they fill 80% of its side.
    ann = read_annotation(out, list_samples(out)[0])
    from handmodel.camera import project
    from handmodel.skinning import mano_forward

    pts = []
    for hand in ("right", "left"):
        a = ann[hand]
        v, _ = mano_forward(hand_models()[hand], a["pose"][None], a["shape"][None], a["trans"][None])
        pts.append(project(v[0], ann["camera"]["K"]))
    pts = np.concatenate(pts)
    assert np.isclose((pts.max(0) - pts.min(0)).max(), 0.8 * 256, rtol=1e-6)
    assert read_meta(out)["selection"] == "intaghand"
