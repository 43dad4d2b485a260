"""Blender's own Python, as far as imports go: with this folder on PYTHONPATH, importing a module installed in
site-packages raises ModuleNotFoundError unless Blender ships it too (bpy with mathutils and its bundled scripts,
numpy, requests and its dependencies, zstandard, Cython). The standard library and the repository's own packages
import as usual.

    PYTHONPATH=tests/blender_python .venv/bin/python blender_scripts/render.py -- --poses P.npz --out D
"""

import importlib.machinery
import site
import sys
from pathlib import Path

SHIPPED = {"bpy", "mathutils", "numpy", "requests", "certifi", "charset_normalizer", "idna", "urllib3", "zstandard",
           "Cython", "pyximport"}  # fmt: skip
SITE_DIRS = [Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]]


def installed_as(location: str) -> str | None:
    """The site-packages entry a module's file or folder lies in ('tqdm', 'bpy', ...), or None outside them."""
    path = Path(location).resolve()
    for d in SITE_DIRS:
        if path != d and path.is_relative_to(d):
            return path.relative_to(d).parts[0]
    return None


class RefuseWhatBlenderLacks:
    """A meta-path finder ahead of the others: it finds a top-level module the usual way and refuses it when it
    comes from site-packages and is not Blender's (Blender's scripts and add-ons live inside site-packages/bpy)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is not None or name in SHIPPED:  # a submodule: its package was allowed
            return None
        spec = importlib.machinery.PathFinder.find_spec(name)
        if spec is None:
            return None
        places = [spec.origin] if spec.has_location and spec.origin else list(spec.submodule_search_locations or ())
        if any(installed_as(p) not in (None, "bpy") for p in places):
            raise ModuleNotFoundError(f"No module named {name!r} (Blender's own Python does not ship it)", name=name)
        return None


sys.meta_path.insert(0, RefuseWhatBlenderLacks)
