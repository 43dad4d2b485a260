"""Reading datasets for training: targets, augmentation, mixing, and errors on bad folders."""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from handmodel.dataset_io import read_annotation
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.joints import REFERENCE_BONE_M as BONE_LENGTH
from handmodel.skinning import mano_forward
from training.dataset import HandDataset, MixSampler, letterbox_affine
from training.targets import apply_affine, gaussian_heatmaps, gaussian_heatmaps_torch, ndc_to_pixels, pixels_to_ndc

SIZE = 64
NO_AUG = None
FLIP_ONLY = {"enabled": True, "rotation_deg": 0.0, "scale": [1.0, 1.0], "flip": 1.0, "color_gain": 0.0}
FULL_AUG = {"enabled": True, "rotation_deg": 90.0, "scale": [0.9, 1.1], "flip": 0.5, "color_gain": 0.3}


def _intaghand_rule(ann: dict) -> tuple[float, np.ndarray]:
    """IntagHand's target rule spelled out: (scale = 0.095 m / mean wrist-joint9 length, root_rel)."""
    right, left = ann["right"]["joints_3d"], ann["left"]["joints_3d"]
    lengths = [np.sqrt(((j[0] - j[9]) ** 2).sum()) for j in (right, left)]
    scale = 0.095 / ((lengths[0] + lengths[1]) / 2)
    return scale, (right[9] - left[9]) * scale


def test_letterbox_follows_the_pixel_centre_rule_as_cv2_resize_does():
    """A square image letterboxed to another size is cv2.resize's image (pixel centres at integers); a wide image
    is centred on the square, its width filling it."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), (0, 0), 1.0)
    for size in (64, 144):
        warped = cv2.warpAffine(image, letterbox_affine(96, 96, size), (size, size), flags=cv2.INTER_LINEAR)
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
        assert np.abs(warped.astype(int) - resized)[2:-2, 2:-2].max() <= 1  # the border pixels: cv2's edge rules
    A = letterbox_affine(120, 80, 64)
    assert np.allclose(apply_affine(np.array([59.5, 39.5]), A), [31.5, 31.5])  # centre on centre
    assert np.allclose(apply_affine(np.array([[-0.5, 39.5], [119.5, 39.5]]), A)[:, 0], [-0.5, 63.5])  # edge to edge
    # The network's [-1, 1] coordinates put the input's edges at -1 and 1.
    assert np.allclose(pixels_to_ndc(np.array([[-0.5, 31.5], [63.5, 31.5]]), 64), [[-1.0, 0.0], [1.0, 0.0]])


def test_3d_targets_share_one_scale_keep_root_rel_and_give_back_the_annotation(drawn_dataset, models, graphs):
    ds = HandDataset(drawn_dataset, models, graphs, SIZE, NO_AUG)
    s = ds[1]
    ann = read_annotation(drawn_dataset, ds.names[1])
    scale, root_rel = _intaghand_rule(ann)
    assert np.isclose(float(s["scale"]), scale, rtol=1e-6)
    assert np.allclose(s["root_rel"].double().numpy(), root_rel, atol=1e-6)
    for hand in HANDS:
        j = s[f"{hand}_joints"].double().numpy()
        gt = ann[hand]["joints_3d"]
        assert np.allclose(j[9], 0.0) and np.isclose(np.linalg.norm(j[0] - j[9]), np.linalg.norm(gt[0] - gt[9]) * scale)
        bone = float(s[f"{hand}_bone"])
        assert np.isclose(bone, np.linalg.norm(gt[0] - gt[9]), rtol=1e-5)
        assert np.allclose(j / scale + gt[9], gt, atol=1e-6)
        # Vertices from the stored MANO parameters, normalised the same way.
        a = ann[hand]
        v, _ = mano_forward(models[hand], a["pose"][None], a["shape"][None], a["trans"][None])
        assert np.allclose(s[f"{hand}_verts"].double().numpy(), (v[0] - gt[9]) * scale, atol=1e-5)
    # The mean of the two hands' normalised wrist-joint9 lengths is the reference length.
    lengths = [np.linalg.norm(s[f"{h}_joints"][0].double().numpy()) for h in HANDS]
    assert np.isclose(np.mean(lengths), BONE_LENGTH)


def test_heatmap_peaks_sit_on_the_2d_joints_and_masks_cover_the_hands(drawn_dataset, models, graphs):
    ds = HandDataset(drawn_dataset, models, graphs, SIZE, FULL_AUG)
    s = ds[(2, 3)]
    j2d = ndc_to_pixels(np.concatenate([s["right_joints2d"].numpy(), s["left_joints2d"].numpy()]), SIZE)
    j4 = (j2d + 0.5) / 4 - 0.5
    assert np.allclose(s["heatmap_points"].numpy(), j4, atol=1e-4)
    hm = gaussian_heatmaps_torch(s["heatmap_points"][None], SIZE // 4)[0].numpy()
    assert np.allclose(hm, gaussian_heatmaps(j4, SIZE // 4), atol=1e-6)  # the device version = the numpy one
    inside = (j4 > 0.5).all(1) & (j4 < SIZE / 4 - 1.5).all(1)
    peaks = np.stack(np.unravel_index(hm.reshape(42, -1).argmax(1), hm.shape[1:]), axis=1)[:, ::-1]
    assert inside.sum() > 30
    assert np.abs(peaks[inside] - j4[inside]).max() <= 0.51
    # Projected vertices land on their hand's (or the other hand's, where it occludes) mask pixels.
    mask = s["mask"].numpy()
    for i, hand in enumerate(HANDS):
        uv = np.round((ndc_to_pixels(s[f"{hand}_verts2d"].numpy(), SIZE) + 0.5) / 4 - 0.5).astype(int)
        ok = (uv >= 0).all(1) & (uv < SIZE // 4).all(1)
        on_own = mask[i][uv[ok, 1], uv[ok, 0]].mean()
        on_any = mask.max(0)[uv[ok, 1], uv[ok, 0]].mean()
        assert on_own > 0.4 and on_any > 0.8
        # Dense maps live inside the hand's mask.
        assert (s["dense"][3 * i : 3 * i + 3].numpy() * (1 - mask[i])).max() == 0


def test_rotation_augmentation_turns_3d_targets_with_the_image(drawn_dataset, models, graphs):
    plain = HandDataset(drawn_dataset, models, graphs, SIZE, NO_AUG)[0]
    for epoch in range(3):
        aug = HandDataset(drawn_dataset, models, graphs, SIZE, dict(FULL_AUG, flip=0.0))[(0, epoch)]
        for hand in HANDS:
            # The 2D angle of wrist -> middle tip turns by as much as the 3D one does.
            def angle(s, key, h=hand):
                d = s[f"{h}_{key}"].numpy()[12, :2] - s[f"{h}_{key}"].numpy()[0, :2]
                return np.arctan2(d[1], d[0])

            turn2d = angle(aug, "joints2d") - angle(plain, "joints2d")
            turn3d = angle(aug, "joints") - angle(plain, "joints")
            assert abs(np.angle(np.exp(1j * (turn2d - turn3d)))) < np.radians(8)


def test_flip_mirrors_the_image_and_swaps_the_hands(drawn_dataset, models, graphs):
    plain = HandDataset(drawn_dataset, models, graphs, SIZE, NO_AUG)[0]
    flip = HandDataset(drawn_dataset, models, graphs, SIZE, FLIP_ONLY)[0]
    assert torch.allclose(flip["image"], plain["image"].flip(-1), atol=1e-5)
    for a, b in (("right", "left"), ("left", "right")):
        assert torch.allclose(flip[f"{a}_joints"], plain[f"{b}_joints"] * torch.tensor([-1.0, 1.0, 1.0]), atol=1e-6)
        x = ndc_to_pixels(flip[f"{a}_joints2d"], SIZE)
        y = ndc_to_pixels(plain[f"{b}_joints2d"], SIZE)
        assert torch.allclose(x[:, 0], SIZE - 1 - y[:, 0], atol=1e-3) and torch.allclose(x[:, 1], y[:, 1], atol=1e-3)
    assert torch.equal(flip["mask"], plain["mask"].flip(0).flip(-1))
    # The mirrored right hand is the left one: its offset from the (new) left hand is the mirrored opposite.
    assert torch.allclose(flip["root_rel"], -plain["root_rel"] * torch.tensor([-1.0, 1.0, 1.0]), atol=1e-6)
    assert torch.isclose(flip["scale"], plain["scale"])


def test_augmentation_depends_on_seed_epoch_and_sample_only(drawn_dataset, models, graphs):
    a = HandDataset(drawn_dataset, models, graphs, SIZE, FULL_AUG, seed=3)
    b = HandDataset(drawn_dataset, models, graphs, SIZE, FULL_AUG, seed=3)
    assert torch.equal(a[(1, 5)]["image"], b[(1, 5)]["image"])
    assert not torch.equal(a[(1, 5)]["image"], a[(1, 6)]["image"])


def test_mix_sampler_follows_ratios_and_splits_ranks_without_overlap():
    one = MixSampler([10, 40], [0.25, 0.75], 4000, seed=1)
    draws = one.draws()
    share = np.mean([d == 0 for d, _, _ in draws])
    assert abs(share - 0.25) < 0.03
    # Within a dataset, every sample comes round before any repeats.
    first = [i for d, i, _ in draws if d == 0][:10]
    assert sorted(first) == list(range(10))
    ranks = [list(MixSampler([10, 40], [0.25, 0.75], 4000, seed=1, rank=r, world=2)) for r in range(2)]
    assert ranks[0] == draws[0::2] and ranks[1] == draws[1::2] and len(ranks[0]) == len(ranks[1]) == 2000
    one.set_epoch(1)
    assert one.draws() != draws


def test_a_folder_of_another_format_or_version_is_refused(drawn_dataset, models, graphs, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(drawn_dataset, bad)
    meta = json.loads((bad / "meta.json").read_text())
    (bad / "meta.json").write_text(json.dumps(dict(meta, version=99)))
    with pytest.raises(InputError, match="meta.json.*version"):
        HandDataset(bad, models, graphs, SIZE, NO_AUG)
    (bad / "meta.json").write_text(json.dumps(dict(meta, hand_model={"model": "mano", "hash": "0123"})))
    with pytest.raises(InputError, match="meta.json.*hand model"):
        HandDataset(bad, models, graphs, SIZE, NO_AUG)


def test_a_missing_file_inside_the_dataset_is_named(drawn_dataset, models, graphs, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(drawn_dataset, bad)
    (bad / "masks" / "00000002.png").unlink()
    with pytest.raises(InputError, match=r"masks/00000002\.png: missing"):
        HandDataset(bad, models, graphs, SIZE, NO_AUG)
    ann = bad / "annotations" / "00000001.json"
    ann.write_text(ann.read_text()[:50])
    (bad / "masks" / "00000002.png").write_bytes((drawn_dataset / "masks" / "00000002.png").read_bytes())
    with pytest.raises(InputError, match=r"annotations/00000001\.json"):
        HandDataset(bad, models, graphs, SIZE, NO_AUG)[1]


def test_a_cached_dataset_reads_each_sample_once_and_gives_the_same_items(drawn_dataset, models, graphs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(drawn_dataset, copy)
    plain = HandDataset(copy, models, graphs, SIZE, NO_AUG)
    cached = HandDataset(copy, models, graphs, SIZE, NO_AUG, cache=True)
    first = {i: cached[i] for i in range(len(cached))}
    shutil.rmtree(copy / "images")  # a cached sample no longer needs its files
    for i in range(len(cached)):
        again, fresh = cached[(i, 5)], first[i]
        assert again.keys() == fresh.keys()
        assert all(torch.equal(again[k], fresh[k]) for k in fresh)
        again["image"] = None  # the caller's dict is its own
        assert cached[i]["image"] is not None
    with pytest.raises(InputError, match=r"images/00000000\.jpg"):
        plain[0]
    # Augmented samples differ per epoch: no cache, the files are read every time.
    assert HandDataset(drawn_dataset, models, graphs, SIZE, FULL_AUG, cache=True).cache is None


def test_targets_of_a_rendered_sample_follow_intaghands_rule_computed_with_smplx(rendered_dataset, models, graphs):
    """Common scale and root_rel against smplx's MANO run on the stored parameters (not the project's skinning)."""
    import smplx

    ds = HandDataset(rendered_dataset, models, graphs, SIZE, NO_AUG)
    s = ds[0]
    ann = read_annotation(rendered_dataset, ds.names[0])
    verts, joints = {}, {}
    for hand in HANDS:
        mano = smplx.MANO(models.info["dir"], is_rhand=hand == "right", use_pca=False, flat_hand_mean=True)
        a = {
            k: torch.as_tensor(np.asarray(ann[hand][k])[None], dtype=torch.float64) for k in ("pose", "shape", "trans")
        }
        mano = mano.double()
        out = mano(global_orient=a["pose"][:, :3], hand_pose=a["pose"][:, 3:], betas=a["shape"], transl=a["trans"])
        verts[hand], j16 = out.vertices[0].numpy(), out.joints[0].numpy()
        joints[hand] = np.vstack([j16[0], j16[4]])  # wrist and middle-finger base: the toolkit's joints 0 and 9
        assert np.allclose(joints[hand], ann[hand]["joints_3d"][[0, 9]], atol=1e-6)
    mean_len = np.mean([np.linalg.norm(joints[h][0] - joints[h][1]) for h in HANDS])
    scale = 0.095 / mean_len
    assert np.isclose(float(s["scale"]), scale, rtol=1e-5)
    rel = (joints["right"][1] - joints["left"][1]) * scale
    assert np.allclose(s["root_rel"].numpy(), rel, atol=1e-5)
    for hand in HANDS:
        assert np.allclose(s[f"{hand}_verts"].numpy(), (verts[hand] - joints[hand][1]) * scale, atol=1e-5)
    # The right hand's target in the loss (its own target + root_rel) is relative to the left hand's joint 9.
    right_in_left = s["right_verts"].numpy() + s["root_rel"].numpy()
    assert np.allclose(right_in_left, (verts["right"] - joints["left"][1]) * scale, atol=1e-5)
