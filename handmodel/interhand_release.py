"""Reading an InterHand2.6M release: its layout, its annotation JSON files, its cameras, and the interacting
frames with both MANO hands. The release is input shared by several stages (`sample-poses --interhand`,
`render --cameras`, the `interhand` tools), so its reader lives with the hand model rather than in one stage.

    ROOT/images/{split}/Capture{c}/{seq}/cam{id}/image{frame}.jpg
    ROOT/annotations/{split}/InterHand2.6M_{split}_data.json         COCO style: images, annotations
    ROOT/annotations/{split}/InterHand2.6M_{split}_camera.json       {capture: {campos, camrot, focal...}}
    ROOT/annotations/{split}/InterHand2.6M_{split}_joint_3d.json     {capture: {frame: {world_coord mm, ...}}}
    ROOT/annotations/{split}/InterHand2.6M_{split}_MANO_NeuralAnnot.json
                                                          {capture: {frame: {right|left: {...} | null}}}

Units in the release: millimetres for joints and camera positions, metres for MANO translations; camera
coordinates are R (X - campos). Everything this module returns is in metres with t = -R campos, so that
X_cam = R X + t (the toolkit's OpenCV convention). NeuralAnnot poses are relative to the hand model's
`hands_mean`; `interacting_mano_frames` returns absolute poses. Only numpy and the standard library.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmodel import validate
from handmodel.errors import InputError
from handmodel.joints import HANDS, INTERHAND_HAND_OFFSET
from handmodel.pose import relative_to_absolute
from handmodel.poses_io import PARAM_BOUNDS
from handmodel.validate import numeric_array, rotation

SPLITS = ("train", "val", "test")
ANNOTATION_KINDS = ("data", "camera", "joint_3d", "MANO_NeuralAnnot")
MANO_SHAPES = {"pose": 48, "shape": 10, "trans": 3}
WRIST_42 = {hand: off + 20 for hand, off in INTERHAND_HAND_OFFSET.items()}  # wrist index per hand in the 42
HAND_TYPES = ("right", "left", "interacting")


@dataclass(frozen=True)
class Camera:
    """One camera of a capture: K (3,3) pixels, R (3,3) and t (3,) metres, world -> camera (OpenCV)."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class ImageRecord:
    """One entry of the data file's `images` list, with the hand type of its annotation."""

    image_id: int
    file_name: str  # relative to ROOT/images/{split}
    width: int
    height: int
    capture: int
    seq: str
    camera: str
    frame: int
    hand_type: str | None
    hand_type_valid: bool | None = None  # the annotation's flag (None: the annotation has none)


def annotation_path(root: str | os.PathLike, split: str, kind: str) -> Path:
    return Path(root) / "annotations" / split / f"InterHand2.6M_{split}_{kind}.json"


def image_dir(root: str | os.PathLike, split: str) -> Path:
    return Path(root) / "images" / split


def check_release(root: str | os.PathLike, split: str) -> None:
    """InputError unless ROOT looks like an InterHand2.6M release holding SPLIT's annotation files."""
    root = Path(root)
    if split not in SPLITS:
        raise InputError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    if not root.is_dir():
        raise InputError(f"{root}: no such folder (expected an InterHand2.6M release root)")
    if not (root / "annotations").is_dir():
        raise InputError(
            f"{root}: not an InterHand2.6M release (expected {root / 'annotations'} and {root / 'images'})"
        )
    if not (root / "annotations" / split).is_dir():
        present = sorted(p.name for p in (root / "annotations").iterdir() if p.is_dir() and p.name in SPLITS)
        raise InputError(
            f"{root / 'annotations' / split}: split {split!r} missing from the release "
            f"(splits present: {', '.join(present) or 'none'})"
        )
    for kind in ANNOTATION_KINDS:
        path = annotation_path(root, split, kind)
        if not path.is_file():
            raise InputError(f"{path}: missing (every InterHand2.6M split has its {kind} file)")


def load_json(path: str | os.PathLike):
    return validate.load_json(path)


def _array(path: Path, key: str, value, shape: tuple, **checks) -> np.ndarray:
    """value as a finite float64 array of the given size (reshaped to `shape`, more `checks` as in
    `handmodel.validate.numeric_array`); InputError naming file and key."""
    return numeric_array(value, path, f"'{key}'", shape, reshape=True, **checks)


def _object(path: Path, key: str, value) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{path}: '{key}' is {type(value).__name__}, expected an object")
    return value


def _int_key(path: Path, key: str) -> int:
    try:
        return int(key)
    except ValueError:
        raise InputError(f"{path}: key '{key}' is not an integer (captures and frames are keyed by number)") from None


def _frame_entries(path: Path):
    """(capture, frame, 'capture/frame', entry) for every entry of a {capture: {frame: entry}} annotation file,
    each level checked to be an object and each key to be an integer."""
    data = _object(path, "(top level)", load_json(path))
    for cap_key, frames in data.items():
        frames = _object(path, cap_key, frames)
        for frame_key, entry in frames.items():
            key = f"{cap_key}/{frame_key}"
            yield _int_key(path, cap_key), _int_key(path, frame_key), key, _object(path, key, entry)


def read_cameras(root: str | os.PathLike, split: str) -> dict[int, dict[str, Camera]]:
    """{capture: {camera id: Camera}} from a split's camera file, in metres and the toolkit's convention."""
    return read_camera_file(annotation_path(root, split, "camera"))


def read_camera_file(path: str | os.PathLike) -> dict[int, dict[str, Camera]]:
    """An InterHand2.6M camera file {capture: {campos{cam}: mm, camrot{cam}: 3x3, focal{cam}: [fx, fy],
    princpt{cam}: [cx, cy]}} -> {capture: {camera id: Camera}} with t = -R campos in metres, in file order.

    The one parser of this format (the release reader and `render --cameras` use it); InputError naming the
    file and key on anything malformed, or when the file holds no camera."""
    path = Path(path)
    data = _object(path, "(top level)", load_json(path))
    out = {}
    for cap_key, cap in data.items():
        cap = _object(path, cap_key, cap)
        for field in ("campos", "camrot", "focal", "princpt"):
            if field not in cap:
                raise InputError(f"{path}: '{cap_key}' has no key '{field}'")
            _object(path, f"{cap_key}/{field}", cap[field])
        cams = {}
        for cam, campos in cap["campos"].items():
            for field in ("camrot", "focal", "princpt"):
                if cam not in cap[field]:
                    raise InputError(f"{path}: camera '{cam}' of capture '{cap_key}' has no '{field}' entry")
            pos = _array(path, f"{cap_key}/campos/{cam}", campos, (3,)) / 1000.0
            key = f"{cap_key}/camrot/{cam}"
            R = rotation(_array(path, key, cap["camrot"][cam], (3, 3)), path, f"'{key}'", tol=1e-2)
            fx, fy = _array(path, f"{cap_key}/focal/{cam}", cap["focal"][cam], (2,), min=0, min_open=True)
            cx, cy = _array(path, f"{cap_key}/princpt/{cam}", cap["princpt"][cam], (2,), min=0.5)
            K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
            cams[str(cam)] = Camera(K=K, R=R, t=-R @ pos)
        out[_int_key(path, cap_key)] = cams
    if not any(out.values()):
        raise InputError(f"{path}: no cameras in the file (expected {{capture: {{campos, camrot, focal, princpt}}}})")
    return out


def read_joint_3d(root: str | os.PathLike, split: str) -> dict[int, dict[int, dict]]:
    """{capture: {frame: {'world' (42,3) metres, 'valid' (42,) bool, 'hand_type', ...}}}."""
    path = annotation_path(root, split, "joint_3d")
    out: dict[int, dict[int, dict]] = {}
    for capture, frame, key, entry in _frame_entries(path):
        for field in ("world_coord", "joint_valid", "hand_type"):
            if field not in entry:
                raise InputError(f"{path}: '{key}' has no key '{field}'")
        hand_type = entry["hand_type"]
        if hand_type not in HAND_TYPES:
            raise InputError(f"{path}: '{key}/hand_type' is {hand_type!r}, expected one of {HAND_TYPES}")
        out.setdefault(capture, {})[frame] = {
            "world": _array(path, f"{key}/world_coord", entry["world_coord"], (42, 3)) / 1000.0,
            "valid": _array(path, f"{key}/joint_valid", entry["joint_valid"], (42,), allow_bool=True) > 0,
            "hand_type": hand_type,
            "hand_type_valid": bool(entry.get("hand_type_valid", True)),
        }
    return out


def read_mano(root: str | os.PathLike, split: str) -> dict[int, dict[int, dict]]:
    """{capture: {frame: {hand: {'pose' (48,), 'shape' (10,), 'trans' (3,)} or None}}} (mean-relative)."""
    path = annotation_path(root, split, "MANO_NeuralAnnot")
    out: dict[int, dict[int, dict]] = {}
    for capture, frame, key, entry in _frame_entries(path):
        hands = {}
        for hand in HANDS:
            params = entry.get(hand)
            if params is None:
                hands[hand] = None
                continue
            params = _object(path, f"{key}/{hand}", params)
            hands[hand] = {}
            for name, width in MANO_SHAPES.items():
                if name not in params:
                    raise InputError(f"{path}: '{key}/{hand}' has no key '{name}'")
                bound = PARAM_BOUNDS[name]  # the same bounds as a poses file's: values a renderer can use
                hands[hand][name] = _array(path, f"{key}/{hand}/{name}", params[name], (width,), min=-bound, max=bound)
        out.setdefault(capture, {})[frame] = hands
    return out


def read_images(root: str | os.PathLike, split: str) -> list[ImageRecord]:
    """The data file's images joined with their annotation's hand type, in file order."""
    path = annotation_path(root, split, "data")
    data = _object(path, "(top level)", load_json(path))
    for field in ("images", "annotations"):
        if not isinstance(data.get(field), list):
            raise InputError(f"{path}: no '{field}' list (expected the COCO-style InterHand2.6M data file)")
    hand_type, hand_type_valid = {}, {}
    for i, ann in enumerate(data["annotations"]):
        ann = _object(path, f"annotations/{i}", ann)
        if "image_id" not in ann:
            raise InputError(f"{path}: 'annotations/{i}' has no key 'image_id'")
        hand_type[ann["image_id"]] = ann.get("hand_type")
        hand_type_valid[ann["image_id"]] = None if ann.get("hand_type_valid") is None else bool(ann["hand_type_valid"])
    records = []
    for i, img in enumerate(data["images"]):
        img = _object(path, f"images/{i}", img)
        for field in ("id", "file_name", "width", "height", "capture", "seq_name", "camera", "frame_idx"):
            if field not in img:
                raise InputError(f"{path}: 'images/{i}' has no key '{field}'")
        try:
            records.append(
                ImageRecord(
                    image_id=int(img["id"]),
                    file_name=str(img["file_name"]),
                    width=int(img["width"]),
                    height=int(img["height"]),
                    capture=int(img["capture"]),
                    seq=str(img["seq_name"]),
                    camera=str(img["camera"]),
                    frame=int(img["frame_idx"]),
                    hand_type=hand_type.get(img["id"]),
                    hand_type_valid=hand_type_valid.get(img["id"]),
                )
            )
        except (TypeError, ValueError) as e:
            raise InputError(f"{path}: 'images/{i}' has a field of the wrong type ({e})") from None
    return records


def hand_valid(joint_entry: dict, hand: str) -> bool:
    """A hand is valid where its wrist is (the release's rule)."""
    return bool(joint_entry["valid"][WRIST_42[hand]])


# Why a frame is not an interacting frame with two valid MANO hands, in the order the checks run.
SKIP_REASONS = ("no_joint_3d", "not_interacting", "invalid_hand", "null_mano")


def frame_skip_reason(joint_entry: dict | None, mano_entry: dict | None) -> str | None:
    """None for an interacting frame with both hands valid and both MANO entries non-null, else the reason
    (one of SKIP_REASONS). joint_entry and mano_entry as `read_joint_3d` and `read_mano` give them."""
    if joint_entry is None:
        return "no_joint_3d"
    if joint_entry["hand_type"] != "interacting" or not joint_entry["hand_type_valid"]:
        return "not_interacting"
    if not all(hand_valid(joint_entry, h) for h in HANDS):
        return "invalid_hand"
    if mano_entry is None or any(mano_entry.get(h) is None for h in HANDS):
        return "null_mano"
    return None


def absolute_params(mano_entry: dict, models) -> dict[str, dict[str, np.ndarray]]:
    """Both hands' stored (mean-relative) parameters -> {hand: {'pose' (48,) absolute, 'shape', 'trans'}}."""
    return {
        hand: {
            "pose": relative_to_absolute(mano_entry[hand]["pose"], models[hand].hands_mean),
            "shape": mano_entry[hand]["shape"].copy(),
            "trans": mano_entry[hand]["trans"].copy(),
        }
        for hand in HANDS
    }


def is_black(image: np.ndarray, level: int = 8) -> bool:
    """The release's black frames (cameras that recorded nothing): no pixel brighter than `level` (of 255)."""
    return int(np.max(image)) <= level


def interacting_mano_frames(root: str | os.PathLike, split: str, models) -> list[dict]:
    """The interacting frames of a split with both MANO hands present and valid, in world coordinates.

    A frame is kept when its joint_3d entry says hand_type 'interacting' (and hand_type_valid), both wrists
    are valid, and both NeuralAnnot entries are non-null. Returns, sorted by (capture, frame):
    [{'capture': int, 'frame': int, 'right': {'pose' (48,) absolute (hands_mean added), 'shape' (10,),
    'trans' (3,) metres}, 'left': {...}}]. Malformed files raise InputError naming the file and key.
    """
    check_release(root, split)
    joints = read_joint_3d(root, split)
    mano = read_mano(root, split)
    out = []
    for capture in sorted(mano):
        for frame in sorted(mano[capture]):
            entry = mano[capture][frame]
            if frame_skip_reason(joints.get(capture, {}).get(frame), entry) is None:
                out.append({"capture": capture, "frame": frame, **absolute_params(entry, models)})
    return out
