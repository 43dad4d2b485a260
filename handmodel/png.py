"""PNG files from numpy (zlib only): masks (uint8 gray), depth (uint16 gray), textures and pictures (uint8 RGB).

One encoder for every stage: Blender's Python has no cv2 or PIL, and the command-line side writes the same bytes.
"""

import os
import struct
import zlib

import numpy as np

from handmodel.atomic import atomic_write_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """(H,W) or (H,W,3|4) uint8 or uint16 -> PNG bytes (rows top to bottom)."""
    a = np.asarray(image)
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG needs uint8 or uint16, got {a.dtype}")
    if a.ndim == 2:
        a = a[..., None]
    h, w, c = a.shape
    color_type = {1: 0, 3: 2, 4: 6}[c]
    depth = 8 * a.dtype.itemsize
    rows = a.astype(a.dtype.newbyteorder(">")).reshape(h, w * c).view(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter type 0 per row
    header = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, level))
        + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write `image` (see `encode_png`; colour images in RGB order) to `path` under a temporary name, then rename."""
    atomic_write_bytes(path, encode_png(image))
