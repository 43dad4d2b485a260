"""The poses file (`poses.npz`): two-hand MANO parameters plus per-pose quality metrics.

Keys per hand: `right_pose (N,48)`, `right_shape (N,10)`, `right_trans (N,3)` and the same for `left_`;
absolute axis-angle poses (flat hand mean), metres. Optional `ids (N,)` int64 sample ids (default 0..N-1).
Optional `body_to_world (N,4,4)`: the rigid transform of the body both hands belong to (x to the person's right,
y down, z forward, origin between the shoulders), checked on load to be a rotation and a translation.
Every other array of length N is a per-pose metric (`penetration_mm`, `anatomy_violation_deg`, ...).
`meta` is a JSON string: format, version, hand model, convention, seed, settings.

A folder of pose chunks (`sample-poses --out DIR`, sharded or launched as many tasks) holds `poses-00000.npz`,
`poses-00001.npz`, ...: chunk c holds the sample ids c*B .. (c+1)*B-1 (B the run's --batch-size), and the folder's
fingerprint (`.handkit/fingerprint.json`) the run's identity, --num and B. `PoseFolder` reads it chunk by chunk.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_path
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.validate import numeric_array, unique_ids

FORMAT_NAME = "two-hand-poses"
FORMAT_VERSION = 1
PARAM_SHAPES = {"pose": 48, "shape": 10, "trans": 3}
# What a renderer can use, checked on load so that a bad pose is refused before any sample is written, not
# rendered as an image without hands: axis-angle components within two full turns, shape coefficients within
# 10 standard deviations, translations (and the body's) within a few metres of the origin, and the two hands
# within an arm span of each other (hands of one body, in one picture).
PARAM_BOUNDS = {"pose": 4 * np.pi, "shape": 10.0, "trans": 5.0}
HAND_GAP_MAX_M = 2.0


@dataclass
class Poses:
    """Parameters per hand: params['right']['pose'] (N,48) etc.; metrics: name -> (N,) arrays; body_to_world
    (N,4,4) or None."""

    params: dict[str, dict[str, np.ndarray]]
    ids: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    body_to_world: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def concat_poses(parts: list[Poses], meta: dict) -> Poses:
    """Several Poses (e.g. chunk files, in order) as one, with `meta`."""
    body = [x.body_to_world for x in parts]
    return Poses(
        params={h: {p: np.concatenate([x.params[h][p] for x in parts]) for p in parts[0].params[h]} for h in HANDS},
        ids=np.concatenate([x.ids for x in parts]),
        metrics={m: np.concatenate([x.metrics[m] for x in parts]) for m in parts[0].metrics},
        meta=meta,
        body_to_world=None if any(b is None for b in body) else np.concatenate(body),
    )


def save_poses(path: str | os.PathLike, poses: Poses) -> None:
    """Write atomically (temporary name, then rename)."""
    arrays = {f"{h}_{k}": np.asarray(v, dtype=np.float32) for h in HANDS for k, v in poses.params[h].items()}
    arrays["ids"] = np.asarray(poses.ids, dtype=np.int64)
    arrays.update({k: np.asarray(v) for k, v in poses.metrics.items()})
    if poses.body_to_world is not None:
        arrays["body_to_world"] = np.asarray(poses.body_to_world, dtype=np.float64)
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **poses.meta}
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


def load_poses(path: str | os.PathLike) -> Poses:
    """Read and validate a poses file; bad files raise InputError naming the file and key."""
    path = Path(path)
    hint = "(is this a poses file made by sample-poses?)"
    if not path.is_file():
        raise InputError(f"{path}: no such poses file")
    try:
        data = np.load(path, allow_pickle=False)
        arrays = {k: data[k] for k in data.files}
    except Exception as e:  # zip and npy errors come in many types
        raise InputError(f"{path}: cannot read as .npz ({e}) {hint}") from None
    params: dict[str, dict[str, np.ndarray]] = {}
    n = None
    for hand in HANDS:
        params[hand] = {}
        for name, width in PARAM_SHAPES.items():
            key = f"{hand}_{name}"
            if key not in arrays:
                raise InputError(f"{path}: missing key '{key}' {hint}")
            bound = PARAM_BOUNDS[name]
            a = numeric_array(arrays.pop(key), path, f"key '{key}'", (None, width), min=-bound, max=bound)
            if n is None:
                n = a.shape[0]
            if a.shape[0] != n:
                raise InputError(f"{path}: key '{key}' has {a.shape[0]} rows, other keys have {n}")
            params[hand][name] = a
    if n == 0:
        raise InputError(f"{path}: holds no poses {hint}")
    gap = np.linalg.norm(params["right"]["trans"] - params["left"]["trans"], axis=1)
    if gap.max() > HAND_GAP_MAX_M:
        i = int(np.argmax(gap))
        raise InputError(f"{path}: row {i} places the hands {gap[i]:.3g} m apart ('right_trans', 'left_trans'), "
                         f"more than the {HAND_GAP_MAX_M:g} m of two hands of one body")  # fmt: skip
    meta = {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays.pop("meta")))
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: key 'meta' is not valid JSON ({e})") from None
        if not isinstance(meta, dict):
            raise InputError(f"{path}: key 'meta' holds {type(meta).__name__}, expected a JSON object")
    ids = arrays.pop("ids") if "ids" in arrays else np.arange(n)
    if ids.shape != (n,):
        raise InputError(f"{path}: key 'ids' has shape {ids.shape}, expected ({n},)")
    if ids.dtype.kind not in "iu":
        raise InputError(f"{path}: key 'ids' holds {ids.dtype} values, expected integers")
    if n and (ids.min() < 0 or ids.max() > 10**12):
        raise InputError(f"{path}: key 'ids' holds {ids.min() if ids.min() < 0 else ids.max()}, expected ids from 0 "
                         "to 10**12 (sample names have 8 or more digits)")  # fmt: skip
    unique_ids(ids, path, "key 'ids'")
    body = _body_to_world(arrays.pop("body_to_world"), path, n) if "body_to_world" in arrays else None
    metrics = {k: v for k, v in arrays.items() if v.shape[:1] == (n,)}
    return Poses(params=params, ids=ids.astype(np.int64), metrics=metrics, meta=meta, body_to_world=body)


def _body_to_world(value, path: Path, n: int) -> np.ndarray:
    """The (n,4,4) body transforms, each a rotation and a translation; InputError naming the file otherwise."""
    T = numeric_array(value, path, "key 'body_to_world'", (n, 4, 4))
    far = np.abs(T[:, :3, 3]).max(1) > PARAM_BOUNDS["trans"]
    if far.any():
        i = int(np.argmax(far))
        raise InputError(f"{path}: key 'body_to_world' row {i} moves the body {np.abs(T[i, :3, 3]).max():g} m, "
                         f"expected at most {PARAM_BOUNDS['trans']:g} m")  # fmt: skip
    R = T[:, :3, :3]
    bad = np.abs(T[:, 3] - [0.0, 0.0, 0.0, 1.0]).max(1) > 1e-6
    bad |= np.abs(np.einsum("nji,njk->nik", R, R) - np.eye(3)).max((1, 2)) > 1e-4
    bad |= np.linalg.det(R) < 0
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{path}: key 'body_to_world' row {i} is not a rotation and a translation")
    return T


CHUNK_NAME = "poses-{:05d}.npz"


def chunk_path(folder: str | os.PathLike, c: int) -> Path:
    """Chunk c of a folder of pose chunks."""
    return Path(folder) / CHUNK_NAME.format(c)


class PoseFolder:
    """A folder of pose chunks made by `sample-poses --out DIR`: its size and chunking come from the folder's
    fingerprint, and only the chunks asked for are read (a million poses are never merged into one array)."""

    def __init__(self, folder: str | os.PathLike):
        from handmodel.outdir import read_fingerprint

        self.folder = Path(folder)
        record = read_fingerprint(self.folder)
        if record is None or record.get("kind") != "sample-poses":
            raise InputError(f"{self.folder}: not a folder of pose chunks made by sample-poses (no sample-poses "
                             "fingerprint in its .handkit/)")  # fmt: skip
        self.fingerprint = record.get("fingerprint", {})
        try:
            self.num, self.batch_size = int(self.fingerprint["num"]), int(self.fingerprint["batch_size"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{self.folder}: its fingerprint lacks num and batch_size") from None
        if self.num < 1 or self.batch_size < 1:
            raise InputError(f"{self.folder}: its fingerprint has num {self.num}, batch_size {self.batch_size}")

    def chunks(self, num: int | None = None) -> list[int]:
        """The chunks that hold the first `num` poses (all by default)."""
        n = self.num if num is None else min(num, self.num)
        return list(range(-(-n // self.batch_size)))

    def check_complete(self, chunks: list[int]) -> None:
        """InputError listing the chunks of `chunks` that are not there (the sample-poses run is unfinished)."""
        missing = [chunk_path(self.folder, c).name for c in chunks if not chunk_path(self.folder, c).is_file()]
        if missing:
            shown = ", ".join(missing[:8]) + (f", ... ({len(missing)} in all)" if len(missing) > 8 else "")
            raise InputError(f"{self.folder}: {len(missing)} of {len(chunks)} pose chunks missing: {shown}; finish "
                             "the sample-poses run (rerun it), or ask for fewer poses with --num")  # fmt: skip

    def load(self, chunks: list[int]) -> Poses:
        """The poses of these chunks, in order; InputError for a chunk of another run or with other ids."""
        self.check_complete(chunks)
        parts = []
        for c in chunks:
            path = chunk_path(self.folder, c)
            poses = load_poses(path)
            if poses.meta.get("fingerprint") != self.fingerprint:
                raise InputError(f"{path}: made by another sample-poses run than {self.folder}'s fingerprint")
            expected = np.arange(c * self.batch_size, min((c + 1) * self.batch_size, self.num))
            if not np.array_equal(poses.ids, expected):
                raise InputError(f"{path}: holds ids {poses.ids[0]}..{poses.ids[-1]}, expected "
                                 f"{expected[0]}..{expected[-1]}")  # fmt: skip
            parts.append(poses)
        meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "fingerprint": self.fingerprint,
                "hand_model": self.fingerprint.get("hand_model")}  # fmt: skip
        return concat_poses(parts, meta)
