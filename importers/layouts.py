"""The two pkl-annotated layouts the importers read, and their conversion to the toolkit's camera-space hands.

- IntagHand-prepared InterHand2.6M: `{split}/img/{i}.jpg` (256x256 crops), `{split}/anno/{i}.pkl`, and
  `{split}/mask/{i}.jpg` (right hand in the green channel, left in the red one, above 127; the background is
  white in the blue channel only, so "non-zero" is not the test).
- The public RenderIH release: `{split}/color_img/{i}.jpg` and `{split}/color_annot/{i}.pkl`, indices from 366358
  (after InterHand2.6M's), no masks.

Both pkl files hold a dict with 'mano_params': {'right'/'left': {'R' (1,3,3) world root rotation, 'pose' (1,45)
PCA coefficients of the finger pose relative to the hand model's mean pose, 'shape' (1,10), 'trans' (1,3) world
metres}} and 'camera': {'R' (3,3), 't' (3,) or (1,3) metres, 'camera' (3,3) K of the crop}. They are read with the
hand model's restricted unpickler: only dicts, lists, numbers and numpy arrays, nothing runs.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmodel.camera import mano_world_to_camera
from handmodel.dataset_io import HAND_LABELS
from handmodel.joints import HANDS
from handmodel.mano_files import safe_unpickle
from handmodel.skinning import mano_forward, matrix_to_axis_angle

MASK_THRESHOLD = 127
MASK_CHANNELS = {"right": 1, "left": 2}  # of an OpenCV (BGR) read of the mask JPEG


@dataclass(frozen=True)
class Layout:
    name: str  # the importer's name on the command line
    source: str  # meta.json's source
    images: str  # folder of the JPEGs inside the split folder
    annotations: str  # folder of the pkl files
    masks: str | None  # folder of the mask JPEGs, None: the release has none


LAYOUTS = {
    "intaghand": Layout("intaghand", "InterHand2.6M (IntagHand-prepared)", "img", "anno", "mask"),
    "renderih": Layout("renderih", "RenderIH release", "color_img", "color_annot", None),
}


class BadFile(Exception):
    """A sample's file is unreadable or not in the layout: the message names the problem (not the file)."""


def split_folder(root: Path, layout: Layout, split: str) -> Path:
    """The folder holding the layout's annotation folder: ROOT itself, or ROOT/split."""
    root = Path(root)
    return root if (root / layout.annotations).is_dir() else root / split


def _array(d: dict, key: str, shape: tuple, where: str) -> np.ndarray:
    if not isinstance(d, dict) or key not in d:
        raise BadFile(f"no '{where}{key}'")
    try:
        a = np.asarray(d[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise BadFile(f"'{where}{key}' is not numeric") from None
    if a.size != int(np.prod(shape)) or not np.all(np.isfinite(a)):
        raise BadFile(f"'{where}{key}' has shape {a.shape}, expected {shape} finite values")
    return a.reshape(shape)


def read_annotation_pkl(path: Path) -> dict:
    """The parts of one pkl the importer uses: {'camera': {'K', 'R', 't'}, hand: {'R', 'pose45', 'shape',
    'trans'}} as float64 arrays; BadFile for anything unreadable or missing."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise BadFile(f"cannot read ({e.strerror})") from None
    try:
        data = safe_unpickle(raw)
    except Exception as e:  # the restricted unpickler raises many types for hostile or broken files
        raise BadFile(f"not a pickle of dicts and arrays ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(data, dict):
        raise BadFile(f"expected a dict, found {type(data).__name__}")
    cam = data.get("camera")
    out = {"camera": {"K": _array(cam, "camera", (3, 3), "camera."), "R": _array(cam, "R", (3, 3), "camera."),
                      "t": _array(cam, "t", (3,), "camera.")}}  # fmt: skip
    params = data.get("mano_params")
    if not isinstance(params, dict):
        raise BadFile("no 'mano_params' dict")
    for hand in HANDS:
        p, w = params.get(hand), f"mano_params.{hand}."
        if p is None:
            raise BadFile(f"no '{w[:-1]}' (a hand without MANO parameters)")
        out[hand] = {"R": _array(p, "R", (3, 3), w), "pose45": _array(p, "pose", (45,), w),
                     "shape": _array(p, "shape", (10,), w), "trans": _array(p, "trans", (3,), w)}  # fmt: skip
    return out


def world_pose(model, R_root: np.ndarray, pca45: np.ndarray) -> np.ndarray:
    """Root rotation matrix (3,3) and the 45 PCA coefficients of a mean-relative finger pose -> the toolkit's
    absolute axis-angle pose (48,): root, then hands_mean + coefficients @ hands_components."""
    fingers = np.asarray(model.hands_mean) + np.asarray(pca45) @ np.asarray(model.hands_components)
    return np.concatenate([matrix_to_axis_angle(np.asarray(R_root)[None])[0], fingers])


def camera_hands(models, ann: dict) -> dict:
    """{hand: {'pose', 'shape', 'trans' in camera coordinates, 'verts' (778,3), 'joints_3d' (21,3) camera m}}."""
    cam = ann["camera"]
    out = {}
    for hand in HANDS:
        a = ann[hand]
        pose_w = world_pose(models[hand], a["R"], a["pose45"])
        pose, trans = mano_world_to_camera(models[hand], pose_w, a["shape"], a["trans"], cam["R"], cam["t"])
        verts, joints = mano_forward(models[hand], pose[None], a["shape"][None], trans[None])
        out[hand] = {"pose": pose, "shape": a["shape"], "trans": trans, "verts": verts[0], "joints_3d": joints[0]}
    return out


def mask_from_channels(mask_bgr: np.ndarray) -> np.ndarray:
    """A mask JPEG read by OpenCV (H,W,3) -> labels (H,W) uint8: 1 right (green > 127), 2 left (red > 127), 0
    otherwise; where both pass (JPEG blur where the hands touch) the stronger channel wins."""
    g = mask_bgr[..., MASK_CHANNELS["right"]].astype(np.int16)
    r = mask_bgr[..., MASK_CHANNELS["left"]].astype(np.int16)
    labels = np.zeros(mask_bgr.shape[:2], dtype=np.uint8)
    labels[g > MASK_THRESHOLD] = HAND_LABELS["right"]
    labels[(r > MASK_THRESHOLD) & (r > g)] = HAND_LABELS["left"]
    return labels
