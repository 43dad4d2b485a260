"""`import intaghand` / `import renderih` on folders generated in exactly those layouts and pkl structures."""

import os
import pickle

import numpy as np
import smplx
import torch
from importer_fixtures import make_layout
from PIL import Image
from scipy.spatial.transform import Rotation

from handmodel.dataset_io import list_samples, read_annotation, sample_name, sample_paths
from handmodel.joints import HANDS, MANO16_TIPS_TO_21
from importers.run import import_dataset
from importers.settings import ImportSettings


def smplx_camera_joints(models, record: dict, hand: str) -> np.ndarray:
    """The 21 camera-space joints of a pkl record's hand: smplx (mean-relative, so smplx adds the mean pose)
    on the coefficients times the components smplx read from the model file (smplx skips its own PCA at 45
    components), world output moved by the camera (no root-pivot algebra)."""
    p = record["mano_params"][hand]
    mano = smplx.MANO(models.info["dir"], is_rhand=hand == "right", use_pca=False, num_pca_comps=45,
                      flat_hand_mean=False).double()  # fmt: skip
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64).reshape(1, -1))  # noqa: E731
    orient = Rotation.from_matrix(np.asarray(p["R"]).reshape(3, 3)).as_rotvec()
    fingers = np.asarray(p["pose"]).reshape(1, 45) @ mano.np_hand_components
    out = mano(global_orient=t(orient), hand_pose=t(fingers), betas=t(p["shape"]), transl=t(p["trans"]))
    world = torch.cat([out.joints[0], out.vertices[0, models[hand].tip_ids]]).numpy()[MANO16_TIPS_TO_21]
    R, tc = np.asarray(record["camera"]["R"]), np.asarray(record["camera"]["t"]).reshape(3)
    return world @ R.T + tc


def test_intaghand_layout_imports_joints_equal_to_smplx_and_masks_equal_to_the_channels(models, tmp_path):
    root = make_layout(tmp_path / "ih", "intaghand", [0, 1, 2], models)
    # A truncated pkl, one without the left hand, and a hostile one that asks to run a command.
    (root / "train/anno/3.pkl").write_bytes(b"\x80\x02}q\x00(X")
    rec = pickle.loads((root / "train/anno/0.pkl").read_bytes())
    del rec["mano_params"]["left"]
    (root / "train/anno/4.pkl").write_bytes(pickle.dumps(rec, protocol=2))
    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (root / "train/anno/5.pkl").write_bytes(pickle.dumps({"camera": Hostile()}, protocol=2))
    warnings = []
    out = tmp_path / "data"
    report = import_dataset(
        "intaghand", ImportSettings(src=root, out=out), models, progress=False, warn=warnings.append
    )
    assert report["written"] == 3 and report["bad"] == 3 and not marker.exists()
    assert [w.split(":")[0].rsplit("/", 1)[-1] for w in warnings] == ["3.pkl", "4.pkl", "5.pkl"]
    assert "mano_params.left" in warnings[1] and "refusing" in warnings[2]
    assert list_samples(out) == [sample_name(i) for i in range(3)]
    for i in range(3):
        record = pickle.loads((root / f"train/anno/{i}.pkl").read_bytes())
        ann = read_annotation(out, sample_name(i))
        for hand in HANDS:
            assert np.abs(ann[hand]["joints_3d"] - smplx_camera_joints(models, record, hand)).max() < 1e-5
        # Masks: the fixture's JPEG channels, read with PIL (RGB order), thresholded at 127.
        rgb = np.asarray(Image.open(root / f"train/mask/{i}.jpg").convert("RGB")).astype(int)
        want = np.where(rgb[..., 1] > 127, 1, 0)
        want[(rgb[..., 0] > 127) & (rgb[..., 0] > rgb[..., 1])] = 2
        got = np.asarray(Image.open(sample_paths(out, sample_name(i))["mask"]))
        assert np.array_equal(got, want) and set(np.unique(got)) == {0, 1, 2}
        # The image is the release's file, byte for byte.
        assert sample_paths(out, sample_name(i))["image"].read_bytes() == (root / f"train/img/{i}.jpg").read_bytes()
    again = import_dataset("intaghand", ImportSettings(src=root, out=out), models, progress=False, warn=warnings.append)
    assert again["existing"] == 3 and again["written"] == 0 and again["bad"] == 3


def test_shards_split_the_indices_and_fill_one_folder(models, tmp_path):
    root = make_layout(tmp_path / "ih", "intaghand", range(5), models, seed=1)
    out = tmp_path / "data"
    a = import_dataset(
        "intaghand", ImportSettings(src=root, out=out, shard=(0, 2), workers=2), models, progress=False
    )  # 2 processes
    b = import_dataset("intaghand", ImportSettings(src=root, out=out, shard=(1, 2)), models, progress=False)
    assert (a["written"], b["written"]) == (3, 2)
    assert list_samples(out) == [sample_name(i) for i in range(5)]


def test_renderih_release_keeps_its_indices_and_gets_blender_masks(models, tmp_path):
    root = make_layout(tmp_path / "rih", "renderih", [366358, 366359], models, seed=2)
    out = tmp_path / "data"
    report = import_dataset("renderih", ImportSettings(src=root, out=out), models, progress=False)
    assert report["written"] == 2 and report["rendered_mask"] == 2
    assert list_samples(out) == ["00366358", "00366359"]
    for i in (366358, 366359):
        record = pickle.loads((root / f"train/color_annot/{i}.pkl").read_bytes())
        ann = read_annotation(out, sample_name(i))
        mask = np.asarray(Image.open(sample_paths(out, sample_name(i))["mask"]))
        for label, hand in enumerate(HANDS, start=1):
            assert np.abs(ann[hand]["joints_3d"] - smplx_camera_joints(models, record, hand)).max() < 1e-5
            # The rendered hand covers the pixel of its projected joint 9 or is hidden there by the other hand.
            u, v = np.rint(ann[hand]["joints_2d"][9]).astype(int)
            assert (mask == label).sum() > 200 and mask[v, u] in (1, 2)


def test_the_import_command_reports_counts_and_names_bad_files(models, tmp_path):
    from click.testing import CliRunner

    from cli import main

    root = make_layout(tmp_path / "ih", "intaghand", [0, 1], models, seed=3)
    (root / "train/anno/7.pkl").write_bytes(b"junk")
    r = CliRunner().invoke(main, ["import", "intaghand", str(root), "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert "2 samples written (0 with masks rendered by Blender), 0 already there, 1 bad files skipped" in r.output
    assert "anno/7.pkl: not a pickle" in r.output
    r = CliRunner().invoke(main, ["import", "intaghand", str(tmp_path / "nothing"), "--out", str(tmp_path / "e")])
    assert r.exit_code != 0
