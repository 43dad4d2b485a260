"""Speed of the InterHand2.6M per-sequence tools' inner loops, each against its plain baseline in the same run.

    .venv/bin/python benchmarks/bench_interhand.py [--voxel 0.025] [--repeat 3]

Rows:
- closest surface point for a blend-weight grid: broad phase (nearest-vertex bound, bounding spheres) vs all
  point-triangle pairs; both must agree exactly on the distance;
- signed distance sign: winding number only inside the mesh's bounding box vs at every grid point;
- black-frame test in `annots`: reduced grayscale JPEG decode vs full colour decode.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from handmodel import load_hand_models
from handmodel.skinning import mano_forward
from interhand.blend_weights import _closest_barycentric, closest_surface_points, grid_points, winding_number


def brute_force_distance(points, verts, faces):
    a, b, c = (verts[faces[:, k]] for k in range(3))
    out = []
    for i in range(0, len(points), 200):
        p = points[i : i + 200, None]
        bary = _closest_barycentric(p, a[None], b[None], c[None])
        closest = bary[..., 0:1] * a + bary[..., 1:2] * b + bary[..., 2:3] * c
        out.append(np.linalg.norm(closest - p, axis=-1).min(1))
    return np.concatenate(out)


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voxel", type=float, default=0.025)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    models = load_hand_models(quiet=True)
    model = models["right"]
    rng = np.random.default_rng(0)
    pose = np.concatenate([rng.normal(0, 0.5, 3), rng.normal(0, 0.3, 45)])
    verts, _ = mano_forward(model, pose[None], rng.normal(0, 0.5, (1, 10)), np.zeros((1, 3)))
    verts = verts[0]
    _, grid = grid_points(verts, voxel=args.voxel)
    pts = grid.reshape(-1, 3)
    rows = []

    t_fast, (_, _, d_fast) = best_of(lambda: closest_surface_points(pts, verts, model.faces), args.repeat)
    t_base, d_base = best_of(lambda: brute_force_distance(pts, verts, model.faces), args.repeat)
    assert np.allclose(d_fast, d_base, atol=1e-12), "broad phase changed the result"
    rows.append(("closest point, broad phase vs all pairs", f"{len(pts)} points", t_base, t_fast))

    in_box = np.all((pts >= verts.min(0)) & (pts <= verts.max(0)), axis=1)
    t_base, w_all = best_of(lambda: winding_number(pts, verts, model.faces), args.repeat)
    t_fast, _ = best_of(lambda: winding_number(pts[in_box], verts, model.faces), args.repeat)
    assert not (np.abs(w_all[~in_box]) > 0.5).any(), "a point outside the box counted as inside"
    rows.append(("winding number, box points vs all points", f"{in_box.sum()}/{len(pts)} in box", t_base, t_fast))

    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(20):
            # Photo-like content (smooth shading plus sensor noise); pure noise would make entropy decoding dominate.
            smooth = cv2.resize(rng.random((16, 11, 3)).astype(np.float32), (334, 512), interpolation=cv2.INTER_CUBIC)
            image = np.clip(smooth * 200 + rng.normal(0, 3, smooth.shape), 0, 255).astype(np.uint8)
            paths.append(str(Path(tmp) / f"image{i}.jpg"))
            cv2.imwrite(paths[-1], image)
        t_base, _ = best_of(lambda: [cv2.imread(p, cv2.IMREAD_COLOR).max() for p in paths], args.repeat)
        t_fast, _ = best_of(lambda: [cv2.imread(p, cv2.IMREAD_REDUCED_GRAYSCALE_4).max() for p in paths], args.repeat)
        rows.append(("black-frame test, reduced vs full decode", "20 images 334x512", t_base, t_fast))

    print(f"hand model: {models.info['model']} ({models.info['hash']}), voxel {args.voxel} m, best of {args.repeat}")
    print(f"{'measurement':44} {'size':22} {'baseline s':>11} {'ours s':>9} {'speed-up':>9}")
    for name, size, base, fast in rows:
        print(f"{name:44} {size:22} {base:11.4f} {fast:9.4f} {base / fast:8.1f}x")


if __name__ == "__main__":
    main()
