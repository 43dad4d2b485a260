"""Property-based fuzzing of the readers (Hypothesis): whatever the bytes or values, a reader returns a checked
value or raises InputError naming the file; never another exception (which the CLI would show as a traceback).

The corruption tables of test_fuzz_inputs.py name the ways users spoil files; these draw many more at random:
byte flips, insertions and cuts of real files, and arbitrary JSON values in place of each annotation and config
key."""

import json
import shutil

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handmodel.dataset_io import image_size, read_annotation, read_sample, sample_paths
from handmodel.errors import InputError
from handmodel.poses_io import load_poses

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def mutations(draw, data: bytes):
    """`data` with up to 4 random edits: a byte replaced, bytes inserted, or the tail cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "cut"]))
        at = draw(st.integers(0, max(0, len(out) - 1)))
        if kind == "flip" and out:
            out[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del out[at:]
    return bytes(out)


def _only_input_errors(call, path) -> None:
    try:
        call()
    except InputError as e:
        assert str(path) in str(e), str(e)


@pytest.fixture(scope="module")
def files(drawn_dataset, tmp_path_factory, models):
    from pose_sampler.side_by_side import side_by_side_poses

    poses = tmp_path_factory.mktemp("prop") / "poses.npz"
    side_by_side_poses(poses, models, 2)
    paths = sample_paths(drawn_dataset, "00000000")
    return {"jpeg": paths["image"].read_bytes(), "png": paths["mask"].read_bytes(), "npz": poses.read_bytes(),
            "annotation": json.loads(paths["annotation"].read_text())}  # fmt: skip


@FUZZ
@given(data=st.data())
def test_image_headers_of_mutated_files_are_a_size_or_an_input_error(files, tmp_path, data):
    kind = data.draw(st.sampled_from(["jpeg", "png"]))
    spoiled = data.draw(mutations(files[kind]))
    path = tmp_path / f"x.{kind}"
    try:
        w, h = image_size(spoiled, path)
    except InputError as e:
        assert str(path) in str(e)
        return
    assert w >= 0 and h >= 0
    assert spoiled.endswith(b"IEND\xaeB`\x82") or spoiled.rstrip(b"\x00").endswith(b"\xff\xd9")


@FUZZ
@given(data=st.data())
def test_a_sample_with_a_mutated_image_or_mask_reads_checked_or_is_an_input_error(files, drawn_dataset, tmp_path, data):
    root = tmp_path / "d"
    if not root.exists():
        shutil.copytree(drawn_dataset, root)
    paths = sample_paths(root, "00000000")
    paths["image"].write_bytes(files["jpeg"])  # the folder serves every example: start each from the real files
    paths["mask"].write_bytes(files["png"])
    kind = data.draw(st.sampled_from(["image", "mask"]))
    path = paths[kind]
    path.write_bytes(data.draw(mutations(files["jpeg" if kind == "image" else "png"])))
    try:
        sample = read_sample(root, "00000000")
    except InputError as e:
        assert str(path) in str(e)
        return
    assert sample["mask"].shape == sample["image"].shape[:2] and sample["mask"].max() <= 4


@FUZZ
@given(data=st.data())
def test_a_mutated_poses_file_loads_checked_or_is_an_input_error(files, tmp_path, data):
    path = tmp_path / "p.npz"
    path.write_bytes(data.draw(mutations(files["npz"])))
    try:
        poses = load_poses(path)
    except InputError as e:
        assert str(path) in str(e)
        return
    assert all(np.isfinite(a).all() for hand in poses.params.values() for a in hand.values())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
ANNOTATION_KEYS = ["camera", "camera.K", "camera.R", "camera.t", "right", "left", "source"] + [
    f"{h}.{k}" for h in ("right", "left") for k in ("pose", "shape", "trans", "joints_3d", "joints_2d")
]


@FUZZ
@given(key=st.sampled_from(ANNOTATION_KEYS), value=json_values)
def test_any_json_value_in_place_of_an_annotation_key_reads_checked_or_is_an_input_error(files, tmp_path, key, value):
    ann = json.loads(json.dumps(files["annotation"]))
    target = ann
    *parents, last = key.split(".")
    for k in parents:
        target = target[k]
    target[last] = value
    path = sample_paths(tmp_path, "00000000")["annotation"]
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(ann))
    _only_input_errors(lambda: read_annotation(tmp_path, "00000000"), path)


CONFIG_KEYS = [("train", k) for k in ("epochs", "batch_size", "lr", "seed", "workers", "max_bad", "lr_steps")] + [
    ("model", k) for k in ("input_size", "backbone", "gcn_dims", "heads")
] + [("augment", "scale"), ("stages", None), ("data", None)]  # fmt: skip


@FUZZ
@given(key=st.sampled_from(CONFIG_KEYS), value=json_values)
def test_any_value_in_a_training_config_resolves_checked_or_is_an_input_error(tmp_path, key, value):
    from training.config import DEFAULTS, build_config

    section, name = key
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({section: value if name is None else {name: value}}))
    try:
        cfg = build_config(str(path), ["d=somewhere"])
    except InputError as e:
        assert str(path) in str(e) or "--data" in str(e) or "mix names" in str(e), str(e)
        return
    # What the trainer receives has the defaults' types: no `batch_size: four` reaches it.
    for sec in ("model", "train", "augment", "loss"):
        for k, default in DEFAULTS[sec].items():
            if default is not None and cfg[sec][k] is not None:
                want = (int, float) if isinstance(default, float) else type(default)
                assert isinstance(cfg[sec][k], want), (sec, k, cfg[sec][k])
