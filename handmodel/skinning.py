"""MANO linear blend skinning in numpy (no torch: Blender's Python imports this).

The same math as smplx's `lbs`, as small pure functions over batched arrays. Metres throughout.
"""

import numpy as np

from handmodel.joints import mano_to_21


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) -> rotation matrices (..., 3, 3)."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa + 1e-8, axis=-1, keepdims=True)  # the epsilon smplx uses, for agreement at zero
    axis = aa / angle
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zeros = np.zeros_like(x)
    K = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    eye = np.broadcast_to(np.eye(3), K.shape)
    return eye + s * K + (1 - c) * (K @ K)


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> axis-angle (..., 3), stable near 0 and pi.

    Through the quaternion (Shepperd's method: divide by the largest of w, x, y, z). numpy only, because
    Blender's own Python has no scipy.
    """
    m = np.asarray(R, dtype=np.float64)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    diag = np.stack([m00 + m11 + m22, m00, m11, m22], axis=-1)
    case = np.argmax(diag, axis=-1)
    s = [np.sqrt(np.maximum(1 + d, 1e-300)) * 2 for d in (m00 + m11 + m22, m00 - m11 - m22, -m00 + m11 - m22,
                                                          -m00 - m11 + m22)]  # fmt: skip
    candidates = np.stack(
        [
            np.stack([s[0] / 4, (m21 - m12) / s[0], (m02 - m20) / s[0], (m10 - m01) / s[0]], -1),
            np.stack([(m21 - m12) / s[1], s[1] / 4, (m01 + m10) / s[1], (m02 + m20) / s[1]], -1),
            np.stack([(m02 - m20) / s[2], (m01 + m10) / s[2], s[2] / 4, (m12 + m21) / s[2]], -1),
            np.stack([(m10 - m01) / s[3], (m02 + m20) / s[3], (m12 + m21) / s[3], s[3] / 4], -1),
        ],
        axis=-2,
    )
    q = np.take_along_axis(candidates, case[..., None, None], axis=-2)[..., 0, :]
    q *= np.where(q[..., :1] < 0, -1.0, 1.0)  # w >= 0: the angle is at most pi
    xyz = q[..., 1:]
    norm = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2 * np.arctan2(norm, q[..., :1])
    scale = np.where(norm > 1e-12, angle / np.maximum(norm, 1e-300), 2.0)
    return xyz * scale


def shaped_vertices(model, shape: np.ndarray) -> np.ndarray:
    """Rest vertices with shape blend shapes: shape (N, 10) -> (N, V, 3)."""
    return model.v_template[None] + np.einsum("nl,vkl->nvk", shape, model.shapedirs)


def rest_joints(model, shape: np.ndarray) -> np.ndarray:
    """The 16 rest-pose joints of the shaped hand: shape (N, 10) -> (N, 16, 3)."""
    return np.einsum("jv,nvk->njk", model.J_regressor, shaped_vertices(model, shape))


def rigid_transforms(rotations: np.ndarray, joints: np.ndarray, parents: np.ndarray):
    """Chain local rotations along the kinematic tree.

    rotations (N, J, 3, 3), rest joints (N, J, 3) -> posed joints (N, J, 3) and the skinning transforms
    (N, J, 4, 4) that map rest-pose points to posed points.
    """
    n, j = joints.shape[:2]
    rel = joints.copy()
    rel[:, 1:] -= joints[:, parents[1:]]
    local = np.zeros((n, j, 4, 4))
    local[..., :3, :3] = rotations
    local[..., :3, 3] = rel
    local[..., 3, 3] = 1.0
    world = [local[:, 0]]
    for i in range(1, j):
        world.append(world[parents[i]] @ local[:, i])
    world = np.stack(world, axis=1)
    posed_joints = world[..., :3, 3].copy()
    # Move the rest-pose joint to the origin before applying each joint's transform.
    world[..., :3, 3] -= np.einsum("njab,njb->nja", world[..., :3, :3], joints)
    return posed_joints, world


def mano_forward(model, pose: np.ndarray, shape: np.ndarray, trans: np.ndarray):
    """Pose a hand: pose (N, 48) absolute axis-angle, shape (N, 10), trans (N, 3), metres.

    Returns vertices (N, V, 3) and the 21 joints (N, 21, 3) in the toolkit's order.
    """
    pose = np.asarray(pose, dtype=np.float64).reshape(-1, 16, 3)
    shape = np.asarray(shape, dtype=np.float64).reshape(-1, 10)
    trans = np.asarray(trans, dtype=np.float64).reshape(-1, 3)
    v_shaped = shaped_vertices(model, shape)
    joints = np.einsum("jv,nvk->njk", model.J_regressor, v_shaped)
    R = rodrigues(pose)
    pose_feature = (R[:, 1:] - np.eye(3)).reshape(len(pose), -1)
    v_posed = v_shaped + np.einsum("np,vkp->nvk", pose_feature, model.posedirs)
    posed_joints, A = rigid_transforms(R, joints, model.parents)
    T = np.einsum("vj,njab->nvab", model.weights, A)
    verts = np.einsum("nvab,nvb->nva", T[..., :3, :3], v_posed) + T[..., :3, 3]
    verts += trans[:, None]
    posed_joints += trans[:, None]
    return verts, mano_to_21(posed_joints, verts, model.tip_ids)
