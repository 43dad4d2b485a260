"""Cameras sampled around the hands for the renderer (pure numpy, no bpy).

The framing (square crop and its intrinsics), the pixel convention and the conversion to Blender's camera live in
`handmodel.camera`.
"""

from dataclasses import dataclass

import numpy as np

from handmodel.camera import framing_intrinsics, look_at, world_to_camera


@dataclass(frozen=True)
class CameraRanges:
    """Ranges the camera around the hands is sampled from (degrees, metres, 35 mm-equivalent focal length).

    Without a body frame, azimuth and elevation are about the world's -y axis; with one (`body_rotation`), they
    are the body's: azimuth 0 is in front of the person looking back at the hands, positive elevation above the
    hands. `body_azimuth` / `body_elevation` keep the camera where one in front of or above that body could be
    (as InterHand2.6M's rigs are), so forearms enter the picture from plausible directions.
    """

    distance: tuple[float, float] = (0.35, 0.9)
    azimuth: tuple[float, float] = (-180.0, 180.0)
    elevation: tuple[float, float] = (-60.0, 75.0)
    roll: tuple[float, float] = (-30.0, 30.0)
    focal_mm: tuple[float, float] = (35.0, 85.0)
    body_azimuth: tuple[float, float] = (-100.0, 100.0)
    body_elevation: tuple[float, float] = (-25.0, 85.0)


def sample_orbit_camera(
    rng: np.random.Generator,
    points: np.ndarray,
    size: int,
    ranges: CameraRanges = CameraRanges(),
    fill: float = 0.8,
    body_rotation: np.ndarray | None = None,
):
    """A camera around `points` (N,3 world metres, both hands' vertices) that frames them to `fill` of a square
    `size` x `size` image.

    Distance, azimuth, elevation and roll come from `ranges`: about the world's -y axis (the hands' 'up'), or, with
    `body_rotation` (3,3, the body frame's axes in world coordinates, `handmodel.body`), in the body's frame from
    its front and above. The focal length is then the one that makes the hands fill the frame, and the principal
    point centres them (the same result as RenderIH's crop around the hands, rendered directly). Returns K (3,3),
    R (3,3), t (3,) OpenCV.
    """  # fmt: skip
    points = np.asarray(points, dtype=np.float64)
    center = (points.min(0) + points.max(0)) / 2
    radius = float(np.linalg.norm(points - center, axis=1).max())
    dist = max(rng.uniform(*ranges.distance), 2.5 * radius)
    if body_rotation is None:
        az, el, roll = (np.deg2rad(rng.uniform(*r)) for r in (ranges.azimuth, ranges.elevation, ranges.roll))
        # World y points down in the hands' frame (OpenCV-style world): -y is up.
        offset = dist * np.array([np.cos(el) * np.sin(az), -np.sin(el), -np.cos(el) * np.cos(az)])
        up = np.array([0.0, -1.0, 0.0])
    else:
        az, el, roll = (np.deg2rad(rng.uniform(*r)) for r in (ranges.body_azimuth, ranges.body_elevation,
                                                                ranges.roll))  # fmt: skip
        body = np.asarray(body_rotation, dtype=np.float64)
        # Body frame: x right, y down, z forward; azimuth 0 puts the camera in front of the person (+z).
        offset = dist * body @ np.array([np.cos(el) * np.sin(az), -np.sin(el), np.cos(el) * np.cos(az)])
        up = -body[:, 1]
    R, _ = look_at(center + offset, center, up=up)
    c, s = np.cos(roll), np.sin(roll)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
    t = -R @ (center + offset)
    return framing_intrinsics(world_to_camera(points, R, t), size, fill), R, t
