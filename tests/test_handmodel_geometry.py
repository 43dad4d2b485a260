"""Skinning, joint orders, cameras and anatomy of the shared hand model, against independent computations."""

import os

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handmodel.anatomy import (
    LIMITS_DEG,
    angles_from_pose,
    joint_frames,
    limit_violation_deg,
    pose_from_angles,
    sample_natural_hand_poses,
)
from handmodel.camera import (
    crop_intrinsics,
    look_at,
    mano_world_to_camera,
    opencv_to_blender_matrix_world,
    project,
    square_crop,
    world_to_camera,
)
from handmodel.joints import (
    INTERHAND_BLOCK_TO_21,
    JOINT_NAMES_21,
    PARENTS_21,
    interhand42_to_21,
    ours21_to_interhand42,
)
from handmodel.pose import absolute_to_relative, relative_to_absolute
from handmodel.skinning import mano_forward, matrix_to_axis_angle, rodrigues
from handmodel.torch_layer import HandLayer


@pytest.mark.parametrize("hand", ["right", "left"])
def test_numpy_skinning_agrees_with_smplx_within_a_micrometre(models, hand):
    rng = np.random.default_rng(7)
    p, s, t = rng.normal(0, 0.6, (16, 48)), rng.normal(0, 1.5, (16, 10)), rng.normal(0, 0.3, (16, 3))
    v, j = mano_forward(models[hand], p, s, t)
    layer = HandLayer(models, dtype=torch.float64)
    vt, jt = layer(hand, *(torch.from_numpy(a) for a in (p, s, t)))
    assert np.abs(v - vt.numpy()).max() < 1e-6
    assert np.abs(j - jt.numpy()).max() < 1e-6
    layer32 = HandLayer(models)
    v32, _ = layer32(hand, *(torch.from_numpy(a).float() for a in (p, s, t)))
    assert np.abs(v - v32.numpy()).max() < 1e-5


def test_rodrigues_matches_scipy():
    aa = np.random.default_rng(0).normal(0, 1.5, (100, 3))
    assert np.allclose(rodrigues(aa), Rotation.from_rotvec(aa).as_matrix(), atol=1e-7)


def test_21_joints_put_fingertip_vertices_last_in_each_finger(models):
    m = models["right"]
    v, j = mano_forward(m, np.zeros((1, 48)), np.zeros((1, 10)), np.zeros((1, 3)))
    for i, finger in enumerate(("thumb", "index", "middle", "ring", "pinky")):
        assert np.allclose(j[0, JOINT_NAMES_21.index(f"{finger}4")], v[0, m.tip_ids[i]])
    bones = np.linalg.norm(j[0, 1:] - j[0, PARENTS_21[1:]], axis=1)
    assert bones.min() > 0.01 and bones.max() < 0.1  # centimetre-scale phalanges


def test_interhand_order_round_trips_and_puts_wrist_last():
    ih = np.random.default_rng(0).normal(size=(42, 3))
    ours = interhand42_to_21(ih)
    assert np.allclose(ours["right"][0], ih[20]) and np.allclose(ours["left"][0], ih[41])
    assert np.allclose(ours["right"][4], ih[0])  # thumb tip is InterHand's joint 0
    assert np.allclose(ours21_to_interhand42(ours["right"], ours["left"]), ih)
    valid = interhand42_to_21(np.arange(42))
    assert sorted(valid["left"].tolist()) == list(range(21, 42))
    assert sorted(INTERHAND_BLOCK_TO_21.tolist()) == list(range(21))


def test_interhand_order_maps_batched_validity_flags_and_coordinates_row_by_row():
    rng = np.random.default_rng(1)
    for n in (5, 42):  # fewer frames than joints, and exactly as many (an axis mix-up would go unnoticed)
        flags = rng.integers(0, 2, (n, 42))
        coords = rng.normal(size=(n, 42, 3))
        batched_flags, batched_coords = interhand42_to_21(flags), interhand42_to_21(coords)
        for hand in ("right", "left"):
            assert batched_flags[hand].shape == (n, 21) and batched_coords[hand].shape == (n, 21, 3)
            for i in range(n):
                assert np.array_equal(batched_flags[hand][i], interhand42_to_21(flags[i])[hand])
                assert np.array_equal(batched_coords[hand][i], interhand42_to_21(coords[i])[hand])
        wrist = {"right": 20, "left": 41}
        assert all(np.array_equal(batched_flags[h][:, 0], flags[:, wrist[h]]) for h in wrist)


def test_relative_and_absolute_poses_round_trip(models):
    pose = np.random.default_rng(0).normal(size=(3, 48))
    mean = models["right"].hands_mean
    absolute = relative_to_absolute(pose, mean)
    assert np.allclose(absolute[:, 3:] - pose[:, 3:], mean) and np.allclose(absolute[:, :3], pose[:, :3])
    assert np.allclose(absolute_to_relative(absolute, mean), pose)


@pytest.mark.parametrize("hand", ["right", "left"])
def test_camera_space_parameters_pose_the_same_hand_as_the_transformed_world_hand(models, hand):
    rng = np.random.default_rng(11)
    m = models[hand]
    pose, shape, trans = rng.normal(0, 0.5, (4, 48)), rng.normal(0, 1, (4, 10)), rng.normal(0, 0.3, (4, 3))
    R = Rotation.random(random_state=3).as_matrix()
    t = np.array([0.1, -0.2, 0.8])
    v_world, j_world = mano_forward(m, pose, shape, trans)
    cam_pose, cam_trans = mano_world_to_camera(m, pose, shape, trans, R, t)
    v_cam, j_cam = mano_forward(m, cam_pose, shape, cam_trans)
    assert np.abs(v_cam - world_to_camera(v_world, R, t)).max() < 1e-7
    assert np.abs(j_cam - world_to_camera(j_world, R, t)).max() < 1e-7
    assert np.allclose(cam_pose[:, 3:], pose[:, 3:])


def test_square_crop_fills_80_percent_and_intrinsics_follow_the_crop():
    rng = np.random.default_rng(2)
    K = np.array([[1200.0, 0, 167], [0, 1210.0, 256], [0, 0, 1]])
    pts3 = rng.uniform([-0.1, -0.1, 0.6], [0.1, 0.05, 0.9], (30, 3))
    pts2 = project(pts3, K)
    A = square_crop(pts2, size=256, fill=0.8)
    cropped = pts2 @ A[:, :2].T + A[:, 2]
    extent = cropped.max(0) - cropped.min(0)
    assert np.isclose(extent.max(), 0.8 * 256)
    assert np.allclose((cropped.max(0) + cropped.min(0)) / 2, 127.5)  # the centre of a 256 px image
    assert np.allclose(project(pts3, crop_intrinsics(K, A)), cropped)


def test_blender_camera_matrix_looks_down_minus_z_with_y_up():
    R, t = look_at(eye=[0.3, -0.2, -0.5], target=[0.0, 0.0, 0.1])
    M = opencv_to_blender_matrix_world(R, t)
    X = np.array([[0.05, 0.02, 0.1], [-0.03, 0.04, 0.0]])
    cv = world_to_camera(X, R, t)
    local = (np.linalg.inv(M) @ np.c_[X, np.ones(2)].T).T[:, :3]
    assert np.allclose(local, cv * [1, -1, -1])
    assert np.allclose(M[:3, 3], [0.3, -0.2, -0.5])


def test_joint_frames_are_right_handed_orthonormal(models):
    for frames in joint_frames(models).values():
        assert np.allclose(np.einsum("jab,jac->jbc", frames, frames), np.eye(3), atol=1e-9)
        assert np.allclose(np.linalg.det(frames), 1.0)


def test_angles_and_pose_are_inverse(models):
    frames = joint_frames(models)["left"]
    aa = np.random.default_rng(4).normal(0, 0.3, (5, 45))
    assert np.allclose(pose_from_angles(angles_from_pose(aa, frames), frames), aa)


@pytest.mark.parametrize("hand", ["right", "left"])
def test_natural_poses_respect_limits_and_curl_fingers_together(models, hand):
    frames = joint_frames(models)[hand]
    poses = sample_natural_hand_poses(np.random.default_rng(0), 2000, frames)
    angles = angles_from_pose(poses, frames)
    assert limit_violation_deg(angles).max() < 1e-6
    bends = np.degrees(angles[..., 2])
    index_pip, middle_pip = bends[:, 1], bends[:, 4]  # MANO joints 2 and 5
    assert np.corrcoef(index_pip, middle_pip)[0, 1] > 0.5
    assert bends[:, 1].max() > 0.7 * LIMITS_DEG["bend"][1, 1]  # the full range gets used


def test_matrix_to_axis_angle_matches_scipy_including_near_zero_and_pi():
    rng = np.random.default_rng(5)
    axes = rng.normal(size=(300, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, np.pi, 200), np.full(50, np.pi - 1e-7), np.full(50, 1e-9)])
    aa = axes * angles[:, None]
    R = Rotation.from_rotvec(aa).as_matrix()
    ours = matrix_to_axis_angle(R)
    assert np.allclose(Rotation.from_rotvec(ours).as_matrix(), R, atol=1e-9)
    assert np.allclose(ours[:200], aa[:200], atol=1e-8)


def test_shard_option_is_parsed_once_for_every_stage():
    from handmodel.errors import InputError
    from handmodel.sharding import parse_shard

    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(InputError, match=f"--shard {bad}"):
            parse_shard(bad)
    # Every stage that takes --shard answers a bad one with that parser's message as a usage error (exit 2), before
    # touching its output.
    import tempfile

    from click.testing import CliRunner

    import cli

    with tempfile.TemporaryDirectory() as d:
        stages = (["sample-poses", "--out", f"{d}/poses.npz"], ["render", "--poses", f"{d}/p.npz", "--out", f"{d}/ds"],
                  ["interhand", "prepare", "--data_path", d, "--save_path", f"{d}/out"])  # fmt: skip
        for bad in ("4/4", "a/b"):
            with pytest.raises(InputError) as expected:
                parse_shard(bad)
            for stage in stages:
                result = CliRunner().invoke(cli.main, [*stage, "--shard", bad])
                assert result.exit_code == 2 and str(expected.value) in result.output, (stage, result.output)
        assert os.listdir(d) == []


def test_look_at_shows_the_up_direction_at_the_top_of_the_image():
    K = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
    for up in ((0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.6, 0.8)):
        R, t = look_at(eye=[0.1, 0.2, -1.0], target=[0.0, 0.0, 0.0], up=up)
        assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
        above = project(world_to_camera(0.05 * np.array([up]), R, t), K)[0]
        centre = project(world_to_camera(np.zeros((1, 3)), R, t), K)[0]
        assert above[1] < centre[1] - 2  # image rows grow downwards
