"""Cameras in the OpenCV convention (x right, y down, z forward; K 3x3; R, t world -> camera), in one place.

Also the conversion of MANO parameters from world to camera coordinates, the square crop around both hands, and
the one conversion to Blender's camera convention (looks down -Z, y up).
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


def mano_world_to_camera(model, pose48, shape10, trans3, R, t):
    """MANO parameters in world coordinates -> the same hand in camera coordinates.

    The root rotation pivots on the root joint, not the origin, so the translation needs the rest root joint J:
    trans' = R trans - J + R J + t. pose48 (..., 48), shape10 (..., 10), trans3 (..., 3). Returns (pose48, trans3).
    """
    pose48 = np.asarray(pose48, dtype=np.float64)
    batch = pose48.shape[:-1]
    pose = pose48.reshape(-1, 48).copy()
    shape = np.asarray(shape10, dtype=np.float64).reshape(-1, 10)
    trans = np.asarray(trans3, dtype=np.float64).reshape(-1, 3)
    R = np.asarray(R, dtype=np.float64)
    root = rest_joints(model, shape)[:, 0]
    pose[:, :3] = matrix_to_axis_angle(R @ rodrigues(pose[:, :3]))
    new_trans = trans @ R.T - root + root @ R.T + np.asarray(t, dtype=np.float64)
    return pose.reshape(batch + (48,)), new_trans.reshape(batch + (3,))


def square_crop(points2d: np.ndarray, size: int = 256, fill: float = 0.8) -> np.ndarray:
    """The square around `points2d` (N, 2) in which they fill `fill` of the side, scaled to `size` pixels.

    Returns the (2, 3) affine image -> crop (for cv2.warpAffine(img, A, (size, size))).
    """
    pts = np.asarray(points2d, dtype=np.float64).reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    side = max(float((hi - lo).max()) / fill, 1e-6)
    s = size / side
    return np.array([[s, 0.0, -(center[0] - side / 2) * s], [0.0, s, -(center[1] - side / 2) * s]])


def crop_intrinsics(K: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Intrinsics of the cropped image, given the (2, 3) affine image -> crop."""
    return np.vstack([np.asarray(A, dtype=np.float64), [0.0, 0.0, 1.0]]) @ np.asarray(K, dtype=np.float64)


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
    x = np.cross(z, -np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:  # looking along `up`: any perpendicular will do
        x = np.cross(z, [1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye
