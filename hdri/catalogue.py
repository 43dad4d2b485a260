"""Which environment lights the renderer can draw from.

Entries are (name, path) pairs; the procedural sky is the entry named 'sky' with no path. The bundled HDRIs are
Blender's `datafiles/studiolights/world/*.exr` (city, courtyard, forest, interior, night, studio, sunrise, sunset:
CC0 Poly Haven originals, 1024x512). User folders add every .exr/.hdr/.png/.jpg in them.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from handmodel.errors import InputError

SKY = "sky"
IMAGE_SUFFIXES = (".exr", ".hdr", ".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class HdriEntry:
    name: str
    path: str | None  # None: the procedural sky
    source: str  # 'blender', 'user' or 'procedural'


def bundled_dir() -> Path:
    import bpy

    return Path(bpy.utils.system_resource("DATAFILES", path="studiolights/world"))


def list_hdris(user_dirs=(), include_bundled: bool = True, include_sky: bool = True) -> list[HdriEntry]:
    """The catalogue, in a stable order: bundled, then each user folder (sorted), then the sky.

    A user folder that does not exist or holds no image raises InputError naming it.
    """
    entries = []
    if include_bundled:
        folder = bundled_dir()
        entries += [HdriEntry(p.stem, str(p), "blender") for p in sorted(folder.glob("*.exr"))]
    for d in user_dirs:
        d = Path(d)
        if not d.is_dir():
            raise InputError(f"{d}: no such HDRI folder")
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise InputError(f"{d}: no HDRI images (.exr, .hdr, .png, .jpg) in this folder")
        entries += [HdriEntry(f"{d.name}/{p.stem}", str(p), "user") for p in files]
    if include_sky:
        entries.append(HdriEntry(SKY, None, "procedural"))
    if not entries:
        raise InputError("no HDRIs to draw from (add --hdri-dir, or allow the bundled ones or the sky)")
    return entries


def describe(entries: list[HdriEntry]) -> str:
    """A printable table of the catalogue."""
    width = max(len(e.name) for e in entries)
    lines = []
    for e in entries:
        where = e.path if e.path else "Hosek-Wilkie sky, random sun elevation (no file)"
        size = f"{os.path.getsize(e.path) / 1e6:6.1f} MB" if e.path else "       -"
        lines.append(f"{e.name:<{width}}  {e.source:<10}  {size}  {where}")
    return "\n".join(lines)
