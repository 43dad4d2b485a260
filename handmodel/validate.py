"""The one check of values read from input files: numbers, finite, of the right shape and range, named by file and
key. Every reader (poses, datasets, cameras, MANO files, the InterHand2.6M release) passes its arrays through
`numeric_array` before numpy, torch or Blender see them, so a bad value is one line naming where it is, not a
traceback or a silently wrong result. Text and JSON files are read the same way (`read_text`, `load_json`,
`json_object`): a file that is missing, a folder, not UTF-8, not JSON, null or lacking a key is an InputError
naming it. Only numpy and the standard library: Blender's Python imports this.
"""

import json
import os
from pathlib import Path

import numpy as np

from handmodel.errors import InputError

NUMERIC_KINDS = "iuf"  # signed, unsigned, float (bool only where asked for)


def _label(key: str) -> str:
    return key if key.startswith(("key ", "'")) else f"'{key}'"


def numeric_array(value, where, key: str, shape: tuple | None = None, *, reshape: bool = False,
                  dtype=np.float64, allow_bool: bool = False, finite: bool = True, min: float | None = None,
                  max: float | None = None, min_open: bool = False) -> np.ndarray:  # fmt: skip
    """`value` as an array of `dtype`, checked: numeric (strings, objects and, unless `allow_bool`, booleans are
    refused), of `shape` (None entries: any length; with `reshape`, only the number of values must match and the
    result takes `shape`), finite, and within [min, max] (`min_open`: strictly above min).

    where: the file (or option) the value came from; key: its name there. InputError names both."""
    label = _label(key)
    if value is None:
        raise InputError(f"{where}: {label} is null, expected numbers")
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {label} is not an array of numbers") from None
    kinds = NUMERIC_KINDS + ("b" if allow_bool else "")
    if a.dtype.kind not in kinds:
        what = {"U": "text", "S": "bytes", "O": "objects", "b": "booleans"}.get(a.dtype.kind, str(a.dtype))
        raise InputError(f"{where}: {label} holds {what}, expected numbers")
    if shape is not None:
        if reshape:
            want = int(np.prod(shape))
            if a.size != want:
                raise InputError(f"{where}: {label} has {a.size} values, expected {want} {shape}")
            a = a.reshape(shape)
        elif a.ndim != len(shape) or any(s is not None and s != g for s, g in zip(shape, a.shape)):
            want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise InputError(f"{where}: {label} has shape {a.shape}, expected {want}")
    if finite and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise InputError(f"{where}: {label} holds NaN or infinite values")
    if a.size and min is not None and (a.min() <= min if min_open else a.min() < min):
        raise InputError(f"{where}: {label} holds {a.min():g}, expected values {'>' if min_open else '>='} {min:g}")
    if a.size and max is not None and a.max() > max:
        raise InputError(f"{where}: {label} holds {a.max():g}, expected values <= {max:g}")
    return a.astype(dtype, copy=False) if dtype is not None else a


def unique_ids(ids: np.ndarray, where, key: str = "ids") -> np.ndarray:
    """InputError naming a repeated id (two samples with one id would overwrite each other)."""
    values, counts = np.unique(ids, return_counts=True)
    if np.any(counts > 1):
        dup = values[counts > 1]
        raise InputError(f"{where}: {_label(key)} repeats id {dup[0]} ({len(dup)} repeated); each id must be unique")
    return ids


def intrinsics(K, where, key: str = "K") -> np.ndarray:
    """A pinhole K (3,3): finite, focal lengths > 0, last row [0, 0, 1]."""
    K = numeric_array(K, where, key, (3, 3))
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise InputError(f"{where}: {_label(key)} has focal lengths {K[0, 0]:g}, {K[1, 1]:g}; expected > 0")
    if not np.allclose(K[2], [0.0, 0.0, 1.0]):
        raise InputError(f"{where}: {_label(key)} last row is {K[2].tolist()}, expected [0, 0, 1]")
    return K


def rotation(R, where, key: str = "R", tol: float = 1e-3) -> np.ndarray:
    """A rotation matrix (3,3): finite, orthonormal within `tol`, determinant +1."""
    R = numeric_array(R, where, key, (3, 3))
    if not np.allclose(R @ R.T, np.eye(3), atol=tol) or np.linalg.det(R) < 0:
        raise InputError(f"{where}: {_label(key)} is not a rotation matrix (orthonormal, determinant +1)")
    return R


def sparse_shape(shape, n_values: int, n_indptr: int, compressed_axis: int, where, key: str,
                 max_cells: int = 1 << 28) -> tuple[int, int]:  # fmt: skip
    """The stored (rows, cols) of a compressed sparse matrix, bounded by its own arrays: `n_indptr` index pointers
    are one more than the length of the compressed axis (0: rows, CSR; 1: columns, CSC), the `n_values` stored
    values fit, and the dense matrix has at most `max_cells` cells (a corrupt shape cannot ask for TiB)."""
    s = numeric_array(shape, where, key, (2,), dtype=np.int64, min=0)
    dims = (int(s[0]), int(s[1]))
    if dims[compressed_axis] + 1 != n_indptr:
        raise InputError(f"{where}: a sparse matrix whose stored shape {dims} does not match its {n_indptr} index "
                         "pointers (a corrupt file)")  # fmt: skip
    if dims[0] * dims[1] > max_cells or n_values > dims[0] * dims[1]:
        raise InputError(f"{where}: a sparse matrix whose stored shape {dims} cannot hold its {n_values} values or is "
                         f"larger than {max_cells} cells (a corrupt file)")  # fmt: skip
    return dims


def read_text(path: str | os.PathLike, missing: str = "missing") -> str:
    """An input file's UTF-8 text; InputError naming the file when it is missing (or a link to nothing), a folder,
    or not UTF-8 (a disk fault, another tool's file). Other OSErrors (permissions) pass to the CLI's boundary."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {missing}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start} is 0x{data[e.start]:02x})") from None


def load_json(path: str | os.PathLike, missing: str = "missing"):
    """An input file's JSON value (`read_text`'s checks, then the JSON syntax, named by line and column)."""
    text = read_text(path, missing)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def _json_kind(value) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "text", bool: "a boolean", int: "a number", float: "a number"}.get(type(value), "?")


def json_object(value, where, key: str | None, required: tuple = ()) -> dict:
    """`value` (read from JSON) as an object holding the keys `required`; InputError naming the file and key
    (None: the file's top level) when it is null, another kind of value, or lacks a key."""
    label = "the file" if key is None else _label(key)
    expected = "an object" + (f" with {', '.join(required)}" if required else "")
    if not isinstance(value, dict):
        raise InputError(f"{where}: {label} is {_json_kind(value)}, expected {expected}")
    for k in required:
        if k not in value:
            inside = "" if key is None else f"{_label(key)} "
            raise InputError(f"{where}: {inside}has no key '{k}'" + (f", expected {expected}" if key else ""))
    return value
