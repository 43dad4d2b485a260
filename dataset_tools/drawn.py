"""A dataset folder of posed two-hand samples drawn with OpenCV (flat-shaded triangles, far to near, masks of the
visible pixels), written through handmodel.dataset_io: a quick stand-in for rendered data where Blender is not
needed (the trainer's tests and benchmarks, the GPU check, the contact sheet's test)."""

from pathlib import Path

import cv2
import numpy as np

from handmodel import load_hand_models
from handmodel.anatomy import joint_frames, sample_natural_hand_poses
from handmodel.colours import HAND_COLOURS
from handmodel.dataset_io import annotation_to_json, sample_name, sample_paths, write_annotation, write_meta
from handmodel.joints import HANDS
from handmodel.skinning import mano_forward, matrix_to_axis_angle, rodrigues

# The drawn hands' colours: each hand's marker colour (handmodel/colours.py) half way to grey, so the two hands look
# different and a marker drawn over them (a contact sheet's outline) still stands out.
HAND_TINTS = {hand: tuple((c + 128) / 2 for c in rgb) for hand, rgb in HAND_COLOURS.items()}  # RGB


def draw_hands(size: int, hands: dict, K: np.ndarray, faces: dict):
    """Image (size,size,3) uint8 RGB and label mask (size,size) uint8 of both meshes, far faces first."""
    image = np.full((size, size, 3), 40, dtype=np.uint8)
    mask = np.zeros((size, size), dtype=np.uint8)
    tris, depth, colors, labels = [], [], [], []
    light = np.array([0.3, -0.4, -0.85]) / np.linalg.norm([0.3, -0.4, -0.85])
    for label, hand in enumerate(HANDS, start=1):
        v = hands[hand]
        p = v @ K.T
        uv = p[:, :2] / p[:, 2:3]
        f = faces[hand]
        n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
        shade = 0.4 + 0.6 * np.abs(n @ light)
        tris.append(uv[f])
        depth.append(v[f][:, :, 2].mean(1))
        colors.append(shade[:, None] * np.array(HAND_TINTS[hand]))
        labels.append(np.full(len(f), label))
    tris, depth, colors, labels = map(np.concatenate, (tris, depth, colors, labels))
    for i in np.argsort(-depth, kind="stable"):
        poly = np.round(tris[i] * 16).astype(np.int32)
        cv2.fillConvexPoly(image, poly, colors[i].tolist(), shift=4)
        cv2.fillConvexPoly(mask, poly, int(labels[i]), shift=4)
    return image, mask


def make_drawn_dataset(root, n: int = 4, size: int = 128, seed: int = 0, models=None) -> Path:
    """A dataset folder of `n` two-hand samples drawn with cv2; returns root."""
    root = Path(root)
    models = models or load_hand_models(quiet=True)
    frames = joint_frames(models)
    rng = np.random.default_rng(seed)
    K = np.array([[size * 1.4, 0, size / 2], [0, size * 1.4, size / 2], [0, 0, 1.0]])
    faces = {h: models[h].faces for h in HANDS}
    # Palms toward the camera, fingers up; each hand to its own side of the image.
    base_rot = {"right": np.array([np.pi / 2, 0.0, 0.0]), "left": np.array([np.pi / 2, 0.0, 0.0])}
    centre = {"right": np.array([-0.045, 0.0, 0.55]), "left": np.array([0.045, 0.0, 0.55])}
    for i in range(n):
        hands, verts = {}, {}
        for hand in HANDS:
            m = models[hand]
            pose = np.zeros(48)
            pose[3:] = sample_natural_hand_poses(rng, 1, frames[hand])[0]
            root_rot = rodrigues(rng.normal(0, 0.25, 3)) @ rodrigues(base_rot[hand])
            pose[:3] = matrix_to_axis_angle(root_rot)
            shape = rng.normal(0, 0.5, 10)
            _, j0 = mano_forward(m, pose[None], shape[None], np.zeros((1, 3)))
            trans = centre[hand] + rng.normal(0, 0.01, 3) - j0[0, 9]
            v, j = mano_forward(m, pose[None], shape[None], trans[None])
            p = j[0] @ K.T
            hands[hand] = {
                "pose": pose,
                "shape": shape,
                "trans": trans,
                "joints_3d": j[0],
                "joints_2d": p[:, :2] / p[:, 2:],
            }
            verts[hand] = v[0]
        image, mask = draw_hands(size, verts, K, faces)
        name = sample_name(i)
        paths = sample_paths(root, name)
        for kind in ("image", "mask"):
            paths[kind].parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(paths["image"]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(paths["mask"]), mask)
        camera = {"K": K, "R": np.eye(3), "t": np.zeros(3)}
        write_annotation(root, name, annotation_to_json(camera, hands, {"kind": "drawn", "seed": seed}))
    write_meta(root, {"image_size": [size, size], "hand_model": models.identity, "source": "drawn"})
    return root
