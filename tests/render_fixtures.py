"""Helpers of the renderer's tests: an independent ray caster, equirectangular HDRIs written with Blender and
datasets rendered under them (small poses files: `pose_sampler.side_by_side`; the stand-in hands' fixtures are in
conftest.py)."""

import numpy as np


def raycast_pixels(meshes: dict, K: np.ndarray, pixels: np.ndarray):
    """Independent reference for a render: the first mesh hit by the ray through each pixel centre.

    meshes: {label: (verts (V,3) camera metres, faces (F,3))}; pixels (N,2) (x, y). Returns labels (N,) (0 where
    nothing is hit) and depth (N,) camera z in metres (0 where nothing is hit), by the Moller-Trumbore
    ray-triangle test against every face (libigl's ray_mesh_intersect misses some hits on these meshes).
    """
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    dirs = np.c_[pixels, np.ones(len(pixels))] @ np.linalg.inv(K).T  # z = 1, so the ray parameter is the depth
    labels, depth = np.zeros(len(pixels), np.int64), np.full(len(pixels), np.inf)
    for label, (verts, faces) in meshes.items():
        tri = np.asarray(verts, np.float64)[np.asarray(faces)]
        a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        for i, d in enumerate(dirs):
            p = np.cross(d, e2)
            det = (e1 * p).sum(1)
            ok = np.abs(det) > 1e-15
            inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            u = (-a * p).sum(1) * inv
            q = np.cross(-a, e1)
            v = (q @ d) * inv
            t = (e2 * q).sum(1) * inv
            hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
            if hit.any() and t[hit].min() < depth[i]:
                depth[i], labels[i] = t[hit].min(), label
    depth[~np.isfinite(depth)] = 0.0
    return labels, depth


def raycast(vertices: dict, faces: dict, K, R, t, width: int, height: int):
    """Ray-cast every pixel centre of a W x H image of both hands (world vertices, camera K, R, t): labels (H,W)
    0 / 1 right / 2 left and depth (H,W) camera z, 0 = miss (`raycast_pixels`)."""
    from handmodel.camera import world_to_camera

    meshes = {1: (world_to_camera(vertices["right"], R, t), faces["right"]),
              2: (world_to_camera(vertices["left"], R, t), faces["left"])}  # fmt: skip
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    labels, depth = raycast_pixels(meshes, K, np.c_[cols.ravel(), rows.ravel()])
    return labels.reshape(height, width).astype(np.uint8), depth.reshape(height, width).astype(np.float32)


def write_equirect_exr(path, rgb: np.ndarray) -> None:
    """An equirectangular EXR of the linear colours rgb (H,W,3), row 0 at the bottom (Blender's image order)."""
    import bpy

    h, w = rgb.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = rgb
    img = bpy.data.images.new(path.stem, w, h, float_buffer=True)
    img.pixels.foreach_set(rgba.ravel())
    img.filepath_raw = str(path)
    img.file_format = "OPEN_EXR"
    img.save()
    bpy.data.images.remove(img)


def render_under_worlds(tmp, worlds: dict) -> dict:
    """The same two poses rendered at 64 px under each world ({name: (H,W,3) linear colours}) as its only light
    and background, with the exposure meter on and no spread: {name: dataset folder}."""
    from blender_scripts.render import run
    from blender_scripts.settings import RenderSettings
    from handmodel import load_hand_models
    from pose_sampler.side_by_side import side_by_side_poses

    side_by_side_poses(tmp / "poses.npz", load_hand_models(quiet=True), 2)
    out = {}
    for name, rgb in worlds.items():
        d = tmp / name
        d.mkdir()
        write_equirect_exr(d / f"{name}.exr", rgb)
        s = RenderSettings(poses=str(tmp / "poses.npz"), out=str(tmp / f"ds_{name}"), resolution=64, samples=4,
                           hdri_dirs=[str(d)], bundled_hdris=False, sky=False, restart_every=0, threads=1,
                           exposure_spread=0.0)  # fmt: skip
        run(s, progress=False)
        out[name] = s.out
    return out


def hand_pixels(root, name) -> np.ndarray:
    """The sRGB colours (N,3) in 0-1 of a sample's hand pixels (mask labels 1 and 2; forearms are 3 and 4)."""
    import cv2

    from handmodel.dataset_io import hand_mask, sample_paths

    paths = sample_paths(root, name)
    rgb = cv2.imread(str(paths["image"]))[..., ::-1].astype(np.float64) / 255
    return rgb[hand_mask(cv2.imread(str(paths["mask"]), cv2.IMREAD_UNCHANGED))]
