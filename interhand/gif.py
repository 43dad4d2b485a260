"""`interhand gif`: a GIF per camera of each sequence of a capture, straight from the release's images
(black images left out), for looking through a capture quickly."""

import os
from pathlib import Path

import numpy as np

from handmodel.errors import InputError
from handmodel.interhand_release import annotation_path, check_release, image_dir, is_black, read_images


def gif_path(out: str | os.PathLike, split: str, capture: int, seq: str, camera: str) -> Path:
    return Path(out) / split / f"Capture{int(capture)}" / seq / f"cam{camera}.gif"


def write_gifs(root: str | os.PathLike, out: str | os.PathLike, split: str, capture: int,
               seqs: list[str] | None = None, fps: float = 30.0, scale: float = 0.5,
               progress: bool = True) -> list[Path]:  # fmt: skip
    """Write OUT/{split}/Capture{c}/{seq}/cam{id}.gif for every sequence of the capture (or only `seqs`),
    frames in order at `fps`, images resized by `scale`. Returns the GIF paths written."""
    import cv2
    from PIL import Image
    from tqdm import tqdm

    from handmodel.atomic import atomic_path

    if fps <= 0 or not 0 < scale <= 1:
        raise InputError(f"--fps {fps} / --scale {scale}: need fps > 0 and 0 < scale <= 1")
    check_release(root, split)
    data_path = annotation_path(root, split, "data")
    records = [r for r in read_images(root, split) if r.capture == capture]
    if not records:
        raise InputError(f"{data_path}: split {split!r} has no capture {capture}")
    available = sorted({r.seq for r in records})
    for seq in seqs or []:
        if seq not in available:
            raise InputError(f"{data_path}: capture {capture} has no sequence {seq!r} (sequences: {available})")
    groups: dict[tuple[str, str], list] = {}
    for r in records:
        if not seqs or r.seq in seqs:
            groups.setdefault((r.seq, r.camera), []).append(r)
    written = []
    for (seq, camera), recs in tqdm(sorted(groups.items()), desc="gif", unit="gif", disable=not progress):
        frames = []
        for r in sorted(recs, key=lambda r: r.frame):
            image = cv2.imread(str(image_dir(root, split) / r.file_name), cv2.IMREAD_COLOR)
            if image is None or is_black(image):
                continue
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            frames.append(Image.fromarray(np.ascontiguousarray(small[:, :, ::-1])))
        if not frames:
            continue
        path = gif_path(out, split, capture, seq, camera)
        with atomic_path(path) as tmp:
            frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                           duration=round(1000 / fps), loop=0)  # fmt: skip
        written.append(path)
    return written
