"""The texture catalogue: generated skin textures of the active hand model, plus user folders of textures painted
in the same UV layout (`uv_layout.png` beside the generated ones shows it).

A texture is an albedo image; an image beside it named `NAME.detail.png` (R height, G nail, B roughness scale, as
the generated ones have) adds bump and gloss detail, and `NAME.json` its skin layers. User folders may hold both.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_write_json
from handmodel.errors import InputError
from handmodel.models import MANO_DIR_HELP
from handmodel.options import IMAGE_SIDE_MAX, SEED_MAX, option
from handmodel.png import write_png
from textures import uv_layout
from textures.skin import DETAIL_SUFFIX, SKIN_TONES, skin_texture

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Bumped whenever the generator changes, so cached textures of an older generator are not reused.
GENERATOR_VERSION = 4


def layout_picture(layout: dict, size: int) -> np.ndarray:
    """The UV layout as a white-on-black wireframe (size, size) uint8, to paint textures against."""
    img = np.zeros((size, size), np.uint8)
    for tri in layout["uv"]:
        for a, b in ((0, 1), (1, 2), (2, 0)):
            n = 2 + int(np.abs(tri[b] - tri[a]).max() * size * 2)
            s = np.linspace(0, 1, n)[:, None]
            pts = tri[a] + s * (tri[b] - tri[a])
            img[((1 - pts[:, 1]) * size - 0.5).round().astype(int).clip(0, size - 1),
                (pts[:, 0] * size - 0.5).round().astype(int).clip(0, size - 1)] = 255  # fmt: skip
    return img


@dataclass(kw_only=True)
class TextureSettings:
    """Everything one `textures make` run is told; the defaults are the command line's."""

    out: str | None = option("Folder for the textures (default: the hand model's cache, where `render` looks).", None,
                             path="dir")  # fmt: skip
    resolution: int = option("Texture side in pixels.", 512, min=16, max=IMAGE_SIDE_MAX, aliases=("--size",))
    variants: int = option("Textures per skin tone (Fitzpatrick I-VI).", 3, min=1)
    seed: int = option("Seed of the pigment patterns.", 0, min=0, max=SEED_MAX)
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")


def make_textures(models, out_dir=None, size: int = 512, variants: int = 3, seed: int = 0, progress=None) -> list:
    """Generate `variants` textures per skin tone (Fitzpatrick I-VI) for this hand model; returns the albedo paths
    (each with its `.detail.png` and `.json` beside it).

    Written to `out_dir` (default: the model's texture cache folder) with `uv_layout.png`; existing files are
    replaced atomically.
    """
    layouts = uv_layout.load_or_build(models)
    out = Path(out_dir) if out_dir else uv_layout.cache_dir(models)
    out.mkdir(parents=True, exist_ok=True)
    write_png(out / "uv_layout.png", layout_picture(layouts["right"], size))
    jobs = [(k, name, tone, v) for k, (name, tone) in enumerate(SKIN_TONES.items()) for v in range(variants)]
    paths = []
    for k, name, tone, v in jobs if progress is None else progress(jobs):
        rng = np.random.default_rng([seed, k, v])
        image, detail, info = skin_texture(models["right"], layouts["right"], tone, rng, size)
        path = out / f"skin_v{GENERATOR_VERSION}_{k:02d}_{name}_{v}.png"
        write_png(detail_path(path), detail)
        atomic_write_json(path.with_suffix(".json"), {"fitzpatrick": name, **info})
        write_png(path, image)
        paths.append(path)
    return paths


def detail_path(texture) -> Path:
    """Where a texture's detail map lives: NAME.detail.png beside NAME.png / NAME.jpg."""
    t = Path(texture)
    return t.with_name(t.stem + DETAIL_SUFFIX)


def texture_detail(texture) -> str | None:
    """The texture's detail map if it has one."""
    d = detail_path(texture)
    return str(d) if d.is_file() else None


def _is_albedo(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and name[0] != "." and not name.endswith(DETAIL_SUFFIX)


def generated_textures(models) -> list[Path]:
    found = uv_layout.cache_dir(models).glob(f"skin_v{GENERATOR_VERSION}_*.png")
    return sorted(p for p in found if _is_albedo(p.name))


def list_textures(models, user_dirs=(), include_generated: bool = True) -> list[str]:
    """Texture paths to draw from: the generated ones (made on first use) and every image in `user_dirs`."""
    paths = []
    if include_generated:
        gen = generated_textures(models)
        if not gen:
            gen = make_textures(models)
        paths += [str(p) for p in gen]
    for d in user_dirs:
        d = Path(d)
        if not d.is_dir():
            raise InputError(f"{d}: no such texture folder")
        files = sorted(str(p) for p in d.iterdir() if _is_albedo(p.name))
        if not files:
            raise InputError(f"{d}: no texture images (.png, .jpg) in this folder")
        paths += [f for f in files if os.path.basename(f) != "uv_layout.png"]
    if not paths:
        raise InputError("no textures to draw from (run `python cli.py textures make` or pass --texture-dir)")
    return paths
