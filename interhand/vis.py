"""`interhand vis`: PNG plots of a sequence: the camera rig with the hands,
the 3D joints of a frame, and the joints projected onto every camera image of that frame."""

import os
from pathlib import Path

import numpy as np

from handmodel.camera import project, world_to_camera
from handmodel.colours import HAND_COLOURS_BGR, HAND_COLOURS_UNIT
from handmodel.errors import InputError
from handmodel.interhand_release import (
    annotation_path,
    check_release,
    image_dir,
    read_cameras,
    read_images,
    read_joint_3d,
)
from handmodel.joints import HANDS, PARENTS_21, interhand42_to_21


def _skeletons(joints42: np.ndarray, valid42: np.ndarray):
    """Yield (hand, joints (21,3), valid (21,)) in the toolkit's joint order."""
    joints, valid = interhand42_to_21(joints42), interhand42_to_21(valid42)
    for hand in HANDS:
        yield hand, joints[hand], valid[hand]


def _bones(ax, hand: str, joints: np.ndarray, valid: np.ndarray, dims: int) -> None:
    for j, parent in enumerate(PARENTS_21):
        if parent >= 0 and valid[j] and valid[parent]:
            seg = joints[[parent, j]]
            ax.plot(*(seg[:, d] for d in range(dims)), color=HAND_COLOURS_UNIT[hand], lw=1.5)


def plot_rig(path: Path, cameras: dict, joints42: np.ndarray, valid42: np.ndarray, title: str) -> None:
    """Camera centres (-R^T t) with their viewing directions, and the hands' joints, world metres."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 7))
    ax = fig.add_subplot(projection="3d")
    centres = []
    for cam, c in sorted(cameras.items()):
        centre = -c.R.T @ c.t
        axis = c.R[2] * 0.15  # the optical axis, 15 cm
        ax.quiver(*centre, *axis, color="k", lw=1)
        ax.text(*centre, cam, fontsize=7)
        centres.append(centre)
    centres = np.array(centres)
    ax.scatter(*centres.T, color="k", s=12, label="cameras")
    for hand, joints, valid in _skeletons(joints42, valid42):
        if valid.any():
            ax.scatter(*joints[valid].T, color=HAND_COLOURS_UNIT[hand], s=4, label=hand)
            _bones(ax, hand, joints, valid, 3)
    pts = np.concatenate([centres, joints42[valid42]])
    mid, half = (pts.max(0) + pts.min(0)) / 2, (pts.max(0) - pts.min(0)).max() / 2 + 0.05
    _cube_axes(ax, mid, half, title)
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, path)


def plot_joints(path: Path, joints42: np.ndarray, valid42: np.ndarray, title: str) -> None:
    """The two hands' 3D skeletons, world metres, equal axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="3d")
    for hand, joints, valid in _skeletons(joints42, valid42):
        if valid.any():
            ax.scatter(*joints[valid].T, color=HAND_COLOURS_UNIT[hand], s=10, label=hand)
            _bones(ax, hand, joints, valid, 3)
    pts = joints42[valid42]
    mid, half = (pts.max(0) + pts.min(0)) / 2, (pts.max(0) - pts.min(0)).max() / 2 + 0.01
    _cube_axes(ax, mid, half, title)
    ax.legend(fontsize=8)
    _save(fig, path)


def _cube_axes(ax, mid: np.ndarray, half: float, title: str) -> None:
    """Equal axes around `mid` (metres), so the plot does not distort the hands."""
    ax.set(xlim=(mid[0] - half, mid[0] + half), ylim=(mid[1] - half, mid[1] + half))
    ax.set(zlim=(mid[2] - half, mid[2] + half), xlabel="x (m)", ylabel="y (m)", zlabel="z (m)", title=title)


def overlay_joints(image: np.ndarray, joints42: np.ndarray, valid42: np.ndarray, camera) -> np.ndarray:
    """The image (H,W,3 BGR) with the valid joints projected and drawn as skeletons."""
    import cv2

    out = image.copy()
    uv42 = project(world_to_camera(joints42, camera.R, camera.t), camera.K)
    for hand, uv, valid in _skeletons(uv42, valid42):
        for j, parent in enumerate(PARENTS_21):
            if parent >= 0 and valid[j] and valid[parent]:
                p, q = (tuple(int(round(x)) for x in uv[k]) for k in (parent, j))
                cv2.line(out, p, q, HAND_COLOURS_BGR[hand], 1, cv2.LINE_AA)
        for k in np.flatnonzero(valid):
            cv2.circle(out, tuple(int(round(x)) for x in uv[k]), 2, HAND_COLOURS_BGR[hand], -1, cv2.LINE_AA)
    return out


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from handmodel.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)


def write_vis(root: str | os.PathLike, out: str | os.PathLike, split: str, capture: int, seq: str,
              frame: int | None = None) -> list[Path]:  # fmt: skip
    """Write OUT/{split}/Capture{c}/{seq}/vis/{rig,joints_F,images_F}.png for frame F (default: the
    sequence's first frame with a valid joint). Returns the paths."""
    import cv2

    check_release(root, split)
    data_path = annotation_path(root, split, "data")
    records = [r for r in read_images(root, split) if r.capture == capture and r.seq == seq]
    if not records:
        raise InputError(f"{data_path}: split {split!r} has no capture {capture} sequence {seq!r}")
    joints = read_joint_3d(root, split).get(capture, {})
    frames = sorted({r.frame for r in records if r.frame in joints and joints[r.frame]["valid"].any()})
    if not frames:
        raise InputError(f"{annotation_path(root, split, 'joint_3d')}: no valid joints for {seq} (capture {capture})")
    if frame is None:
        frame = frames[0]
    elif frame not in frames:
        raise InputError(f"--frame {frame}: not a frame of {seq} with valid joints (frames: {frames})")
    cameras = read_cameras(root, split).get(capture, {})
    j42, v42 = joints[frame]["world"], joints[frame]["valid"]
    folder = Path(out) / split / f"Capture{capture}" / seq / "vis"
    title = f"Capture{capture} {seq} frame {frame}"
    paths = [folder / "rig.png", folder / f"joints_{frame}.png", folder / f"images_{frame}.png"]
    plot_rig(paths[0], cameras, j42, v42, title)
    plot_joints(paths[1], j42, v42, title)
    tiles = []
    for r in sorted((r for r in records if r.frame == frame), key=lambda r: r.camera):
        image = cv2.imread(str(image_dir(root, split) / r.file_name), cv2.IMREAD_COLOR)
        if image is None or r.camera not in cameras:
            continue
        tile = overlay_joints(image, j42, v42, cameras[r.camera])
        cv2.putText(tile, f"cam{r.camera}", (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        scale = 256 / tile.shape[0]
        tiles.append(cv2.resize(tile, (round(tile.shape[1] * scale), 256), interpolation=cv2.INTER_AREA))
    if tiles:
        from handmodel.atomic import atomic_write_bytes

        ok, buf = cv2.imencode(".png", np.hstack(tiles))
        atomic_write_bytes(paths[2], buf.tobytes())
    else:
        paths.pop()
    return paths
