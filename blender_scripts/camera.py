"""Cameras for the renderer: OpenCV intrinsics -> Blender camera settings, and cameras sampled around the hands.

Pure numpy (no bpy): the scene applies the settings. Pixel coordinates follow OpenCV: the centre of pixel (i, j)
is at (i, j), so the image spans [-0.5, W - 0.5].
"""

from dataclasses import dataclass

import numpy as np

from handmodel.camera import look_at, project, world_to_camera


def blender_intrinsics(K: np.ndarray, width: int, height: int) -> dict:
    """K (3,3) for a W x H image -> Blender camera data and render settings that reproduce it exactly.

    Returns {'lens', 'sensor_width', 'shift_x', 'shift_y', 'pixel_aspect_x', 'pixel_aspect_y'}: the sensor is
    fitted to the image width and measured in pixels, so the lens is fx; fx != fy becomes a pixel aspect ratio
    (Blender wants both aspects >= 1); the principal point becomes a lens shift in units of the image width.
    """
    K = np.asarray(K, dtype=np.float64)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise ValueError(f"focal lengths must be positive, got fx={fx}, fy={fy}")
    ycor = fx / fy  # Blender's pixel_aspect_y / pixel_aspect_x
    aspect_x, aspect_y = (1.0, ycor) if ycor >= 1 else (1.0 / ycor, 1.0)
    return {
        "lens": float(fx),
        "sensor_width": float(width),
        "shift_x": float(((width - 1) / 2 - cx) / width),
        "shift_y": float((cy - (height - 1) / 2) * ycor / width),
        "pixel_aspect_x": float(aspect_x),
        "pixel_aspect_y": float(aspect_y),
    }


@dataclass(frozen=True)
class CameraRanges:
    """Ranges the camera around the hands is sampled from (degrees, metres, 35 mm-equivalent focal length)."""

    distance: tuple[float, float] = (0.35, 0.9)
    azimuth: tuple[float, float] = (-180.0, 180.0)
    elevation: tuple[float, float] = (-60.0, 75.0)
    roll: tuple[float, float] = (-30.0, 30.0)
    focal_mm: tuple[float, float] = (35.0, 85.0)


def frame_intrinsics(points_cam: np.ndarray, f: float, size: int, fill: float = 0.8) -> np.ndarray:
    """K (3,3) of a square `size` image with focal length `f` pixels (fx = fy) whose principal point puts the
    bounding square of `points_cam` (N,3, camera metres, z > 0) in the image centre.

    The points then span `fill` of the side only if `f` was chosen for it; see `fit_focal`.
    """
    xy = points_cam[:, :2] / points_cam[:, 2:3]
    center = (xy.min(0) + xy.max(0)) / 2
    c = (size - 1) / 2
    return np.array([[f, 0.0, c - f * center[0]], [0.0, f, c - f * center[1]], [0.0, 0.0, 1.0]])


def fit_focal(points_cam: np.ndarray, size: int, fill: float = 0.8) -> float:
    """Focal length in pixels with which the points' longer 2D extent is `fill` x `size` pixels."""
    xy = points_cam[:, :2] / points_cam[:, 2:3]
    extent = float((xy.max(0) - xy.min(0)).max())
    return fill * size / max(extent, 1e-9)


def sample_orbit_camera(
    rng: np.random.Generator,
    points: np.ndarray,
    size: int,
    ranges: CameraRanges = CameraRanges(),
    fill: float = 0.8,
):
    """A camera around `points` (N,3 world metres, both hands' vertices) that frames them to `fill` of a square
    `size` x `size` image.

    Distance, azimuth, elevation (about the world's -y axis, the hands' 'up') and roll come from `ranges`; the focal
    length is then the one that makes the hands fill the frame, and the principal point centres them (the same
    result as RenderIH's crop around the hands, rendered directly). Returns K (3,3), R (3,3), t (3,) OpenCV.
    """  # fmt: skip
    points = np.asarray(points, dtype=np.float64)
    center = (points.min(0) + points.max(0)) / 2
    radius = float(np.linalg.norm(points - center, axis=1).max())
    dist = max(rng.uniform(*ranges.distance), 2.5 * radius)
    az, el, roll = (np.deg2rad(rng.uniform(*r)) for r in (ranges.azimuth, ranges.elevation, ranges.roll))
    # World y points down in the hands' frame (OpenCV-style world): -y is up.
    offset = dist * np.array([np.cos(el) * np.sin(az), -np.sin(el), -np.cos(el) * np.cos(az)])
    R, _ = look_at(center + offset, center, up=(0.0, -1.0, 0.0))
    c, s = np.cos(roll), np.sin(roll)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
    t = -R @ (center + offset)
    cam = world_to_camera(points, R, t)
    f = fit_focal(cam, size, fill)
    return frame_intrinsics(cam, f, size, fill), R, t


def crop_rig_camera(
    K: np.ndarray, R: np.ndarray, t: np.ndarray, points: np.ndarray, size: int, fill: float = 0.8
) -> np.ndarray:
    """A fixed rig camera (K, R, t) rendered straight into the `size` square around `points` (N,3 world metres)
    that they fill to `fill`: RenderIH's render-then-crop as new intrinsics K' (3,3)."""  # fmt: skip
    cam = world_to_camera(points, R, t)
    uv = project(cam, K)
    lo, hi = uv.min(0), uv.max(0)
    side = float((hi - lo).max()) / fill
    s = size / side
    center = (lo + hi) / 2
    c = (size - 1) / 2
    A = np.array([[s, 0.0, c - s * center[0]], [0.0, s, c - s * center[1]], [0.0, 0.0, 1.0]])
    return A @ np.asarray(K, dtype=np.float64)
