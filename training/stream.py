"""Streaming training data: datasets read shard after shard through the webdataset library, mixed by ratio.

Every loader worker of every training process (rank) is one slot of world x workers. A dataset's shards (its tars;
for a dataset folder, runs of SHARD_SIZE samples in name order, so a folder and its packed form stream alike) are
laid out as an endless sequence of permutations, one after another, each drawn from (seed, epoch, dataset, cycle);
slot s reads the shards at positions s, s + slots, s + 2 slots, ... Within the first permutation the slots read
disjoint shards (the split by rank and by worker); after it they resample, so no slot runs dry and every rank
yields exactly steps x batch samples per epoch: a fixed epoch length, so DDP ranks never wait on each other over
shards of unequal sizes. A slot passes its samples through a shuffle buffer (`train.shuffle_buffer`, 0: off),
picks the dataset of each sample by the stage's ratios, and builds it with `HandDataset.build`, whose augmentation
depends on (seed, epoch, dataset, sample name) alone.

Batches come from the loader's workers in turn (batch b from worker b % workers), so a run resumed at batch k of an
epoch gives worker w the part of logical worker (w + k) % workers, which skips its first batches: the resumed run
draws the same batches as the run that was not stopped.

A bad sample (a missing member, an unreadable image or annotation) or an unreadable tar (truncated, not a tar) is
skipped with a notice naming the shard and key, and counted in the batch (`skipped`); a dataset with no readable
sample in a whole cycle of its shards is an InputError naming it.
"""

import random
import sys

import numpy as np
import torch
import webdataset as wds

from handmodel.errors import InputError
from handmodel.shards import SHARD_SIZE, split_member

SHUFFLE_INITIAL = 100  # samples in the buffer before the first one leaves it (webdataset's default)


def stream_shards(dataset) -> list:
    """A HandDataset's stream units: its (tar path, samples the index lists or None), or for a folder the runs of
    SHARD_SIZE sample names."""
    samples = dataset.samples
    if samples.kind == "webdataset":
        return list(samples.shards)
    names = dataset.names  # a folder's samples that passed the check
    return [names[i : i + SHARD_SIZE] for i in range(0, len(names), SHARD_SIZE)]


def shard_sequence(n: int, seed: int, epoch: int, dataset: int, slot: int, slots: int):
    """Endless shard indices of one slot: positions slot, slot + slots, ... of permutation after permutation."""
    position, cycle, perm = slot, 0, None
    while True:
        while position >= n:
            position -= n
            cycle += 1
            perm = None
        if perm is None:
            perm = np.random.default_rng([seed, epoch, dataset, cycle, 31]).permutation(n)
        yield int(perm[position])
        position += slots


class _Counter:
    """A slot's bad samples of one dataset, and how long it has gone without a sample (a shard read) or without a
    readable one (a sample decoded), to tell a dataset with nothing readable from a bad stretch."""

    def __init__(self, name: str):
        self.name, self.bad, self.shards_since_sample, self.bad_in_a_row = name, 0, 0, 0

    def skip(self, message: str) -> bool:
        self.bad += 1
        print(f"notice: {message}; skipped", file=sys.stderr, flush=True)
        return True  # webdataset's handler protocol: go on with the stream


def _raw_samples(dataset, units: list, order, counter: _Counter):
    """(name, where, {kind: bytes}) of the units in `order`, from tars through webdataset or from the folder."""

    def opened():
        for j in order:
            counter.shards_since_sample += 1
            if counter.shards_since_sample > 2 * len(units) + 1:
                raise nothing_readable(dataset, len(units), counter.name)
            yield units[j]

    if dataset.samples.kind == "webdataset":
        tars = wds.tarfile_to_samples(handler=lambda e: counter.skip(_tar_error(e)))
        for path, expected in opened():
            read = 0
            for sample in tars(iter([{"url": str(path)}])):
                files = {}
                for suffix, data in sample.items():
                    kind = split_member("x." + suffix)[1] if not suffix.startswith("__") else None
                    if kind is not None:
                        files[kind] = data
                read += 1
                counter.shards_since_sample = 0
                yield sample["__key__"], (lambda n, k, path=path: f"{path}: {n}.{k}"), files
            if expected is not None and read < expected:  # cut off between two samples: no error to see
                counter.skip(f"{path}: {read} of the {expected} samples its index lists (truncated?)")
                counter.bad += expected - read - 1
    else:
        for names in opened():
            for name in names:
                files = {k: dataset.samples.read(name, k) for k in ("image", "mask", "annotation")}
                counter.shards_since_sample = 0
                yield name, dataset.samples.where, files


def nothing_readable(dataset, shards: int, name: str) -> InputError:
    return InputError(f"{dataset.root}: no readable sample in any of its {shards} shards (dataset {name})")


def _tar_error(e: Exception) -> str:
    """One line for an error webdataset met reading a tar (it appends the tar's url to the exception's args)."""
    url = next((a for a in reversed(e.args) if isinstance(a, str) and ".tar" in a), "a tar shard")
    first = str(e.args[0]).split(" @ ")[0] if e.args else ""
    return f"{url}: unreadable ({type(e).__name__}: {first})"


class StreamedMix(torch.utils.data.IterableDataset):
    """The streamed mix of one training stage for one rank: `steps` batches of `batch_size` per epoch."""

    def __init__(self, datasets: list, names: list[str], ratios: list[float], steps: int, batch_size: int,
                 seed: int = 0, rank: int = 0, world: int = 1, shuffle_buffer: int = 0):  # fmt: skip
        self.datasets, self.names = datasets, names
        self.ratios = np.asarray(ratios, dtype=np.float64) / np.sum(ratios)
        self.units = [stream_shards(d) for d in datasets]
        self.steps, self.batch_size = steps, batch_size
        self.seed, self.rank, self.world, self.shuffle_buffer = seed, rank, world, shuffle_buffer
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Stream epoch `epoch`, leaving out its first `start` samples (a multiple of the batch size: a run
        resumed in mid-epoch). Takes effect at the next iteration (the loader's workers start per epoch)."""
        self.epoch, self.start = epoch, start // self.batch_size

    def __len__(self) -> int:
        return (self.steps - self.start) * self.batch_size

    def _dataset_stream(self, d: int, slot: int, slots: int, counter: _Counter):
        dataset, units = self.datasets[d], self.units[d]
        order = shard_sequence(len(units), self.seed, self.epoch, d, slot, slots)
        raw = _raw_samples(dataset, units, order, counter)
        if self.shuffle_buffer > 0:
            rng = random.Random(int(np.random.default_rng([self.seed, self.epoch, d, slot, 57]).integers(2**62)))
            raw = wds.shuffle(self.shuffle_buffer, initial=min(SHUFFLE_INITIAL, self.shuffle_buffer), rng=rng)(raw)
        # Every sample of every shard bad, twice over (and a buffer's worth): nothing here is readable.
        limit = 2 * len(dataset) + self.shuffle_buffer + 1
        for name, where, files in raw:
            try:
                decoded = dataset.decode(name, files, where)
            except InputError as e:
                counter.skip(str(e))
                counter.bad_in_a_row += 1
                if counter.bad_in_a_row > limit:
                    raise nothing_readable(dataset, len(units), counter.name) from None
                continue
            counter.bad_in_a_row = 0
            yield name, decoded

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        workers, physical = (info.num_workers, info.id) if info is not None else (1, 0)
        logical = (physical + self.start) % workers
        batches = len(range(logical, self.steps, workers)) - len(range(logical, self.start, workers))
        skip = len(range(logical, self.start, workers)) * self.batch_size
        slot, slots = self.rank * workers + logical, self.world * workers
        counters = [_Counter(n) for n in self.names]
        streams = [self._dataset_stream(d, slot, slots, counters[d]) for d in range(len(self.datasets))]
        pick = np.random.default_rng([self.seed, self.epoch, slot, 7919])
        reported = 0
        for i in range(skip + batches * self.batch_size):
            d = int(pick.choice(len(streams), p=self.ratios))
            name, decoded = next(streams[d])
            if i < skip:
                continue
            bad = sum(c.bad for c in counters)
            item = self.datasets[d].build(name, *decoded, self.epoch)
            yield dict(item, dataset=torch.tensor(d), skipped=torch.tensor(bad - reported))
            reported = bad
