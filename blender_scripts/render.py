"""Render a two-hand dataset from a poses file: the one entry point, inside Blender or on the bpy module.

    blender -b -P blender_scripts/render.py -- --poses poses.npz --out DATASET [options]
    python blender_scripts/render.py -- --poses poses.npz --out DATASET [options]
    python cli.py render --poses poses.npz --out DATASET [options]      (calls `run` below)

The driver renders the samples of its shard that are not finished yet in worker processes (`--worker`), one
long-lived Blender scene each, restarted every `--restart-every` samples so memory stays flat; a progress bar shows
samples/s and the ETA. A rerun skips finished samples; a killed run loses nothing finished.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script (blender -P, python render.py): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from blender_scripts.quality import DENOISERS
from handmodel.errors import InputError, os_error_message
from handmodel.sharding import parse_shard

DONE_PREFIX = "@@done "
# Fingerprint keys added after datasets were made without them: the value those datasets were rendered with.
LEGACY_META = {"denoise": "off"}


@dataclass
class RenderSettings:
    poses: str
    out: str
    num: int | None = None
    shard: tuple[int, int] = (0, 1)
    resolution: int = 256
    samples: int = 12
    denoise: str = "fast"
    seed: int = 0
    cameras: str | None = None
    hdri_dirs: list = field(default_factory=list)
    bundled_hdris: bool = True
    sky: bool = True
    texture_dirs: list = field(default_factory=list)
    generated_textures: bool = True
    subdivision: int = 1
    restart_every: int = 200
    threads: int = 0
    mano_dir: str | None = None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="render.py", description=__doc__.split("\n")[0])
    p.add_argument("--poses", required=True, help="poses .npz made by sample-poses")
    p.add_argument("--out", required=True, help="dataset folder (created; a rerun resumes it)")
    p.add_argument("--num", type=int, default=None, help="render only the first NUM poses")
    p.add_argument("--shard", default="0/1", help="K/N: render the sample ids with id %% N == K (0 <= K < N)")
    p.add_argument("--resolution", type=int, default=256, help="square image side in pixels")
    p.add_argument("--samples", type=int, default=12, help="Cycles samples per pixel")
    p.add_argument("--denoise", default="fast", choices=DENOISERS, help="OpenImageDenoise quality (off: none)")
    p.add_argument("--seed", type=int, default=0, help="global seed; each sample draws from (seed, sample id)")
    p.add_argument("--cameras", default=None, help="InterHand2.6M camera.json: use its rigs instead of orbits")
    p.add_argument("--hdri-dir", action="append", default=[], help="folder of HDRIs to add (repeatable)")
    p.add_argument("--no-bundled-hdris", action="store_true", help="leave out the HDRIs that ship with Blender")
    p.add_argument("--no-sky", action="store_true", help="leave out the procedural sky")
    p.add_argument("--texture-dir", action="append", default=[], help="folder of skin textures (repeatable)")
    p.add_argument("--no-generated-textures", action="store_true", help="only the --texture-dir textures")
    p.add_argument("--subdivision", type=int, default=1, help="Catmull-Clark levels at render time")
    p.add_argument("--restart-every", type=int, default=200, help="restart the worker every N samples (0: never)")
    p.add_argument("--threads", type=int, default=0, help="render threads (0: all cores)")
    p.add_argument("--mano-dir", default=None, help="folder with MANO_RIGHT.pkl / MANO_LEFT.pkl")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    return p


def settings_from_args(a) -> RenderSettings:
    return RenderSettings(
        poses=a.poses, out=a.out, num=a.num, shard=parse_shard(a.shard), resolution=a.resolution,
        samples=a.samples, denoise=a.denoise, seed=a.seed, cameras=a.cameras, hdri_dirs=list(a.hdri_dir),
        bundled_hdris=not a.no_bundled_hdris, sky=not a.no_sky, texture_dirs=list(a.texture_dir),
        generated_textures=not a.no_generated_textures, subdivision=a.subdivision,
        restart_every=a.restart_every, threads=a.threads, mano_dir=a.mano_dir,
    )  # fmt: skip


def settings_to_argv(s: RenderSettings) -> list[str]:
    argv = ["--poses", s.poses, "--out", s.out, "--shard", f"{s.shard[0]}/{s.shard[1]}"]
    argv += ["--resolution", str(s.resolution), "--samples", str(s.samples), "--denoise", s.denoise]
    argv += ["--seed", str(s.seed)]
    argv += ["--subdivision", str(s.subdivision), "--restart-every", str(s.restart_every)]
    argv += ["--threads", str(s.threads)]
    if s.num is not None:
        argv += ["--num", str(s.num)]
    for flag, value in (("--cameras", s.cameras), ("--mano-dir", s.mano_dir)):
        if value is not None:
            argv += [flag, value]
    for d in s.hdri_dirs:
        argv += ["--hdri-dir", d]
    for d in s.texture_dirs:
        argv += ["--texture-dir", d]
    for flag, on in (("--no-bundled-hdris", not s.bundled_hdris), ("--no-sky", not s.sky),
                     ("--no-generated-textures", not s.generated_textures)):  # fmt: skip
        if on:
            argv.append(flag)
    return argv


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class Job:
    """Everything a run needs, loaded and checked once: poses, hand models, catalogues, cameras, the sample ids."""

    def __init__(self, s: RenderSettings):
        from handmodel import load_hand_models
        from handmodel.dataset_io import read_meta, sample_name
        from handmodel.poses_io import load_poses
        from hdri.catalogue import list_hdris
        from textures.catalogue import list_textures

        if s.resolution < 16 or s.samples < 1:
            raise InputError(f"--resolution {s.resolution} / --samples {s.samples}: need >= 16 pixels, >= 1 sample")
        if s.denoise not in DENOISERS:
            raise InputError(f"--denoise {s.denoise}: expected one of {', '.join(DENOISERS)}")
        self.s = s
        self.poses = load_poses(s.poses)
        self.models = load_hand_models(s.mano_dir, quiet=True)
        self.hdris = list_hdris(s.hdri_dirs, include_bundled=s.bundled_hdris, include_sky=s.sky)
        self.textures = list_textures(self.models, s.texture_dirs, include_generated=s.generated_textures)
        self.rig_cameras = None
        if s.cameras:
            from blender_scripts.sampling import load_rig_cameras

            self.rig_cameras = load_rig_cameras(s.cameras)
        n = len(self.poses) if s.num is None else min(s.num, len(self.poses))
        k, shards = s.shard
        self.rows = [i for i in range(n) if int(self.poses.ids[i]) % shards == k]
        self.names = {i: sample_name(self.poses.ids[i]) for i in self.rows}
        self.fingerprint = {
            "poses_sha256": _sha256(s.poses),
            "image_size": [s.resolution, s.resolution],
            "samples": s.samples,
            "denoise": s.denoise,
            "seed": s.seed,
            "subdivision": s.subdivision,
            "cameras_sha256": _sha256(s.cameras) if s.cameras else None,
            "hdris": [h.name for h in self.hdris],
            "textures": [os.path.basename(t) for t in self.textures],
            "hand_model": {"model": self.models.info["model"], "hash": self.models.info["hash"]},
        }
        meta_path = Path(s.out) / "meta.json"
        if meta_path.exists():
            old = read_meta(s.out)
            for key, value in self.fingerprint.items():
                was = old.get(key, LEGACY_META.get(key))
                if was != json.loads(json.dumps(value)):
                    raise InputError(
                        f"{meta_path}: this folder belongs to another run ({key} was {was!r}, now "
                        f"{value!r}); render into a new --out folder or repeat the original settings"
                    )

    def pending(self) -> list[int]:
        from handmodel.dataset_io import is_complete

        return [i for i in self.rows if not is_complete(self.s.out, self.names[i])]

    def write_meta(self) -> None:
        from handmodel.dataset_io import write_meta

        meta = {**self.fingerprint, "hand_model": self.fingerprint["hand_model"], "source": "render",
                "poses": os.path.abspath(self.s.poses), "renderer": "blender-cycles"}  # fmt: skip
        write_meta(self.s.out, meta)


def hand_annotation(model, pose, shape, trans, K, R, t) -> dict:
    """One hand's annotation: parameters moved into camera coordinates, 21 joints in camera metres and pixels."""
    from handmodel.camera import mano_world_to_camera, project
    from handmodel.skinning import mano_forward

    pose_c, trans_c = mano_world_to_camera(model, pose, shape, trans, R, t)
    _, joints = mano_forward(model, pose_c[None], shape[None], trans_c[None])
    return {"pose": pose_c, "shape": shape, "trans": trans_c, "joints_3d": joints[0],
            "joints_2d": project(joints[0], K)}  # fmt: skip


def render_worker(s: RenderSettings, max_samples: int | None = None, report=None) -> int:
    """Render up to `max_samples` pending samples in this process (one long-lived scene); returns how many."""
    from blender_scripts.quality import RenderQuality
    from blender_scripts.sampling import sample_scene
    from blender_scripts.scene import HandScene
    from blender_scripts.writer import SampleWriter
    from handmodel.dataset_io import annotation_to_json
    from handmodel.joints import HANDS
    from handmodel.skinning import mano_forward
    from textures.uv_layout import load_or_build

    job = Job(s)
    todo = job.pending()[:max_samples]
    if not todo:
        return 0
    layouts = load_or_build(job.models)
    faces = {h: job.models[h].faces for h in HANDS}
    uvs = {h: layouts[h]["uv"] for h in HANDS}
    size = s.resolution
    quality = RenderQuality(samples=s.samples, denoiser=s.denoise)
    scene = HandScene(faces, size, size, uvs=uvs, subdivision=s.subdivision, threads=s.threads, quality=quality)
    writer = SampleWriter(s.out, size, size)
    p = job.poses.params
    done = 0
    try:
        for i in todo:
            params = {h: {k: p[h][k][i] for k in ("pose", "shape", "trans")} for h in HANDS}
            verts = {h: mano_forward(job.models[h], *(params[h][k][None] for k in ("pose", "shape", "trans")))[0][0]
                     for h in HANDS}  # fmt: skip
            points = np.concatenate([verts[h] for h in HANDS])
            spec = sample_scene(s.seed, int(job.poses.ids[i]), points, size, job.hdris, job.textures, job.rig_cameras)
            if spec is None:
                raise InputError(f"{s.cameras}: no camera sees both hands of pose {i} of {s.poses}")
            try:
                scene.set_skin(spec.skin)
            except OSError as e:
                raise InputError(str(e)) from None
            try:
                scene.set_world(spec.world)
            except OSError as e:
                raise InputError(str(e)) from None
            scene.set_hands(verts)
            scene.set_camera(spec.K, spec.R, spec.t)
            out = scene.render(rgb=True)
            hands = {h: hand_annotation(job.models[h], **params[h], K=spec.K, R=spec.R, t=spec.t) for h in HANDS}
            source = {"renderer": "blender-cycles", "seed": s.seed, "sample_id": int(job.poses.ids[i]),
                      "pose_index": i, "hdri": spec.hdri_name, "hdri_rotation": spec.world.rotation,
                      "hdri_strength": spec.world.strength, "texture": os.path.basename(spec.skin.texture or ""),
                      "camera": spec.camera_name, "poses": os.path.basename(s.poses)}  # fmt: skip
            if done == 0:
                job.write_meta()
            writer.write(job.names[i], out, annotation_to_json({"K": spec.K, "R": spec.R, "t": spec.t}, hands, source))
            done += 1
            if report:
                report(job.names[i])
    finally:
        scene.close()
    return done


def _worker_command(s: RenderSettings, max_samples: int) -> list[str]:
    script = str(Path(__file__).resolve())
    argv = settings_to_argv(s) + ["--worker", str(max_samples)]
    try:
        import bpy

        blender = bpy.app.binary_path
    except ImportError:
        blender = ""
    if blender and os.path.basename(blender).lower().startswith("blender"):
        return [blender, "-b", "--factory-startup", "-P", script, "--", *argv]
    return [sys.executable, script, "--", *argv]


def run(s: RenderSettings, progress: bool = True) -> int:
    """Render every unfinished sample of the shard; returns how many were rendered now."""
    from tqdm import tqdm

    from handmodel.atomic import remove_temporaries

    job = Job(s)
    remove_temporaries(s.out)
    pending = job.pending()
    bar = tqdm(total=len(job.rows), initial=len(job.rows) - len(pending), unit="sample", disable=not progress,
               desc=f"render {s.shard[0]}/{s.shard[1]}", smoothing=0.1)  # fmt: skip
    rendered = 0
    try:
        if s.restart_every <= 0:
            rendered = render_worker(s, report=lambda _name: bar.update(1))
        while s.restart_every > 0 and job.pending():
            proc = subprocess.Popen(_worker_command(s, s.restart_every), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
            for line in proc.stdout:
                if line.startswith(DONE_PREFIX):
                    rendered += 1
                    bar.update(1)
            err = proc.stderr.read()
            if proc.wait() != 0:
                lines = [x for x in err.strip().splitlines() if x.strip()]
                message = lines[-1] if lines else f"exit status {proc.returncode}"
                if message.startswith("error: "):
                    raise InputError(message[len("error: ") :])
                raise RuntimeError(f"render worker failed: {message}\n{err[-4000:]}")
    finally:
        bar.close()
    return rendered


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        s = settings_from_args(args)
        if args.worker is not None:
            render_worker(s, args.worker, report=lambda name: print(DONE_PREFIX + name, flush=True))
        else:
            t0 = time.time()
            n = run(s)
            print(f"rendered {n} samples into {s.out} in {time.time() - t0:.1f} s")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except OSError as e:
        print(f"error: {os_error_message(e)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    code = main(argv)
    if code:
        sys.exit(code)
