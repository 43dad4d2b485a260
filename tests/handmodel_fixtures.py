"""A folder of MANO-format pickles written the way the licensed files are: Python 2 era protocol, chumpy objects
for some arrays, a scipy sparse J_regressor, and the left-hand shapedirs sign bug. Made from the stand-in."""

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse

from handmodel.standin import shipped


def _fake_chumpy_module():
    """A module named chumpy.ch with a Ch class that pickles like chumpy's (class reference + state with 'x')."""
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch.Ch = Ch
    return ch


def write_licensed_style_mano(folder: Path, shapedirs_bug: bool = True) -> dict:
    """Write MANO_RIGHT.pkl / MANO_LEFT.pkl into `folder`; returns the true (bug-free) arrays per hand."""
    folder.mkdir(parents=True, exist_ok=True)
    built = shipped()
    fake = _fake_chumpy_module()
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = fake
    try:
        for hand, fname in (("right", "MANO_RIGHT.pkl"), ("left", "MANO_LEFT.pkl")):
            arrays = dict(built[hand])
            shapedirs = arrays["shapedirs"].copy()
            if hand == "left" and shapedirs_bug:
                shapedirs[:, 0, :] *= -1  # the bug: the left file's x component has the right hand's sign
            data = {
                "v_template": arrays["v_template"],
                "f": arrays["f"].astype(np.uint32),
                "J_regressor": scipy.sparse.csc_matrix(arrays["J_regressor"]),
                "weights": arrays["weights"],
                "kintree_table": arrays["kintree_table"],
                "J": arrays["J"],
                "shapedirs": fake.Ch(shapedirs),
                "posedirs": arrays["posedirs"],
                "hands_components": arrays["hands_components"],
                "hands_coeffs": np.zeros((10, 45)),
                "hands_mean": arrays["hands_mean"],
                "bs_style": "lbs",
                "bs_type": "lrotmin",
            }
            with open(folder / fname, "wb") as f:
                pickle.dump(data, f, protocol=2)
    finally:
        del sys.modules["chumpy.ch"], sys.modules["chumpy"]
    return built
