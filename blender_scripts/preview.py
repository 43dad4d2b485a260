"""Looking at results: a contact sheet of dataset samples (mask outlines, 2D joints), and a render of the active
hand model's two rest-pose hands. Runs on the command-line side (cv2 is fine here; Blender never runs this)."""

from pathlib import Path

import cv2
import numpy as np

from handmodel.atomic import atomic_temp_path
from handmodel.errors import InputError
from handmodel.joints import PARENTS_21

HAND_COLOURS = {"right": (60, 200, 255), "left": (255, 160, 60)}  # BGR
MASK_VALUES = {"right": 1, "left": 2}


def _write_png(path, image: np.ndarray) -> None:
    path = Path(path)
    tmp = atomic_temp_path(path)
    try:
        if not cv2.imwrite(str(tmp), image):
            raise InputError(f"{path}: cannot write the image (check the folder and the .png suffix)")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def draw_sample(root, name: str, scale: int = 1) -> np.ndarray:
    """One sample as BGR: the image with each hand's mask outline and its 21 joints and bones."""
    from handmodel.dataset_io import read_annotation, sample_paths

    paths = sample_paths(root, name)
    img = cv2.imread(str(paths["image"]))
    mask = cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED)
    if img is None or mask is None:
        raise InputError(f"{paths['image']}: cannot read the sample's image or mask")
    ann = read_annotation(root, name)
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for hand, colour in HAND_COLOURS.items():
        contours, _ = cv2.findContours((mask == MASK_VALUES[hand]).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)  # fmt: skip
        cv2.drawContours(img, contours, -1, colour, 1, cv2.LINE_AA)
        j = (ann[hand]["joints_2d"] + 0.5) * scale - 0.5
        for k, parent in enumerate(PARENTS_21):
            if parent >= 0:
                a, b = (tuple(int(round(x)) for x in j[i]) for i in (k, parent))
                cv2.line(img, a, b, colour, 1, cv2.LINE_AA)
        for p in j:
            cv2.circle(img, tuple(int(round(x)) for x in p), max(1, scale), (255, 255, 255), -1, cv2.LINE_AA)
    return img


def contact_sheet(root, out, count: int = 16, columns: int = 4, scale: int = 1) -> int:
    """Draw the first `count` complete samples of the dataset `root` in a grid; returns how many were drawn."""
    from handmodel.dataset_io import list_samples, read_meta

    read_meta(root)
    names = list_samples(root)[:count]
    if not names:
        raise InputError(f"{root}: no finished samples to preview")
    tiles = [draw_sample(root, n, scale) for n in names]
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + columns - 1) // columns
    sheet = np.zeros((rows * h, min(columns, len(tiles)) * w, 3), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = cv2.resize(tile, (w, h))
    _write_png(out, sheet)
    return len(tiles)


def model_preview(out, mano_dir=None, size: int = 384, samples: int = 32) -> dict:
    """Render the active hand model's two rest-pose hands with Blender (back of the hands to the camera, the
    studio HDRI, a generated mid-tone texture) and label the picture with the model's name and hash."""
    from blender_scripts.lighting import WorldParams
    from blender_scripts.materials import SkinParams
    from blender_scripts.scene import HandScene
    from handmodel import load_hand_models
    from handmodel.camera import look_at
    from hdri.catalogue import list_hdris
    from textures.catalogue import list_textures
    from textures.uv_layout import hand_frame, load_or_build

    models = load_hand_models(mano_dir, quiet=True)
    layouts = load_or_build(models)
    verts, normal = {}, np.zeros(3)
    for k, hand in enumerate(("right", "left")):
        m = models[hand]
        axes, c = hand_frame(m.v_template, int(m.tip_ids[0]))
        side = 1 if k == 0 else -1
        verts[hand] = (
            m.v_template - c + side * 0.06 * axes[1] * (1 if axes[1] @ (m.v_template[m.tip_ids[0]] - c) < 0 else -1)
        )
        normal += axes[2]
    pts = np.concatenate(list(verts.values()))
    centre = (pts.min(0) + pts.max(0)) / 2
    R, t = look_at(centre + 0.6 * normal / np.linalg.norm(normal), centre)
    cam = pts @ R.T + t
    xy = cam[:, :2] / cam[:, 2:]
    f = 0.8 * size / (xy.max(0) - xy.min(0)).max()
    mid = (xy.max(0) + xy.min(0)) / 2
    K = np.array([[f, 0, (size - 1) / 2 - f * mid[0]], [0, f, (size - 1) / 2 - f * mid[1]], [0, 0, 1]])
    textures = list_textures(models)
    studio = next(h for h in list_hdris() if h.name == "studio")
    faces = {h: models[h].faces for h in verts}
    with HandScene(faces, size, size, samples=samples, uvs={h: layouts[h]["uv"] for h in verts}) as scene:
        scene.set_hands(verts)
        scene.set_camera(K, R, t)
        scene.set_skin(SkinParams(texture=textures[len(textures) // 2]))
        scene.set_world(WorldParams(hdri=studio.path, strength=1.2))
        rgb = scene.render()["rgb"]
    img = np.ascontiguousarray(rgb[..., ::-1])
    label = f"{models.info['model']}  {models.info['hash'][:12]}"
    cv2.putText(img, label, (8, size - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    _write_png(out, img)
    return models.info
