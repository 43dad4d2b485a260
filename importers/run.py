"""`import intaghand` / `import renderih`: a folder in one of the pkl layouts (importers/layouts.py) -> a dataset.

Each `{i}.pkl` with its image becomes sample `i` (the file's own index, so RenderIH's samples keep their global
indices): the image as it is (already a crop), camera-space MANO parameters (PCA -> axis-angle with the active
hand model, world -> camera with the root-pivot fix of handmodel/camera.py), 21 joints per hand and their
pixels, and the mask, read from the release's mask JPEG channels or, where there is none, rendered with Blender
through the crop's camera. A file that cannot be read or is not in the layout is reported by name and skipped;
finished samples are skipped on a rerun; `--shard K/N` takes the indices equal to K modulo N.
"""

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from handmodel.atomic import atomic_write_bytes
from handmodel.camera import project
from handmodel.dataset_io import (
    FORMAT_NAME,
    FORMAT_VERSION,
    annotation_to_json,
    is_complete,
    sample_name,
    sample_paths,
    write_annotation,
    write_meta,
)
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.options import check_settings
from handmodel.outdir import open_output
from handmodel.png import write_png
from handmodel.shard_output import ShardedOutput, layout_fingerprint
from handmodel.sharding import in_shard
from handmodel.worker_pool import resolve_workers, run_in_workers, worker_threads
from importers.layouts import (
    LAYOUTS,
    BadFile,
    Layout,
    camera_hands,
    mask_from_channels,
    read_annotation_pkl,
    split_folder,
)
from importers.settings import ImportSettings


def list_indices(folder: Path, layout: Layout) -> list[int]:
    """The sample indices of a split folder: the integer stems of its pkl files, sorted."""
    ann = folder / layout.annotations
    if not ann.is_dir():
        raise InputError(f"{ann}: no such folder (is {folder} a {layout.name} split with {layout.annotations}/?)")
    out = sorted(int(p.stem) for p in ann.glob("*.pkl") if p.stem.isdigit())
    if not out:
        raise InputError(f"{ann}: no numbered .pkl files")
    return out


def import_sample(index: int, folder: Path, layout: Layout, out: Path, models, renderer) -> str:
    """Write sample `index`; 'written' or 'rendered_mask' (the mask came from Blender). BadFile otherwise."""
    ann = read_annotation_pkl(folder / layout.annotations / f"{index}.pkl")
    image_path = folder / layout.images / f"{index}.jpg"
    jpg = image_path.read_bytes() if image_path.is_file() else b""
    image = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR) if jpg else None
    if image is None:
        raise BadFile(f"{layout.images}/{index}.jpg is missing or not an image")
    hands = camera_hands(models, ann)
    K = ann["camera"]["K"]
    status, mask = "written", None
    mask_path = folder / layout.masks / f"{index}.jpg" if layout.masks else None
    if mask_path is not None and mask_path.is_file():
        mask_bgr = cv2.imread(str(mask_path), cv2.IMREAD_COLOR)
        if mask_bgr is None or mask_bgr.shape[:2] != image.shape[:2]:
            raise BadFile(f"{layout.masks}/{index}.jpg is not an image of the photo's size")
        mask = mask_from_channels(mask_bgr)
    else:
        from blender_scripts.views import View

        h, w = image.shape[:2]
        # The camera-space hands seen from the origin through the crop's K: the photo's pixels.
        passes = renderer().render(View({hd: hands[hd]["verts"] for hd in HANDS}, K, np.eye(3), np.zeros(3), (w, h)))
        mask, status = passes["mask"], "rendered_mask"
    name = sample_name(index)
    paths = sample_paths(out, name)
    atomic_write_bytes(paths["image"], jpg)
    write_png(paths["mask"], mask)
    for hd in HANDS:
        hands[hd]["joints_2d"] = project(hands[hd]["joints_3d"], K)
    source = {"dataset": layout.source, "index": index, "file_name": f"{layout.images}/{index}.jpg"}
    write_annotation(out, name, annotation_to_json({"K": K, "R": ann["camera"]["R"], "t": ann["camera"]["t"]},
                                                   hands, source))  # fmt: skip
    return status


_WORKER: dict = {}


def _init_worker(model_dir: str, folder: str, layout: str, out: str, threads: int) -> None:
    from handmodel.models import load_model_dir

    models = load_model_dir(model_dir)
    state = {"models": models, "folder": Path(folder), "layout": LAYOUTS[layout], "out": Path(out), "scene": None}

    def renderer():  # one Blender scene per worker, made only when a mask must be rendered
        if state["scene"] is None:
            from blender_scripts.views import ViewRenderer

            state["scene"] = ViewRenderer({h: models[h].faces for h in HANDS}, threads=threads)
        return state["scene"]

    state["renderer"] = renderer
    _WORKER.clear()
    _WORKER.update(state)


def _close_worker() -> None:
    if _WORKER.get("scene") is not None:
        _WORKER["scene"].close()
    _WORKER.clear()


def _run_chunk(indices: list[int]) -> list[tuple[int, str, str]]:
    """[(index, status, problem)] with status 'written', 'rendered_mask' or 'bad'."""
    w = _WORKER
    out = []
    for i in indices:
        try:
            out.append((i, import_sample(i, w["folder"], w["layout"], w["out"], w["models"], w["renderer"]), ""))
        except BadFile as e:
            out.append((i, "bad", str(e)))
    return out


def import_dataset(kind: str, settings: ImportSettings, models, progress: bool = True, warn=print) -> dict:
    """Import a split of layout `kind` ('intaghand' or 'renderih') into the dataset folder `settings.out`.

    Returns {'candidates', 'existing', 'written', 'rendered_mask', 'bad', 'bad_files': [path: problem]};
    `warn` gets one line per bad file."""
    from tqdm import tqdm

    check_settings(settings)
    layout, split, shard = LAYOUTS[kind], settings.split, settings.shard
    workers = resolve_workers(settings.workers)
    folder = split_folder(Path(settings.src), layout, split)
    out = Path(settings.out)
    indices = list_indices(folder, layout)
    if settings.num is not None:
        indices = indices[: settings.num]
    hand_model = models.identity
    meta = {"hand_model": hand_model, "source": layout.source, "split": split, "release": str(folder.resolve())}
    fingerprint = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "importer": kind, "split": split,
                   "hand_model": hand_model, **layout_fingerprint(settings)}  # fmt: skip
    with open_output(out, f"import {kind}", fingerprint, shard=shard,
                     hint="pick another --out for another release, split or hand model"):  # fmt: skip
        first = folder / layout.images / f"{indices[0]}.jpg"
        probe = cv2.imread(str(first), cv2.IMREAD_COLOR)
        size = [int(probe.shape[1]), int(probe.shape[0])] if probe is not None else [256, 256]
        write_meta(out, {**meta, "image_size": size})
        output, staged = None, out  # the webdataset form writes samples into a staging folder, then tars
        if settings.dataset_format == "webdataset":
            output = ShardedOutput(out, [sample_name(i) for i in indices], settings.shard_size, shard)
            staged, ours, pending = output.staging, output.mine(), set(output.pending())
            mine = [i for i in indices if sample_name(i) in ours]
            todo = [i for i in mine if sample_name(i) in pending]
        else:
            mine = [i for i in indices if in_shard(i, shard)]
            todo = [i for i in mine if not is_complete(out, sample_name(i))]
        report = Counter({"candidates": len(mine), "existing": len(mine) - len(todo), "written": 0, "bad": 0})
        bad_files = []
        bar = tqdm(total=len(todo), desc=f"import {kind}", unit="img", disable=not progress)

        def record(results):
            for i, status, problem in results:
                if status == "bad":
                    line = f"{folder / layout.annotations / f'{i}.pkl'}: {problem}; skipped"
                    bad_files.append(line)
                    warn(line)
                    report["bad"] += 1
                else:
                    report["written"] += 1
                    report["rendered_mask"] += status == "rendered_mask"
            bar.update(len(results))

        args = (models.info["dir"], str(folder), kind, str(staged), worker_threads(workers))
        run_in_workers(todo, workers, _init_worker, args, _run_chunk, _close_worker, record)
        bar.close()
        if output is not None:
            output.finish(final=True)  # bad files are left out of their tars
    return {**dict(report), "bad_files": bad_files}
