"""Renderer speed and quality at 256x256 on this CPU: candidate recipes side by side against RenderIH's, in one run.

    .venv/bin/python benchmarks/bench_render.py [--scenes 6] [--reference-scenes 3] [--rounds 2] [--memory-samples 500]
    .venv/bin/python benchmarks/bench_render.py --arms [--old-standin REV] [--scenes 12] [--rounds 3]
    .venv/bin/python benchmarks/bench_render.py --against REV [--scenes 6] [--rounds 2]   # per-sample time vs REV

Prints, per recipe: wall and CPU seconds per sample (all passes: RGB, mask, depth, from one render call), PSNR of
the RGB against a 1024-sample render of the same scene, and the speed-up over RenderIH's recipe (a new Blender
process per image, 256 samples, 334x512 rendered then cropped to 256). Every candidate is a fresh long-lived scene
in this process, warmed up on a scene outside the timed set; the timed scenes change pose, camera, skin texture and
HDRI every sample as a real run does. Then the resident memory of one worker process (the default recipe) over
--memory-samples renders of distinct samples (the aim: under 10% growth over 500), and whether each of the four aims
(seconds per sample, PSNR against RenderIH's recipe, speed-up, memory growth) is met.

Other jobs on the machine only ever add wall time: every recipe (RenderIH's too) is timed in --rounds rounds and
its fastest round is kept; the CPU seconds (all threads) show the work itself, and the load average is printed
before and after.

--against REV times what `render` does per sample at its defaults in this tree (forearms on, the exposure metered,
the samples in the renderer's order: those lit by one HDRI one after another) and in revision REV (its own
defaults: bare hands before the forearms existed), on the same generated scenes, alternating in rounds. A worker
renders up to 200 samples, so in a run about 22 samples share each of the 9 default lights; n timed scenes share it
over n/9, so fewer scenes than the default 36 understate the saving; --arms measures what the forearms add.

--arms times only the default recipe, per sample including the numpy geometry the worker computes (skinning,
forearm or wrist cap), for: the stand-in hand generated at git revision REV drawn as the renderer drew it then
(bare hands, open wrists), today's hand model bare (`--no-forearms`: closed wrists), and with forearms (the
default).
"""

import argparse
import functools
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from blender_scripts.quality import (
    DEFAULT_QUALITY,
    NOISY_QUALITY,
    REFERENCE_QUALITY,
    RENDERIH_QUALITY,
    RenderQuality,
)
from blender_scripts.sampling import world_order
from handmodel.joints import HANDS

SIZE = 256
FULL = (334, 512)  # InterHand2.6M's image size (W, H), RenderIH's render size
SUBDIVISION = 1  # the renderer's default; every recipe and the reference share the geometry
AIMS = {"seconds": 1.0, "psnr_gap_db": 1.0, "speedup": 20.0, "memory_pct": 10.0}

# (name, quality, subdivision): the previous default, the world-map fix alone, the chosen default (index 2), then
# one lever at a time changed from the default.
D = DEFAULT_QUALITY
CANDIDATES = [
    ("old default: 16 spp, no denoiser, auto world map", NOISY_QUALITY, SUBDIVISION),
    ("16 spp, no denoiser, world map 512", replace(NOISY_QUALITY, world_map=512), SUBDIVISION),
    (f"DEFAULT: {D.samples} spp + OIDN fast/fast, world map 512", D, SUBDIVISION),
    (f"{D.samples} spp + OIDN, auto world map", replace(D, world_map=0), SUBDIVISION),
    (f"{D.samples} spp + OIDN, world map 1024", replace(D, world_map=1024), SUBDIVISION),
    (
        f"{D.samples} spp + OIDN, world map 256 (fireflies from small bright lights)",
        replace(D, world_map=256),
        SUBDIVISION,
    ),
    (f"{D.samples} spp + OIDN balanced", replace(D, denoiser="balanced"), SUBDIVISION),
    (
        f"{D.samples} spp + OIDN high, accurate prefilter",
        replace(D, denoiser="high", denoise_prefilter="ACCURATE"),
        SUBDIVISION,
    ),
    (f"{D.samples} spp + OIDN, albedo guide only", replace(D, denoise_guides="RGB_ALBEDO"), SUBDIVISION),
    (f"{D.samples} spp + OIDN, bounces 2/1/1", replace(D, bounces=(2, 1, 1)), SUBDIVISION),
    (f"{D.samples} spp + OIDN, no adaptive sampling", replace(D, adaptive_threshold=0.0), SUBDIVISION),
    (f"{D.samples} spp + OIDN, subdivision 2 (reference has 1)", D, 2),
    ("8 spp + OIDN", replace(D, samples=8), SUBDIVISION),
    ("11 spp + OIDN", replace(D, samples=11), SUBDIVISION),
    ("12 spp + OIDN", replace(D, samples=12), SUBDIVISION),
    ("16 spp + OIDN", replace(D, samples=16), SUBDIVISION),
    ("32 spp + OIDN", replace(D, samples=32), SUBDIVISION),
]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def make_scenes(n: int, seed: int = 0, pool: int | None = None):
    """n scene descriptions (verts, spec) drawn like the renderer draws them: spec i = sample_scene(seed, i);
    poses cycle through `pool` generated poses (default n)."""
    from blender_scripts.sampling import sample_scene
    from handmodel import load_hand_models
    from handmodel.skinning import mano_forward
    from hdri.catalogue import list_hdris
    from pose_sampler.side_by_side import side_by_side_poses
    from textures.catalogue import list_textures

    models = load_hand_models(quiet=True)
    pool = n if pool is None else min(pool, n)
    with tempfile.TemporaryDirectory() as d:
        poses = side_by_side_poses(Path(d) / "p.npz", models, pool, seed=seed)
    hdris = [h for h in list_hdris() if h.path]
    textures = list_textures(models)
    verts = [{h: mano_forward(models[h], *(poses.params[h][k][i : i + 1] for k in ("pose", "shape", "trans")))[0][0]
              for h in HANDS} for i in range(pool)]  # fmt: skip
    scenes = []
    for i in range(n):
        v = verts[i % pool]
        spec = sample_scene(seed, i, np.concatenate(list(v.values())), SIZE, hdris, textures)
        scenes.append((v, spec))
    return models, scenes


def new_scene(models, width, height, quality: RenderQuality, subdivision: int = SUBDIVISION):
    from blender_scripts.scene import HandScene
    from textures.uv_layout import load_or_build

    layouts = load_or_build(models)
    return HandScene({h: models[h].faces for h in HANDS}, width, height, uvs={h: layouts[h]["uv"] for h in HANDS},
                     subdivision=subdivision, quality=quality)  # fmt: skip


def render_one(scene, verts, spec, K=None, rgb=True):
    scene.set_skin(spec.skin)
    scene.set_world(spec.world)
    scene.set_hands(verts)
    scene.set_camera(spec.K if K is None else K, spec.R, spec.t)
    return scene.render(rgb=rgb)


def time_recipe(models, scenes, warmup, quality, subdivision=SUBDIVISION, rgb=True):
    """A fresh long-lived scene: one warm-up render, then every scene once -> (wall s, CPU s per sample, images)."""
    scene = new_scene(models, SIZE, SIZE, quality, subdivision)
    try:
        render_one(scene, *warmup, rgb=rgb)  # the first render pays the scene sync once per worker
        t, c = time.perf_counter(), time.process_time()
        images = [render_one(scene, *sc, rgb=rgb).get("rgb") for sc in scenes]
        n = len(scenes)
        return (time.perf_counter() - t) / n, (time.process_time() - c) / n, images
    finally:
        scene.close()


REPO = Path(__file__).resolve().parent.parent


def standin_at(rev: str, folder: Path):
    """The stand-in hand model as the generator at git revision `rev` made it, converted into `folder`."""
    from handmodel import mano_files
    from handmodel.models import load_model_dir

    src = subprocess.run(["git", "show", f"{rev}:handmodel/standin.py"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    path = folder / "standin_at_rev.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("standin_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_standin()
    arrays = {h: mano_files.clean_arrays(built[h], built[h]["tip_vertex_ids"], "standin") for h in HANDS}
    mano_files.write_model_dir(folder / "model", arrays, {"model": "standin", "hash": mano_files.arrays_hash(arrays)})
    return load_model_dir(folder / "model")


def time_arms(models, scenes, warmup, params, mode: str, metered: bool = False) -> tuple[float, float]:
    """Wall and CPU s per sample of the default recipe, the worker's per-sample geometry included. mode: 'old'
    (the hand's own mesh, open wrists), 'bare' (closed wrists) or 'forearms'; metered: the exposure metered on
    each render and the hands' figures measured, as the renderer does."""
    from blender_scripts.exposure import hand_figures, target_luma
    from blender_scripts.render import arm_geometry, hand_meshes, meter, posed_arm
    from blender_scripts.scene import HandScene
    from handmodel.skinning import mano_forward
    from textures.uv_layout import load_or_build

    layouts = load_or_build(models)
    arms = arm_geometry(models, layouts, mode == "forearms")
    if mode == "old":
        meshes = {"faces": {h: models[h].faces for h in HANDS}, "uvs": {h: layouts[h]["uv"] for h in HANDS},
                  "palm": None}  # fmt: skip
    else:
        meshes = hand_meshes(models, layouts, arms)
    scene = HandScene(meshes["faces"], SIZE, SIZE, uvs=meshes["uvs"], palm=meshes["palm"], subdivision=SUBDIVISION,
                      quality=DEFAULT_QUALITY, forearms=arms if mode == "forearms" else None)  # fmt: skip

    def one(i, spec):
        p = {h: {k: params[h][k][i] for k in ("pose", "shape", "trans")} for h in HANDS}
        verts = {h: mano_forward(models[h], *(p[h][k][None] for k in ("pose", "shape", "trans")))[0][0] for h in HANDS}
        if mode == "old":
            scene.set_hands(verts)
        else:
            posed = {h: posed_arm(models[h], arms[h], verts[h], p[h], None) for h in HANDS}
            scene.set_hands({h: posed[h][0] for h in HANDS}, forearms={h: posed[h][1] for h in HANDS})
        scene.set_skin(spec.skin)
        scene.set_world(spec.world)
        scene.set_camera(spec.K, spec.R, spec.t)
        if not metered:
            scene.render(rgb=True)
            return
        target = target_luma(scene.skin.tone["albedo"], spec.exposure_stops * 0.5)
        out = scene.render(rgb=True, exposure=functools.partial(meter, target=target))
        hand_figures(out["rgb"], out["mask"])

    try:
        one(len(scenes), warmup[1])
        t, c = time.perf_counter(), time.process_time()
        for i in world_order([spec for _, spec in scenes]):  # as the renderer orders its samples
            one(i, scenes[i][1])
        return (time.perf_counter() - t) / len(scenes), (time.process_time() - c) / len(scenes)
    finally:
        scene.close()


def time_renderer(models, scenes, warmup, quality=DEFAULT_QUALITY):
    """time_recipe for the renderer's whole per-sample path: the exposure metered on each render (and its
    background held down), the hands' figures measured -> (wall s, CPU s per sample, images)."""
    from blender_scripts.exposure import hand_figures, target_luma
    from blender_scripts.render import meter

    scene = new_scene(models, SIZE, SIZE, quality)

    def one(verts, spec):
        scene.set_skin(spec.skin)
        scene.set_world(spec.world)
        scene.set_hands(verts)
        scene.set_camera(spec.K, spec.R, spec.t)
        target = target_luma(scene.skin.tone["albedo"], spec.exposure_stops * 0.5)
        out = scene.render(rgb=True, exposure=functools.partial(meter, target=target))
        hand_figures(out["rgb"], out["mask"])
        return out["rgb"]

    try:
        one(*warmup)
        images = [None] * len(scenes)
        t, c = time.perf_counter(), time.process_time()
        for k in world_order([spec for _, spec in scenes]):  # as the renderer orders its samples
            images[k] = one(*scenes[k])
        n = len(scenes)
        return (time.perf_counter() - t) / n, (time.process_time() - c) / n, images
    finally:
        scene.close()


def time_default(n: int) -> tuple[float, float]:
    """Wall and CPU s per sample of `render` at its defaults (forearms on, the exposure metered), on n scenes."""
    from handmodel import load_hand_models
    from pose_sampler.side_by_side import side_by_side_poses

    models = load_hand_models(quiet=True)
    with tempfile.TemporaryDirectory() as d:
        poses = side_by_side_poses(Path(d) / "p.npz", models, n + 1, seed=0)
    _, scenes = make_scenes(n + 1)
    return time_arms(models, scenes[:n], scenes[n], poses.params, "forearms", metered=True)


def arms_main(a) -> None:
    """--arms: the old hand model's render against today's, bare and with forearms, in one run."""
    from handmodel import load_hand_models

    models = load_hand_models(quiet=True)
    n = a.scenes
    with tempfile.TemporaryDirectory() as d:
        from pose_sampler.side_by_side import side_by_side_poses

        poses = side_by_side_poses(Path(d) / "p.npz", models, n + 1, seed=0)
        _, scenes = make_scenes(n + 1)
        timed, warmup = scenes[:n], scenes[n]
        runs = [("today's hand, bare (--no-forearms: closed wrists)", models, "bare"),
                ("today's hand + forearms (default)", models, "forearms")]  # fmt: skip
        if a.old_standin:
            old = standin_at(a.old_standin, Path(d))
            runs.insert(0, (f"stand-in at {a.old_standin}, bare, open wrists (as before)", old, "old"))
        load0 = os.getloadavg()
        best = {}
        for r in range(a.rounds):
            for name, m, mode in runs:
                wall, cpu = time_arms(m, timed, warmup, poses.params, mode)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
                print(f"  round {r + 1}: {name}: {wall:.3f} s", file=sys.stderr, flush=True)
        load1 = os.getloadavg()
    print()
    print(f"per sample at {SIZE}x{SIZE}, default recipe, {n} scenes, fastest of {a.rounds} rounds, geometry included; "
          f"load average {load0[0]:.1f} -> {load1[0]:.1f}")  # fmt: skip
    base = best[runs[0][0]][0]
    print(f"{'run':<62} {'wall s':>7} {'CPU s':>7} {'vs first':>9}")
    for name, _, _ in runs:
        wall, cpu = best[name]
        print(f"{name:<62} {wall:7.3f} {cpu:7.3f} {100 * (wall / base - 1):+8.1f}%")


# Run inside a tree of the repository (this one or an older revision's): time what its `render` does by default
# (`time_default`; trees from before it: the whole per-sample path where the tree has `time_renderer`, else the
# default recipe), and print {"wall", "cpu"} per sample. Run as `python -c` in the tree's folder, which Python
# searches first, so the tree's own packages are imported, not the installed ones.
TREE_TIMER = """
import json
import benchmarks.bench_render as b
n = int({n})
if hasattr(b, "time_default"):
    wall, cpu = b.time_default(n)
else:
    models, scenes = b.make_scenes(n + 1)
    timer = getattr(b, "time_renderer", None) or (lambda m, s, w: b.time_recipe(m, s, w, b.DEFAULT_QUALITY))
    wall, cpu, _ = timer(models, scenes[:n], scenes[n])
print("@@timing " + json.dumps({{"wall": wall, "cpu": cpu}}))
"""


def time_tree(tree: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", TREE_TIMER.format(n=n)], capture_output=True, text=True, cwd=tree)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("@@timing ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"timing {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("@@timing ") :])


def compare_with(rev: str, n: int, rounds: int) -> None:
    """The renderer's per-sample time now against revision `rev` of this repository, alternating in rounds
    (the fastest round of each kept): each a fresh process on the same generated scenes."""
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as d:
        archive = subprocess.run(["git", "-C", str(repo), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
        best = {}
        for r in range(rounds):
            for name, tree in ((rev, d), ("this tree", str(repo))):
                t = time_tree(tree, n)
                print(f"  round {r + 1}: {name}: {t['wall']:.2f} s wall, {t['cpu']:.2f} s CPU", file=sys.stderr)
                if name not in best or t["cpu"] < best[name]["cpu"]:
                    best[name] = t
    old, new = best[rev], best["this tree"]
    print(f"renderer per sample at {SIZE}x{SIZE}, {n} scenes, fastest of {rounds} rounds (CPU s: all threads)")
    print(f"  {rev}: {old['wall']:.3f} s wall, {old['cpu']:.3f} s CPU")
    print(
        f"  this tree: {new['wall']:.3f} s wall, {new['cpu']:.3f} s CPU  "
        f"({100 * (new['cpu'] / old['cpu'] - 1):+.1f}% CPU, {100 * (new['wall'] / old['wall'] - 1):+.1f}% wall)"
    )


def renderih_image(index: int, n: int, out: str) -> None:
    """RenderIH's recipe for one image, in this (fresh) process: 334x512 at 256 samples, then crop to 256."""
    import cv2

    models, scenes = make_scenes(n)
    verts, spec = scenes[index]
    # The full-frame camera whose 256 crop (scale s about the hands) is exactly our square camera.
    s = 1.4
    A = np.array([[s, 0, SIZE / 2 - s * FULL[0] / 2], [0, s, SIZE / 2 - s * FULL[1] / 2], [0, 0, 1]])
    K_full = np.linalg.inv(A) @ spec.K
    scene = new_scene(models, FULL[0], FULL[1], RENDERIH_QUALITY)
    rgb = render_one(scene, verts, spec, K_full)["rgb"]
    crop = cv2.warpAffine(rgb, A[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR)
    np.save(out, crop)


def memory_worker(samples: int, out: str) -> None:
    """One worker with the default recipe: resident memory after the first render and every samples/10 renders."""
    models, scenes = make_scenes(samples + 1, seed=1, pool=20)
    scene = new_scene(models, SIZE, SIZE, DEFAULT_QUALITY)
    render_one(scene, *scenes[0])
    trace = [(0, rss_mb())]
    t = time.perf_counter()
    for k, sc in enumerate(scenes[1:], start=1):
        render_one(scene, *sc)
        if k % max(1, samples // 10) == 0 or k == samples:
            trace.append((k, rss_mb()))
    seconds = (time.perf_counter() - t) / max(samples, 1)
    scene.close()
    Path(out).write_text(json.dumps({"trace": trace, "seconds": seconds}))


def run_self(args: list[str]) -> float:
    """Run this script with `args` in a new process; returns its wall seconds."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t


def psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=None, help="timed scenes per recipe (default 6; 36 with --against)")
    ap.add_argument("--reference-scenes", type=int, default=3, help="scenes with a 1024-sample reference (PSNR)")
    ap.add_argument("--memory-samples", type=int, default=100, help="renders of the memory run (0: skip it)")
    ap.add_argument("--only-default", action="store_true", help="time only the old and the default recipes")
    ap.add_argument("--rounds", type=int, default=2, help="time every recipe this many times, keep the fastest")
    ap.add_argument("--arms", action="store_true", help="time old vs today's hand model, bare and with forearms")
    ap.add_argument("--old-standin", default=None, help="with --arms: git revision of the earlier stand-in")
    ap.add_argument(
        "--against",
        default=None,
        metavar="REV",
        help="only compare the renderer's per-sample time with git revision REV (e.g. an older main)",
    )
    ap.add_argument("--renderih-image", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--memory-worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.against:
        compare_with(a.against, a.scenes or 36, a.rounds)
        return
    a.scenes = a.scenes or 6
    n = max(a.scenes, a.reference_scenes)
    if a.arms:
        arms_main(a)
        return
    if a.renderih_image is not None:
        renderih_image(a.renderih_image, n + 1, a.out)
        return
    if a.memory_worker is not None:
        memory_worker(a.memory_worker, a.out)
        return
    load0 = os.getloadavg()
    models, scenes = make_scenes(n + 1)  # the last one warms each recipe up, outside the timed set
    timed, warmup, nref = scenes[: a.scenes], scenes[n], min(a.reference_scenes, a.scenes)

    candidates = CANDIDATES[:3] if a.only_default else CANDIDATES
    recipes = [(name, q, sub, True) for name, q, sub in candidates]
    recipes.append(("labels only (mask + depth, rgb=False: 1 spp)", DEFAULT_QUALITY, SUBDIVISION, False))
    best = {}  # name -> (wall s, CPU s, images) of its fastest round
    for r in range(a.rounds):
        for name, quality, sub, rgb in recipes:
            wall, cpu, images = time_recipe(models, timed, warmup, quality, sub, rgb=rgb)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu, images if rgb else None)
            print(f"  round {r + 1}: {name}: {wall:.2f} s", file=sys.stderr, flush=True)
    rows = [[name, *best[name]] for name, *_ in recipes]  # (name, wall s, CPU s, images or None)

    ref_wall, _, refs = time_recipe(models, timed[:nref], warmup, REFERENCE_QUALITY)
    print(f"  reference: {ref_wall:.1f} s per scene", file=sys.stderr, flush=True)

    rih_wall, rih_cpu, rih_imgs = [np.inf] * nref, [0.0] * nref, [None] * nref  # per image, fastest round
    with tempfile.TemporaryDirectory() as d:
        for _ in range(a.rounds):
            for i in range(nref):
                out = str(Path(d) / f"{i}.npy")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall = run_self(["--renderih-image", str(i), "--out", out, "--scenes", str(a.scenes),
                                 "--reference-scenes", str(a.reference_scenes)])  # fmt: skip
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if wall < rih_wall[i]:
                    rih_wall[i] = wall
                    rih_cpu[i] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                rih_imgs[i] = np.load(out)
    print(f"  RenderIH recipe: {np.mean(rih_wall):.1f} s per image", file=sys.stderr, flush=True)
    rows.append(["RenderIH: process per image, 256 spp, 334x512 + crop", float(np.mean(rih_wall)),
                 float(np.mean(rih_cpu)), rih_imgs])  # fmt: skip
    rih_s = rows[-1][1]

    memory = None
    if a.memory_samples > 0:
        with tempfile.TemporaryDirectory() as d:
            out = str(Path(d) / "memory.json")
            run_self(["--memory-worker", str(a.memory_samples), "--out", out])
            memory = json.loads(Path(out).read_text())
    load1 = os.getloadavg()

    print(f"\nrenderer at {SIZE}x{SIZE}, {os.cpu_count()} CPUs, subdivision {SUBDIVISION}; {a.scenes} timed scenes, "
          f"fastest of {a.rounds} rounds; PSNR over {nref} against 1024 spp; "
          f"load average {load0[0]:.1f} -> {load1[0]:.1f}")  # fmt: skip
    print(f"{'recipe':<56} {'wall s':>7} {'CPU s':>7} {'PSNR dB':>8} {'speed-up':>9}")
    summary = {}
    for name, wall, cpu, images in rows:
        p = None if images is None else float(np.mean([psnr(images[i], refs[i]) for i in range(nref)]))
        ptext = "-" if p is None else f"{p:.2f}"
        print(f"{name:<56} {wall:7.2f} {cpu:7.2f} {ptext:>8} {rih_s / wall:8.1f}x")
        summary[name] = {"wall_s": wall, "cpu_s": cpu, "psnr_db": p}
    if memory:
        trace = memory["trace"]
        m0, m1 = trace[0][1], trace[-1][1]
        growth = 100 * (m1 - m0) / m0
        steps = ", ".join(f"{k}: {mb:.0f}" for k, mb in trace)
        print(f"\nresident memory of one worker (default recipe), MB after N renders past the first: {steps}")
        print(f"growth {m0:.0f} -> {m1:.0f} MB ({growth:+.1f}%), {memory['seconds']:.2f} s per sample in that run")
        summary["memory"] = {"samples": trace[-1][0], "rss_mb": [m0, m1], "growth_pct": growth}

    d = summary[CANDIDATES[2][0]]
    rih = summary[rows[-1][0]]
    print("\naims (default recipe):")
    checks = [
        (f"(a) <= {AIMS['seconds']:.1f} s per sample", f"{d['wall_s']:.2f} s wall ({d['cpu_s']:.2f} CPU s)",
         d["wall_s"] <= AIMS["seconds"]),
    ]  # fmt: skip
    if memory:
        long_s = memory["seconds"]
        checks.append((f"(a) over the {summary['memory']['samples']}-sample memory run", f"{long_s:.2f} s wall",
                       long_s <= AIMS["seconds"]))  # fmt: skip
    checks += [
        (f"(b) PSNR within {AIMS['psnr_gap_db']:.0f} dB of RenderIH", f"{d['psnr_db']:.2f} vs {rih['psnr_db']:.2f} dB",
         d["psnr_db"] >= rih["psnr_db"] - AIMS["psnr_gap_db"]),
        (f"(c) >= {AIMS['speedup']:.0f}x faster than RenderIH", f"{rih_s / d['wall_s']:.1f}x",
         rih_s / d["wall_s"] >= AIMS["speedup"]),
    ]  # fmt: skip
    if memory:
        checks.append((f"(d) memory growth < {AIMS['memory_pct']:.0f}% (asked over 500)",
                       f"{summary['memory']['growth_pct']:+.1f}% over {summary['memory']['samples']}",
                       summary["memory"]["growth_pct"] < AIMS["memory_pct"]))  # fmt: skip
    for aim, value, ok in checks:
        print(f"  {aim:<40} {value:<32} {'met' if ok else 'MISSED'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
