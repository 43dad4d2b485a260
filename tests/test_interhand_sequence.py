"""The per-sequence tools on the mini release: annots, blend-weights, masks (Blender) and merge."""

import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.spatial.transform import Rotation

from handmodel.errors import InputError
from handmodel.interhand_release import annotation_path
from handmodel.skinning import mano_forward
from interhand.blend_weights import grid_points, write_blend_weights
from interhand.masks import write_masks
from interhand.merge import merge_sequences
from interhand.sequence import frame_file, image_file, load_npz, read_annots, sequence_dir, write_annots
from tests.interhand_fixtures import (
    hand_models,
    interior_pixels,
    release_with_images,
)
from tests.render_fixtures import raycast_pixels

SEQ0, ROM, SEQ2 = "0000_two_hands_clasp", "0001_rom_right_hand", "0002_two_hands_tap"


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """The three train sequences of the mini release through `annots`: (release root, out, counts per seq)."""
    root, _ = release_with_images()
    out = tmp_path_factory.mktemp("sequences")
    counts = {(c, s): write_annots(root, out, "train", c, s, hand_models(), progress=False)
              for c, s in ((0, SEQ0), (0, ROM), (1, SEQ2))}  # fmt: skip
    return root, out, counts


def test_annots_lists_frames_without_black_images_and_only_valid_hands(processed):
    root, out, counts = processed
    a0 = read_annots(sequence_dir(out, "train", 0, SEQ0))
    assert [f["frame"] for f in a0["frames"]] == [100, 106, 112]
    assert sorted(a0["frames"][2]["images"]) == ["400262", "400264"]  # camera 400263 is black at frame 112
    # Frame 106 has a null left MANO entry: only the right hand is annotated.
    assert [f["hands"] for f in a0["frames"]] == [["right", "left"], ["right"], ["right", "left"]]
    rom = read_annots(sequence_dir(out, "train", 0, ROM))
    assert all(f["hands"] == ["right"] for f in rom["frames"]) and len(rom["frames"]) == 3
    a2 = read_annots(sequence_dir(out, "train", 1, SEQ2))
    # Frame 112 is black in every camera; frame 100's right wrist is invalid.
    assert [f["frame"] for f in a2["frames"]] == [100, 106]
    assert a2["frames"][0]["hands"] == ["left"]
    assert counts[(1, SEQ2)]["black_frames"] == 1 and counts[(0, SEQ0)]["black_images"] == 1
    for f in a0["frames"]:
        for cam, rel in f["images"].items():
            link = sequence_dir(out, "train", 0, SEQ0) / rel
            assert link.is_symlink()
            assert os.path.samefile(link, root / "images" / "train" / "Capture0" / SEQ0 / f"cam{cam}" /
                                    f"image{f['frame']}.jpg")  # fmt: skip


def test_annots_cameras_follow_the_release_formula(processed):
    root, out, _ = processed
    raw = json.loads(annotation_path(root, "train", "camera").read_text())["0"]
    cams = read_annots(sequence_dir(out, "train", 0, SEQ0))["cameras"]
    X = np.random.default_rng(0).normal(0, 300, (10, 3))  # world mm
    for cam, c in cams.items():
        expected = (X - np.asarray(raw["campos"][cam])) @ np.asarray(raw["camrot"][cam]).T / 1000
        np.testing.assert_allclose(X / 1000 @ c["R"].T + c["t"], expected, atol=1e-12)
        assert c["K"][0, 0] == raw["focal"][cam][0] and c["K"][1, 2] == raw["princpt"][cam][1]
        assert (c["width"], c["height"]) in ((334, 512), (512, 334))


def test_annots_vertices_are_the_canonical_hand_moved_by_rh_th(processed, models):
    root, out, _ = processed
    seq = sequence_dir(out, "train", 0, SEQ0)
    stored = json.loads(annotation_path(root, "train", "MANO_NeuralAnnot").read_text())["0"]
    for f in read_annots(seq)["frames"]:
        params, verts = (
            load_npz(frame_file(seq, "params", f["frame"])),
            load_npz(frame_file(seq, "vertices", f["frame"])),
        )
        for hand in f["hands"]:
            pose, Rh, Th, shape = (params[f"{hand}_{k}"] for k in ("pose", "Rh", "Th", "shape"))
            raw = stored[str(f["frame"])][hand]
            np.testing.assert_allclose(pose[3:], np.asarray(raw["pose"][3:]) + models[hand].hands_mean)
            assert (pose[:3] == 0).all()
            canonical, _ = mano_forward(models[hand], pose[None], shape[None], np.zeros((1, 3)))
            world = Rotation.from_rotvec(Rh).apply(canonical[0]) + Th
            np.testing.assert_allclose(verts[hand], world, atol=1e-9)
            full = np.concatenate([Rh, pose[3:]])
            direct, _ = mano_forward(models[hand], full[None], shape[None], np.asarray(raw["trans"])[None])
            np.testing.assert_allclose(verts[hand], direct[0], atol=1e-9)


def test_annots_errors_name_the_missing_capture_and_sequence(processed, tmp_path):
    root, _, _ = processed
    with pytest.raises(InputError, match=r"data.json: split 'train' has no capture 7 \(captures: \[0, 1\]\)"):
        write_annots(root, tmp_path, "train", 7, SEQ0, hand_models(), progress=False)
    with pytest.raises(InputError, match=r"capture 0 of split 'train' has no sequence 'nope'.*0000_two_hands_clasp"):
        write_annots(root, tmp_path, "train", 0, "nope", hand_models(), progress=False)
    with pytest.raises(InputError, match=r"split 'val' missing"):
        write_annots(root, tmp_path, "val", 0, SEQ0, hand_models(), progress=False)
    assert not any(tmp_path.iterdir())


def _reference_grid(points, verts, faces, values):
    """libigl's closest point and winding number, trimesh's barycentric coordinates: the independent check."""
    import igl
    import trimesh

    sq, face_ids, closest = igl.point_mesh_squared_distance(points, verts, faces)
    inside = np.abs(igl.winding_number(verts, faces, points)) > 0.5
    bary = trimesh.triangles.points_to_barycentric(verts[faces[face_ids]], closest)
    interp = np.einsum("pk,pk...->p...", bary, values[faces[face_ids]])
    return np.where(inside, -np.sqrt(sq), np.sqrt(sq)), interp


def test_blend_weights_match_libigl_and_sum_to_one(processed, models):
    _, out, _ = processed
    seq = sequence_dir(out, "train", 0, SEQ0)
    report = write_blend_weights(seq, models, progress=False)
    assert report["hands"] == ["right", "left"] and report["frames"] == 3
    can = load_npz(seq / "lbs" / "canonical.npz")
    assert can["voxel_size"] == 0.025 and can["padding"] == 0.05
    for hand in ("right", "left"):
        model, verts = models[hand], can[f"{hand}_vertices"]
        lo, pts = grid_points(verts)
        np.testing.assert_allclose(can[f"{hand}_grid_min"], verts.min(0) - 0.05)
        assert can[f"{hand}_weights"].shape == pts.shape[:3] + (16,)
        np.testing.assert_allclose(can[f"{hand}_weights"].sum(-1), 1.0, atol=1e-5)
        dist, weights = _reference_grid(pts.reshape(-1, 3), verts, model.faces, model.weights)
        np.testing.assert_allclose(can[f"{hand}_distance"].ravel(), dist, atol=1e-6)
        assert (dist < 0).any() and (dist > 0.04).any()  # points inside the hand and far outside
        np.testing.assert_allclose(can[f"{hand}_weights"].reshape(-1, 16), weights, atol=1e-5)
        offsets = np.einsum("l,vkl->vk", can[f"{hand}_shape"], model.shapedirs)
        _, ref = _reference_grid(pts.reshape(-1, 3), verts, model.faces, offsets)
        np.testing.assert_allclose(can[f"{hand}_shape_offsets"].reshape(-1, 3), ref, atol=1e-6)
    # A posed grid: around the frame's world mesh, the same closest-point rule.
    frame = load_npz(frame_file(seq, "lbs/frames", 106))
    assert "left_weights" not in frame  # the left hand is null at frame 106
    world = load_npz(frame_file(seq, "vertices", 106))["right"]
    _, pts = grid_points(world)
    dist, weights = _reference_grid(pts.reshape(-1, 3), world, models["right"].faces, models["right"].weights)
    np.testing.assert_allclose(frame["right_distance"].ravel(), dist, atol=1e-6)
    np.testing.assert_allclose(frame["right_weights"].reshape(-1, 16), weights, atol=1e-5)
    assert frame["right_pose_offsets"].shape == can["right_distance"].shape + (3,)
    assert np.abs(frame["right_pose_offsets"]).max() > 1e-4


def test_masks_label_the_hands_and_depth_is_the_mesh_depth(processed, models):
    _, out, _ = processed
    seq = sequence_dir(out, "train", 0, SEQ0)
    report = write_masks(seq, models, progress=False)
    assert report == {"written": 8, "existing": 0}
    annots = read_annots(seq)
    for f, cam in ((annots["frames"][0], "400262"), (annots["frames"][0], "400264"), (annots["frames"][1], "400263")):
        c = annots["cameras"][cam]
        mask = cv2.imread(str(image_file(seq, "masks", cam, f["frame"])), cv2.IMREAD_UNCHANGED)
        depth = np.load(image_file(seq, "depth", cam, f["frame"]))
        assert mask.shape == depth.shape == (c["height"], c["width"]) and depth.dtype == np.float32
        verts = load_npz(frame_file(seq, "vertices", f["frame"]))
        values = {"right": 200, "left": 100}
        assert set(np.unique(mask)) == {0} | {values[h] for h in f["hands"]}
        meshes = {values[h]: (verts[h] @ c["R"].T + c["t"], models[h].faces) for h in f["hands"]}
        pix = interior_pixels(mask, 5, depth)
        labels, ref_depth = raycast_pixels(meshes, c["K"], pix)
        rendered = mask[pix[:, 1], pix[:, 0]]
        assert (labels == rendered).mean() > 0.98
        hit = (labels == rendered) & (labels > 0)
        assert hit.sum() > 50
        err = np.abs(depth[pix[hit, 1], pix[hit, 0]] - ref_depth[hit])
        assert np.percentile(err, 95) < 1e-3 and err.max() < 5e-3
        assert (depth[mask == 0] == 0).all()
    assert write_masks(seq, models, progress=False) == {"written": 0, "existing": 8}


def test_merge_links_every_frame_and_refuses_clashes(processed):
    _, out, _ = processed
    report = merge_sequences(out, "train", 0, [SEQ0, ROM], "both")
    merged = sequence_dir(out, "train", 0, "both")
    annots = read_annots(merged)
    assert [f["frame"] for f in annots["frames"]] == [100, 106, 112, 200, 206, 212]
    assert annots["merged_from"] == [SEQ0, ROM] and report["frames"] == 6
    for f in annots["frames"]:
        src = sequence_dir(out, "train", 0, SEQ0 if f["frame"] < 200 else ROM)
        for kind in ("params", "vertices"):
            link = frame_file(merged, kind, f["frame"])
            assert link.is_symlink() and os.path.samefile(link, frame_file(src, kind, f["frame"]))
        for cam in f["images"]:
            assert os.path.samefile(
                image_file(merged, "images", cam, f["frame"]), image_file(src, "images", cam, f["frame"])
            )
    with pytest.raises(InputError, match="exists already"):
        merge_sequences(out, "train", 0, [SEQ0, ROM], "both")
    with pytest.raises(InputError, match=r"frame 100 appears in both"):
        merge_sequences(out, "train", 0, [SEQ0, "both"], "again")
    with pytest.raises(InputError, match=r"Capture0/nope/annots.json: missing \(run `interhand annots`"):
        merge_sequences(out, "train", 0, [SEQ0, "nope"], "again")
    assert not sequence_dir(out, "train", 0, "again").exists()


def test_sequence_cli_commands_report_bad_input_in_one_line(processed, tmp_path):
    import cli

    root, out, _ = processed
    runner = CliRunner()
    res = runner.invoke(
        cli.main, ["interhand", "blend-weights", "--capture", "0", "--seq", SEQ0, "--out", str(tmp_path)]
    )
    assert res.exit_code == 1 and "annots.json: missing" in res.output and "Traceback" not in res.output
    res = runner.invoke(cli.main, ["interhand", "annots", "--data_path", str(root), "--capture", "0", "--seq", "x",
                                   "--out", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 1 and "has no sequence 'x'" in res.output
    res = runner.invoke(cli.main, ["interhand", "merge", "--capture", "0", "--seq", SEQ0, "--new-name", "n",
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 1 and "at least two sequences" in res.output


def test_annots_checks_the_images_before_writing_anything(tmp_path, models):
    from interhand.mini_release import make_mini_release

    make_mini_release(tmp_path / "release", models, with_images=False, splits=("train",))
    with pytest.raises(InputError, match=r"cam400262/image100.jpg: missing \(listed in the train data file\)"):
        write_annots(tmp_path / "release", tmp_path / "out", "train", 0, SEQ0, models, progress=False)
    assert not (tmp_path / "out").exists()


def test_tools_refuse_a_sequence_made_with_another_hand_model(processed, tmp_path, models):
    _, out, _ = processed
    annots = json.loads((sequence_dir(out, "train", 0, SEQ0) / "annots.json").read_text())
    annots["hand_model"] = {"model": "mano", "hash": "0123456789abcdef"}
    seq = sequence_dir(tmp_path, "train", 0, SEQ0)
    seq.mkdir(parents=True)
    (seq / "annots.json").write_text(json.dumps(annots))
    for tool in (write_blend_weights, write_masks):
        with pytest.raises(InputError, match=r"made with hand model 'mano' \(hash 0123456789abcdef\)"):
            tool(seq, models, progress=False)
    assert sorted(p.name for p in seq.iterdir()) == ["annots.json"]
