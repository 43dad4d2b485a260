"""A reader for the uncompressed multilayer EXR files the renderer writes (numpy only: Blender's Python has no
OpenEXR package).

Blender 5 writes a multilayer EXR as a multi-part file with one part per pass (`ViewLayer.Combined`,
`ViewLayer.Depth`, `ViewLayer.Object Index`, ...). The renderer asks for `exr_codec='NONE'`, so each chunk is one
scanline of raw little-endian samples, channel by channel in alphabetical order. Older single-part files (all
channels in one part) are read too.
"""

import os
import struct

import numpy as np

MAGIC = 20000630
PIXEL_DTYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}  # UINT, HALF, FLOAT
MULTIPART_FLAG = 0x1000


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def cstring(self) -> str:
        end = self.data.index(b"\0", self.pos)
        s = self.data[self.pos : end].decode("latin-1")
        self.pos = end + 1
        return s

    def unpack(self, fmt: str):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values


def _parse_channels(blob: bytes) -> list[tuple[str, int]]:
    cur, channels = _Cursor(blob), []
    while cur.data[cur.pos] != 0:
        name = cur.cstring()
        pixel_type, _linear, _r1, _r2, _r3, _xs, _ys = cur.unpack("<iBBBBii")
        channels.append((name, pixel_type))
    return channels


def _parse_header(cur: _Cursor) -> dict | None:
    """One header (attribute list ended by a null byte); None at the empty header that ends a multi-part list."""
    if cur.data[cur.pos] == 0:
        cur.pos += 1
        return None
    header = {}
    while cur.data[cur.pos] != 0:
        name, kind = cur.cstring(), cur.cstring()
        (size,) = cur.unpack("<i")
        blob = cur.data[cur.pos : cur.pos + size]
        cur.pos += size
        if kind == "chlist":
            header[name] = _parse_channels(blob)
        elif kind == "box2i":
            header[name] = struct.unpack("<4i", blob)
        elif kind == "compression":
            header[name] = blob[0]
        elif kind == "string":
            header[name] = blob.decode("latin-1")
        elif kind == "int":
            header[name] = struct.unpack("<i", blob)[0]
    cur.pos += 1
    return header


def read_exr_channels(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All channels of an uncompressed scanline EXR (single- or multi-part) -> {full channel name: (H, W) array}.

    Channel names are prefixed by nothing but what the file stores, e.g. 'ViewLayer.Depth.Z'.
    """
    with open(path, "rb") as f:
        data = f.read()
    cur = _Cursor(data)
    magic, version = cur.unpack("<ii")
    if magic != MAGIC:
        raise ValueError(f"{path}: not an OpenEXR file")
    multipart = bool(version & MULTIPART_FLAG)
    headers = []
    while True:
        header = _parse_header(cur)
        if header is None:
            break
        headers.append(header)
        if not multipart:
            break
    out = {}
    tables = []
    for header in headers:
        x0, y0, x1, y1 = header["dataWindow"]
        n_chunks = header.get("chunkCount", y1 - y0 + 1)
        tables.append(np.frombuffer(data, dtype="<u8", count=n_chunks, offset=cur.pos))
        cur.pos += 8 * n_chunks
    for part, (header, offsets) in enumerate(zip(headers, tables)):
        if header.get("compression", 0) != 0:
            raise ValueError(f"{path}: compressed EXR (the renderer writes exr_codec='NONE')")
        x0, y0, x1, y1 = header["dataWindow"]
        width, height = x1 - x0 + 1, y1 - y0 + 1
        channels = sorted(header["channels"])
        planes = {name: np.empty((height, width), PIXEL_DTYPES[kind]) for name, kind in channels}
        line_bytes = sum(PIXEL_DTYPES[kind].itemsize for _, kind in channels) * width
        prefix = "<iii" if multipart else "<ii"
        for offset in offsets:
            fields = struct.unpack_from(prefix, data, int(offset))
            if multipart and fields[0] != part:
                raise ValueError(f"{path}: chunk of part {fields[0]} in the table of part {part}")
            y, size = fields[-2:]
            if size != line_bytes:
                raise ValueError(f"{path}: scanline of {size} bytes, expected {line_bytes}")
            pos = int(offset) + struct.calcsize(prefix)
            for name, kind in channels:
                dt = PIXEL_DTYPES[kind]
                planes[name][y - y0] = np.frombuffer(data, dtype=dt, count=width, offset=pos)
                pos += dt.itemsize * width
        out.update(
            {name: plane.astype(np.float32) if plane.dtype.kind == "f" else plane for name, plane in planes.items()}
        )
    return out
