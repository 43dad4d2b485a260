"""Writing one sample of the dataset folder (handmodel/dataset_io.py's format) from Blender's Python.

JPEG goes through Blender's own image writer (no cv2 or PIL inside Blender), PNGs through `handmodel/png.py`.
Every file is written under a temporary name and renamed; the annotation is written last, so a sample exists
exactly when its annotation does.
"""

from pathlib import Path

import bpy
import numpy as np

from handmodel.atomic import atomic_path
from handmodel.dataset_io import encode_depth_mm, sample_paths, write_annotation
from handmodel.png import write_png

JPEG_QUALITY = 95


class SampleWriter:
    """Writes samples into the dataset folder `root`."""

    def __init__(self, root, width: int, height: int):
        self.root = Path(root)
        self.size = (width, height)

    def write_jpeg(self, path: Path, rgb: np.ndarray) -> None:
        h, w, _ = rgb.shape
        rgba = np.ones((h, w, 4), np.float32)
        rgba[..., :3] = rgb[::-1] / 255.0  # Blender images start at the bottom row
        # A saved image drops its pixel buffer, so each JPEG gets a fresh image, removed right after.
        image = bpy.data.images.new("jpeg_out", w, h, alpha=False)
        try:
            with atomic_path(path) as tmp:
                image.pixels.foreach_set(rgba.ravel())
                image.file_format = "JPEG"
                image.save(filepath=str(tmp), quality=JPEG_QUALITY)
        finally:
            bpy.data.images.remove(image)

    def write(self, name: str, out: dict, annotation: dict) -> None:
        """out: HandScene.render's dict; depth is stored as uint16 millimetres (`encode_depth_mm`)."""
        paths = sample_paths(self.root, name)
        for p in paths.values():
            p.parent.mkdir(parents=True, exist_ok=True)
        self.write_jpeg(paths["image"], out["rgb"])
        write_png(paths["mask"], out["mask"])
        write_png(paths["depth"], encode_depth_mm(out["depth"]))
        write_annotation(self.root, name, annotation)
