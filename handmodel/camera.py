"""Cameras in the OpenCV convention (x right, y down, z forward; K 3x3; R, t world -> camera), in one place.

Pixel coordinates follow OpenCV too: the centre of pixel (column i, row j) is at (i, j), so a W x H image spans
[-0.5, W - 0.5] x [-0.5, H - 0.5] and its centre is ((W - 1) / 2, (H - 1) / 2). cv2.warpAffine, `project` and
the Blender conversion below all agree on it.

Also the root-pivot shift of MANO's root rotation, the conversion of MANO parameters from world to camera
coordinates, the square crop around both hands and its intrinsics, and the one conversion to Blender's camera
convention (looks down -Z, y up). Numpy only: Blender's Python imports this.
"""

import numpy as np

from handmodel.skinning import matrix_to_axis_angle, rest_joints, rodrigues


def world_to_camera(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """World points (..., 3) -> camera points (..., 3): X R^T + t."""
    return np.asarray(points) @ np.asarray(R).T + np.asarray(t)


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera points (..., 3) in metres -> pixel coordinates (..., 2)."""
    p = np.asarray(points_cam) @ np.asarray(K).T
    return p[..., :2] / p[..., 2:3]


def root_pivot_shift(model, shape10: np.ndarray, R: np.ndarray) -> np.ndarray:
    """J - R J for the rest root joint J of `shape10` (..., 10): the translation that turns a rotation R (3,3) or
    (..., 3, 3) about the origin into the same rotation about the root joint.

    MANO rotates the hand about its root joint, not the origin: rotating a posed hand by R about the origin keeps
    it a MANO hand with root rotation R root and translation R trans - shift, and a hand whose root rotation
    R is applied about the origin instead (v' = R v + T) has MANO translation T + shift. Returns (..., 3).
    """
    shape = np.asarray(shape10, dtype=np.float64)
    J = rest_joints(model, shape.reshape(-1, 10))[:, 0].reshape(shape.shape[:-1] + (3,))
    return J - np.einsum("...ab,...b->...a", np.asarray(R, dtype=np.float64), J)


def mano_world_to_camera(model, pose48, shape10, trans3, R, t):
    """MANO parameters in world coordinates -> the same hand in camera coordinates.

    The root rotation pivots on the root joint, not the origin, so the translation needs the rest root joint J:
    trans' = R trans - J + R J + t (`root_pivot_shift`). pose48 (..., 48), shape10 (..., 10), trans3 (..., 3).
    Returns (pose48, trans3).
    """
    pose48 = np.asarray(pose48, dtype=np.float64)
    batch = pose48.shape[:-1]
    pose = pose48.reshape(-1, 48).copy()
    shape = np.asarray(shape10, dtype=np.float64).reshape(-1, 10)
    trans = np.asarray(trans3, dtype=np.float64).reshape(-1, 3)
    R = np.asarray(R, dtype=np.float64)
    pose[:, :3] = matrix_to_axis_angle(R @ rodrigues(pose[:, :3]))
    new_trans = trans @ R.T - root_pivot_shift(model, shape, R) + np.asarray(t, dtype=np.float64)
    return pose.reshape(batch + (48,)), new_trans.reshape(batch + (3,))


def crop_affine(center, scale: float, size: int) -> np.ndarray:
    """The (2, 3) affine image -> size x size crop that scales the image by `scale` about `center` (x, y) and puts
    `center` on the crop's centre ((size - 1) / 2 in the pixel-centre convention above). Every square crop is one:
    `square_crop`, training's letterbox and the demo's centre crop."""
    c = (size - 1) / 2
    return np.array([[scale, 0.0, c - scale * center[0]], [0.0, scale, c - scale * center[1]]])


def square_crop(points2d: np.ndarray, size: int = 256, fill: float = 0.8) -> np.ndarray:
    """The square around `points2d` (N, 2) in which they fill `fill` of the side, scaled to `size` pixels.

    The points' bounding square is centred on the crop's centre ((size - 1) / 2 in the pixel-centre convention
    above), so the margins on opposite sides are equal. Returns the (2, 3) affine image -> crop (for
    cv2.warpAffine(img, A, (size, size)); the crop's intrinsics are `crop_intrinsics(K, A)`).
    """
    pts = np.asarray(points2d, dtype=np.float64).reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    return crop_affine(center, size * fill / max(float((hi - lo).max()), 1e-9), size)


def crop_intrinsics(K: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Intrinsics of the cropped image, given the (2, 3) affine image -> crop."""
    return np.vstack([np.asarray(A, dtype=np.float64), [0.0, 0.0, 1.0]]) @ np.asarray(K, dtype=np.float64)


def framing_intrinsics(points_cam: np.ndarray, size: int, fill: float = 0.8, K: np.ndarray | None = None):
    """K' (3,3) of a square `size` image that shows `points_cam` (N,3, camera metres, z > 0) filling `fill` of it,
    centred: the square crop of camera K's image around the points, rendered directly.

    K None: a pinhole camera with fx = fy chosen for the fill (the crop of the normalised image plane).
    """
    K = np.eye(3) if K is None else np.asarray(K, dtype=np.float64)
    return crop_intrinsics(K, square_crop(project(points_cam, K), size, fill))


def blender_intrinsics(K: np.ndarray, width: int, height: int) -> dict:
    """K (3,3) for a W x H image -> Blender camera data and render settings that reproduce it exactly.

    Returns {'lens', 'sensor_width', 'shift_x', 'shift_y', 'pixel_aspect_x', 'pixel_aspect_y'} for a camera with
    sensor_fit 'HORIZONTAL': the sensor is fitted to the image width and measured in pixels, so the lens is fx;
    fx != fy becomes a pixel aspect ratio (Blender wants both aspects >= 1); the principal point becomes a lens
    shift in units of the image width, measured from Blender's optical axis at the image centre
    ((W - 1) / 2, (H - 1) / 2) in the pixel-centre convention.
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


def opencv_to_blender_matrix_world(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """OpenCV world -> camera (R, t) -> Blender camera `matrix_world` (4, 4), the only such conversion.

    Blender cameras look down their local -Z with +Y up: the OpenCV camera axes with y and z flipped.
    """
    R = np.asarray(R, dtype=np.float64)
    M = np.eye(4)
    M[:3, :3] = R.T @ np.diag([1.0, -1.0, -1.0])
    M[:3, 3] = -R.T @ np.asarray(t, dtype=np.float64)
    return M


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, -1.0, 0.0)):
    """World -> camera (R, t) for a camera at `eye` looking at `target`; `up` is the world direction shown up."""
    eye, target = np.asarray(eye, dtype=np.float64), np.asarray(target, dtype=np.float64)
    z = target - eye
    z /= np.linalg.norm(z)
    # Image x = forward x up: then image y (down) = forward x x is -up, so `up` shows at the top.
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:  # looking along `up`: any perpendicular will do
        x = np.cross(z, [1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye
