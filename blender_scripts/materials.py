"""The skin material: a Principled BSDF that scatters under the surface, with an albedo texture in the hand's UV space
and its detail map (bump for creases, wrinkles and pores; glossier nails; a roughness scale), and a small per-sample
colour variation (hue, saturation, value), roughness and subsurface radius.

Skin is a dielectric (index 1.4, no metal, no coat or sheen): its highlights stay soft with a roughness around
0.5; nails are glossier. Light scatters a few millimetres under the skin, red light furthest; darker skin, whose
melanin absorbs what travels deep, shows less of it (`subsurface_radius`). Half the diffuse light goes through the
scattering (weight 0.5): converged, its image differs from full weight's by a PSNR of 47-51 dB, and it is less
noisy at the renderer's few samples (blender_scripts/quality.py).

One material is shared by both hands (as in RenderIH: one skin per image).
"""

from dataclasses import dataclass

import bpy
import numpy as np

from blender_scripts.images import ImageCache
from textures.skin_model import ita_class, ita_degrees, srgb_to_linear

DEFAULT_ALBEDO = (0.60, 0.40, 0.32, 1.0)
SKIN_IOR = 1.4
BUMP_DISTANCE = 0.0004  # metres of relief for the detail map's full height range
# A mesh may carry a second UV map onto the palm's skin and, per face corner, the share of it in the skin colour
# (the forearm's inner side: blender_scripts/render.py `hand_meshes`); a mesh without them reads share 0.
PALM_UV, PALM_SHARE = "UVPalm", "palm_share"


def subsurface_radius(albedo_linear) -> tuple[tuple[float, float, float], float]:
    """Per-channel scattering radius (relative RGB) and scale (metres) of skin whose mean linear albedo (R, G, B)
    is `albedo_linear`: about 3.5 mm of red scattering on light skin, half that on the darkest."""
    red = min(max(float(albedo_linear[0]), 0.02), 0.7)
    light = min(red / 0.55, 1.0) ** 0.5
    colour = (1.0, 0.28 + 0.12 * light, 0.16 + 0.09 * light)
    return colour, 0.0035 * (0.45 + 0.55 * light)


@dataclass(frozen=True)
class SkinParams:
    """Per-sample skin settings. texture: path of an albedo image in the hand's UV layout, or None (flat colour);
    detail: its detail map (R height, G nail, B roughness scale) or None (flat)."""

    texture: str | None = None
    detail: str | None = None
    hue: float = 0.5  # 0.5 = unchanged
    saturation: float = 1.0
    value: float = 1.0
    roughness: float = 0.5
    nail_roughness: float = 0.25
    subsurface: float = 0.5
    scatter: float = 1.0  # x the tone's subsurface scale (`subsurface_radius`)
    bump: float = 0.5


class SkinMaterial:
    """Owns the node tree; `apply(params)` changes values and the texture images in place (no new datablocks
    except each new texture image, which is loaded once and kept in a small cache)."""

    def __init__(self, name: str = "skin", cache_size: int = 8):
        mat = bpy.data.materials.new(name)
        nt = mat.node_tree
        self.material = mat
        nodes, links = nt.nodes, nt.links
        kinds = [
            ("ShaderNodeTexImage", "texture"),
            ("ShaderNodeUVMap", "palm_uv"),
            ("ShaderNodeTexImage", "texture_palm"),
            ("ShaderNodeAttribute", "palm_share"),
            ("ShaderNodeMix", "palm_mix"),
            ("ShaderNodeRGB", "flat"),
            ("ShaderNodeHueSaturation", "hsv"),
            ("ShaderNodeTexImage", "detail"),
            ("ShaderNodeSeparateColor", "split"),
            ("ShaderNodeBump", "bump"),
        ]
        kinds += [("ShaderNodeMath", n) for n in ("rough_scale", "rough_skin", "rough_diff", "rough")]  # fmt: skip
        for kind, node_name in kinds:
            nodes.new(kind).name = node_name
        # Python references to nodes can go stale while nodes are added: look them up after creating all.
        bsdf = nodes["Principled BSDF"]
        self.tex, self.flat, self.hsv, self.detail = (nodes[n] for n in ("texture", "flat", "hsv", "detail"))
        split, bump = nodes["split"], nodes["bump"]
        scale, skin, diff, rough = (nodes[n] for n in ("rough_scale", "rough_skin", "rough_diff", "rough"))
        bsdf.subsurface_method = "BURLEY"  # as RenderIH; the random-walk methods cost 2x here
        bsdf.inputs["IOR"].default_value = SKIN_IOR
        bsdf.inputs["Metallic"].default_value = 0.0
        self.bsdf = bsdf
        self.tex_palm = nodes["texture_palm"]
        self.tex.interpolation = self.detail.interpolation = self.tex_palm.interpolation = "Linear"
        nodes["palm_uv"].uv_map = PALM_UV
        links.new(nodes["palm_uv"].outputs["UV"], self.tex_palm.inputs["Vector"])
        share = nodes["palm_share"]
        share.attribute_type, share.attribute_name = "GEOMETRY", PALM_SHARE
        mix = nodes["palm_mix"]
        mix.data_type = "RGBA"
        sockets = {sk.identifier: sk for sk in mix.inputs}
        links.new(share.outputs["Fac"], sockets["Factor_Float"])
        links.new(self.tex.outputs["Color"], sockets["A_Color"])
        links.new(self.tex_palm.outputs["Color"], sockets["B_Color"])
        self.textured = next(sk for sk in mix.outputs if sk.identifier == "Result_Color")
        self.flat.outputs[0].default_value = DEFAULT_ALBEDO
        links.new(self.hsv.outputs["Color"], bsdf.inputs["Base Color"])
        # roughness = skin * (0.6 + 0.8 B) + G * (nail - skin * (0.6 + 0.8 B))
        links.new(self.detail.outputs["Color"], split.inputs["Color"])
        scale.operation, skin.operation, diff.operation, rough.operation = ("MULTIPLY_ADD", "MULTIPLY", "SUBTRACT",
                                                                            "MULTIPLY_ADD")  # fmt: skip
        links.new(split.outputs["Blue"], scale.inputs[0])
        scale.inputs[1].default_value, scale.inputs[2].default_value = 0.8, 0.6
        links.new(scale.outputs[0], skin.inputs[0])
        links.new(skin.outputs[0], diff.inputs[1])
        links.new(split.outputs["Green"], rough.inputs[0])
        links.new(diff.outputs[0], rough.inputs[1])
        links.new(skin.outputs[0], rough.inputs[2])
        links.new(rough.outputs[0], bsdf.inputs["Roughness"])
        self.skin_roughness, self.nail_roughness = skin.inputs[1], diff.inputs[0]
        links.new(split.outputs["Red"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
        bump.inputs["Distance"].default_value = BUMP_DISTANCE
        self.bump = bump
        self.links = links
        self.images = ImageCache(cache_size, "texture image", colorspace="sRGB")
        self.details = ImageCache(cache_size, "texture detail map", colorspace="Non-Color")
        self.flat_detail = bpy.data.images.new("flat_detail", 4, 4, alpha=False)
        self.flat_detail.colorspace_settings.name = "Non-Color"
        self.flat_detail.pixels.foreach_set([0.5, 0.0, 0.5, 1.0] * 16)
        self.flat_detail.use_fake_user = True

        self._tones = {}
        self.tone = self.tone_of(None)

    def tone_of(self, image) -> dict:
        """The skin tone of an albedo image (or the flat colour): the linear albedo of the back of the hand (the
        30th percentile of its painted texels), its ITA angle and class; cached per image."""
        key = None if image is None else image.name
        if key not in self._tones:
            if image is None:
                srgb = np.array(DEFAULT_ALBEDO[:3])
            else:
                px = np.empty(image.size[0] * image.size[1] * image.channels, np.float32)
                image.pixels.foreach_get(px)
                rgb = px.reshape(-1, image.channels)[::7, :3]
                rgb = rgb[rgb.max(1) > 0.03]  # leave out unpainted (black) texels
                # The darker part of the texels: the back of the hand (palms are paler, most on dark skin).
                srgb = np.percentile(rgb, 30, axis=0) if len(rgb) else np.array(DEFAULT_ALBEDO[:3])
            ita = float(ita_degrees(srgb))
            self._tones[key] = {"albedo": srgb_to_linear(srgb).tolist(), "ita": ita, "tone": ita_class(ita)}
        return self._tones[key]

    def apply(self, p: SkinParams) -> None:
        src = self.flat.outputs[0]
        image = None
        if p.texture is not None:
            image = self.tex.image = self.tex_palm.image = self.images.get(str(p.texture))
            src = self.textured
        self.tone = self.tone_of(image)
        if not self.hsv.inputs["Color"].links or self.hsv.inputs["Color"].links[0].from_socket != src:
            self.links.new(src, self.hsv.inputs["Color"])
        self.detail.image = self.details.get(str(p.detail)) if p.detail else self.flat_detail
        self.hsv.inputs["Hue"].default_value = p.hue
        self.hsv.inputs["Saturation"].default_value = p.saturation
        self.hsv.inputs["Value"].default_value = p.value
        self.skin_roughness.default_value = p.roughness
        self.nail_roughness.default_value = p.nail_roughness
        self.bump.inputs["Strength"].default_value = p.bump
        self.bsdf.inputs["Subsurface Weight"].default_value = p.subsurface
        radius, scale = subsurface_radius(self.tone["albedo"])
        self.bsdf.inputs["Subsurface Radius"].default_value = radius
        self.bsdf.inputs["Subsurface Scale"].default_value = scale * p.scatter
