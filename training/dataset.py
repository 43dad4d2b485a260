"""Reading the dataset format (handmodel/dataset_io.py) for training: one reader, augmentation, mixing by ratio.

`HandDataset` reads one dataset folder and turns a sample into network input and targets; `MixedDataset` holds
several by name and `MixSampler` draws from them by ratio, sharded across DistributedDataParallel ranks. The
augmentation of a sample is drawn from (seed, epoch, dataset, sample name), so it does not depend on workers.
"""

import zlib
from pathlib import Path

import cv2
import numpy as np
import torch

from handmodel.camera import crop_affine
from handmodel.dataset_io import MASK_LABELS, MAX_BAD, SUBDIRS, check_samples, read_sample
from handmodel.errors import InputError
from handmodel.joints import HANDS
from handmodel.models import check_hand_model
from handmodel.shards import open_samples
from handmodel.skinning import mano_forward
from training.targets import (
    apply_affine,
    pixels_to_ndc,
    rasterize_colors,
    rescale_affine,
    two_hand_targets,
)

MIRROR = np.diag([-1.0, 1.0, 1.0])


def letterbox_affine(width: int, height: int, size: int) -> np.ndarray:
    """(2,3) affine that pads a W x H image to a square and scales it to size x size, the image's centre on the
    square's (pixel centres at integers: handmodel/camera.py)."""
    return crop_affine(((width - 1) / 2, (height - 1) / 2), size / max(width, height), size)


def augmentation_affine(
    rng: np.random.Generator, size: int, aug: dict
) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
    """Draw one augmentation: (A (3,3) image affine about the centre, R (3,3) camera rotation, flip, gains (3,))."""
    angle = rng.uniform(-aug["rotation_deg"], aug["rotation_deg"])
    scale = rng.uniform(*aug["scale"])
    flip = bool(rng.random() < aug["flip"])
    gains = rng.uniform(1 - aug["color_gain"], 1 + aug["color_gain"], size=3).astype(np.float32)
    A = np.vstack([cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, scale), [0, 0, 1]])
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    # getRotationMatrix2D's linear part is scale * [[c, s], [-s, c]] on (x, y); the same rotation of camera x, y
    # about the optical axis keeps 3D and 2D consistent (up to a 2D shift the network's camera absorbs).
    R = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    if flip:
        A = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ A
    return A, R, flip, gains


class _Members:
    """A sample's files already read (a stream's tar members) in the form `read_sample` reads samples from."""

    def __init__(self, files: dict, where):
        self.files, self._where = files, where

    def read(self, name: str, kind: str) -> bytes | None:
        return self.files.get(kind)

    def where(self, name: str, kind: str) -> str:
        return self._where(name, kind)


class HandDataset:
    """One dataset, in either form (a folder, a shard folder or a brace pattern of tars: handmodel/shards.py's
    `open_samples`): checks it up front, then builds input and targets per sample."""

    def __init__(self, root, models, graphs, input_size: int, augment: dict | None, seed: int = 0, name: str = "",
                 cache: bool = False, max_bad: float = MAX_BAD):  # fmt: skip
        """cache: keep each sample's input and targets in memory after its first read (a sample without
        augmentation is the same every epoch): for small datasets read many times, about 55 kB a sample at 64 px
        and 360 kB at 256; each loader process holds its own copy. Ignored with augmentation on.

        A dataset folder's samples are checked once here (handmodel.dataset_io.check_samples): bad ones are left
        out and counted, and more than `max_bad` of them is an InputError before the first step. Tars are read by
        name only when drawn by name (eval, preview, the index loader), and a stream meets their members as it
        reads them (training/stream.py), skipping and counting bad ones."""
        self.samples = open_samples(root)
        self.root = self.samples.root
        self.name = name or Path(str(root)).name
        self.meta = self.samples.meta
        if self.meta:
            check_hand_model(self.meta.get("hand_model"), models.info, self.root / "meta.json", required=False,
                             expected_name="the active hand model",
                             fix="train with the same model: --mano-dir or the stand-in")  # fmt: skip
        if not self.samples.count():
            where = self.root / SUBDIRS["annotation"][0] if self.samples.kind == "folder" else root
            raise InputError(f"{where}: no samples (is {root} a finished dataset?)")
        self._names = check_samples(self.root, self.samples.names, max_bad) if self.samples.kind == "folder" else None
        self.models = models
        self.graphs = graphs
        self.size = input_size
        self.aux = input_size // 4
        self.augment = augment if augment and augment.get("enabled", True) else None
        self.seed = seed
        self.cache = {} if cache and not self.augment else None

    @property
    def names(self) -> list[str]:
        """The samples drawn: a folder's that passed the check, a shard set's as its tars list them (read only
        when asked for: a stream goes by the index)."""
        return self.samples.names if self._names is None else self._names

    def __len__(self) -> int:
        return self.samples.count() if self._names is None else len(self._names)

    def rng(self, name: str, epoch: int) -> np.random.Generator:
        key = zlib.crc32(f"{self.name}/{name}".encode())
        return np.random.default_rng([self.seed, epoch, key])

    def load(self, index: int):
        """Raw sample: RGB image (H,W,3) uint8, mask (H,W) uint8, annotation dict."""
        name = self.names[index]
        sample = read_sample(self.root, name, samples=self.samples)  # checked whole: InputError naming the file
        return sample["image"], sample["mask"], sample["annotation"]

    def decode(self, name: str, files: dict, where=None):
        """A sample's file bytes {kind: bytes or None} (a stream's tar members) -> (RGB image (H,W,3) uint8, mask
        (H,W) uint8, annotation), checked as `load` checks a sample; InputError naming the file (`where(name,
        kind)`, default this dataset's) on a missing or bad one."""
        sample = read_sample(self.root, name, samples=_Members(files, where or self.samples.where))
        return sample["image"], sample["mask"], sample["annotation"]

    def __getitem__(self, key) -> dict:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        if self.cache is not None:
            if index not in self.cache:
                self.cache[index] = self._build(index, epoch)
            return dict(self.cache[index])
        return self._build(index, epoch)

    def _build(self, index: int, epoch: int) -> dict:
        return self.build(self.names[index], *self.load(index), epoch)

    def build(self, name: str, image: np.ndarray, mask: np.ndarray, ann: dict, epoch: int) -> dict:
        """Network input and targets of a decoded sample; its augmentation drawn from (seed, epoch, name)."""
        h, w = image.shape[:2]
        S, s4 = self.size, self.aux
        A = np.vstack([letterbox_affine(w, h, S), [0, 0, 1]])
        R = np.eye(3)
        flip = False
        gains = np.ones(3, dtype=np.float32)
        if self.augment:
            A_aug, R, flip, gains = augmentation_affine(self.rng(name, epoch), S, self.augment)
            A = A_aug @ A
        A = A[:2]

        img = cv2.warpAffine(image, A, (S, S), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        if self.augment:
            img = np.clip(img * gains + 0.5, 0, 255).astype(np.uint8)
        A4 = rescale_affine(A, S, s4)
        labels = cv2.warpAffine(mask, A4, (s4, s4), flags=cv2.INTER_NEAREST, borderValue=0)
        K = ann["camera"]["K"]
        K_net = np.vstack([A, [0, 0, 1]]) @ K @ (MIRROR if flip else np.eye(3))

        # uint8 RGB: a quarter of the bytes to move; the network normalises on its device.
        out = {"image": torch.from_numpy(img.transpose(2, 0, 1).copy())}
        hands_2d, dense, masks, cam3d = [], [], [], {}
        M = R @ (MIRROR if flip else np.eye(3))
        for hand in HANDS:
            src = ("left" if hand == "right" else "right") if flip else hand
            a = ann[src]
            verts, _ = mano_forward(self.models[src], a["pose"][None], a["shape"][None], a["trans"][None])
            cam3d[hand] = (a["joints_3d"] @ M.T, verts[0] @ M.T)
            v2d = apply_affine(_project(verts[0], K), A)
            j2d = apply_affine(a["joints_2d"], A)
            own = (labels == MASK_LABELS[src]).astype(np.float32)
            g = self.graphs[hand]
            colors = rasterize_colors(v2d * (s4 / S) + (0.5 * s4 / S - 0.5), verts[0], g.faces, g.vertex_colors, s4)
            dense.append(colors.transpose(2, 0, 1) * own)
            masks.append(own)
            hands_2d.append(j2d)
            out[f"{hand}_joints2d"] = torch.from_numpy(pixels_to_ndc(j2d, S).astype(np.float32))
            out[f"{hand}_verts2d"] = torch.from_numpy(pixels_to_ndc(v2d, S).astype(np.float32))
            out[f"{hand}_joints_cam"] = torch.from_numpy(cam3d[hand][0].astype(np.float32))
        t = two_hand_targets({h: cam3d[h][0] for h in HANDS}, {h: cam3d[h][1] for h in HANDS})
        for hand in HANDS:
            out[f"{hand}_joints"] = torch.from_numpy(t[hand]["joints"].astype(np.float32))
            out[f"{hand}_verts"] = torch.from_numpy(t[hand]["verts"].astype(np.float32))
            out[f"{hand}_bone"] = torch.tensor(t[hand]["bone"], dtype=torch.float32)
        out["scale"] = torch.tensor(t["scale"], dtype=torch.float32)
        out["root_rel"] = torch.from_numpy(t["root_rel"].astype(np.float32))
        j4 = np.concatenate(hands_2d) * (s4 / S) + (0.5 * s4 / S - 0.5)
        out["heatmap_points"] = torch.from_numpy(j4.astype(np.float32))  # heatmaps are drawn on the device
        out["mask"] = torch.from_numpy(np.stack(masks))
        out["dense"] = torch.from_numpy(np.concatenate(dense).astype(np.float32))
        out["K"] = torch.from_numpy(K_net.astype(np.float32))
        return out


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    p = points @ K.T
    return p[:, :2] / p[:, 2:3]


class MixedDataset(torch.utils.data.Dataset):
    """Several HandDatasets by name; items are keyed (dataset index, sample index, epoch) by MixSampler, and
    carry `dataset` (the dataset index) so a run can count what it drew from each."""

    def __init__(self, datasets: dict[str, HandDataset]):
        self.names = list(datasets)
        self.datasets = [datasets[n] for n in self.names]

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, key):
        d, i, epoch = key
        return dict(self.datasets[d][(i, epoch)], dataset=torch.tensor(d))


class MixSampler(torch.utils.data.Sampler):
    """Draws `epoch_size` samples per epoch from datasets by ratio, this rank's share of them.

    Each dataset is walked in a fresh permutation per epoch (repeating when the ratio asks for more than it has),
    so small datasets are not over-sampled within a cycle. Same (seed, epoch) -> same draws on every rank.
    """

    def __init__(
        self, sizes: list[int], ratios: list[float], epoch_size: int, seed: int = 0, rank: int = 0, world: int = 1
    ):
        self.sizes = list(sizes)
        self.ratios = np.asarray(ratios, dtype=np.float64) / np.sum(ratios)
        self.epoch_size = epoch_size - epoch_size % world
        self.seed, self.rank, self.world = seed, rank, world
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Draw epoch `epoch`'s samples, leaving out this rank's first `start` (a run resumed in mid-epoch)."""
        self.epoch, self.start = epoch, start

    def draws(self) -> list[tuple[int, int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch, 7919])
        which = rng.choice(len(self.sizes), size=self.epoch_size, p=self.ratios)
        keys = [None] * self.epoch_size
        for d, n in enumerate(self.sizes):
            pos = np.flatnonzero(which == d)
            if not len(pos):
                continue
            reps = -(-len(pos) // n)
            order = np.concatenate([rng.permutation(n) for _ in range(reps)])[: len(pos)]
            for p, i in zip(pos, order):
                keys[p] = (d, int(i), self.epoch)
        return keys

    def __iter__(self):
        return iter(self.draws()[self.rank :: self.world][self.start :])

    def __len__(self) -> int:
        return max(0, self.epoch_size // self.world - self.start)
