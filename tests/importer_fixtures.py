"""Folders in the IntagHand-prepared and RenderIH layouts (importers/layouts.py), generated with the pkl structure
those releases use: random two-hand MANO parameters in world coordinates, a camera looking at them, photos of flat
colour and, for the IntagHand layout, mask JPEGs with the right hand in the green and the left in the red channel."""

import pickle
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from handmodel.joints import HANDS
from handmodel.skinning import mano_forward

SIZE = 256


def _hand_params(model, rng, target_world: np.ndarray) -> dict:
    """World MANO parameters in the releases' form whose joint 9 lands near `target_world`."""
    R = Rotation.from_rotvec(rng.normal(0, 0.6, 3)).as_matrix()
    pca = rng.normal(0, 0.5, 45)
    shape = rng.normal(0, 0.5, 10)
    fingers = model.hands_mean + pca @ model.hands_components
    pose = np.concatenate([Rotation.from_matrix(R).as_rotvec(), fingers])
    _, j = mano_forward(model, pose[None], shape[None], np.zeros((1, 3)))
    trans = target_world - j[0, 9]
    return {"R": R[None], "pose": pca[None], "shape": shape[None], "trans": trans[None]}


def make_layout(root, kind: str, indices, models, seed: int = 0, masks: bool = True) -> Path:
    """Write `indices` samples of layout `kind` ('intaghand' or 'renderih') under root/train; returns root."""
    rng = np.random.default_rng(seed)
    split = Path(root) / "train"
    img_dir, ann_dir = ("img", "anno") if kind == "intaghand" else ("color_img", "color_annot")
    for d in (img_dir, ann_dir) + (("mask",) if kind == "intaghand" and masks else ()):
        (split / d).mkdir(parents=True, exist_ok=True)
    for i in indices:
        cam_R = Rotation.from_rotvec(rng.normal(0, 1.0, 3)).as_matrix()
        cam_t = rng.normal(0, 0.3, 3)
        # Hands 0.5 m in front of the camera, side by side, placed in the world through the camera.
        in_cam = {"right": np.array([-0.05, 0.0, 0.5]), "left": np.array([0.05, 0.0, 0.5])}
        f = 600.0
        K = np.array([[f, 0, SIZE / 2], [0, f, SIZE / 2], [0, 0, 1.0]]) + np.diag([rng.normal(0, 5), 0, 0])
        mano = {}
        for hand in HANDS:
            world = cam_R.T @ (in_cam[hand] + rng.normal(0, 0.01, 3) - cam_t)
            mano[hand] = _hand_params(models[hand], rng, world)
            if kind == "renderih":
                rel = (mano[hand]["pose"][0] @ models[hand].hands_components).reshape(15, 3)
                mano[hand]["oripose"] = np.vstack([Rotation.from_matrix(mano[hand]["R"][0]).as_rotvec(), rel])
        t = cam_t[None] if kind == "renderih" else cam_t
        record = {"inter_idx": int(i), "image": {"file_name": f"{i}.jpg", "width": SIZE, "height": SIZE},
                  "annotation": {"hand_type": "interacting", "hand_type_valid": 1},
                  "mano_params": mano, "camera": {"R": cam_R, "t": t, "camera": K}}  # fmt: skip
        (split / ann_dir / f"{i}.pkl").write_bytes(pickle.dumps(record, protocol=2))
        photo = np.full((SIZE, SIZE, 3), rng.integers(40, 200, 3), dtype=np.uint8)
        cv2.imwrite(str(split / img_dir / f"{i}.jpg"), photo)
        if kind == "intaghand" and masks:
            mask = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
            mask[..., 0] = 255  # not black where no hand is
            x0 = int(rng.integers(20, 60))
            mask[40:200, x0 : x0 + 70] = (0, 255, 0)  # right hand: green
            mask[60:220, x0 + 100 : x0 + 170] = (0, 0, 255)  # left hand: red
            cv2.imwrite(str(split / "mask" / f"{i}.jpg"), mask, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Path(root)
