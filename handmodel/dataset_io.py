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

Reading samples back (`read_sample`, `check_samples`): every file is checked whole (a JPEG ends in its EOI
marker, a PNG in its IEND chunk: a truncated file is not decoded into a half-grey picture), the mask holds only
MASK_LABELS, mask and depth have the image's size, and the annotation's values pass `read_annotation`. Readers of
a whole dataset skip the bad samples, name the first few and count them (`BadSamples`), and fail when more than
`max_bad` of the samples are bad (`--max-bad`, default MAX_BAD: 1%).

Only numpy and the standard library at import: Blender's Python imports this (`read_sample` decodes with OpenCV,
imported when called, outside Blender).
"""

import json
import os
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_write_json
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.validate import intrinsics, json_object, load_json, numeric_array, read_text, rotation

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
    return parse_annotation(read_text(path, "missing annotation"), path)


def parse_annotation(data: bytes | str, where) -> dict:
    """An annotation file's bytes (or text) -> the annotation with numpy arrays; InputError naming `where` (a path,
    or a tar shard and member) and the key on anything malformed: not UTF-8, not JSON, null or missing values."""
    path = where
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{where}: not UTF-8 text (byte {e.start} is 0x{data[e.start]:02x})") from None
    try:
        value = json.loads(data)
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: not valid JSON ({e})") from None
    ann = json_object(value, path, None, ("camera", *HANDS))
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


MAX_BAD = 0.01  # the share of bad samples a whole-dataset reader skips before it fails (--max-bad)
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # SOFn markers


def read_input_bytes(path: Path) -> bytes:
    """An input file's bytes; InputError when it is missing (or a link to nothing) or a folder."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: missing") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a file") from None


def image_size(data: bytes, path) -> tuple[int, int]:
    """(width, height) of a whole JPEG or PNG file's bytes, from its header; InputError naming the file when it is
    empty, of another format, or cut short (no JPEG EOI marker or PNG IEND chunk at its end)."""
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 33 or data[12:16] != b"IHDR" or not data.endswith(PNG_END):
            raise InputError(f"{path}: a truncated or damaged PNG file (no IEND chunk at its end)")
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(JPEG_START):
        if not data.rstrip(b"\x00").endswith(JPEG_END):
            raise InputError(f"{path}: a truncated JPEG file (no end-of-image marker)")
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            if marker in _JPEG_FRAMES:
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        raise InputError(f"{path}: a damaged JPEG file (no frame header)")
    what = "empty" if not data else "neither a JPEG nor a PNG file"
    raise InputError(f"{path}: {what}")


def check_mask(mask: np.ndarray, path, size: tuple[int, int], image_path=None) -> np.ndarray:
    """A decoded mask (H,W) uint8 of the image's `size` (W, H) holding only MASK_LABELS; InputError otherwise."""
    if mask is None or mask.ndim != 2 or mask.dtype != np.uint8:
        raise InputError(f"{path}: not a single-channel 8-bit label image")
    if mask.shape[::-1] != tuple(size):
        image = f" ({image_path})" if image_path is not None else ""
        raise InputError(f"{path}: size {mask.shape[1]}x{mask.shape[0]} differs from the image's{image} "
                         f"{size[0]}x{size[1]}")  # fmt: skip
    unknown = np.setdiff1d(np.unique(mask), np.fromiter(MASK_LABELS.values(), np.uint8))
    if unknown.size:
        known = ", ".join(f"{v} {k}" for k, v in MASK_LABELS.items())
        raise InputError(f"{path}: holds label {unknown[0]}, expected only {known}")
    return mask


def read_sample(root: str | os.PathLike, name: str, *, depth: bool = False, decode_image: bool = True,
                samples=None) -> dict:  # fmt: skip
    """One sample, checked: {'image': (H,W,3) uint8 RGB, 'mask': (H,W) uint8, 'annotation': `read_annotation`'s
    dict, with `depth`: 'depth': (H,W) metres or None where the dataset has no depth}. InputError naming the file
    on anything missing, cut short, undecodable or inconsistent (see the module docstring). decode_image=False:
    the image is checked whole and its size read from its header, but not decoded (no 'image' key; `check_samples`
    looks at every sample of a dataset this way, the JPEG decode being most of a sample's reading time).
    samples: the dataset's `handmodel.shards.open_samples` (a folder or tar shards) to read the files through."""
    import cv2

    if samples is None or getattr(samples, "kind", None) == "folder":  # files: read and checked one by one
        paths = sample_paths(root if samples is None else samples.root, name)

        def fetch(kind: str) -> bytes:
            return read_input_bytes(paths[kind])

        def present(kind: str) -> bool:  # depth is optional; a link to nothing is a bad depth file
            return paths[kind].exists() or paths[kind].is_symlink()
    else:
        paths = {kind: samples.where(name, kind) for kind in SUBDIRS}

        def fetch(kind: str) -> bytes:
            data = samples.read(name, kind)
            if data is None:
                raise InputError(f"{paths[kind]}: missing")
            return data

        def present(kind: str) -> bool:
            return samples.read(name, kind) is not None

    annotation = parse_annotation(fetch("annotation"), paths["annotation"])
    data = fetch("image")
    size = image_size(data, paths["image"])
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if decode_image else None
    if decode_image and (image is None or image.shape[1::-1] != size):
        raise InputError(f"{paths['image']}: cannot be decoded as an image")
    data = fetch("mask")
    image_size(data, paths["mask"])
    mask = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    mask = check_mask(mask, paths["mask"], size, paths["image"])
    out = {"mask": mask, "annotation": annotation}
    if decode_image:
        out["image"] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    path = paths["depth"]
    d = None
    if present("depth"):
        data = fetch("depth")
        w, h = image_size(data, path)
        if (w, h) != size:
            raise InputError(f"{path}: size {w}x{h} differs from the image's ({paths['image']}) {size[0]}x{size[1]}")
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if raw is None or raw.dtype != np.uint16 or raw.ndim != 2:
            raise InputError(f"{path}: not a single-channel 16-bit depth image (millimetres)")
        d = decode_depth_mm(raw)
    if depth:
        out["depth"] = d
    return out


class BadSamples:
    """The policy of every reader of a whole dataset: bad samples are skipped and counted, the first few named;
    more than `max_bad` of them (a share of the samples) is an InputError."""

    SHOWN = 3

    def __init__(self, root, max_bad: float = MAX_BAD):
        self.root, self.max_bad, self.errors = Path(root), max_bad, []

    def add(self, error: InputError) -> None:
        self.errors.append(str(error))

    def __len__(self) -> int:
        return len(self.errors)

    def shown(self) -> str:
        return "; ".join(self.errors[: self.SHOWN]) + ("; ..." if len(self.errors) > self.SHOWN else "")

    def check(self, total: int, warn=None) -> None:
        """InputError if more than max_bad of `total` samples are bad, else `warn` (default stderr) of any."""
        import sys

        k = len(self.errors)
        if not k:
            return
        if k > self.max_bad * total:
            raise InputError(f"{self.root}: {k} of {total} samples are bad, more than --max-bad {self.max_bad:g} "
                             f"allows ({self.shown()}); fix or remove them, or raise --max-bad")  # fmt: skip
        warn = warn or (lambda m: print(m, file=sys.stderr, flush=True))
        warn(f"warning: {self.root}: skipped {k} bad sample{'s' if k > 1 else ''} of {total} ({self.shown()})")


def _check_chunk(root, names: list[str]) -> list[str | None]:
    """Per name, None where `read_sample` (image not decoded) reads the sample, else its InputError's message."""
    out = []
    for name in names:
        try:
            read_sample(root, name, decode_image=False)
        except InputError as e:
            out.append(str(e))
            continue
        out.append(None)
    return out


PARALLEL_CHECK = 8192  # samples from which `check_samples` spreads the work over processes (~1.5 ms a sample)


def check_samples(root: str | os.PathLike, names: list[str], max_bad: float = MAX_BAD, warn=None) -> list[str]:
    """The names of the samples that `read_sample` reads without error; the bad ones are counted (`BadSamples`):
    InputError when more than `max_bad` of them are bad, else one warning line naming the first few. Large
    datasets are checked by one process per core (up to 16)."""
    import multiprocessing

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    daemon = multiprocessing.current_process().daemon  # a daemon (a pool's worker) may not start processes
    if len(names) >= PARALLEL_CHECK and cores > 1 and not daemon:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        from handmodel.errors import quiet_worker
        from handmodel.worker_pool import stop_pool

        chunks = [names[i : i + 1024] for i in range(0, len(names), 1024)]
        pool = ProcessPoolExecutor(min(cores, 16), mp_context=get_context("spawn"), initializer=quiet_worker)
        try:
            futures = [pool.submit(_check_chunk, root, chunk) for chunk in chunks]  # not map: see stop_pool
            errors = [e for future in futures for e in future.result()]
        except BaseException:  # interrupted: stop now, not after every queued chunk
            stop_pool(pool)
            raise
        pool.shutdown()
    else:
        errors = _check_chunk(root, names)
    bad = BadSamples(root, max_bad)
    for e in errors:
        if e is not None:
            bad.add(InputError(e))
    bad.check(len(names), warn)
    return [n for n, e in zip(names, errors) if e is None]
