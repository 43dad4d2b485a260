"""The skin material: Principled BSDF with subsurface scattering, an albedo texture in the hand's UV space and a
per-sample colour variation (hue, saturation, value), roughness and subsurface amount.

One material is shared by both hands (as in RenderIH: one skin per image).
"""

from dataclasses import dataclass

import bpy

from blender_scripts.images import ImageCache

# RenderIH's subsurface colour, used as the radius colour (red light travels furthest in skin).
SUBSURFACE_RADIUS = (1.0, 0.43, 0.41)
DEFAULT_ALBEDO = (0.60, 0.40, 0.32, 1.0)


@dataclass(frozen=True)
class SkinParams:
    """Per-sample skin settings. texture: path of an albedo image in the hand's UV layout, or None (flat colour)."""

    texture: str | None = None
    hue: float = 0.5  # 0.5 = unchanged
    saturation: float = 1.0
    value: float = 1.0
    roughness: float = 0.5
    subsurface: float = 0.2
    subsurface_scale: float = 0.004  # metres: skin scatters a few millimetres


class SkinMaterial:
    """Owns the node tree; `apply(params)` changes values and the texture image in place (no new datablocks
    except each new texture image, which is loaded once and kept in a small cache)."""

    def __init__(self, name: str = "skin", cache_size: int = 8):
        mat = bpy.data.materials.new(name)
        nt = mat.node_tree
        self.material = mat
        nodes, links = nt.nodes, nt.links
        for kind, name in (("ShaderNodeTexImage", "texture"), ("ShaderNodeRGB", "flat"),
                           ("ShaderNodeHueSaturation", "hsv")):  # fmt: skip
            nodes.new(kind).name = name
        # Python references to nodes can go stale while nodes are added: look them up after creating all.
        bsdf, self.tex, self.flat, self.hsv = (nodes[n] for n in ("Principled BSDF", "texture", "flat", "hsv"))
        bsdf.subsurface_method = "BURLEY"  # as RenderIH; the random-walk methods cost 2x here
        bsdf.inputs["Subsurface Radius"].default_value = SUBSURFACE_RADIUS
        self.bsdf = bsdf
        self.tex.interpolation = "Linear"
        self.flat.outputs[0].default_value = DEFAULT_ALBEDO
        links.new(self.hsv.outputs["Color"], bsdf.inputs["Base Color"])
        self.links = links
        self.images = ImageCache(cache_size, "texture image", colorspace="sRGB")

    def apply(self, p: SkinParams) -> None:
        src = self.flat.outputs[0]
        if p.texture is not None:
            self.tex.image = self.images.get(str(p.texture))
            src = self.tex.outputs["Color"]
        if not self.hsv.inputs["Color"].links or self.hsv.inputs["Color"].links[0].from_socket != src:
            self.links.new(src, self.hsv.inputs["Color"])
        self.hsv.inputs["Hue"].default_value = p.hue
        self.hsv.inputs["Saturation"].default_value = p.saturation
        self.hsv.inputs["Value"].default_value = p.value
        self.bsdf.inputs["Roughness"].default_value = p.roughness
        self.bsdf.inputs["Subsurface Weight"].default_value = p.subsurface
        self.bsdf.inputs["Subsurface Scale"].default_value = p.subsurface_scale
