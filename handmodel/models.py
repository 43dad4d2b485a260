"""The active hand model: licensed MANO where the user has it, else the generated stand-in.

Search order for MANO_RIGHT.pkl / MANO_LEFT.pkl: `mano_dir` (the --mano-dir option), $MANO_DIR, assets/mano/.
Either model is converted once into a cache folder (assets/cache/ or $HANDKIT_CACHE) holding plain pickles of
numpy arrays that smplx loads; `info['dir']` names that folder and `info['hash']` its content.
"""

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmodel import mano_files
from handmodel.errors import InputError
from handmodel.joints import HANDS, MANO_PARENTS, MANO_TIP_VERTEX_IDS

REPO_ROOT = Path(__file__).resolve().parent.parent
MANO_DIR_HELP = "Folder with the licensed MANO_RIGHT.pkl and MANO_LEFT.pkl (default: $MANO_DIR, then assets/mano/)."


def cache_root() -> Path:
    """$HANDKIT_CACHE, else assets/cache/ in a checkout (or an editable install), else the user's cache folder (an
    installed package does not write into site-packages)."""
    if "HANDKIT_CACHE" in os.environ:
        return Path(os.environ["HANDKIT_CACHE"])
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / "assets" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "handkit"


@dataclass(frozen=True, eq=False)
class HandModel:
    """One hand's MANO arrays (float64, metres)."""

    side: str
    v_template: np.ndarray  # (778, 3)
    faces: np.ndarray  # (F, 3) int64
    J_regressor: np.ndarray  # (16, 778)
    weights: np.ndarray  # (778, 16)
    parents: np.ndarray  # (16,) int64, root -1
    shapedirs: np.ndarray  # (778, 3, 10)
    posedirs: np.ndarray  # (778, 3, 135)
    hands_components: np.ndarray  # (45, 45)
    hands_mean: np.ndarray  # (45,)
    tip_ids: np.ndarray  # (5,) int64: thumb, index, middle, ring, pinky
    name: str
    hash: str

    @classmethod
    def from_arrays(cls, side: str, arrays: dict, name: str, hash_: str) -> "HandModel":
        return cls(
            side=side,
            v_template=np.asarray(arrays["v_template"], dtype=np.float64),
            faces=np.asarray(arrays["f"], dtype=np.int64),
            J_regressor=np.asarray(arrays["J_regressor"], dtype=np.float64),
            weights=np.asarray(arrays["weights"], dtype=np.float64),
            parents=MANO_PARENTS.copy(),
            shapedirs=np.asarray(arrays["shapedirs"], dtype=np.float64),
            posedirs=np.asarray(arrays["posedirs"], dtype=np.float64),
            hands_components=np.asarray(arrays["hands_components"], dtype=np.float64),
            hands_mean=np.asarray(arrays["hands_mean"], dtype=np.float64),
            tip_ids=np.asarray(arrays.get("tip_vertex_ids", MANO_TIP_VERTEX_IDS), dtype=np.int64),
            name=name,
            hash=hash_,
        )


class HandModels(dict):
    """{'right': HandModel, 'left': HandModel} plus `info` = {'model', 'dir', 'hash'}."""

    def __init__(self, right: HandModel, left: HandModel, info: dict):
        super().__init__(right=right, left=left)
        self.info = info

    @property
    def identity(self) -> dict:
        """{'model', 'hash'}: what every output records about the hand model that made it."""
        return {"model": self.info["model"], "hash": self.info["hash"]}


def check_hand_model(made_with: dict | None, expected: dict, where, *, made: str = "made with",
                     expected_name: str = "the active one", fix: str = "", required: bool = True) -> None:  # fmt: skip
    """InputError unless `made_with` and `expected` ({'model', 'hash'} records, or `HandModels.info`) name the
    same hand model: outputs of different models (vertices, weights, faces, trained decoders) do not mix.

    where: the file the record came from; made: how it came about ('made with', 'trained with'); expected_name:
    what `expected` is; fix: what to do, appended in brackets; required=False lets a record without a hash pass
    (outputs of tools that do not record one)."""
    made_with = made_with or {}
    if not required and not made_with.get("hash"):
        return
    if made_with.get("hash") != expected.get("hash"):
        raise InputError(
            f"{where}: {made} hand model {made_with.get('model')!r} (hash {made_with.get('hash')}), but "
            f"{expected_name} is {expected.get('model')!r} (hash {expected.get('hash')})" + (f" ({fix})" if fix else "")
        )


def find_mano_dir(mano_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding both MANO files: mano_dir, $MANO_DIR, assets/mano/."""
    for candidate in (mano_dir, os.environ.get("MANO_DIR"), REPO_ROOT / "assets" / "mano"):
        if candidate and all((Path(candidate) / f).is_file() for f in mano_files.FILE_NAMES.values()):
            return Path(candidate)
    return None


def import_mano(src: str | os.PathLike) -> Path:
    """Convert the licensed files in `src` into the cache (once per content); returns the cache folder."""
    src = Path(src)
    paths = {hand: src / name for hand, name in mano_files.FILE_NAMES.items()}
    for path in paths.values():
        if not path.is_file():
            raise InputError(f"{path}: not found (the folder needs MANO_RIGHT.pkl and MANO_LEFT.pkl)")
    digest = mano_files.content_hash(*(paths[h].read_bytes() for h in HANDS))
    folder = cache_root() / f"mano-{digest}"
    if (folder / "info.json").is_file():
        return folder
    raw = {hand: mano_files.read_mano_pickle(paths[hand]) for hand in HANDS}
    raw["left"] = mano_files.fix_left_shapedirs(raw["right"], raw["left"])
    models = {hand: mano_files.clean_arrays(raw[hand], MANO_TIP_VERTEX_IDS, "mano") for hand in HANDS}
    info = {"model": "mano", "hash": digest, "source": str(src.resolve())}
    mano_files.write_model_dir(folder, models, info)
    return folder


def ensure_standin() -> Path:
    """Convert the shipped stand-in model into the cache if it is not there yet; returns its folder."""
    from handmodel import standin

    built = standin.shipped()
    models = {hand: mano_files.clean_arrays(built[hand], built[hand]["tip_vertex_ids"], "standin") for hand in HANDS}
    digest = mano_files.arrays_hash(models)
    folder = cache_root() / f"standin-{digest}"
    if (folder / "info.json").is_file():
        return folder
    mano_files.write_model_dir(folder, models, {"model": "standin", "hash": digest})
    return folder


def load_model_dir(folder: str | os.PathLike) -> HandModels:
    """Load a converted model folder (the one `info['dir']` names)."""
    folder = Path(folder)
    try:
        info = json.loads((folder / "info.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{folder / 'info.json'}: cannot read ({e}); delete {folder} to rebuild it") from None
    hands = {}
    for hand, fname in mano_files.FILE_NAMES.items():
        arrays = mano_files.read_mano_pickle(folder / fname)
        hands[hand] = HandModel.from_arrays(hand, arrays, info["model"], info["hash"])
    return HandModels(hands["right"], hands["left"], {"model": info["model"], "dir": str(folder), "hash": info["hash"]})


def load_hand_models(mano_dir: str | os.PathLike | None = None, quiet: bool = False) -> HandModels:
    """MANO if found (see module docstring), else the stand-in with a one-line notice on stderr."""
    src = find_mano_dir(mano_dir)
    if src is not None:
        return load_model_dir(import_mano(src))
    models = load_model_dir(ensure_standin())
    if not quiet:
        where = f"{mano_dir}, " if mano_dir else ""
        print(
            f"notice: no MANO_RIGHT.pkl/MANO_LEFT.pkl in {where}$MANO_DIR or assets/mano/: using the generated "
            f"stand-in hand model (standin {models.info['hash']})",
            file=sys.stderr,
        )
    return models
