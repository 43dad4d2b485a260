"""`pack` and `unpack`: a dataset folder <-> its webdataset form (handmodel/shards.py), losslessly both ways.

pack puts every complete sample's files, as they are, into tar shards of `shard_size` samples in name order, and
copies meta.json; unpack writes them back as files. The shard folder takes the dataset's fingerprint with the
form added (handmodel/shard_output.py `layout_fingerprint`), and unpack gives it back without it, so a command
that made the dataset can continue its packed form (`render --format webdataset`) or its unpacked copy.
Both resume: a finished tar (pack) or a complete sample (unpack) is skipped on a rerun.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from handmodel.atomic import atomic_write_bytes
from handmodel.dataset_io import SUBDIRS, is_complete, list_samples, read_meta, sample_paths
from handmodel.errors import InputError
from handmodel.options import check_settings, option
from handmodel.outdir import STATE_DIR, open_output, read_fingerprint
from handmodel.shard_output import ShardedOutput, shard_size_option
from handmodel.shards import folder_files, index_lock, read_index, read_tar, shard_file, write_index, write_tar


@dataclass(kw_only=True)
class PackSettings:
    dataset: str = option("The dataset folder to pack.", None, required=True, argument=True, path="dir", exists=True)
    out: str = option("Shard folder to write (tar shards, index.json, meta.json).", None, required=True, path="dir")
    shard_size: int = shard_size_option("Samples per tar shard (tar j holds the j-th run of them in name order).")


@dataclass(kw_only=True)
class UnpackSettings:
    shards: str = option("The shard folder to unpack.", None, required=True, argument=True, path="dir", exists=True)
    out: str = option("Dataset folder to write.", None, required=True, path="dir")


def _source_identity(root: Path) -> tuple[str, dict]:
    """(kind, fingerprint) of the run that made a dataset folder, or of the folder's meta.json where it has none."""
    rec = read_fingerprint(root)
    if rec is not None:
        return rec["kind"], rec.get("fingerprint", {})
    return "pack", {"meta_sha256": hashlib.sha256((root / "meta.json").read_bytes()).hexdigest()[:16]}


def _check_only_dataset_files(root: Path) -> None:
    """Packing is lossless only for what the format holds: refuse a folder with anything else at its top."""
    known = {"meta.json", STATE_DIR, *(sub for sub, _ext in SUBDIRS.values())}
    other = sorted(p.name for p in root.iterdir() if p.name not in known)
    if other:
        raise InputError(f"{root}: holds {', '.join(other[:3])}, which is not part of the dataset format; "
                         f"move it out of the folder before packing")  # fmt: skip


def pack(settings: PackSettings, progress=None) -> dict:
    """Pack the dataset folder into tar shards; returns {'samples', 'shards', 'written'} (tars written now)."""
    check_settings(settings)
    src, out = Path(settings.dataset), Path(settings.out)
    read_meta(src)
    _check_only_dataset_files(src)
    names = list_samples(src)
    if not names:
        raise InputError(f"{src}: no complete samples to pack")
    kind, fingerprint = _source_identity(src)
    fingerprint = {**fingerprint, "layout": {"format": "webdataset", "shard_size": settings.shard_size}}
    with open_output(out, kind, fingerprint, hint="pack into a new --out folder"):
        atomic_write_bytes(out / "meta.json", (src / "meta.json").read_bytes())
        output = ShardedOutput(out, names, settings.shard_size)
        todo = output.unfinished()  # a tar missing, or holding fewer samples than the folder has now
        for j, group in todo.items():
            write_tar(out / shard_file(j), ((name, folder_files(src, name)) for name in group))
            if progress:
                progress(len(group))
        with index_lock(out):
            write_index(out, changed={shard_file(j) for j in todo})
    return {"samples": len(names), "shards": len(output.groups), "written": len(todo)}


def unpack(settings: UnpackSettings, progress=None) -> dict:
    """Write the shard folder's samples back as a dataset folder; returns {'samples', 'written'}."""
    check_settings(settings)
    src, out = Path(settings.shards), Path(settings.out)
    read_meta(src)
    shards = read_index(src)
    rec = read_fingerprint(src)
    kind = rec["kind"] if rec else "unpack"
    fingerprint = {k: v for k, v in (rec or {}).get("fingerprint", {}).items() if k != "layout"}
    total = written = 0
    with open_output(out, kind, fingerprint, hint="unpack into a new --out folder"):
        atomic_write_bytes(out / "meta.json", (src / "meta.json").read_bytes())
        for path, _count in shards:
            for name, files in read_tar(path):
                total += 1
                if "annotation" not in files:
                    raise InputError(f"{path}: sample {name} has no annotation ({name}.annotation.json)")
                if is_complete(out, name):
                    continue
                paths = sample_paths(out, name)
                for k in (k for k in SUBDIRS if k != "annotation" and k in files):
                    atomic_write_bytes(paths[k], files[k])
                atomic_write_bytes(paths["annotation"], files["annotation"])  # last: the sample is complete
                written += 1
            if progress:
                progress(1)
    return {"samples": total, "written": written}
