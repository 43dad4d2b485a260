"""`interhand masks`: a mask PNG (left 100, right 200) and a float depth map per camera image of a processed
sequence, rendered with Blender from the per-frame world vertices (no subdivision: the pixels show the mesh
the annotations describe). A rerun skips images whose mask and depth both exist."""

import os
from pathlib import Path

import numpy as np

from handmodel.dataset_io import HAND_LABELS
from handmodel.joints import HANDS
from handmodel.png import write_png
from interhand.sequence import (
    SEQUENCE_MASK_VALUES,
    check_sequence_hand_model,
    frame_file,
    image_file,
    load_npz,
    read_annots,
)


def to_sequence_mask(mask: np.ndarray) -> np.ndarray:
    """The renderer's mask (the dataset's HAND_LABELS) -> the per-sequence values (SEQUENCE_MASK_VALUES: 0
    background, 200 right, 100 left)."""
    out = np.zeros(mask.shape, np.uint8)
    for hand in HANDS:
        out[mask == HAND_LABELS[hand]] = SEQUENCE_MASK_VALUES[hand]
    return out


def write_masks(seq_dir: str | os.PathLike, models, progress: bool = True) -> dict:
    """Render every (frame, camera) image of the sequence. Returns {'written', 'existing'} counts."""
    from tqdm import tqdm

    from blender_scripts.views import View, render_views
    from handmodel.atomic import atomic_path

    seq_dir = Path(seq_dir)
    annots = read_annots(seq_dir)
    check_sequence_hand_model(seq_dir, annots, models)
    cams = annots["cameras"]
    todo, existing = [], 0
    for f in annots["frames"]:
        for cam in f["images"]:
            done = all(image_file(seq_dir, k, cam, f["frame"]).is_file() for k in ("masks", "depth"))
            existing += done
            if not done:
                todo.append((f["frame"], cam))
    faces = {h: models[h].faces for h in HANDS}

    def size_of(job):
        return cams[job[1]]["width"], cams[job[1]]["height"]

    def view_of(job):
        frame, cam = job
        verts = load_npz(frame_file(seq_dir, "vertices", frame))
        c = cams[cam]
        return View({h: verts.get(h) for h in HANDS}, c["K"], c["R"], c["t"], size_of(job))

    bar = tqdm(total=len(todo), desc=f"masks {annots['seq']}", unit="img", disable=not progress)
    for (frame, cam), passes in render_views(sorted(todo), faces, view_of, size_of):
        mask_path, depth_path = image_file(seq_dir, "masks", cam, frame), image_file(seq_dir, "depth", cam, frame)
        for path in (mask_path, depth_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(depth_path) as tmp:
            np.save(tmp, passes["depth"].astype(np.float32))
        write_png(mask_path, to_sequence_mask(passes["mask"]))
        bar.update(1)
    bar.close()
    return {"written": len(todo), "existing": existing}
