"""The one validation layer: every input file's values are numbers, finite, of the right shape and range, and a
bad one is an InputError naming the file and the key (poses, datasets, cameras, MANO files, sparse shapes)."""

import json
import pickle

import numpy as np
import pytest
import scipy.sparse

from handmodel.dataset_io import read_annotation, sample_paths
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.models import load_hand_models
from handmodel.poses_io import load_poses
from handmodel.standin import shipped


def _poses_file(path, n=3, **changes):
    arrays = {f"{h}_{k}": np.zeros((n, w), np.float32) for h in HANDS for k, w in (("pose", 48), ("shape", 10),
              ("trans", 3))}  # fmt: skip
    arrays["ids"] = np.arange(n)
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"left_pose": np.full((3, 48), "0.1")}, "key 'left_pose' holds text, expected numbers"),
        ({"right_trans": np.full((3, 3), np.nan)}, "key 'right_trans' holds NaN or infinite values"),
        ({"ids": np.array([0, 1, 1])}, "key 'ids' repeats id 1"),
        ({"ids": np.array([0.0, 1.0, 2.0])}, "key 'ids' holds float64 values, expected integers"),
        (
            {"body_to_world": np.tile(np.eye(4), (3, 1, 1)) * [[[1.0]], [[np.nan]], [[1.0]]]},
            "key 'body_to_world' holds NaN or infinite values",
        ),
        ({"body_to_world": np.tile(np.eye(4)[:3], (3, 1, 1))}, r"key 'body_to_world' has shape \(3, 3, 4\)"),
        (
            {"body_to_world": np.tile(np.diag([2.0, 1.0, 1.0, 1.0]), (3, 1, 1))},
            "key 'body_to_world' row 0 is not a rotation and a translation",
        ),
        (
            {"body_to_world": np.tile(np.diag([-1.0, 1.0, 1.0, 1.0]), (3, 1, 1))},
            "key 'body_to_world' row 0 is not a rotation and a translation",
        ),  # a mirror
    ],
)
def test_bad_poses_values_name_the_file_and_key(tmp_path, changes, words):
    path = _poses_file(tmp_path / "p.npz", **changes)
    with pytest.raises(InputError, match=f"p.npz: {words}"):
        load_poses(path)


def test_a_poses_file_without_poses_is_refused(tmp_path):
    with pytest.raises(InputError, match="p.npz: holds no poses"):
        load_poses(_poses_file(tmp_path / "p.npz", n=0, ids=np.zeros(0, np.int64)))


def _annotation(root, **hand_changes):
    ann = {"camera": {"K": [[200.0, 0, 64], [0, 200.0, 64], [0, 0, 1]], "R": np.eye(3).tolist(), "t": [0, 0, 0]},
           "source": {}}  # fmt: skip
    for h in HANDS:
        ann[h] = {"pose": [0.0] * 48, "shape": [0.0] * 10, "trans": [0.0, 0.0, 0.5],
                  "joints_3d": [[0.0, 0.0, 0.5]] * 21, "joints_2d": [[64.0, 64.0]] * 21}  # fmt: skip
    ann["left"].update(hand_changes)
    path = sample_paths(root, "00000000")["annotation"]
    path.parent.mkdir(parents=True)
    # json.dumps writes NaN as the non-standard token NaN, which Python's reader takes back as nan
    path.write_text(json.dumps(ann))
    return path


def test_nan_joints_in_a_dataset_are_refused_naming_the_file_and_key(tmp_path):
    _annotation(tmp_path, joints_3d=[[float("nan"), 0.0, 0.5]] * 21)
    with pytest.raises(InputError, match=r"00000000.json: 'left.joints_3d' holds NaN or infinite values"):
        read_annotation(tmp_path, "00000000")


def test_text_in_a_dataset_annotation_is_refused(tmp_path):
    _annotation(tmp_path, shape=["a"] * 10)
    with pytest.raises(InputError, match=r"'left.shape' holds text, expected numbers"):
        read_annotation(tmp_path, "00000000")


def test_nan_in_a_camera_file_is_refused(tmp_path):
    from blender_scripts.sampling import load_rig_cameras

    cams = {"0": {"campos": {"400002": [0, 0, -1000]}, "camrot": {"400002": np.eye(3).tolist()},
                  "focal": {"400002": [1000.0, float("nan")]}, "princpt": {"400002": [256.0, 256.0]}}}  # fmt: skip
    path = tmp_path / "camera.json"
    path.write_text(json.dumps(cams))
    with pytest.raises(InputError, match=r"camera.json: '0/focal/400002' holds NaN or infinite values"):
        load_rig_cameras(path)
    cams["0"]["focal"]["400002"] = [1000.0, -5.0]
    path.write_text(json.dumps(cams))
    with pytest.raises(InputError, match=r"'0/focal/400002' holds -5, expected values > 0"):
        load_rig_cameras(path)


def _plain_mano(folder, change):
    folder.mkdir(parents=True)
    built = shipped()
    for hand, name in (("right", "MANO_RIGHT.pkl"), ("left", "MANO_LEFT.pkl")):
        data = {k: np.array(v) for k, v in built[hand].items() if isinstance(v, np.ndarray)}
        data["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
        if hand == "right":
            change(data)
        (folder / name).write_bytes(pickle.dumps(data, protocol=2))


def test_a_mano_file_with_nan_vertices_is_refused_before_caching(tmp_path, cache):
    def nan_vertex(d):
        d["v_template"][5, 1] = np.nan

    _plain_mano(tmp_path / "mano", nan_vertex)
    with pytest.raises(InputError, match=r"MANO_RIGHT.pkl: key 'v_template' holds NaN or infinite values"):
        load_hand_models(tmp_path / "mano")
    assert not list(cache.glob("mano-*"))


def test_a_sparse_matrix_whose_stored_shape_asks_for_728_tib_is_refused(tmp_path, cache):
    def huge(d):
        d["J_regressor"].__dict__["_shape"] = (10**7, 10**7)  # 8e14 bytes dense

    _plain_mano(tmp_path / "mano", huge)
    words = r"MANO_RIGHT.pkl: key 'J_regressor': a sparse matrix whose stored shape \(10000000, 10000000\)"
    with pytest.raises(InputError, match=words):
        load_hand_models(tmp_path / "mano")
    assert not list(cache.glob("mano-*"))


def test_a_sparse_matrix_with_consistent_pointers_but_a_huge_stored_width_is_refused(tmp_path, cache):
    def wide(d):
        m = scipy.sparse.csr_matrix(d["J_regressor"].toarray())
        m.__dict__["_shape"] = (16, 10**12)  # index pointers match the 16 rows; 128 TB dense
        d["J_regressor"] = m

    _plain_mano(tmp_path / "mano", wide)
    with pytest.raises(InputError, match=r"stored shape \(16, 1000000000000\) cannot hold .* or is larger than"):
        load_hand_models(tmp_path / "mano")
    assert not list(cache.glob("mano-*"))
