"""How a writing command (render, interhand prepare, import) fills its output in the webdataset form.

The samples the command would write, in order, are cut into groups of `shard_size`; group j becomes tar shard j
(handmodel/shards.py), and with `--shard K/N` the task K writes the groups with j % N == K, so every tar is written
by exactly one task. The task writes each sample as today (the folder form's files, one by one, each under a
temporary name) into a staging folder of its own (`OUT/.handkit/staging-KofN/`), so a killed run loses no finished
sample; when a group is complete its tar is written whole under a temporary name and renamed, and its staged files
removed. A tar present under its name is finished: a rerun skips its samples. After its tars, a task rewrites
`OUT/index.json` from every finished tar under the index lock, so the last task to finish leaves the whole index.

`format_option` and `shard_size_option` are the two settings fields every writing command shares.
Only the standard library: Blender's Python imports this.
"""

import shutil
from pathlib import Path

from handmodel.dataset_io import is_complete, sample_paths
from handmodel.options import option
from handmodel.outdir import STATE_DIR
from handmodel.shards import FORMATS, SHARD_SIZE, finished_shards, folder_files, index_lock, shard_file, write_index
from handmodel.shards import write_tar as _write_tar

FORMAT_HELP = ("Dataset form: 'folder' (a file per image, mask, depth and annotation) or 'webdataset' (tar shards of "
               "--shard-size samples, an index.json that wids reads, meta.json; --shard K/N then writes the tar "
               "shards j with j % N == K).")  # fmt: skip


def format_option():
    return option(FORMAT_HELP, "folder", flag="--format", choices=FORMATS)


def shard_size_option():
    return option("Samples per tar shard with --format webdataset.", SHARD_SIZE, min=1)


def layout_fingerprint(settings) -> dict:
    """The part of a run's fingerprint that names its form: nothing for the folder form (as before the webdataset
    form existed), the form and shard size otherwise, so a folder never mixes the two."""
    if settings.dataset_format == "folder":
        return {}
    return {"layout": {"format": settings.dataset_format, "shard_size": settings.shard_size}}


class ShardedOutput:
    """One task's share of a shard folder: the groups of sample names it turns into tars, and its staging folder.

    names: every sample name the command would write, in order (the same list for every task)."""

    def __init__(self, out, names: list[str], shard_size: int, task: tuple[int, int] = (0, 1)):
        self.out = Path(out)
        k, n = task
        groups = [names[i : i + shard_size] for i in range(0, len(names), shard_size)]
        self.groups = {j: g for j, g in enumerate(groups) if j % n == k}
        self.staging = self.out / STATE_DIR / f"staging-{k}of{n}"

    def unfinished(self) -> dict[int, list[str]]:
        done = finished_shards(self.out)
        return {j: g for j, g in self.groups.items() if j not in done}

    def mine(self) -> set[str]:
        """The names of this task's groups (finished or not)."""
        return {name for g in self.groups.values() for name in g}

    def pending(self) -> list[str]:
        """The names still to write: in unfinished groups and not yet complete in the staging folder."""
        return [name for g in self.unfinished().values() for name in g if not is_complete(self.staging, name)]

    def finish(self, final: bool) -> int:
        """Write the tar of every unfinished group whose samples are all staged (final: of every unfinished
        group, with the samples that were written; a sample the command skipped as bad is left out), remove the
        staged files, rewrite the index. Returns how many tars were written."""
        written = 0
        for j, group in self.unfinished().items():
            present = [name for name in group if is_complete(self.staging, name)]
            if len(present) < len(group) and not final:
                continue
            _write_tar(self.out / shard_file(j), ((name, folder_files(self.staging, name)) for name in present))
            written += 1
            for name in present:
                for path in sample_paths(self.staging, name).values():
                    path.unlink(missing_ok=True)
        if self.staging.is_dir() and not self.unfinished():
            shutil.rmtree(self.staging, ignore_errors=True)
        with index_lock(self.out):
            write_index(self.out)
        return written
