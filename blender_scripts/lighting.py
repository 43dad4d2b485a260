"""The world light: an equirectangular HDRI with rotation and strength, or a procedural sky (no file needed).

The environment stands upright on the body of the hands: its up axis is the body frame's up (-y of the body frame,
whose x runs to the person's right and z forward; see handmodel/body.py), so a horizon tilts only by the camera's
own roll about the body, not by the poses' arbitrary world frame.

The world's node tree itself never turns: the scene turns everything it draws and its camera by
`environment_rotation` instead (blender_scripts/scene.py), which gives the same image. A changed world makes Cycles
rebuild the light's importance map and reload its image (about 5% of a sample's time); with the world fixed, the
renderer's samples that share an HDRI (it renders them one after another) share both.
"""

import math
from dataclasses import dataclass

import bpy
import numpy as np

from blender_scripts.images import ImageCache

# Body frame (x right, y down, z forward) -> environment map frame (z up, y the horizontal "north").
BODY_TO_ENV = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def environment_rotation(body_rotation, spin: float) -> np.ndarray:
    """(3,3) world direction -> environment map direction: undo the body's rotation in the world (body_rotation:
    (3,3) body -> world, None for the identity), stand the body's up on the map's +z, spin by `spin` radians
    about it."""
    R = np.eye(3) if body_rotation is None else np.asarray(body_rotation, dtype=np.float64)
    c, s = math.cos(spin), math.sin(spin)
    spin_z = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return spin_z @ BODY_TO_ENV @ R.T


def sphere_mean(equirect: np.ndarray) -> np.ndarray:
    """The mean (3,) over the sphere of an equirectangular image (H,W,3): rows weighted by the cosine of their
    latitude (row order does not matter)."""
    h, w = equirect.shape[:2]
    weight = np.cos((np.arange(h) + 0.5) / h * np.pi - np.pi / 2)
    return np.einsum("hwc,h->c", np.asarray(equirect, dtype=np.float64)[..., :3], weight) / (weight.sum() * w)


@dataclass(frozen=True)
class WorldParams:
    """hdri: path of an equirectangular image, or None for the procedural sky. rotation: radians about the
    vertical axis. sun_elevation: radians (sky only). body_rotation: (3,3) nested tuples, the body frame's axes in
    world coordinates (columns), None for a body frame aligned with the world."""

    hdri: str | None = None
    rotation: float = 0.0
    strength: float = 1.0
    sun_elevation: float = 0.6
    body_rotation: tuple | None = None


class World:
    """Owns the world node tree; `apply(params)` switches image / sky and sets values in place."""

    def __init__(self, scene, cache_size: int = 4):
        world = bpy.data.worlds.new("hands_world")
        scene.world = world
        nodes, links = world.node_tree.nodes, world.node_tree.links
        for kind, name in (("ShaderNodeTexCoord", "coords"), ("ShaderNodeMapping", "mapping"),
                           ("ShaderNodeTexEnvironment", "env"), ("ShaderNodeTexSky", "sky")):  # fmt: skip
            nodes.new(kind).name = name
        # Python references to nodes can go stale while nodes are added: look them up after creating all.
        self.background, self.mapping = nodes["Background"], nodes["mapping"]
        self.env, self.sky = nodes["env"], nodes["sky"]
        # Hosek-Wilkie takes a direction input (so it turns with the HDRI mapping); the Nishita types do not.
        self.sky.sky_type = "HOSEK_WILKIE"
        links.new(nodes["coords"].outputs["Generated"], self.mapping.inputs["Vector"])
        for node in (self.env, self.sky):
            links.new(self.mapping.outputs["Vector"], node.inputs["Vector"])
        self.links = links
        self.images = ImageCache(cache_size, "HDRI")
        self._applied: tuple | None = None
        self._colours: dict[str, np.ndarray] = {}
        # The HDRI's mean linear colour over the sphere (the white balance's illuminant where little skin shows);
        # None for the procedural sky.
        self.illuminant = None

    def apply(self, p: WorldParams) -> None:
        """Show the light of `p`, all but its rotation (the scene's `rotation_of`); values that did not change are
        not set again (setting one, even to the same value, makes Cycles rebuild the world)."""
        key = (p.hdri, p.strength, None if p.hdri is not None else p.sun_elevation)
        if key == self._applied:
            return
        self._applied = key
        if p.hdri is not None:
            self.env.image = self.images.get(str(p.hdri))
            src = self.env.outputs["Color"]
            self.illuminant = self.mean_colour(str(p.hdri), self.env.image)
        else:
            self.illuminant = None
            self.sky.sun_direction = (math.cos(p.sun_elevation), 0.0, math.sin(p.sun_elevation))
            src = self.sky.outputs["Color"]
        socket = self.background.inputs["Color"]
        if not socket.links or socket.links[0].from_socket != src:
            self.links.new(src, socket)
        if self.background.inputs["Strength"].default_value != p.strength:
            self.background.inputs["Strength"].default_value = p.strength

    @staticmethod
    def rotation_of(p: WorldParams) -> np.ndarray:
        """(3,3) world -> environment map directions of `p`: the rotation the scene gives what it draws."""
        return environment_rotation(p.body_rotation, p.rotation)

    def mean_colour(self, path: str, image) -> np.ndarray:
        """An equirectangular image's mean linear RGB over the sphere (rows weighted by the cosine of their
        latitude); read once per file (tens of ms for a 2k map) and kept."""
        if path not in self._colours:
            w, h = image.size
            px = np.empty(w * h * image.channels, dtype=np.float32)
            image.pixels.foreach_get(px)
            self._colours[path] = sphere_mean(px.reshape(h, w, image.channels))
        return self._colours[path]
