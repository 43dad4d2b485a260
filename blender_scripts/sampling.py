"""Per-sample scene parameters drawn from (seed, sample id) alone, so any sample can be re-made on its own and the
same ids give the same images under any shard layout or resume. Numpy only."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_scripts.camera import CameraRanges, crop_rig_camera, sample_orbit_camera
from blender_scripts.lighting import WorldParams
from blender_scripts.materials import SkinParams
from handmodel.camera import project, world_to_camera
from handmodel.errors import InputError
from handmodel.validate import numeric_array, rotation
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


def sample_rng(seed: int, sample_id: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(sample_id)])


def load_rig_cameras(path) -> list[dict]:
    """InterHand2.6M's camera file {capture: {campos{cam}: mm, camrot{cam}, focal{cam}, princpt{cam}}} -> a list
    of {'name', 'K', 'R', 't' (metres), 'size' (W, H) estimated as twice the principal point}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        cams = []
        for capture, c in data.items():
            for cam in sorted(c["campos"], key=str):
                key = f"{capture}/{{}}/{cam}"
                R = rotation(numeric_array(c["camrot"][cam], path, key.format("camrot"), (3, 3), reshape=True), path,
                             key.format("camrot"), tol=1e-2)  # fmt: skip
                pos = numeric_array(c["campos"][cam], path, key.format("campos"), (3,), reshape=True) / 1000.0
                fx, fy = numeric_array(c["focal"][cam], path, key.format("focal"), (2,), reshape=True, min=0,
                                       min_open=True)  # fmt: skip
                cx, cy = numeric_array(c["princpt"][cam], path, key.format("princpt"), (2,), reshape=True, min=0.5)
                K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
                size = (int(round(2 * cx)), int(round(2 * cy)))
                cams.append({"name": f"{capture}/{cam}", "K": K, "R": R, "t": -R @ pos, "size": size})
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read the camera file ({e})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(
            f"{path}: not an InterHand2.6M camera file ({type(e).__name__}: {e}; expected "
            "{capture: {campos, camrot, focal, princpt}})"
        ) from None
    if not cams:
        raise InputError(f"{path}: no cameras in the file")
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
        K = crop_rig_camera(c["K"], c["R"], c["t"], points, size, fill)
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
) -> SampleScene | None:
    """Everything random about one sample. points: both hands' vertices (N,3) world metres; hdris: catalogue
    entries (name, path); textures: paths; body_rotation: (3,3) body -> world rotation of the hands' body (the
    environment stands upright on it). None when rig cameras are given and none of them sees the hands."""
    rng = sample_rng(seed, sample_id)
    cam_rng, light_rng, skin_rng = rng.spawn(3)
    if rig_cameras:
        picked = pick_rig_camera(cam_rng, rig_cameras, points, size)
        if picked is None:
            return None
        K, R, t, cam_name = picked
    else:
        K, R, t = sample_orbit_camera(cam_rng, points, size, ranges)
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
    return SampleScene(K=K, R=R, t=t, skin=skin, world=world, hdri_name=entry.name, camera_name=cam_name,
                       exposure_stops=exposure_stops)  # fmt: skip
