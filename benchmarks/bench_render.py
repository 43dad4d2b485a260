"""Renderer speed and quality at 256x256 on this CPU, against RenderIH's recipe, in one run.

    .venv/bin/python benchmarks/bench_render.py [--scenes 6] [--reference-scenes 2] [--memory-samples 100]

Prints, per recipe: seconds per sample (all passes), PSNR of the RGB against a 1024-sample render of the same
scene, and the speed-up over RenderIH's recipe (a new Blender process per image, 256 samples, 334x512 rendered
then cropped to 256). Then the resident memory growth of one long-lived scene over --memory-samples renders
(the issue asks for < 10% over 500). Poses come from a small generated poses file (stand-in or MANO hands).
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handmodel.joints import HANDS  # noqa: E402

SIZE = 256
FULL = (334, 512)  # InterHand2.6M's image size (W, H), RenderIH's render size


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def make_scenes(n: int, seed: int = 0):
    """n scene descriptions (verts, K, R, t, skin, world) drawn like the renderer draws them."""
    from blender_scripts.sampling import sample_scene
    from handmodel import load_hand_models
    from handmodel.skinning import mano_forward
    from hdri.catalogue import list_hdris
    from tests.render_fixtures import make_poses_file
    from textures.catalogue import list_textures

    models = load_hand_models(quiet=True)
    with tempfile.TemporaryDirectory() as d:
        poses = make_poses_file(Path(d) / "p.npz", models, n, seed=seed)
    hdris = [h for h in list_hdris() if h.path]
    textures = list_textures(models)
    scenes = []
    for i in range(n):
        verts = {h: mano_forward(models[h], *(poses.params[h][k][i : i + 1] for k in ("pose", "shape", "trans")))[0][0]
                 for h in HANDS}  # fmt: skip
        spec = sample_scene(seed, i, np.concatenate(list(verts.values())), SIZE, hdris, textures)
        scenes.append((verts, spec))
    return models, scenes


def new_scene(models, width, height, samples, adaptive=0.02):
    from blender_scripts.scene import HandScene
    from textures.uv_layout import load_or_build

    layouts = load_or_build(models)
    return HandScene({h: models[h].faces for h in HANDS}, width, height, samples=samples,
                     uvs={h: layouts[h]["uv"] for h in HANDS}, adaptive_threshold=adaptive)  # fmt: skip


def render_one(scene, verts, spec, K=None):
    scene.set_skin(spec.skin)
    scene.set_world(spec.world)
    scene.set_hands(verts)
    scene.set_camera(spec.K if K is None else K, spec.R, spec.t)
    return scene.render()


def renderih_image(index: int, scenes_seed: int, n: int, out: str) -> None:
    """RenderIH's recipe for one image, in this (fresh) process: 334x512 at 256 samples, then crop to 256."""
    import cv2

    models, scenes = make_scenes(n, scenes_seed)
    verts, spec = scenes[index]
    # The full-frame camera whose 256 crop (scale s about the hands) is exactly our square camera.
    s = 1.4
    A = np.array([[s, 0, SIZE / 2 - s * FULL[0] / 2], [0, s, SIZE / 2 - s * FULL[1] / 2], [0, 0, 1]])
    K_full = np.linalg.inv(A) @ spec.K
    scene = new_scene(models, FULL[0], FULL[1], 256, adaptive=0.0)
    rgb = render_one(scene, verts, spec, K_full)["rgb"]
    crop = cv2.warpAffine(rgb, A[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR)
    np.save(out, crop)


def psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--reference-scenes", type=int, default=2)
    ap.add_argument("--memory-samples", type=int, default=100)
    ap.add_argument("--renderih-image", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    n = max(a.scenes, a.reference_scenes)
    if a.renderih_image is not None:
        renderih_image(a.renderih_image, 0, n, a.out)
        return
    models, scenes = make_scenes(n)
    ours = new_scene(models, SIZE, SIZE, 16)
    render_one(ours, *scenes[0])  # first render pays the scene sync once per worker
    t = time.time()
    images = [render_one(ours, *sc)["rgb"] for sc in scenes[: a.scenes]]
    ours_s = (time.time() - t) / a.scenes
    mem0 = rss_mb()
    for k in range(a.memory_samples):
        render_one(ours, *scenes[k % len(scenes)])
    mem1 = rss_mb()
    ref = new_scene(models, SIZE, SIZE, 1024, adaptive=0.0)
    refs = [render_one(ref, *sc)["rgb"] for sc in scenes[: a.reference_scenes]]
    rih_s, rih_imgs = [], []
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.reference_scenes):
            out = str(Path(d) / f"{i}.npy")
            t = time.time()
            subprocess.run([sys.executable, __file__, "--renderih-image", str(i), "--out", out, "--scenes", str(n)],
                           check=True, capture_output=True)  # fmt: skip
            rih_s.append(time.time() - t)
            rih_imgs.append(np.load(out))
    p_ours = np.mean([psnr(images[i], refs[i]) for i in range(a.reference_scenes)])
    p_rih = np.mean([psnr(rih_imgs[i], refs[i]) for i in range(a.reference_scenes)])
    rows = [("ours: long-lived scene, 16 spp, 256 direct", ours_s, p_ours),
            ("RenderIH: process per image, 256 spp, 334x512 + crop", float(np.mean(rih_s)), p_rih)]  # fmt: skip
    print(f"{'recipe':<54} {'s/sample':>9} {'PSNR dB':>8} {'speed-up':>9}")
    for name, sec, p in rows:
        print(f"{name:<54} {sec:9.2f} {p:8.2f} {rows[1][1] / sec:8.1f}x")
    print(f"resident memory over {a.memory_samples} renders: {mem0:.0f} -> {mem1:.0f} MB "
          f"({100 * (mem1 - mem0) / mem0:+.1f}%)")  # fmt: skip
    print(json.dumps({"ours_s": ours_s, "renderih_s": float(np.mean(rih_s)), "psnr_ours": p_ours,
                      "psnr_renderih": p_rih, "rss_mb": [mem0, mem1]}))  # fmt: skip


if __name__ == "__main__":
    main()
