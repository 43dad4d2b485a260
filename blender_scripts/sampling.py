"""Per-sample scene parameters drawn from (seed, sample id) alone, so any sample can be re-made on its own and the
same ids give the same images under any shard layout or resume. Numpy only."""

import math
from dataclasses import dataclass

import numpy as np

from blender_scripts.camera import CameraRanges, sample_orbit_camera
from blender_scripts.cloth import ClothParams
from blender_scripts.lighting import WorldParams
from blender_scripts.materials import SkinParams
from handmodel.camera import framing_intrinsics, project, world_to_camera
from handmodel.interhand_release import read_camera_file
from textures.catalogue import texture_detail


@dataclass(frozen=True)
class SampleScene:
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    skin: SkinParams
    world: WorldParams
    hdri_name: str
    camera_name: str | None
    exposure_stops: float = 0.0  # in [-1, 1]: x the run's --exposure-spread, the stops away from the target
    sleeves: dict | None = None  # hand -> where its sleeve starts (metres from the wrist) or None
    cloth: ClothParams | None = None


def sample_rng(seed: int, sample_id: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(sample_id)])


def load_rig_cameras(path) -> list[dict]:
    """InterHand2.6M's camera file (read by `handmodel.interhand_release.read_camera_file`, which checks it) -> a
    list of {'name': 'capture/camera', 'K', 'R', 't' (metres), 'size' (W, H) estimated as twice the principal
    point}, cameras of a capture sorted by id."""
    cams = []
    for capture, rig in read_camera_file(path).items():
        for cam in sorted(rig, key=str):
            c = rig[cam]
            cx, cy = c.K[0, 2], c.K[1, 2]
            size = (int(round(2 * cx)), int(round(2 * cy)))
            cams.append({"name": f"{capture}/{cam}", "K": c.K, "R": c.R, "t": c.t, "size": size})
    return cams


def pick_rig_camera(rng, cams: list[dict], points: np.ndarray, size: int, fill: float = 0.8):
    """A random rig camera that sees every point in front of it and inside its original image, as (K', R, t, name)
    with K' rendering straight into the square crop; None if no camera sees the hands."""
    for i in rng.permutation(len(cams)):
        c = cams[i]
        cam = world_to_camera(points, c["R"], c["t"])
        if cam[:, 2].min() < 0.05:
            continue
        uv = project(cam, c["K"])
        w, h = c["size"]
        if uv.min() < 0 or uv[:, 0].max() > w - 1 or uv[:, 1].max() > h - 1:
            continue
        # The rig's render-then-crop, rendered straight into the crop.
        K = framing_intrinsics(cam, size, fill, c["K"])
        return K, c["R"], c["t"], c["name"]
    return None


def sample_scene(
    seed: int,
    sample_id: int,
    points: np.ndarray,
    size: int,
    hdris: list,
    textures: list,
    rig_cameras: list | None = None,
    ranges: CameraRanges = CameraRanges(),
    body_rotation: np.ndarray | None = None,
    sleeve_probability: float = 0.0,
    forearms: list | None = None,
) -> SampleScene | None:
    """Everything random about one sample. points: both hands' vertices (N,3) world metres; hdris: catalogue
    entries (name, path); textures: paths; body_rotation: (3,3) body -> world rotation of the hands' body (the
    environment stands upright on it, orbit cameras look from its front and above); sleeve_probability: the
    chance that the arms wear sleeves; forearms: (wrist, axis) of each rendered forearm, whose elbow ends orbit
    cameras keep out of the picture (`sample_orbit_camera`). None when rig cameras are given and none of them
    sees the hands."""
    rng = sample_rng(seed, sample_id)
    cam_rng, light_rng, skin_rng, cloth_rng = rng.spawn(4)
    if rig_cameras:
        picked = pick_rig_camera(cam_rng, rig_cameras, points, size)
        if picked is None:
            return None
        K, R, t, cam_name = picked
    else:
        K, R, t = sample_orbit_camera(cam_rng, points, size, ranges, body_rotation=body_rotation, forearms=forearms)
        cam_name = None
    entry = hdris[light_rng.integers(len(hdris))]
    world = WorldParams(
        hdri=entry.path,
        rotation=float(light_rng.uniform(0, 2 * math.pi)),
        strength=1.0,  # the exposure rule sets the brightness
        sun_elevation=float(light_rng.uniform(0.15, 1.2)),
        body_rotation=None if body_rotation is None else tuple(map(tuple, np.asarray(body_rotation, float))),
    )
    exposure_stops = float(light_rng.uniform(-1.0, 1.0))
    texture = str(textures[skin_rng.integers(len(textures))]) if textures else None
    # Small variations around the texture's own tone (hue shifts larger than this read as grey or lilac skin).
    skin = SkinParams(
        texture=texture,
        detail=texture_detail(texture) if texture else None,
        hue=float(skin_rng.uniform(0.494, 0.506)),
        saturation=float(skin_rng.uniform(0.92, 1.08)),
        value=float(skin_rng.uniform(0.92, 1.08)),
        roughness=float(skin_rng.uniform(0.45, 0.6)),
        nail_roughness=float(skin_rng.uniform(0.2, 0.3)),
        scatter=float(skin_rng.uniform(0.8, 1.25)),
        bump=float(skin_rng.uniform(0.35, 0.6)),
    )
    sleeves, cloth = None, None
    if cloth_rng.uniform() < sleeve_probability:
        # One garment: both sleeves start a few centimetres up the forearm (pushed up or at the wrist).
        start = float(cloth_rng.uniform(0.015, 0.09))
        sleeves = {h: start + float(cloth_rng.uniform(-0.015, 0.015)) for h in ("right", "left")}
        hue, sat, val = cloth_rng.uniform(0, 1), cloth_rng.uniform(0.05, 0.8), np.exp(cloth_rng.uniform(-3.5, -0.4))
        rgb = val * (1 - sat + sat * (0.5 + 0.5 * np.cos(2 * np.pi * (hue - np.array([0.0, 1 / 3, 2 / 3])))))
        cloth = ClothParams(
            color=tuple(float(c) for c in rgb),
            roughness=float(cloth_rng.uniform(0.6, 1.0)),
            sheen=float(cloth_rng.uniform(0.2, 1.0)),
            weave=float(cloth_rng.uniform(500, 1500)),
        )
    return SampleScene(K=K, R=R, t=t, skin=skin, world=world, hdri_name=entry.name, camera_name=cam_name,
                       exposure_stops=exposure_stops, sleeves=sleeves, cloth=cloth)  # fmt: skip


def world_order(specs: list) -> list[int]:
    """Positions of `specs` (SampleScene) in the order to render them: the samples lit by one HDRI one after another,
    each group in its own order, so the scene keeps the world's image and importance map between them. Every
    sample's content depends on its (seed, id) alone, so the order changes no output."""
    return sorted(range(len(specs)), key=lambda k: (specs[k].hdri_name, k))
