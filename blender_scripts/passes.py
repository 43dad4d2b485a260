"""Render passes: one Cycles render writes Combined, Depth and Object Index into an uncompressed multilayer EXR;
this module turns those into the RGB image, the visible-instance mask and the depth map (numpy only).

Cycles writes the data passes (depth, object index) from the first sample of each pixel, so the mask and depth are
exact per pixel (not blended across object edges) and come from the very render that made the RGB.
"""

import numpy as np

from blender_scripts.exposure import encode
from blender_scripts.exr import read_exr_channels
from handmodel.dataset_io import BACKGROUND_LABEL, MASK_LABELS

BACKGROUND_DEPTH = 1e9  # Cycles writes 1e10 where no surface was hit


def decode_passes(path, layer: str = "ViewLayer", rgb: bool = True, gain: float = 1.0,
                  linear: bool = False) -> dict[str, np.ndarray]:  # fmt: skip
    """The renderer's EXR -> {'rgb': uint8 (H,W,3) if rgb (scene-linear x gain, encoded by exposure.encode),
    'linear' and 'background': float32 (H,W,3) scene-linear if linear (the transparent film's premultiplied
    Combined and the Environment pass: their sum is the image; with them 'direct_light', the Diffuse Direct
    pass where the render has it: the light arriving straight from the world, without the surface's colour),
    'mask': uint8 (H,W) 0 bg / 1 right / 2 left
    / 3 right forearm / 4 left forearm,
    'depth': float32 (H,W) camera z in metres, 0 on background} (EXR rows run top to bottom)."""
    ch = read_exr_channels(path)
    index = ch[f"{layer}.Object Index.X"]
    z = ch[f"{layer}.Depth.Z"]
    mask = np.full(index.shape, BACKGROUND_LABEL, np.uint8)
    for value in MASK_LABELS.values():
        mask[np.rint(index) == value] = value
    depth = np.where((mask != BACKGROUND_LABEL) & (z < BACKGROUND_DEPTH), z, 0.0).astype(np.float32)
    out = {"mask": mask, "depth": depth}
    if rgb or linear:
        lin = np.stack([ch[f"{layer}.Combined.{c}"] for c in "RGB"], axis=-1)
        env = f"{layer}.Environment.R"
        bg = np.stack([ch[f"{layer}.Environment.{c}"] for c in "RGB"], axis=-1) if env in ch else np.zeros_like(lin)
        if rgb:
            out["rgb"] = encode(lin + bg, gain)
        if linear:
            out["linear"], out["background"] = lin, bg
            if f"{layer}.Diffuse Direct.R" in ch:
                out["direct_light"] = np.stack([ch[f"{layer}.Diffuse Direct.{c}"] for c in "RGB"], axis=-1)
    return out
