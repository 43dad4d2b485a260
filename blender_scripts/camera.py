"""Cameras sampled around the hands for the renderer (pure numpy, no bpy).

The framing (square crop and its intrinsics), the pixel convention and the conversion to Blender's camera live in
`handmodel.camera`.
"""

from dataclasses import dataclass

import numpy as np

from handmodel.camera import framing_intrinsics, look_at, project, world_to_camera
from handmodel.forearm import FOREARM, SLEEVE_EASE


@dataclass(frozen=True)
class CameraRanges:
    """Ranges the camera around the hands is sampled from (degrees, metres); the focal length is not drawn but
    follows from the framing (`sample_orbit_camera`).

    Without a body frame, azimuth and elevation are about the world's -y axis; with one (`body_rotation`), they
    are the body's: azimuth 0 is in front of the person looking back at the hands, positive elevation above the
    hands. `body_azimuth` / `body_elevation` keep the camera where one in front of or above that body could be
    (as InterHand2.6M's rigs are), so forearms enter the picture from plausible directions.
    """

    distance: tuple[float, float] = (0.35, 0.9)
    azimuth: tuple[float, float] = (-180.0, 180.0)
    elevation: tuple[float, float] = (-60.0, 75.0)
    roll: tuple[float, float] = (-30.0, 30.0)
    body_azimuth: tuple[float, float] = (-100.0, 100.0)
    body_elevation: tuple[float, float] = (-25.0, 85.0)


def sample_orbit_camera(
    rng: np.random.Generator,
    points: np.ndarray,
    size: int,
    ranges: CameraRanges = CameraRanges(),
    fill: float = 0.8,
    body_rotation: np.ndarray | None = None,
    forearms: list | None = None,
    tries: int = 32,
):
    """A camera around `points` (N,3 world metres, both hands' vertices) that frames them to `fill` of a square
    `size` x `size` image.

    Distance, azimuth, elevation and roll come from `ranges`: about the world's -y axis (the hands' 'up'), or, with
    `body_rotation` (3,3, the body frame's axes in world coordinates, `handmodel.body`), in the body's frame from
    its front and above. The focal length is then the one that makes the hands fill the frame, and the principal
    point centres them (the same result as RenderIH's crop around the hands, rendered directly).

    forearms: (wrist (3,), axis (3,) towards the elbow) of each rendered forearm (`handmodel.forearm.posed_frames`).
    With them, a drawn camera that would see a forearm's rounded elbow end (in the image or within `ELBOW_MARGIN`
    of its border) or that sits inside or past a forearm is redrawn from the same rng, up to `tries` draws; the
    first acceptable draw wins, else the one that shows the elbows least (`elbow_badness`). Returns K (3,3),
    R (3,3), t (3,) OpenCV.
    """  # fmt: skip
    best = None
    for _ in range(max(1, tries) if forearms else 1):
        K, R, t = _draw_orbit_camera(rng, points, size, ranges, fill, body_rotation)
        if not forearms:
            return K, R, t
        bad = elbow_badness(K, R, t, size, forearms)
        if bad <= 0.0:
            return K, R, t
        if best is None or bad < best[0]:
            best = (bad, (K, R, t))
    return best[1]


ELBOW_MARGIN = 0.1  # of the image size: how far outside the border an elbow end must stay
ELBOW_NEAR = 0.08  # metres: the nearest an elbow end or a forearm may come to the camera


def elbow_badness(K, R, t, size: int, forearms: list, margin: float = ELBOW_MARGIN) -> float:
    """How much a camera shows the forearms' elbow ends, 0 when none is visible: per forearm (wrist, axis), the
    elbow end is a ball of the elbow's largest (sleeved) semi-axis around wrist + `FOREARM.length` * axis; the
    score is how many pixels its projected disc reaches into the image grown by `margin` * size, or a large value
    when the camera lies within `ELBOW_NEAR` of the forearm or the elbow end is not in front of it."""
    centre = -R.T @ t
    r = max(FOREARM.elbow_semi_axes) * SLEEVE_EASE
    worst = 0.0
    for wrist, axis in forearms:
        wrist = np.asarray(wrist, dtype=np.float64)
        axis = np.asarray(axis, dtype=np.float64)
        axis = axis / np.linalg.norm(axis)
        elbow = wrist + FOREARM.length * axis
        # The camera's distance to the forearm's axis segment (wrist to elbow end).
        u = np.clip((centre - wrist) @ axis, 0.0, FOREARM.length + r)
        gap = float(np.linalg.norm(centre - (wrist + u * axis))) - r
        z = float(world_to_camera(elbow[None], R, t)[0, 2])
        if gap < ELBOW_NEAR or z < ELBOW_NEAR + r:
            worst = max(worst, 1e6 + 1e3 * (ELBOW_NEAR - min(gap, z - r)))
            continue
        uv = project(world_to_camera(elbow[None], R, t), K)[0]
        r_px = K[0, 0] * r / z
        # Signed distance of the disc's centre outside the square image (negative inside).
        outside = float(np.max([-uv[0], uv[0] - size, -uv[1], uv[1] - size]))
        worst = max(worst, r_px + margin * size - outside)
    return max(worst, 0.0)


def _draw_orbit_camera(rng, points, size, ranges, fill, body_rotation):
    """One unconstrained draw of `sample_orbit_camera`."""
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
