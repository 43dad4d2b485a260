"""A contact sheet of dataset samples: each image with its hands' mask outlines and 2D joints (`cli.py preview`)."""

import cv2
import numpy as np

from handmodel.errors import InputError
from handmodel.joints import PARENTS_21
from handmodel.png import write_png

HAND_COLOURS = {"right": (60, 200, 255), "left": (255, 160, 60)}  # BGR
MASK_VALUES = {"right": 1, "left": 2}


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
    write_png(out, sheet[..., ::-1])
    return len(tiles)
