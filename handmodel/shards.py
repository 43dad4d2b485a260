"""The dataset's second form: WebDataset tar shards with an index, holding the folder form's files unchanged.

    SHARDS/meta.json            the dataset's meta.json (the same bytes as in the folder form)
    SHARDS/index.json           {"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": ...,
                                 "shardlist": [{"url": "shard-000000.tar", "nsamples": 1000}, ...]}
                                (the JSON shard list `wids` reads; urls relative to the index)
    SHARDS/shard-000000.tar     per sample, one WebDataset key (the sample name): KEY.image.jpg, KEY.mask.png,
                                KEY.depth.png (optional), KEY.annotation.json (last), the folder form's bytes
    SHARDS/.handkit/            lock and fingerprint (handmodel/outdir.py)

Tar shard j holds the j-th group of `shard_size` samples in sample-name order (the writers' sample order), so a
folder and its packed form hold the same samples in the same tars. A tar is written whole under a temporary name
and renamed (handmodel/atomic.py): a tar present under its name is finished. Members carry no times, owners or
modes of the machine that wrote them, so the same samples give the same tar bytes.

`open_samples(path)` reads either form by sample name (random access through the tars' member offsets), and a
brace pattern or list of tar paths (`train-{000000..000009}.tar`) as well.
Only the standard library and numpy (through dataset_io): Blender's Python imports this.
"""

import io
import json
import os
import re
import tarfile
from pathlib import Path

from handmodel.atomic import atomic_path, atomic_write_json, is_temporary
from handmodel.dataset_io import SUBDIRS, list_samples, read_meta, sample_paths
from handmodel.errors import InputError

FORMATS = ("folder", "webdataset")
SHARD_SIZE = 1000  # samples per tar: MegaPose's and HaMeR's shards are about this size
INDEX_FILE = "index.json"
INDEX_KIND = "wids-shard-index-v1"
SHARD_PATTERN = re.compile(r"shard-(\d{6,})\.tar")
# The order of a sample's members in its tar: the annotation last, as in the folder form.
KINDS = tuple(SUBDIRS)
REQUIRED_KINDS = ("image", "mask", "annotation")


def shard_file(j: int) -> str:
    return f"shard-{int(j):06d}.tar"


def member_name(name: str, kind: str) -> str:
    """The tar member of a sample's file: KEY.KIND.EXT (WebDataset's key is the name up to the first dot)."""
    return f"{name}.{kind}{SUBDIRS[kind][1]}"


_SUFFIX_KIND = {f"{kind}{ext}": kind for kind, (_sub, ext) in SUBDIRS.items()}


def split_member(fname: str) -> tuple[str, str | None]:
    """'KEY.image.jpg' -> ('KEY', 'image'); a member of no known kind -> (KEY, None)."""
    key, _, suffix = fname.partition(".")
    return key, _SUFFIX_KIND.get(suffix)


def _tarinfo(fname: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(fname)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = size, 0, 0o644, 0, 0, "", ""
    return info


def write_tar(path: str | os.PathLike, samples) -> int:
    """Write a tar shard whole: `samples` yields (name, {kind: bytes}); written under a temporary name and
    renamed. Returns the number of samples."""
    n = 0
    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, files in samples:
            if "." in name or "/" in name:
                raise InputError(f"{path}: sample name {name!r} has a '.' or '/' (a WebDataset key cannot)")
            for kind in KINDS:
                if kind in files:
                    data = files[kind]
                    tar.addfile(_tarinfo(member_name(name, kind), len(data)), io.BytesIO(data))
            n += 1
    return n


def folder_files(root: str | os.PathLike, name: str) -> dict[str, bytes]:
    """{kind: bytes} of one sample of a dataset folder (depth only where it exists)."""
    out = {}
    for kind, path in sample_paths(root, name).items():
        if kind == "depth" and not path.is_file():
            continue
        out[kind] = path.read_bytes()
    return out


def read_tar(path: str | os.PathLike):
    """Yield (name, {kind: bytes}) of a tar shard in its order; InputError naming the tar (and the last key read)
    if it is truncated, not a tar, or holds a member of no known kind."""
    path = Path(path)
    key, files = None, {}
    try:
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                name, kind = split_member(info.name)
                if kind is None:
                    raise InputError(f"{path}: member {info.name!r} is not a sample file (KEY.image.jpg, ...)")
                if name != key:
                    if key is not None:
                        yield key, files
                    key, files = name, {}
                files[kind] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError) as e:
        after = f" after sample {key}" if key is not None else ""
        raise InputError(f"{path}: truncated or not a tar shard{after} ({e})") from None
    if key is not None:
        yield key, files


def tar_members(path: str | os.PathLike) -> dict[str, dict[str, tuple[int, int]]]:
    """{name: {kind: (data offset, size)}} of a tar shard's members, from its headers alone."""
    path = Path(path)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    try:
        with tarfile.open(path, "r:") as tar:
            for info in tar:
                if info.isfile():
                    name, kind = split_member(info.name)
                    if kind is not None:
                        out.setdefault(name, {})[kind] = (info.offset_data, info.size)
    except (tarfile.TarError, EOFError) as e:
        raise InputError(f"{path}: truncated or not a tar shard ({e})") from None
    return out


def finished_shards(root: str | os.PathLike) -> dict[int, Path]:
    """{j: path} of the tar shards under their final names in a shard folder."""
    root = Path(root)
    out = {}
    for p in root.glob("shard-*.tar") if root.is_dir() else ():
        m = SHARD_PATTERN.fullmatch(p.name)
        if m and not is_temporary(p.name):
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def write_index(root: str | os.PathLike, changed: set[str] = frozenset()) -> dict:
    """Write SHARDS/index.json from the finished tars; returns it. The counts of the tars the old index lists are
    kept (a tar is written whole and renamed; a writer that rewrites one names it in `changed`), and only the
    other tars' headers are read. Call it under the folder's index lock when several tasks write one folder
    (`index_lock`)."""
    root = Path(root)
    known = {}
    try:
        known = {e["url"]: int(e["nsamples"]) for e in json.loads((root / INDEX_FILE).read_text())["shardlist"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no index yet, or one to rebuild from the tars
    known = {url: n for url, n in known.items() if url not in changed}
    shardlist = []
    for path in finished_shards(root).values():
        if path.name not in known:
            known[path.name] = sum("annotation" in m for m in tar_members(path).values())
        shardlist.append({"url": path.name, "nsamples": known[path.name]})
    index = {"__kind__": INDEX_KIND, "wids_version": 1, "name": root.name, "shardlist": shardlist}
    atomic_write_json(root / INDEX_FILE, index, indent=1)
    return index


def index_lock(root: str | os.PathLike):
    """The short lock under which a task rewrites the index (so the last task to finish writes every tar)."""
    from handmodel.outdir import STATE_DIR, run_lock

    return run_lock(Path(root) / STATE_DIR / "index.lock", str(root), lambda _m: None, wait=True)


def read_index(root: str | os.PathLike) -> list[tuple[Path, int]]:
    """[(tar path, samples)] of a shard folder's index; InputError if it is missing or malformed."""
    path = Path(root) / INDEX_FILE
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: missing (is {root} a shard folder made by `pack` or --format webdataset?)") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(index, dict) or index.get("__kind__") != INDEX_KIND:
        raise InputError(f"{path}: not a shard index (expected __kind__ {INDEX_KIND!r})")
    try:
        return [(path.parent / e["url"], int(e["nsamples"])) for e in index["shardlist"]]
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: malformed shardlist entry ({e})") from None


def is_shard_folder(root: str | os.PathLike) -> bool:
    root = Path(root)
    return (root / INDEX_FILE).is_file() or bool(finished_shards(root))


def expand_pattern(pattern: str) -> list[Path]:
    """A brace pattern of tar paths ('d/train-{000000..000009}.tar', also '{a,b}') -> the paths, in order."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [Path(pattern)]
    head, tail, body = pattern[: m.start()], pattern[m.end() :], m.group(1)
    r = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if r:
        lo, hi = r.groups()
        items = [str(i).zfill(len(lo)) for i in range(int(lo), int(hi) + 1)]
    else:
        items = body.split(",")
    return [p for item in items for p in expand_pattern(head + item + tail)]


class FolderSamples:
    """A dataset folder's samples by name."""

    kind = "folder"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.meta = read_meta(self.root)
        self.names = list_samples(self.root)

    def count(self) -> int:
        return len(self.names)

    def where(self, name: str, kind: str) -> str:
        return str(sample_paths(self.root, name)[kind])

    def read(self, name: str, kind: str) -> bytes | None:
        try:
            return sample_paths(self.root, name)[kind].read_bytes()
        except FileNotFoundError:
            return None

    def missing(self, kind: str) -> str | None:
        """The first sample (as a path) that has an annotation but no file of `kind`; None if none."""
        folder = sample_paths(self.root, "x")[kind].parent
        present = {p.name for p in folder.glob("*")} if folder.is_dir() else set()
        for n in self.names:
            path = sample_paths(self.root, n)[kind]
            if path.name not in present:
                return str(path)
        return None


class ShardSamples:
    """The samples of tar shards by name, by random access (member offsets read from the tar headers, on first
    use): a shard folder (its index), or a list of tar paths (meta.json read from their folder where there is
    one). `count()` needs no tar where the index gives the counts."""

    kind = "webdataset"

    def __init__(self, root: str | os.PathLike | None = None, tars: list[Path] | None = None):
        if tars is None:
            self.root = Path(root)
            self.meta = read_meta(self.root)
            self.shards = read_index(self.root)
        else:
            self.root = Path(tars[0]).parent
            self.meta = read_meta(self.root) if (self.root / "meta.json").is_file() else {}
            self.shards = [(Path(t), None) for t in tars]
        for path, _count in self.shards:
            if not path.is_file():
                raise InputError(f"{path}: missing (listed in {self.root / INDEX_FILE})")
        self._members: dict[str, tuple[Path, dict]] | None = None
        self._names: list[str] | None = None

    @property
    def members(self) -> dict[str, tuple[Path, dict]]:
        """{name: (tar path, {kind: (offset, size)})} of the complete samples (those with an annotation)."""
        if self._members is None:
            self._members = {}
            for path, _count in self.shards:
                for name, files in tar_members(path).items():
                    if "annotation" in files:
                        self._members[name] = (path, files)
        return self._members

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = sorted(self.members)
        return self._names

    def count(self) -> int:
        if all(c is not None for _p, c in self.shards):
            return sum(c for _p, c in self.shards)
        return len(self.members)

    def where(self, name: str, kind: str) -> str:
        path = self.members[name][0] if name in self.members else self.root
        return f"{path}: {member_name(name, kind)}"

    def read(self, name: str, kind: str) -> bytes | None:
        path, files = self.members[name]
        if kind not in files:
            return None
        offset, size = files[kind]
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise InputError(f"{self.where(name, kind)}: truncated")
        return data

    def missing(self, kind: str) -> str | None:
        for n in self.names:
            if kind not in self.members[n][1]:
                return self.where(n, kind)
        return None


def is_tar_pattern(path: str | os.PathLike) -> bool:
    return str(path).endswith(".tar") or ("{" in str(path) and ".tar" in str(path))


def open_samples(path: str | os.PathLike):
    """A dataset's samples by name in either form: a dataset folder, a shard folder, or a brace pattern of tar
    paths. InputError naming the path if it is none of them."""
    text = str(path)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise InputError(f"{text}: shards are read from a filesystem, not a URL; copy them to a filesystem every "
                         "node mounts (or mount the bucket) and give the path")  # fmt: skip
    if is_tar_pattern(text):
        tars = expand_pattern(text)
        for t in tars:
            if not t.is_file():
                raise InputError(f"{t}: missing (from the pattern {text})")
        return ShardSamples(tars=tars)
    if is_shard_folder(path):
        return ShardSamples(path)
    return FolderSamples(path)
