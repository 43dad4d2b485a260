"""Reading MANO_RIGHT.pkl / MANO_LEFT.pkl safely, and the clean cache smplx loads.

The licensed files hold chumpy objects and scipy sparse matrices, pickled by Python 2. chumpy does not import with
current numpy, and a pickle may ask to run anything, so a restricted unpickler accepts only the few types these
files hold and turns chumpy and sparse objects into plain numpy arrays. The converted arrays are written once to a
cache folder as plain pickles of numpy arrays, which smplx (and this module) then load.
"""

import hashlib
import io
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

from handmodel.atomic import current_umask
from handmodel.errors import InputError
from handmodel.validate import numeric_array, sparse_shape

NUM_VERTICES = 778
# Keys smplx reads, with the shapes MANO has (None: any length).
EXPECTED_SHAPES = {
    "v_template": (NUM_VERTICES, 3),
    "f": (None, 3),
    "J_regressor": (16, NUM_VERTICES),
    "weights": (NUM_VERTICES, 16),
    "kintree_table": (2, 16),
    "shapedirs": (NUM_VERTICES, 3, 10),
    "posedirs": (NUM_VERTICES, 3, 135),
    "hands_components": (45, 45),
    "hands_mean": (45,),
}
FILE_NAMES = {"right": "MANO_RIGHT.pkl", "left": "MANO_LEFT.pkl"}


class _Refused(pickle.UnpicklingError):
    """The pickle asked for something a MANO file never holds."""


class _Placeholder:
    """Stands in for a chumpy or scipy.sparse object: keeps its pickled state, runs none of its code."""

    kind = "object"

    def __setstate__(self, state):
        self.state = state


class _ChumpyValue(_Placeholder):
    kind = "chumpy"

    def to_array(self, where):
        state = self.state if isinstance(self.state, dict) else {}
        if "x" not in state:
            raise InputError(f"{where}: a chumpy object without a stored value ('x'); cannot convert it")
        return np.asarray(state["x"])


class _SparseValue(_Placeholder):
    kind = "sparse"
    fmt = "csc"

    def to_array(self, where):
        s = self.state
        try:
            shape = s["_shape"] if "_shape" in s else s["shape"]
            data, indices, indptr = s["data"], s["indices"], s["indptr"]
        except (KeyError, TypeError):
            raise InputError(f"{where}: a sparse matrix whose stored state is not understood") from None
        data = numeric_array(data, where, "sparse data", (None,))
        indices = numeric_array(indices, where, "sparse indices", (None,), dtype=np.int64, min=0)
        indptr = numeric_array(indptr, where, "sparse index pointers", (None,), dtype=np.int64, min=0)
        axis = 0 if self.fmt == "csr" else 1
        dims = sparse_shape(shape, len(data), len(indptr), axis, where, "sparse shape")
        major, minor = dims[axis], dims[1 - axis]
        if len(indices) != len(data) or np.any(np.diff(indptr) < 0) or indptr[-1] > len(data):
            raise InputError(f"{where}: a sparse matrix whose index arrays do not match its {len(data)} values")
        if len(indices) and indices.max() >= minor:
            raise InputError(f"{where}: a sparse matrix index {indices.max()} beyond its {minor} columns")
        dense = np.zeros((major, minor))
        for row in range(major):
            dense[row, indices[indptr[row] : indptr[row + 1]]] = data[indptr[row] : indptr[row + 1]]
        return dense if self.fmt == "csr" else dense.T


class _SparseCSR(_SparseValue):
    fmt = "csr"


def _safe_reconstructor(cls, base, state):
    """copyreg._reconstructor, restricted to the placeholder classes."""
    if not (isinstance(cls, type) and issubclass(cls, _Placeholder)) or base is not object or state is not None:
        raise _Refused("refusing to reconstruct an object of an unexpected type")
    return cls.__new__(cls)


def _latin1_encode(text, encoding="latin1"):
    """_codecs.encode as protocol-2 pickles of byte buffers use it, limited to latin-1."""
    if encoding not in ("latin1", "latin-1"):
        raise _Refused(f"refusing to encode with codec {encoding!r}")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct",
            "scalar",
        ):
            from numpy.core import multiarray

            return getattr(multiarray, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return _safe_reconstructor
        if module in ("__builtin__", "builtins") and name == "object":
            return object
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix"):
            return _SparseValue if name == "csc_matrix" else _SparseCSR
        if module == "chumpy" or module.startswith("chumpy."):
            return type(name, (_ChumpyValue,), {})
        raise _Refused(f"refusing to load '{module}.{name}'")


def safe_unpickle(raw: bytes):
    """The object of a pickle that holds only dicts, lists, numbers, strings and numpy arrays, loaded without
    running anything it asks for (for annotation files; other types raise pickle.UnpicklingError)."""
    return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()


def read_mano_pickle(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays of a MANO pickle (licensed file or our cache), without running anything the pickle asks for.

    Raises InputError naming the file for a hostile, truncated or malformed pickle and for wrong shapes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    try:
        data = _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except _Refused as e:
        raise InputError(
            f"{path}: {e}; a MANO file holds only arrays (is it the file from the MANO website?)"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise InputError(f"{path}: truncated or corrupt pickle ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a dict of arrays, found {type(data).__name__}")
    arrays = {}
    for key, value in data.items():
        if isinstance(value, _Placeholder):
            value = value.to_array(f"{path}: key '{key}'")
        if isinstance(value, np.ndarray) or np.isscalar(value) or isinstance(value, list | tuple):
            arrays[key] = np.asarray(value) if not isinstance(value, str) else value
        else:
            arrays[key] = value
    for key, shape in EXPECTED_SHAPES.items():
        if key not in arrays:
            raise InputError(f"{path}: missing key '{key}'")
        got = np.shape(arrays[key])
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
            want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
            raise InputError(f"{path}: key '{key}' has shape {got}, expected {want}")
        numeric_array(arrays[key], path, f"key '{key}'", dtype=None)  # numbers, finite: before anything is cached
    return arrays


def fix_left_shapedirs(right: dict, left: dict) -> dict:
    """MANO's left-hand shapedirs bug: its first shape direction's x component has the wrong sign.

    Detected as in InterHand2.6M: if the left and right first-vertex shape directions nearly agree, negate the
    left's x component.
    """
    if np.sum(np.abs(left["shapedirs"][:, 0, :] - right["shapedirs"][:, 0, :])) < 1:
        left = dict(left)
        shapedirs = np.array(left["shapedirs"], dtype=np.float64, copy=True)
        shapedirs[:, 0, :] *= -1
        left["shapedirs"] = shapedirs
    return left


def clean_arrays(arrays: dict, tip_ids: np.ndarray, name: str) -> dict:
    """Only what smplx and the toolkit read, as plain float64 / int64 numpy arrays."""
    out = {k: np.asarray(arrays[k], dtype=np.float64) for k in EXPECTED_SHAPES}
    out["f"] = np.asarray(arrays["f"], dtype=np.int64)
    out["kintree_table"] = np.asarray(arrays["kintree_table"], dtype=np.int64)
    out["tip_vertex_ids"] = np.asarray(tip_ids, dtype=np.int64)
    out["model_name"] = name
    return out


def content_hash(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()[:16]


def arrays_hash(models: dict[str, dict]) -> str:
    parts = []
    for hand in ("right", "left"):
        for key in sorted(models[hand]):
            value = models[hand][key]
            if isinstance(value, np.ndarray):
                parts.append(np.ascontiguousarray(value).tobytes())
    return content_hash(*parts)


def write_model_dir(folder: Path, models: dict[str, dict], info: dict) -> None:
    """Write MANO_RIGHT.pkl, MANO_LEFT.pkl and info.json into `folder` as one step (temp dir, then rename)."""
    import json

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700: the cache should read like any folder
        for hand, fname in FILE_NAMES.items():
            with open(tmp / fname, "wb") as f:
                pickle.dump(models[hand], f, protocol=4)
        (tmp / "info.json").write_text(json.dumps(info, indent=2))
        try:
            os.rename(tmp, folder)
        except OSError:  # another process cached the same model first
            if not (folder / "info.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
