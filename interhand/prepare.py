"""`interhand prepare`: a split of InterHand2.6M -> the toolkit's dataset folder (handmodel/dataset_io.py).

Every image of an interacting frame with both hands valid and both MANO entries non-null becomes one sample: a
256x256 crop around both hands' 2D joints (80% fill), camera-space MANO parameters (the root-pivot fix of
`handmodel.camera.mano_world_to_camera`), 21 joints per hand in the toolkit's order, and the visible-hand mask and
depth rendered with Blender through the crop's camera. Black images are skipped and counted with the frames
that fail the selection. `--selection intaghand` uses IntagHand's frame rule and crop instead (SELECTIONS below):
with it, test sets hold the frames published numbers were measured on.

Sample names are the candidates' positions in the (capture, frame, camera) order, so reruns and parallel
workers agree; a sample is complete when its annotation exists, and a rerun skips complete samples.
"""

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_write_bytes
from handmodel.camera import crop_intrinsics, mano_world_to_camera, project, square_crop
from handmodel.dataset_io import (
    FORMAT_NAME,
    FORMAT_VERSION,
    annotation_to_json,
    encode_depth_mm,
    image_size,
    is_complete,
    read_input_bytes,
    sample_name,
    sample_paths,
    write_annotation,
    write_meta,
)
from handmodel.errors import InputError
from handmodel.interhand_release import (
    SPLITS,
    absolute_params,
    annotation_path,
    check_release,
    frame_skip_reason,
    image_dir,
    is_black,
    read_cameras,
    read_images,
    read_joint_3d,
    read_mano,
)
from handmodel.joints import HANDS
from handmodel.models import MANO_DIR_HELP
from handmodel.options import check_settings, format_shard, option
from handmodel.outdir import file_sha256, open_output, run_fingerprint
from handmodel.png import write_png
from handmodel.shard_output import ShardedOutput, format_option, layout_fingerprint, shard_size_option
from handmodel.sharding import in_shard, parse_shard
from handmodel.skinning import mano_forward
from handmodel.worker_pool import WORKERS_HELP, resolve_workers, run_in_workers, worker_threads

CROP_SIZE = 256
CROP_FILL = 0.8  # the hands fill 80% of the crop's side, as in RenderIH
SOURCE = "InterHand2.6M"


# Which frames become samples. "default": the joint_3d entry says interacting (and hand_type_valid), both wrists
# valid, both MANO entries present; the crop is around both hands' 2D joints. "intaghand": IntagHand's rule, the
# data file's annotation says interacting and hand_type_valid and both MANO entries are present (no wrist check),
# an image whose mean is under DARK_MEAN is dropped, and the crop is around both hands' projected vertices.
SELECTIONS = ("default", "intaghand")
DARK_MEAN = 10.0


def intaghand_skip_reason(record, mano_entry: dict | None) -> str | None:
    """None when IntagHand's frame rule keeps the image, else 'not_interacting' or 'null_mano'."""
    if record.hand_type != "interacting" or not record.hand_type_valid:
        return "not_interacting"
    if mano_entry is None or any(mano_entry.get(h) is None for h in HANDS):
        return "null_mano"
    return None


def select_images(
    root: str | os.PathLike, split: str, models, selection: str = "default"
) -> tuple[list[dict], Counter]:
    """The candidate images of a split, sorted by (capture, frame, camera), and the count of images skipped
    per reason (`release.SKIP_REASONS`). Each candidate: {'record': ImageRecord, 'camera': Camera,
    'params': {hand: {'pose' (48,) absolute, 'shape', 'trans'}} in world coordinates}. `selection`: SELECTIONS."""
    if selection not in SELECTIONS:
        raise InputError(f"--selection {selection!r}: not one of {', '.join(SELECTIONS)}")
    check_release(root, split)
    records = read_images(root, split)
    lacking = [r for r in records if r.hand_type is None]
    if selection == "intaghand" and lacking:  # else every frame would count as "not interacting"
        raise InputError(f"{annotation_path(root, split, 'data')}: the annotation of image {lacking[0].image_id} has "
                         f"no 'hand_type' ({len(lacking)} of {len(records)} images lack it), which --selection "
                         "intaghand reads; is this the release's data file?")  # fmt: skip
    joints, mano, cameras = read_joint_3d(root, split), read_mano(root, split), read_cameras(root, split)
    skipped: Counter = Counter()
    jobs = []
    for rec in sorted(records, key=lambda r: (r.capture, r.frame, r.camera, r.seq)):
        entry = mano.get(rec.capture, {}).get(rec.frame)
        if selection == "intaghand":
            reason = intaghand_skip_reason(rec, entry)
        else:
            reason = frame_skip_reason(joints.get(rec.capture, {}).get(rec.frame), entry)
        if reason is not None:
            skipped[reason] += 1
            continue
        camera = cameras.get(rec.capture, {}).get(rec.camera)
        if camera is None:
            raise InputError(
                f"{annotation_path(root, split, 'camera')}: no camera '{rec.camera}' for capture {rec.capture} "
                f"(needed by {rec.file_name})"
            )
        jobs.append({"record": rec, "camera": camera, "params": absolute_params(entry, models),
                     "selection": selection})  # fmt: skip
    return jobs, skipped


def camera_space_hands(models, params: dict, camera) -> dict[str, dict[str, np.ndarray]]:
    """World MANO parameters -> {hand: {'pose', 'shape', 'trans' (camera coordinates), 'verts' (778,3),
    'joints_3d' (21,3)}} in camera metres."""
    out = {}
    for hand in HANDS:
        p = params[hand]
        pose, trans = mano_world_to_camera(models[hand], p["pose"], p["shape"], p["trans"], camera.R, camera.t)
        verts, joints = mano_forward(models[hand], pose[None], p["shape"][None], trans[None])
        out[hand] = {"pose": pose, "shape": p["shape"], "trans": trans, "verts": verts[0], "joints_3d": joints[0]}
    return out


def prepare_sample(job: dict, name: str, root: Path, split: str, out: Path, models, renderer) -> str:
    """Write one sample (masks and depth from `renderer`, a blender_scripts.views.ViewRenderer); returns
    'written', 'black', 'dark', 'missing_image' or 'unreadable_image' (there, but cut short or undecodable)."""
    import cv2

    from blender_scripts.views import View

    rec, camera = job["record"], job["camera"]
    path = image_dir(root, split) / rec.file_name
    if not path.is_file():
        return "missing_image"
    try:
        data = read_input_bytes(path)
        image_size(data, path)
    except InputError:
        return "unreadable_image"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return "unreadable_image"
    intaghand = job.get("selection") == "intaghand"
    if is_black(image):
        return "black"
    if intaghand and float(image.mean()) < DARK_MEAN:
        return "dark"
    hands = camera_space_hands(models, job["params"], camera)
    around = "verts" if intaghand else "joints_3d"  # IntagHand crops around the projected vertices
    points2d = np.concatenate([project(hands[h][around], camera.K) for h in HANDS])
    A = square_crop(points2d, size=CROP_SIZE, fill=CROP_FILL)
    K = crop_intrinsics(camera.K, A)
    crop = cv2.warpAffine(image, A, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    # The camera-space hands seen through the crop's camera at the origin: the same pixels as the world hands
    # seen through (K, R, t), without a second conversion.
    passes = renderer.render(View({h: hands[h]["verts"] for h in HANDS}, K, np.eye(3), np.zeros(3), (CROP_SIZE,) * 2))
    paths = sample_paths(out, name)
    for kind in ("image", "mask", "depth"):
        paths[kind].parent.mkdir(parents=True, exist_ok=True)
    _, jpg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
    atomic_write_bytes(paths["image"], jpg.tobytes())
    write_png(paths["mask"], passes["mask"])
    write_png(paths["depth"], encode_depth_mm(passes["depth"]))
    for h in HANDS:
        hands[h]["joints_2d"] = project(hands[h]["joints_3d"], K)
    source = {"dataset": SOURCE, "split": split, "capture": rec.capture, "seq": rec.seq, "camera": rec.camera,
              "frame": rec.frame, "file_name": rec.file_name}  # fmt: skip
    write_annotation(out, name, annotation_to_json({"K": K, "R": camera.R, "t": camera.t}, hands, source))
    return "written"


# Worker state of the process pool: the hand models and one label renderer (one Blender scene) per process.
_WORKER: dict = {}


def _init_worker(model_dir: str, root: str, split: str, out: str, threads: int) -> None:
    import sys

    # A spawned worker starts from its parent's sys.path, where an already imported bpy has added its script
    # folders; they would shadow the bpy module itself ("No module named '_bpy'").
    if "bpy" not in sys.modules:
        sys.path[:] = [p for p in sys.path if f"{os.sep}bpy{os.sep}" not in p]
    from blender_scripts.views import ViewRenderer
    from handmodel.models import load_model_dir

    models = load_model_dir(model_dir)
    renderer = ViewRenderer({h: models[h].faces for h in HANDS}, threads=threads)
    _WORKER.update(models=models, renderer=renderer, root=Path(root), split=split, out=Path(out))


def _close_worker() -> None:
    _WORKER["renderer"].close()
    _WORKER.clear()


def _run_chunk(chunk: list[tuple[str, dict]]) -> list[str]:
    w = _WORKER
    args = (w["root"], w["split"], w["out"], w["models"], w["renderer"])
    return [prepare_sample(job, name, *args) for name, job in chunk]


RELEASE_FILES = ("camera", "joint_3d", "MANO_NeuralAnnot", "data")  # the annotation files prepare reads


def release_hashes(root: Path, split: str) -> dict[str, str]:
    """Content hash of each annotation file of the split that prepare reads (the images are not hashed)."""
    return {kind: file_sha256(annotation_path(root, split, kind)) for kind in RELEASE_FILES}


@dataclass(kw_only=True)
class PrepareSettings:
    """Everything one `interhand prepare` run is told; the defaults are the command line's."""

    data_path: str = option("Root of the InterHand2.6M release (holds images/ and annotations/).", None,
                            flag="--data_path", aliases=("--data-path",), required=True, path="dir",
                            exists=True)  # fmt: skip
    out: str = option("Dataset folder to write.", None, required=True, aliases=("--save_path", "--save-path"),
                      path="dir")  # fmt: skip
    split: str = option("Which split of the release.", "train", choices=SPLITS, fingerprint=True)
    workers: int = option(WORKERS_HELP + " Each runs one Blender.", 1, min=0)
    num: int | None = option("Only the first NUM candidate images (a quick look).", None, min=1, aliases=("--limit",))
    shard: tuple[int, int] = option("K/N: only the sample ids with id % N == K (N jobs can fill one folder); with "
                                    "--format webdataset the tar shards j with j % N == K.", (0, 1),
                                    parse=parse_shard, format=format_shard)  # fmt: skip
    dataset_format: str = format_option()
    shard_size: int = shard_size_option()
    selection: str = option("Frame rule and crop: 'default' (joint_3d interacting, both wrists valid, crop around "
                            "the joints) or 'intaghand' (the data file's interacting + hand_type_valid, no wrist "
                            "check, images with a mean under 10 dropped, crop around both hands' vertices).",
                            "default", choices=SELECTIONS, fingerprint=True)  # fmt: skip
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")


def prepare_interhand(settings: PrepareSettings, models, progress: bool = True) -> dict:
    """Prepare a split (see module docstring). Returns the report: {'candidates', 'written', 'existing',
    'black', 'dark' (selection intaghand), 'missing_image', 'unreadable_image', and the frame skip reasons:
    'not_interacting', 'invalid_hand', 'null_mano', 'no_joint_3d'} counted in images. `settings.num`: only the
    first N candidates (for a quick look). `settings.shard` (K, N): only the candidates whose sample id is K modulo
    N, so N jobs (a Slurm array, ...) share one folder."""
    from tqdm import tqdm

    check_settings(settings)
    root, out, split, selection = Path(settings.data_path), Path(settings.out), settings.split, settings.selection
    shard, workers = settings.shard, resolve_workers(settings.workers)
    jobs, skipped = select_images(root, split, models, selection)
    if settings.num is not None:
        jobs = jobs[: settings.num]
    meta = {"image_size": [CROP_SIZE, CROP_SIZE], "hand_model": models.identity, "source": SOURCE, "split": split,
            "release": str(root.resolve()), "crop_fill": CROP_FILL, "selection": selection}  # fmt: skip
    # Locked for this shard, fingerprinted by the settings (split, selection), what the crops are and the annotation
    # files' contents (not the release's path): a changed release is refused instead of being mixed with samples of
    # the old one.
    crops = {k: meta[k] for k in ("image_size", "hand_model", "source", "crop_fill")}
    fingerprint = run_fingerprint(settings, format=FORMAT_NAME, version=FORMAT_VERSION, **crops,
                                  release=release_hashes(root, split), **layout_fingerprint(settings))  # fmt: skip

    with open_output(out, "prepare", fingerprint, shard=shard,
                     hint="the release or the settings changed; prepare into a new --out"):  # fmt: skip
        write_meta(out, {**meta, "release_sha256": fingerprint["release"]})
        output, staged = None, out  # the webdataset form writes samples into a staging folder, then tars
        if settings.dataset_format == "webdataset":
            output = ShardedOutput(out, [sample_name(i) for i in range(len(jobs))], settings.shard_size, shard)
            staged, ours, pending = output.staging, output.mine(), set(output.pending())
            mine = [(sample_name(i), job) for i, job in enumerate(jobs) if sample_name(i) in ours]
            todo = [(name, job) for name, job in mine if name in pending]
        else:
            mine = [(sample_name(i), job) for i, job in enumerate(jobs) if in_shard(i, shard)]
            todo = [(name, job) for name, job in mine if not is_complete(out, name)]
        report = Counter({"candidates": len(mine), "existing": len(mine) - len(todo), "written": 0})
        report.update(skipped)
        bar = tqdm(total=len(todo), desc=f"prepare {split}", unit="img", disable=not progress)
        args = (models.info["dir"], str(root), split, str(staged), worker_threads(workers))

        def record(statuses):
            report.update(statuses)
            bar.update(len(statuses))

        try:
            run_in_workers(todo, workers, _init_worker, args, _run_chunk, _close_worker, record)
        finally:  # the bar ends its line before any message that follows (an error, an interrupt)
            bar.close()
        if output is not None:
            output.finish(final=True)  # the skipped images are left out of their tars
        return dict(report)
