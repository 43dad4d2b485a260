"""Training-loader samples/s from WebDataset tar shards against the folder form, on the same samples, in one run.

    .venv/bin/python benchmarks/bench_loader.py [--num 2000] [--size 256] [--workers 2] [--batch 32]
        [--shard-size 1000] [--data DATASET]

Without --data it draws NUM two-hand samples (dataset_tools/drawn.py, cv2, no Blender) at SIZE px into a
temporary folder; `pack` makes their shard form. Each measurement reads a fresh copy of its form's files whose
pages were dropped from the page cache first (/proc/sys/vm/drop_caches where the machine allows it, else
posix_fadvise(DONTNEED) on every file of the copy after fsync; the line says which). Rows, each over every sample
once with WORKERS loader processes:
- read: the bytes of every sample's files: the folder's files in the index loader's random order, the tars
  streamed through webdataset (split by worker);
- train loader: `train`'s own loader (training/trainer.py make_loader, config tiny.yaml at --size, batch BATCH):
  the folder drawn by name (MixSampler), the shards streamed (training/stream.py) with its shuffle buffer;
and the number of files each form holds.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import webdataset as wds

import training
from dataset_tools.drawn import make_drawn_dataset
from dataset_tools.pack import PackSettings, pack
from handmodel.dataset_io import list_samples, sample_paths
from training.config import load_yaml, resolve_config
from training.trainer import _Data, make_loader


def drop_cache(root: Path) -> str:
    """Drop the pages of every file under root from the page cache; says how."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return "drop_caches"
    except OSError:
        pass
    for p in root.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return "posix_fadvise(DONTNEED) per file (no permission for drop_caches)"


def fresh_copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".handkit"))
    return dst


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


class _FolderBytes(torch.utils.data.Dataset):
    def __init__(self, root: Path, names: list[str]):
        self.root, self.names = root, names

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        return sum(len(p.read_bytes()) for p in sample_paths(self.root, self.names[i]).values() if p.is_file())


def read_folder(root: Path, workers: int) -> tuple[int, float]:
    names = list_samples(root)
    order = np.random.default_rng(0).permutation(len(names)).tolist()
    loader = torch.utils.data.DataLoader(_FolderBytes(root, names), batch_size=None, sampler=order,
                                         num_workers=workers)  # fmt: skip
    t = time.perf_counter()
    n = sum(1 for _ in loader)
    return n, time.perf_counter() - t


def read_shards(root: Path, workers: int) -> tuple[int, float]:
    tars = sorted(str(p) for p in root.glob("shard-*.tar"))
    data = wds.DataPipeline(wds.SimpleShardList(tars), wds.split_by_worker, wds.tarfile_to_samples(),
                            wds.map(lambda s: sum(len(v) for k, v in s.items() if not k.startswith("__"))))  # fmt: skip
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=workers)
    t = time.perf_counter()
    n = sum(1 for _ in loader)
    return n, time.perf_counter() - t


def train_loader(root: Path, size: int, batch: int, workers: int, samples: int) -> tuple[int, float]:
    user = load_yaml(Path(training.__file__).parent / "configs" / "tiny.yaml")
    user["data"] = {"bench": str(root)}
    user["model"]["input_size"] = size
    user["train"].update(batch_size=batch, workers=workers)
    cfg = resolve_config(user)
    data = _Data(cfg, None, 0, 1)
    steps = samples // batch
    loader, sampler = make_loader(cfg, data.mixed, cfg["stages"][0], steps, 0, 1, "cpu")
    sampler.set_epoch(0)
    t = time.perf_counter()
    n = sum(len(b["image"]) for b in loader)
    return n, time.perf_counter() - t


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--shard-size", type=int, default=1000)
    p.add_argument("--data", default=None, help="A dataset folder to use instead of drawn samples.")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        tmp = Path(tmp)
        folder = Path(args.data) if args.data else tmp / "folder"
        if not args.data:
            t = time.perf_counter()
            make_drawn_dataset(folder, n=args.num, size=args.size)
            print(f"drew {args.num} samples at {args.size} px in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        shards = tmp / "shards"
        pack(PackSettings(dataset=str(folder), out=str(shards), shard_size=args.shard_size))
        forms = {"folder": folder, "shards": shards}
        n = len(list_samples(folder))
        print(f"{n} samples, {args.size} px, {args.workers} loader workers, batch {args.batch}; "
              f"torch {torch.__version__}, webdataset {wds.__version__}")  # fmt: skip
        rows, how = [], None
        for what in ("read", "train loader"):
            for form, src in forms.items():
                copy = fresh_copy(src, tmp / f"copy_{form}")
                how = drop_cache(copy)
                if what == "read":
                    done, seconds = (read_folder if form == "folder" else read_shards)(copy, args.workers)
                else:
                    done, seconds = train_loader(copy, args.size, args.batch, args.workers, n)
                rows.append((what, form, done, seconds, count_files(copy)))
        print(f"cold page cache: {how}, on a fresh copy of each form's files")
        print(f"{'':14}{'form':8}{'samples':>9}{'seconds':>9}{'samples/s':>11}{'files':>8}")
        for what, form, done, seconds, files in rows:
            print(f"{what:14}{form:8}{done:9d}{seconds:9.2f}{done / seconds:11.1f}{files:8d}")
        by = {(w, f): d / s for w, f, d, s, _ in rows}
        for what in ("read", "train loader"):
            print(f"{what}: shards / folder = {by[(what, 'shards')] / by[(what, 'folder')]:.2f}x")


if __name__ == "__main__":
    main()
