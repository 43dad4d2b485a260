"""Per-sequence processing of InterHand2.6M (the 30 fps processing tools): the sequence folder and `annots`.

    OUT/{split}/Capture{c}/{seq}/
        annots.json                        cameras {id: K, R, t (world -> camera, metres), width, height},
                                           frames [{frame, hands, images {camera: relative path}}], skipped counts
        images/cam{id}/image{frame}.jpg    symbolic links into the release (black images left out)
        params/{frame}.npz                 per valid hand: {hand}_pose (48,) absolute with the root zeroed,
                                           {hand}_Rh (3,) root axis-angle, {hand}_Th (3,), {hand}_shape (10,)
        vertices/{frame}.npz               per valid hand: {hand} (778,3) world metres = R(Rh) v_canonical + Th
        lbs/                               `blend-weights` (interhand/blend_weights.py)
        masks/cam{id}/image{frame}.png     `masks`: uint8 0 background, 100 left, 200 right
        depth/cam{id}/image{frame}.npy     `masks`: float32 camera z in metres, 0 = background

A frame is listed when at least one hand is valid (wrist valid, MANO entry non-null) and at least one of its
camera images is not black. v_canonical is the hand posed with `pose` (no root rotation, no translation), so
Rh and Th carry the root rotation about the root joint together with the translation.
"""

import os
from collections import Counter
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_path, atomic_write_json
from handmodel.camera import root_pivot_shift
from handmodel.errors import InputError
from handmodel.interhand_release import (
    check_release,
    hand_valid,
    image_dir,
    is_black,
    read_cameras,
    read_images,
    read_joint_3d,
    read_mano,
)
from handmodel.joints import HANDS
from handmodel.models import check_hand_model
from handmodel.pose import relative_to_absolute
from handmodel.skinning import mano_forward, rodrigues
from handmodel.validate import json_object, load_json

FORMAT_NAME = "interhand-sequence"
FORMAT_VERSION = 1
# The per-sequence masks' own values (not the dataset's MASK_LABELS): 0 background, 100 left, 200 right.
SEQUENCE_MASK_VALUES = {"left": 100, "right": 200}


def sequence_dir(out: str | os.PathLike, split: str, capture: int, seq: str) -> Path:
    return Path(out) / split / f"Capture{int(capture)}" / seq


def frame_file(seq_dir: Path, kind: str, frame: int) -> Path:
    """params/vertices (and lbs/frames) files of one frame."""
    return seq_dir / kind / f"{int(frame)}.npz"


def image_file(seq_dir: Path, kind: str, camera: str, frame: int) -> Path:
    """images (.jpg), masks (.png) and depth (.npy) of one camera image."""
    ext = {"images": ".jpg", "masks": ".png", "depth": ".npy"}[kind]
    return seq_dir / kind / f"cam{camera}" / f"image{int(frame)}{ext}"


def save_npz(path: Path, **arrays) -> None:
    """np.savez under a temporary name, then rename (no half files)."""
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputError(f"{path}: missing (run `interhand annots` for this sequence first)") from None
    except Exception as e:  # zip and npy errors come in many types
        raise InputError(f"{path}: cannot read as .npz ({e})") from None


def read_annots(seq_dir: str | os.PathLike) -> dict:
    """annots.json with numpy cameras; InputError if the sequence was not processed (or is malformed)."""

    path = Path(seq_dir) / "annots.json"
    if not path.is_file():
        raise InputError(f"{path}: missing (run `interhand annots` for this capture and sequence first)")
    annots = json_object(load_json(path), path, None)
    if annots.get("format") != FORMAT_NAME or annots.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: not a {FORMAT_NAME} v{FORMAT_VERSION} file (made by `interhand annots`?)")
    try:
        for cam in annots["cameras"].values():
            for k in ("K", "R", "t"):
                cam[k] = np.asarray(cam[k], dtype=np.float64)
        annots["frames"]
    except (KeyError, AttributeError, TypeError) as e:
        raise InputError(f"{path}: malformed ({e!r})") from None
    return annots


def check_sequence_hand_model(seq_dir: str | os.PathLike, annots: dict, models) -> None:
    """InputError unless the sequence was processed with the active hand model (vertices, weights and faces
    of different models do not mix)."""
    check_hand_model(annots.get("hand_model"), models.info, Path(seq_dir) / "annots.json",
                     fix="rerun `interhand annots`, or pass the same --mano-dir")  # fmt: skip


def root_split(model, pose: np.ndarray, shape: np.ndarray, trans: np.ndarray):
    """Absolute pose (48,), shape (10,), trans (3,) -> (pose with the root zeroed, Rh (3,), Th (3,)) such that
    the world vertices are R(Rh) v + Th, v the hand posed without root rotation and translation.

    The root rotation pivots on the rest root joint J: world = R (v - J) + J + trans, so Th = trans + J - R J
    (`handmodel.camera.root_pivot_shift`).
    """
    local = pose.copy()
    local[:3] = 0.0
    return local, pose[:3].copy(), trans + root_pivot_shift(model, shape, rodrigues(pose[:3]))


def _select_sequence(records, path: Path, split: str, capture: int, seq: str):
    in_capture = [r for r in records if r.capture == capture]
    if not in_capture:
        captures = sorted({r.capture for r in records})
        raise InputError(f"{path}: split {split!r} has no capture {capture} (captures: {captures})")
    mine = [r for r in in_capture if r.seq == seq]
    if not mine:
        seqs = sorted({r.seq for r in in_capture})
        raise InputError(f"{path}: capture {capture} of split {split!r} has no sequence {seq!r} (sequences: {seqs})")
    return mine


def write_annots(root: str | os.PathLike, out: str | os.PathLike, split: str, capture: int, seq: str, models,
                 progress: bool = True) -> dict:  # fmt: skip
    """Process one sequence into OUT (see module docstring). Returns {'frames', 'images', 'black_images',
    'black_frames', 'no_valid_hand'} counts."""
    import cv2
    from tqdm import tqdm

    from handmodel.interhand_release import annotation_path

    root = Path(root)
    check_release(root, split)
    records = _select_sequence(read_images(root, split), annotation_path(root, split, "data"), split, capture, seq)
    cameras = read_cameras(root, split).get(capture)
    if cameras is None:
        raise InputError(f"{annotation_path(root, split, 'camera')}: no cameras for capture {capture}")
    joints = read_joint_3d(root, split).get(capture, {})
    mano = read_mano(root, split).get(capture, {})
    # Everything the release must hold is checked before anything is written.
    for rec in records:
        if rec.camera not in cameras:
            raise InputError(f"{annotation_path(root, split, 'camera')}: capture {capture} has no camera "
                             f"'{rec.camera}' (needed by {rec.file_name})")  # fmt: skip
        if not (image_dir(root, split) / rec.file_name).is_file():
            raise InputError(f"{image_dir(root, split) / rec.file_name}: missing (listed in the {split} data file)")
    seq_dir = sequence_dir(out, split, capture, seq)
    by_frame: dict[int, list] = {}
    for rec in records:
        by_frame.setdefault(rec.frame, []).append(rec)
    counts = Counter()
    frames, used_cameras = [], set()
    for frame in tqdm(sorted(by_frame), desc=f"annots {seq}", unit="frame", disable=not progress):
        entry, params = joints.get(frame), mano.get(frame) or {}
        hands = [h for h in HANDS if entry is not None and hand_valid(entry, h) and params.get(h) is not None]
        if not hands:
            counts["no_valid_hand"] += 1
            continue
        images = {}
        for rec in sorted(by_frame[frame], key=lambda r: r.camera):
            src = image_dir(root, split) / rec.file_name
            image = cv2.imread(str(src), cv2.IMREAD_REDUCED_GRAYSCALE_4)  # enough to tell a black frame
            if image is None:
                raise InputError(f"{src}: missing or not an image (listed in the {split} data file)")
            if is_black(image):
                counts["black_images"] += 1
                continue
            link = image_file(seq_dir, "images", rec.camera, frame)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(src.resolve())
            images[rec.camera] = str(link.relative_to(seq_dir))
            used_cameras.add(rec.camera)
        if not images:
            counts["black_frames"] += 1
            continue
        param_arrays, vert_arrays = {}, {}
        for hand in hands:
            p = params[hand]
            pose = relative_to_absolute(p["pose"], models[hand].hands_mean)
            verts, _ = mano_forward(models[hand], pose[None], p["shape"][None], p["trans"][None])
            local, Rh, Th = root_split(models[hand], pose, p["shape"], p["trans"])
            param_arrays.update(
                {f"{hand}_pose": local, f"{hand}_Rh": Rh, f"{hand}_Th": Th, f"{hand}_shape": p["shape"]}
            )
            vert_arrays[hand] = verts[0]
        for kind, arrays in (("params", param_arrays), ("vertices", vert_arrays)):
            frame_file(seq_dir, kind, frame).parent.mkdir(parents=True, exist_ok=True)
            save_npz(frame_file(seq_dir, kind, frame), **arrays)
        frames.append({"frame": frame, "hands": hands, "images": images})
        counts["images"] += len(images)
    counts["frames"] = len(frames)
    annots = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "release": str(root.resolve()),
        "split": split,
        "capture": capture,
        "seq": seq,
        "hand_model": models.identity,
        "cameras": {
            cam: {"K": c.K.tolist(), "R": c.R.tolist(), "t": c.t.tolist(), **_image_size(records, cam)}
            for cam, c in sorted(cameras.items())
            if cam in used_cameras
        },
        "frames": frames,
        "skipped": {k: counts[k] for k in ("black_images", "black_frames", "no_valid_hand")},
    }
    atomic_write_json(seq_dir / "annots.json", annots, indent=1)
    return dict(counts)


def _image_size(records, camera: str) -> dict:
    rec = next(r for r in records if r.camera == camera)
    return {"width": rec.width, "height": rec.height}
