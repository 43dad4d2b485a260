"""The dataset folder that the renderer and `interhand prepare` write and training reads.

    DATASET/meta.json              {"format": "two-hand-dataset", "version": 1, "image_size": [W, H],
                                    "hand_model": {"model", "hash"}, "source": "...", ...settings}
    DATASET/images/ID.jpg          RGB
    DATASET/masks/ID.png           uint8 MASK_LABELS: 0 background, 1 right hand, 2 left hand, 3 right forearm,
                                   4 left forearm (visible pixels; training reads 3 and 4 as background)
    DATASET/depth/ID.png           uint16 millimetres, 0 = background (optional; `encode_depth_mm`)
    DATASET/annotations/ID.json    camera {K, R, t}; right/left {pose, shape, trans, joints_3d, joints_2d}; source

Sample ids are strings (`sample_name(i)` for integer ids). The annotation is written last, so a sample is
complete exactly when its annotation exists; every file is written under a temporary name and renamed.
Only numpy and the standard library: Blender's Python imports this.
"""

import os
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_write_json
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.validate import intrinsics, json_object, load_json, numeric_array, rotation

FORMAT_NAME = "two-hand-dataset"
FORMAT_VERSION = 1
SUBDIRS = {"image": ("images", ".jpg"), "mask": ("masks", ".png"), "depth": ("depth", ".png"),
           "annotation": ("annotations", ".json")}  # fmt: skip

# Mask labels: the value of each visible pixel in masks/ID.png (the renderer's object pass indices are the same).
BACKGROUND_LABEL = 0
HAND_LABELS = {"right": 1, "left": 2}
FOREARM_LABELS = {"right": 3, "left": 4}
MASK_LABELS = {"background": BACKGROUND_LABEL, **HAND_LABELS, **{f"{h}_forearm": v for h, v in FOREARM_LABELS.items()}}


def hand_mask(mask: np.ndarray) -> np.ndarray:
    """(H,W) bool: the pixels of a mask (H,W, MASK_LABELS) that show either hand (HAND_LABELS; forearms, sleeves
    and background not)."""
    return np.isin(mask, tuple(HAND_LABELS.values()))


DEPTH_SCALE = 1000.0  # depth PNG units per metre (uint16 millimetres)


def encode_depth_mm(depth_m: np.ndarray) -> np.ndarray:
    """Depth (H,W) camera z in metres, 0 = background -> the dataset's uint16 millimetres (rounded, clipped to
    0..65535, i.e. up to 65.5 m)."""
    return np.clip(np.rint(np.asarray(depth_m, dtype=np.float64) * DEPTH_SCALE), 0, 65535).astype(np.uint16)


def decode_depth_mm(depth_png: np.ndarray) -> np.ndarray:
    """The dataset's uint16 millimetres (H,W) -> float32 metres, 0 = background."""
    return (np.asarray(depth_png, dtype=np.float64) / DEPTH_SCALE).astype(np.float32)


def sample_name(sample_id: int) -> str:
    return f"{int(sample_id):08d}"


def sample_paths(root: str | os.PathLike, name: str) -> dict[str, Path]:
    root = Path(root)
    return {kind: root / sub / f"{name}{ext}" for kind, (sub, ext) in SUBDIRS.items()}


def write_meta(root: str | os.PathLike, meta: dict) -> None:
    full = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta}
    atomic_write_json(Path(root) / "meta.json", full, indent=2)


def read_meta(root: str | os.PathLike) -> dict:
    """Read and check meta.json; InputError if the folder is not a dataset of this format and version."""
    path = Path(root) / "meta.json"
    meta = json_object(load_json(path, f"missing (is {root} a dataset made by `render` or `interhand prepare`?)"),
                       path, None)  # fmt: skip
    if meta.get("format") != FORMAT_NAME:
        raise InputError(f"{path}: format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: format version {meta.get('version')!r}, this toolkit reads {FORMAT_VERSION}")
    return meta


def annotation_to_json(camera: dict, hands: dict, source: dict) -> dict:
    """Build the annotation dict from numpy arrays.

    camera: K (3,3), R (3,3), t (3,) world -> camera (OpenCV). hands[hand]: pose (48,), shape (10,), trans (3,)
    in camera coordinates, joints_3d (21,3) camera metres, joints_2d (21,2) pixels.
    """

    def as_list(a):
        return np.asarray(a, dtype=np.float64).tolist()

    ann = {"camera": {k: as_list(camera[k]) for k in ("K", "R", "t")}, "source": source}
    for hand in HANDS:
        ann[hand] = {k: as_list(hands[hand][k]) for k in ("pose", "shape", "trans", "joints_3d", "joints_2d")}
    return ann


def write_annotation(root: str | os.PathLike, name: str, annotation: dict) -> None:
    """Write the annotation last: its presence marks the sample complete."""
    atomic_write_json(sample_paths(root, name)["annotation"], annotation)


ANNOTATION_SHAPES = {"pose": (48,), "shape": (10,), "trans": (3,), "joints_3d": (21, 3), "joints_2d": (21, 2)}


def read_annotation(root: str | os.PathLike, name: str) -> dict:
    """Annotation with numpy arrays; InputError naming the file and key on anything malformed."""
    path = sample_paths(root, name)["annotation"]
    ann = json_object(load_json(path, "missing annotation"), path, None, ("camera", *HANDS))
    c = json_object(ann["camera"], path, "camera", ("K", "R", "t"))
    cam = {"K": intrinsics(c["K"], path, "camera.K"), "R": rotation(c["R"], path, "camera.R", tol=1e-2),
           "t": numeric_array(c["t"], path, "camera.t", (3,))}  # fmt: skip
    source = ann.get("source", {})
    out = {"camera": cam, "source": json_object({} if source is None else source, path, "source")}
    for hand in HANDS:
        h = json_object(ann[hand], path, hand, tuple(ANNOTATION_SHAPES))
        out[hand] = {
            key: numeric_array(h[key], path, f"{hand}.{key}", shape) for key, shape in ANNOTATION_SHAPES.items()
        }
    return out


def is_complete(root: str | os.PathLike, name: str) -> bool:
    return sample_paths(root, name)["annotation"].is_file()


def list_samples(root: str | os.PathLike) -> list[str]:
    """Names of the complete samples, sorted."""
    ann_dir = Path(root) / SUBDIRS["annotation"][0]
    if not ann_dir.is_dir():
        return []
    return sorted(p.stem for p in ann_dir.glob("*.json") if not p.name.startswith("."))
