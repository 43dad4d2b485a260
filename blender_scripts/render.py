"""Render a two-hand dataset from a poses file: the one entry point, inside Blender or on the bpy module.

    blender -b -P blender_scripts/render.py -- --poses poses.npz --out DATASET [options]
    python blender_scripts/render.py -- --poses poses.npz --out DATASET [options]
    python cli.py render --poses poses.npz --out DATASET [options]      (calls `run` below)

The driver renders the samples of its shard that are not finished yet in worker processes (`--worker`), one
long-lived Blender scene each, restarted every `--restart-every` samples so memory stays flat; a progress bar shows
samples/s and the ETA (plain lines where tqdm is missing, as in Blender's own Python). A rerun skips finished
samples; a killed run loses nothing finished. With `--format webdataset` the samples are rendered into the task's
staging folder and each complete group is written as one tar shard (handmodel/shard_output.py).
"""

import argparse
import collections
import functools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (blender -P, python render.py): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from blender_scripts.settings import RenderSettings
from handmodel.errors import (
    INTERRUPTED,
    InputError,
    exit_status,
    os_error_message,
    quiet_worker,
    raise_on_sigterm,
)
from handmodel.options import (
    add_arguments,
    check_settings,
    settings_from_values,
    settings_to_argv,
)
from handmodel.sharding import in_shard

DONE_PREFIX = "@@done "
STDERR_TAIL_LINES = 200  # of a worker's stderr, kept for the error message


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="render.py", description=__doc__.split("\n")[0])
    add_arguments(p, RenderSettings)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    return p


def settings_from_args(a: argparse.Namespace) -> RenderSettings:
    return settings_from_values(RenderSettings, vars(a))


class Job:
    """Everything a run needs, loaded and checked once: poses, hand models, catalogues, cameras, the sample ids."""

    def __init__(self, s: RenderSettings):
        from handmodel import load_hand_models
        from handmodel.dataset_io import sample_name
        from handmodel.models import check_hand_model
        from handmodel.outdir import file_sha256, run_fingerprint
        from hdri.catalogue import list_hdris
        from textures.catalogue import list_textures

        check_settings(s)
        if not s.sleeves <= 1:
            raise InputError(f"--sleeves {s.sleeves}: a probability, expected a number from 0 to 1")
        self.s = s
        self.output = None  # the webdataset form's tar groups and staging folder (handmodel/shard_output.py)
        self.root = Path(s.out)  # where samples are written one by one
        mine_of = None
        if s.dataset_format == "webdataset":
            from handmodel.shard_output import ShardedOutput

            def mine_of(names: list[str]) -> set[str]:
                self.output = ShardedOutput(s.out, names, s.shard_size, s.shard)
                self.root = self.output.staging
                return set(self.output.mine())

        self.poses, self.index, self.rows = _poses_of_run(s, mine_of)
        self.models = load_hand_models(s.mano_dir, quiet=True)
        check_hand_model(self.poses.meta.get("hand_model"), self.models.info, s.poses, required=False,
                         expected_name="the active hand model",
                         fix="render with the model that sampled the poses: --mano-dir, or the stand-in")  # fmt: skip
        self.hdris = list_hdris(s.hdri_dirs, include_bundled=s.bundled_hdris, include_sky=s.sky)
        self.textures = list_textures(self.models, s.texture_dirs, include_generated=s.generated_textures)
        self.rig_cameras = None
        if s.cameras:
            from blender_scripts.sampling import load_rig_cameras

            self.rig_cameras = load_rig_cameras(s.cameras)
        self.names = {i: sample_name(self.poses.ids[i]) for i in self.rows}
        self.fingerprint = run_fingerprint(
            s,
            poses_sha256=_poses_hash(s.poses),
            image_size=[s.resolution, s.resolution],
            cameras_sha256=file_sha256(s.cameras)[:16] if s.cameras else None,
            hdris=[h.name for h in self.hdris],
            textures=[os.path.basename(t) for t in self.textures],
            hand_model=self.models.identity,
        )

    def folder_fingerprint(self) -> dict:
        """What the dataset folder is fingerprinted by (handmodel/outdir.py): the format and this run's settings
        and inputs; --num and --shard are left out, so a longer or sharded run of the same settings continues it."""
        from handmodel.dataset_io import FORMAT_NAME, FORMAT_VERSION
        from handmodel.shard_output import layout_fingerprint

        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **self.fingerprint, **layout_fingerprint(self.s)}

    def check_views(self, rows: list[int], chunk: int = 256) -> None:
        """With rig cameras (--cameras): InputError naming the first of `rows` whose hands no camera of the rigs
        sees whole (in front of it, inside its image), checked before any sample is written; without, the orbit
        camera frames every pose."""
        from handmodel.camera import project, world_to_camera
        from handmodel.joints import HANDS
        from handmodel.skinning import mano_forward

        if not self.rig_cameras or not rows:
            return
        rows = np.asarray(rows)
        for start in range(0, len(rows), chunk):
            idx = rows[start : start + chunk]
            params = {h: [self.poses.params[h][k][idx] for k in ("pose", "shape", "trans")] for h in HANDS}
            points = np.concatenate([mano_forward(self.models[h], *params[h])[0] for h in HANDS], axis=1)
            seen = np.zeros(len(idx), bool)
            for c in self.rig_cameras:
                cam = world_to_camera(points.reshape(-1, 3), c["R"], c["t"]).reshape(points.shape)
                uv = project(cam.reshape(-1, 3), c["K"]).reshape(points.shape[:2] + (2,))
                w, h = c["size"]
                seen |= ((cam[..., 2].min(1) >= 0.05) & (uv.min((1, 2)) >= 0) & (uv[..., 0].max(1) <= w - 1)
                         & (uv[..., 1].max(1) <= h - 1))  # fmt: skip
            if not seen.all():
                i = int(idx[np.argmin(seen)])
                raise InputError(f"{self.s.cameras}: no camera sees both hands of pose {i} (id {self.poses.ids[i]}) "
                                 f"of {self.s.poses}; render it with the orbit camera (no --cameras)")  # fmt: skip

    def pending(self) -> list[int]:
        from handmodel.dataset_io import is_complete

        if self.output is not None:
            todo = set(self.output.pending())
            return [i for i in self.rows if self.names[i] in todo]
        return [i for i in self.rows if not is_complete(self.root, self.names[i])]

    def write_meta(self) -> None:
        from handmodel.dataset_io import read_meta, write_meta

        meta = {**self.fingerprint, "hand_model": self.fingerprint["hand_model"], "source": "render",
                "poses": os.path.abspath(self.s.poses), "renderer": "blender-cycles"}  # fmt: skip
        if (Path(self.s.out) / "meta.json").is_file():  # keep the figures another shard wrote
            quality = read_meta(self.s.out).get("quality")
            if quality is not None:
                meta["quality"] = quality
        write_meta(self.s.out, meta)


def _poses_of_run(s: RenderSettings, mine_of=None) -> tuple:
    """(poses, index, rows) of a run: the poses read, each row's index in the whole poses input (the annotation's
    `pose_index`), and the rows this run renders. Which rows: `mine_of(the names of the run's samples, in order)`
    where given (the webdataset form: whole tars), else the shard rule: a poses file is read whole and sharded by
    sample id; of a folder of pose chunks only this shard's chunks are read (chunk c goes to shard c % N, as
    sample-poses sharded them), after every chunk of the first --num poses is found there."""
    from handmodel.dataset_io import sample_name
    from handmodel.poses_io import PoseFolder, load_poses

    if os.path.isdir(s.poses):
        folder = PoseFolder(s.poses)
        wanted = folder.chunks(s.num)
        folder.check_complete(wanted)
        n = folder.num if s.num is None else min(s.num, folder.num)
        mine = None if mine_of is None else mine_of([sample_name(i) for i in range(n)])
        if mine is None:
            chunks = [c for c in wanted if in_shard(c, s.shard)]
        else:  # chunk folders hold the ids 0..num-1 in order
            chunks = sorted({i // folder.batch_size for i in range(n) if sample_name(i) in mine})
        poses = folder.load(chunks)
        rows = [i for i, sample_id in enumerate(poses.ids) if sample_id < n and
                (mine is None or sample_name(sample_id) in mine)]  # fmt: skip
        return poses, poses.ids.copy(), rows
    poses = load_poses(s.poses)
    n = len(poses) if s.num is None else min(s.num, len(poses))
    if mine_of is None:
        rows = [i for i in range(n) if in_shard(poses.ids[i], s.shard)]
    else:
        mine = mine_of([sample_name(poses.ids[i]) for i in range(n)])
        rows = [i for i in range(n) if sample_name(poses.ids[i]) in mine]
    return poses, np.arange(len(poses)), rows


def _poses_hash(path: str) -> str:
    """The poses input's identity for the fingerprint: a file's content hash, a chunk folder's run identity."""
    import hashlib
    import json

    from handmodel.outdir import file_sha256
    from handmodel.poses_io import PoseFolder

    if os.path.isdir(path):
        identity = json.dumps(PoseFolder(path).fingerprint, sort_keys=True).encode()
        return hashlib.sha256(identity).hexdigest()[:16]
    return file_sha256(path)[:16]


def hand_annotation(model, pose, shape, trans, K, R, t) -> dict:
    """One hand's annotation: parameters moved into camera coordinates, 21 joints in camera metres and pixels."""
    from handmodel.camera import mano_world_to_camera, project
    from handmodel.skinning import mano_forward

    pose_c, trans_c = mano_world_to_camera(model, pose, shape, trans, R, t)
    _, joints = mano_forward(model, pose_c[None], shape[None], trans_c[None])
    return {"pose": pose_c, "shape": shape, "trans": trans_c, "joints_3d": joints[0],
            "joints_2d": project(joints[0], K)}  # fmt: skip


def meter(linear: np.ndarray, mask: np.ndarray, target: float) -> float:
    """The exposure rule on one render: the gain that puts its hand pixels' median luma on `target`."""
    from blender_scripts.exposure import choose_gain
    from handmodel.dataset_io import hand_mask

    return choose_gain(linear[hand_mask(mask)], target)  # the hands: forearms and sleeves left out


def body_rotations(poses, models) -> np.ndarray:
    """(N,3,3) body -> world rotations of the poses: the poses file's `body_to_world` where it has one, else the
    body frame that the two hands fit (handmodel/body.py)."""
    from handmodel.body import estimate_body_frame
    from handmodel.forearm import posed_frames

    if poses.body_to_world is not None:  # checked on load: (N, 4, 4) rotations and translations
        return np.asarray(poses.body_to_world, dtype=np.float64)[:, :3, :3]
    frames = {h: posed_frames(models[h], *(poses.params[h][k] for k in ("pose", "shape", "trans"))) for h in models}
    T = estimate_body_frame(frames["right"]["wrist"], frames["right"]["axis"], frames["left"]["wrist"],
                            frames["left"]["axis"])  # fmt: skip
    return T[:, :3, :3]


def arm_geometry(models, layouts, forearms: bool) -> dict:
    """Per hand what the scene needs besides the hand, as faces into concat(hand vertices, forearm or cap
    vertices): 'extra' faces, their 'extra_uvs' and 'extra_palm' (palm-patch UVs, palm share: `hand_meshes`) that
    belong to the hand's own mesh and label (the wrist cap of a bare hand; with a forearm, its first strip of
    faces, so that every hand vertex lies inside the hand's mask), and with forearms the forearm's 'faces', 'uvs',
    'palm' and 'stations' for the scene, and the wrist 'loop'."""
    from handmodel.forearm import face_stations, forearm_mesh, posed_frames, wrist_cap, wrist_loop
    from textures.uv_layout import forearm_palm_share, forearm_uvs

    out = {}
    for h, m in models.items():
        loop = wrist_loop(m.faces)
        uvs = forearm_uvs(layouts[h], m, len(loop))
        if forearms:
            palm_uvs, share = forearm_uvs(layouts[h], m, len(loop), palmar=True), forearm_palm_share(m, loop)
            rest = posed_frames(m, np.zeros((1, 48)), np.zeros((1, 10)), np.zeros((1, 3)))
            _, faces = forearm_mesh(m.v_template, loop, rest["wrist"][0], rest["axis"][0], rest["lateral"][0])
            strip = 2 * len(loop)
            out[h] = {"loop": loop, "extra": faces[:strip], "extra_uvs": uvs[:strip],
                      "extra_palm": (palm_uvs[:strip], share[:strip]), "faces": faces[strip:], "uvs": uvs[strip:],
                      "palm": (palm_uvs[strip:], share[strip:]),
                      "stations": face_stations(len(loop))[strip:]}  # fmt: skip
        else:
            _, cap = wrist_cap(m.v_template, loop, np.array([1.0, 0.0, 0.0]))
            centre = uvs.reshape(-1, 2).mean(0)
            cap_uvs = np.broadcast_to(centre, cap.shape + (2,)).astype(np.float32)
            out[h] = {"loop": loop, "extra": cap, "extra_uvs": cap_uvs,
                      "extra_palm": (cap_uvs, np.zeros(cap.shape, np.float32))}  # fmt: skip
    return out


def hand_meshes(models, layouts, arms) -> dict:
    """HandScene's hand meshes: {'faces', 'uvs', 'palm'}, each {hand: ...}: the hand model's faces and UVs with its
    `arm_geometry` extra faces appended, and per face corner (UVs on the palm's patch, the share of them in the
    skin colour): the forearm's strip blends towards the palm's tone on its inner side, the hand's own faces do
    not (share 0)."""
    out = {"faces": {}, "uvs": {}, "palm": {}}
    for h in models:
        uv = layouts[h]["uv"]
        extra_uvs, extra_share = arms[h]["extra_palm"]
        out["faces"][h] = np.concatenate([models[h].faces, arms[h]["extra"]])
        out["uvs"][h] = np.concatenate([uv, arms[h]["extra_uvs"]])
        out["palm"][h] = (np.concatenate([uv, extra_uvs]),
                          np.concatenate([np.zeros(uv.shape[:2], np.float32), extra_share]))  # fmt: skip
    return out


def posed_arm(model, arm: dict, verts: np.ndarray, params: dict, sleeve: float | None):
    """(the hand object's vertices, the points the forearm's faces index or None) of one posed hand: bare, the
    hand's vertices with its wrist cap's appended; with a forearm, the hand's and the forearm's first ring, and
    the hand's with all the forearm's."""
    from handmodel.forearm import forearm_mesh, posed_frames, wrist_cap

    frames = posed_frames(model, *(params[k][None] for k in ("pose", "shape", "trans")))
    if "faces" not in arm:
        cap, _ = wrist_cap(verts, arm["loop"], frames["axis"][0])
        return np.concatenate([verts, cap]), None
    new, _ = forearm_mesh(verts, arm["loop"], frames["wrist"][0], frames["axis"][0], frames["lateral"][0],
                          sleeve_from=sleeve)  # fmt: skip
    points = np.concatenate([verts, new])
    return points[: len(verts) + len(arm["loop"])], points


def render_worker(settings: RenderSettings, max_samples: int | None = None, report=None) -> int:
    """Render up to `max_samples` pending samples in this process (one long-lived scene); returns how many."""
    from blender_scripts.exposure import hand_figures, target_luma
    from blender_scripts.quality import RenderQuality
    from blender_scripts.sampling import sample_scene, world_order
    from blender_scripts.scene import HandScene
    from blender_scripts.writer import SampleWriter
    from handmodel.dataset_io import annotation_to_json
    from handmodel.forearm import posed_frames
    from handmodel.joints import HANDS
    from handmodel.skinning import mano_forward
    from textures.uv_layout import load_or_build

    job = Job(settings)
    todo = job.pending()[:max_samples]
    if not todo:
        return 0
    layouts = load_or_build(job.models)
    arms = arm_geometry(job.models, layouts, settings.forearms)
    meshes = hand_meshes(job.models, layouts, arms)
    size = settings.resolution
    quality = RenderQuality(samples=settings.samples, denoiser=settings.denoise)
    scene = HandScene(meshes["faces"], size, size, uvs=meshes["uvs"], palm=meshes["palm"],
                      subdivision=settings.subdivision, threads=settings.threads, quality=quality,
                      forearms=arms if settings.forearms else None, device=settings.render_device)  # fmt: skip
    writer = SampleWriter(job.root, size, size)
    all_params = job.poses.params  # {hand: {"pose", "shape", "trans": (N, ...)}}
    body = body_rotations(job.poses, job.models)

    def plan(i: int):
        params = {h: {k: all_params[h][k][i] for k in ("pose", "shape", "trans")} for h in HANDS}
        verts = {h: mano_forward(job.models[h], *(params[h][k][None] for k in ("pose", "shape", "trans")))[0][0]
                 for h in HANDS}  # fmt: skip
        points = np.concatenate([verts[h] for h in HANDS])
        ends = None
        if settings.forearms:
            frames = {h: posed_frames(job.models[h], *(params[h][k][None] for k in ("pose", "shape", "trans")))
                      for h in HANDS}  # fmt: skip
            ends = [(frames[h]["wrist"][0], frames[h]["axis"][0]) for h in HANDS]
        spec = sample_scene(settings.seed, int(job.poses.ids[i]), points, size, job.hdris, job.textures,
                            job.rig_cameras, body_rotation=body[i], sleeve_probability=settings.sleeves,
                            forearms=ends)  # fmt: skip
        if spec is None:
            raise InputError(f"{settings.cameras}: no camera sees both hands of pose {i} of {settings.poses}")
        return params, verts, spec

    plans = [plan(i) for i in todo]
    done = 0
    try:
        for k in world_order([spec for _, _, spec in plans]):
            i, (params, verts, spec) = todo[k], plans[k]
            sleeves = spec.sleeves or {}
            posed = {h: posed_arm(job.models[h], arms[h], verts[h], params[h], sleeves.get(h)) for h in HANDS}
            try:
                scene.set_skin(spec.skin)
            except OSError as e:
                raise InputError(str(e)) from None
            try:
                scene.set_world(spec.world)
            except OSError as e:
                raise InputError(str(e)) from None
            if spec.cloth is not None:
                scene.set_cloth(spec.cloth)
            scene.set_hands({h: posed[h][0] for h in HANDS},
                            forearms={h: posed[h][1] for h in HANDS if settings.forearms}, sleeves=sleeves)  # fmt: skip
            scene.set_camera(spec.K, spec.R, spec.t)
            tone = scene.skin.tone
            target = target_luma(tone["albedo"], spec.exposure_stops * settings.exposure_spread)
            rendered = scene.render(rgb=True, exposure=functools.partial(meter, target=target))
            gain = rendered["exposure"]
            hands = {h: hand_annotation(job.models[h], **params[h], K=spec.K, R=spec.R, t=spec.t) for h in HANDS}
            source = {"renderer": "blender-cycles", "seed": settings.seed, "sample_id": int(job.poses.ids[i]),
                      "pose_index": int(job.index[i]), "hdri": spec.hdri_name, "hdri_rotation": spec.world.rotation,
                      "hdri_strength": spec.world.strength, "texture": os.path.basename(spec.skin.texture or ""),
                      "camera": spec.camera_name, "poses": Path(settings.poses).name, "exposure": gain,
                      "background_gain": rendered["background_gain"], "white_balance": rendered["white_balance"],
                      "exposure_target": target, "skin_tone": tone["tone"], "skin_ita": tone["ita"],
                      "forearms": settings.forearms, "sleeves": sleeves or None,
                      **hand_figures(rendered["rgb"], rendered["mask"])}  # fmt: skip
            if done == 0:
                job.write_meta()
            camera = {"K": spec.K, "R": spec.R, "t": spec.t}
            writer.write(job.names[i], rendered, annotation_to_json(camera, hands, source))
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


def drive_worker(command: list[str], on_done) -> int:
    """Run one worker process; on_done(name) for every sample it reports finished; returns how many it reported.
    A worker that fails raises InputError (its last stderr line was `error: ...`) or RuntimeError.

    A thread drains the worker's stderr while this one reads its stdout: a worker that writes more than a pipe
    buffer of warnings would otherwise block on stderr while the driver waits on stdout. Only the last
    STDERR_TAIL_LINES lines are kept for the error message.
    """
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    errors: list[str] = []  # our own `error: ...` lines, kept apart: Blender may print hundreds of lines after one

    def drain(stream):
        for line in stream:
            tail.append(line)
            if line.startswith("error: "):
                errors.append(line.rstrip())

    reader = threading.Thread(target=drain, args=(proc.stderr,), daemon=True)
    reader.start()
    done = 0
    try:
        for line in proc.stdout:
            if line.startswith(DONE_PREFIX):
                done += 1
                on_done(line[len(DONE_PREFIX) :].strip())
    except BaseException:
        proc.kill()  # the driver is failing (or interrupted): do not leave a Blender worker behind
        raise
    finally:
        code = proc.wait()
        reader.join()
    if code != 0:
        lines = [x.rstrip() for x in tail if x.strip()]
        if errors:
            raise InputError(errors[-1][len("error: ") :])
        message = lines[-1] if lines else f"exit status {code}"
        raise RuntimeError(f"render worker failed: {message}\n" + "".join(tail)[-4000:])
    return done


class PrintedProgress:
    """The part of tqdm that `run` uses, as one plain line on stderr per update (count, samples/s, ETA): Blender's
    own Python has no tqdm."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "it", disable: bool = False):
        self.total, self.n, self.desc, self.unit, self.disable = total, initial, desc, unit, disable
        self.start, self.t0 = initial, time.monotonic()
        self._print()

    def _print(self) -> None:
        if self.disable:
            return
        done, seconds = self.n - self.start, time.monotonic() - self.t0
        line = f"{self.desc}: {self.n}/{self.total} {self.unit}s"
        if done and seconds > 0:
            line += f", {done / seconds:.2f} {self.unit}s/s, ETA {(self.total - self.n) * seconds / done:.0f} s"
        print(line, file=sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        self._print()

    def close(self) -> None:
        pass


def progress_bar(total: int, initial: int, desc: str, disable: bool):
    """A tqdm bar of samples where tqdm is installed, else `PrintedProgress` (inside Blender)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return PrintedProgress(total, initial, desc, unit="sample", disable=disable)
    return tqdm(total=total, initial=initial, unit="sample", disable=disable, desc=desc, smoothing=0.1)


def run(s: RenderSettings, progress: bool = True) -> int:
    """Render every unfinished sample of the shard; returns how many were rendered now."""
    from handmodel.outdir import open_output

    job = Job(s)
    job.check_views(job.pending())  # every pose this run renders has a view, before the first file is written
    # The folder is locked for this shard and its fingerprint checked before a file is written; workers inherit
    # the run's temporary-file tag.
    with open_output(s.out, "render", job.folder_fingerprint(), shard=s.shard,
                     hint="render into a new --out folder or repeat the original settings"):  # fmt: skip
        pending = job.pending()
        bar = progress_bar(len(job.rows), len(job.rows) - len(pending), f"render {s.shard[0]}/{s.shard[1]}",
                           disable=not progress)  # fmt: skip
        rendered = 0
        try:
            if s.restart_every <= 0:
                rendered = render_worker(s, report=lambda _name: bar.update(1))
            while s.restart_every > 0 and job.pending():
                rendered += drive_worker(_worker_command(s, s.restart_every), lambda _name: bar.update(1))
                if job.output is not None:
                    job.output.finish(final=False)  # every tar whose samples are all rendered
        finally:
            bar.close()
        if job.output is not None:
            job.output.finish(final=True)
        write_figures(s.out)
    return rendered


def exit_with_parent(poll_s: float = 0.25) -> threading.Thread:
    """End this process as soon as the process that started it is gone: a killed driver must not leave a worker
    rendering (the worker is reparented, so its parent pid changes)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(3)

    thread = threading.Thread(target=watch, daemon=True, name="exit-with-parent")
    thread.start()
    return thread


def write_figures(out) -> dict:
    """Put the photometric figures over every finished sample (blender_scripts.exposure.summarize) into the
    dataset's meta.json under 'quality'; returns them."""
    from blender_scripts.exposure import sample_records, summarize
    from handmodel.dataset_io import read_meta, write_meta

    if not (Path(out) / "meta.json").is_file():
        return {}
    figures = summarize(list(sample_records(out).values()))
    meta = read_meta(out)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version")}
    write_meta(out, {**meta, "quality": figures})
    return figures


def main(argv: list[str]) -> int:
    from blender_scripts.exposure import describe
    from handmodel.dataset_io import read_meta

    args = build_parser().parse_args(argv)
    if args.worker is not None:
        quiet_worker()  # an interrupt is the driver's to handle: it stops this worker
    else:
        raise_on_sigterm()
    try:
        s = settings_from_args(args)
        if args.worker is not None:
            exit_with_parent()
            render_worker(s, args.worker, report=lambda name: print(DONE_PREFIX + name, flush=True))
        else:
            t0 = time.time()
            n = run(s)
            print(f"rendered {n} samples into {s.out} in {time.time() - t0:.1f} s")
            print(describe(read_meta(s.out).get("quality", {"samples": 0})))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except OSError as e:
        print(f"error: {os_error_message(e)}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the lock is released and the temporaries removed by now
        print(f"\n{INTERRUPTED}", file=sys.stderr, flush=True)
        return exit_status(e)
    return 0


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    code = main(argv)
    if code:
        sys.exit(code)
