"""Posed hands seen through many cameras: the mask and depth (and, on request, the RGB image) of each view, with
one Blender scene per image size. A new scene resets Blender, so the views are rendered grouped by size.

    with ViewRenderer(faces) as r:                       # one view at a time (a worker's state)
        passes = r.render(View(verts, K, R, t, (w, h)))
    for item, passes in render_views(items, faces, view_of):   # a list of views, grouped by size
        ...

This is the API for label renders (`interhand prepare`, `interhand masks`) and any other caller that renders
known geometry through given cameras (the mini release's images); `HandScene` below it stays one scene.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from blender_scripts.scene import HandScene


@dataclass
class View:
    """One picture: verts {hand: (V,3) world metres, or None to hide it}, an OpenCV camera (K (3,3) pixels,
    R (3,3), t (3,) world -> camera) and the image size (width, height) in pixels."""

    verts: dict
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    size: tuple[int, int]


class ViewRenderer:
    """Renders views with one live HandScene, replaced when a view has another image size.

    faces: per hand (F,3); samples: Cycles samples of RGB renders (label renders always take one); subdivision:
    Catmull-Clark levels (0 for labels: the pixels show the mesh the annotations describe); threads: 0 = all cores.
    """

    def __init__(self, faces: dict, samples: int = 1, subdivision: int = 0, threads: int = 0):
        self.faces, self.samples, self.subdivision, self.threads = faces, samples, subdivision, threads
        self.scene: HandScene | None = None

    def render(self, view: View, rgb: bool = False) -> dict[str, np.ndarray]:
        """HandScene.render's passes of `view`: 'mask' (H,W) uint8, 'depth' (H,W) float32 metres, and 'rgb' if asked."""
        size = (int(view.size[0]), int(view.size[1]))
        if self.scene is None or (self.scene.width, self.scene.height) != size:
            self.close()
            self.scene = HandScene(self.faces, size[0], size[1], samples=self.samples, subdivision=self.subdivision,
                                   threads=self.threads)  # fmt: skip
        self.scene.set_hands(view.verts)
        self.scene.set_camera(view.K, view.R, view.t)
        return self.scene.render(rgb=rgb)

    def close(self) -> None:
        if self.scene is not None:
            self.scene.close()
            self.scene = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def render_views(
    items: Iterable,
    faces: dict,
    view_of: Callable[[object], View],
    size_of: Callable[[object], tuple],
    rgb: bool = False,
    samples: int = 1,
    subdivision: int = 0,
    threads: int = 0,
) -> Iterator[tuple]:
    """Yield (item, passes) for every item, grouped by image size (`size_of(item)` -> (width, height); stable
    within a size). `view_of(item)` makes the item's View just before its render, so vertices can be read from
    disk one at a time."""
    with ViewRenderer(faces, samples=samples, subdivision=subdivision, threads=threads) as renderer:
        for item in sorted(items, key=lambda it: tuple(size_of(it))):
            yield item, renderer.render(view_of(item), rgb=rgb)
