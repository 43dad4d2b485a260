"""The sleeve material: a woven cloth (Principled BSDF with sheen, a fine procedural weave bump and a colour that
varies a little across the fabric), its colour and roughness set per sample."""

from dataclasses import dataclass

import bpy


@dataclass(frozen=True)
class ClothParams:
    """Per-sample cloth settings: base colour (linear RGB), roughness, sheen weight, weave scale (per metre)."""

    color: tuple = (0.1, 0.12, 0.2)
    roughness: float = 0.85
    sheen: float = 0.5
    weave: float = 900.0


class ClothMaterial:
    """Owns the cloth node tree; `apply(params)` sets values in place."""

    def __init__(self, name: str = "cloth"):
        mat = bpy.data.materials.new(name)
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        for kind, label in (("ShaderNodeTexCoord", "coords"), ("ShaderNodeTexWave", "weave"),
                            ("ShaderNodeBump", "bump"), ("ShaderNodeTexNoise", "mottle"),
                            ("ShaderNodeMixRGB", "tint")):  # fmt: skip
            nodes.new(kind).name = label
        bsdf, coords, weave, bump, mottle, tint = (
            nodes[n] for n in ("Principled BSDF", "coords", "weave", "bump", "mottle", "tint")
        )
        weave.wave_type = "BANDS"
        weave.bands_direction = "DIAGONAL"
        weave.inputs["Distortion"].default_value = 2.0
        links.new(coords.outputs["Object"], weave.inputs["Vector"])
        links.new(weave.outputs["Fac"], bump.inputs["Height"])
        bump.inputs["Strength"].default_value = 0.25
        bump.inputs["Distance"].default_value = 0.0004
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
        links.new(coords.outputs["Object"], mottle.inputs["Vector"])
        mottle.inputs["Scale"].default_value = 40.0
        tint.blend_type = "MULTIPLY"
        tint.inputs["Fac"].default_value = 0.25
        links.new(mottle.outputs["Color"], tint.inputs["Color2"])
        links.new(tint.outputs["Color"], bsdf.inputs["Base Color"])
        self.material, self.bsdf, self.weave, self.tint = mat, bsdf, weave, tint

    def apply(self, p: ClothParams) -> None:
        self.tint.inputs["Color1"].default_value = (*p.color, 1.0)
        self.bsdf.inputs["Roughness"].default_value = p.roughness
        self.bsdf.inputs["Sheen Weight"].default_value = p.sheen
        self.weave.inputs["Scale"].default_value = p.weave
