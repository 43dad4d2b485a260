"""The world light: an equirectangular HDRI with rotation and strength, or a procedural sky (no file needed)."""

import math
from dataclasses import dataclass

import bpy

from blender_scripts.images import ImageCache


@dataclass(frozen=True)
class WorldParams:
    """hdri: path of an equirectangular image, or None for the procedural sky. rotation: radians about the
    vertical axis. sun_elevation: radians (sky only)."""

    hdri: str | None = None
    rotation: float = 0.0
    strength: float = 1.0
    sun_elevation: float = 0.6


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

    def apply(self, p: WorldParams) -> None:
        if p.hdri is not None:
            self.env.image = self.images.get(str(p.hdri))
            src = self.env.outputs["Color"]
        else:
            self.sky.sun_direction = (math.cos(p.sun_elevation), 0.0, math.sin(p.sun_elevation))
            src = self.sky.outputs["Color"]
        socket = self.background.inputs["Color"]
        if not socket.links or socket.links[0].from_socket != src:
            self.links.new(src, socket)
        # The toolkit's world has -y up (OpenCV-style) and environment maps have +z up: turn -y onto +z
        # (-90 degrees about x), then spin the environment about its vertical axis.
        self.mapping.inputs["Rotation"].default_value = (-math.pi / 2, 0.0, p.rotation)
        self.background.inputs["Strength"].default_value = p.strength
