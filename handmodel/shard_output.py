"""How a writing command (render, interhand prepare, import) fills its output in the webdataset form.

The samples the command would write, in order, are cut into groups of `shard_size`; group j becomes tar shard j
(handmodel/shards.py), and with `--shard K/N` the task K writes the groups with j % N == K, so every tar is written
by exactly one task. The task writes each sample as today (the folder form's files, one by one, each under a
temporary name) into a staging folder of its own (`OUT/.handkit/staging-KofN/`), so a killed run loses no finished
sample; when a group is complete its tar is written whole under a temporary name and renamed, and its staged files
removed. A tar holding its whole group is finished: a rerun skips its samples (one holding fewer, after a run
with a larger --num, is extended: its samples are kept and the rest written). After its tars, a task rewrites
`OUT/index.json` from every finished tar under the index lock, so the last task to finish leaves the whole index.

`format_option` and `shard_size_option` are the two settings fields every writing command shares.
Only the standard library and numpy: Blender's Python imports this.
"""

import shutil
from pathlib import Path

from handmodel.dataset_io import is_complete, sample_paths
from handmodel.errors import InputError
from handmodel.options import option
from handmodel.outdir import STATE_DIR
from handmodel.shards import (
    FORMATS,
    SHARD_SIZE,
    finished_shards,
    folder_files,
    index_lock,
    read_index,
    read_tar,
    shard_file,
    tar_members,
    write_index,
    write_tar,
)

FORMAT_HELP = ("Dataset form: 'folder' (a file per image, mask, depth and annotation) or 'webdataset' (tar shards of "
               "--shard-size samples, an index.json that wids reads, meta.json; --shard K/N then writes the tar "
               "shards j with j % N == K).")  # fmt: skip


def format_option():
    return option(FORMAT_HELP, "folder", flag="--format", choices=FORMATS)


def shard_size_option(help: str = "Samples per tar shard with --format webdataset."):
    return option(help, SHARD_SIZE, min=1)


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

    def _counts(self) -> dict[int, int]:
        """{j: samples} of the finished tars (the index's counts; a tar it does not list yet, from its headers)."""
        listed = {}
        try:
            listed = {p.name: n for p, n in read_index(self.out)}
        except InputError:
            pass  # no index yet
        return {
            j: listed[p.name] if p.name in listed else len(self._in_tar(p))
            for j, p in finished_shards(self.out).items()
        }

    @staticmethod
    def _in_tar(path: Path) -> set[str]:
        return {name for name, files in tar_members(path).items() if "annotation" in files}

    def unfinished(self) -> dict[int, list[str]]:
        """The groups whose tar is missing or holds fewer samples than the group (a run with a larger --num
        extends its last tar; a sample skipped as bad is tried again, as in the folder form)."""
        counts = self._counts()
        return {j: g for j, g in self.groups.items() if counts.get(j, -1) < len(g)}

    def mine(self) -> set[str]:
        """The names of this task's groups (finished or not)."""
        return {name for g in self.groups.values() for name in g}

    def pending(self) -> list[str]:
        """The names still to write: in unfinished groups, not in their tar and not complete in the staging folder."""
        out = []
        for j, group in self.unfinished().items():
            path = self.out / shard_file(j)
            done = self._in_tar(path) if path.is_file() else set()
            out += [name for name in group if name not in done and not is_complete(self.staging, name)]
        return out

    def finish(self, final: bool) -> int:
        """Write the tar of every unfinished group whose samples are all there, staged or in its old tar (final:
        of every unfinished group with newly staged samples, or without a tar, holding the samples that were
        written: a sample the command skipped as bad is left out), remove the staged files, rewrite the index.
        Returns how many tars were written."""
        written = []
        for j, group in self.unfinished().items():
            path = self.out / shard_file(j)
            staged = {name for name in group if is_complete(self.staging, name)}
            if not staged and (path.is_file() or not final):
                continue
            old = dict(read_tar(path)) if path.is_file() else {}
            present = [name for name in group if name in staged or name in old]
            if len(present) < len(group) and not final:
                continue
            files = ((n, folder_files(self.staging, n) if n in staged else old[n]) for n in present)
            write_tar(path, files)
            written.append(path.name)
            for name in staged:
                for p in sample_paths(self.staging, name).values():
                    p.unlink(missing_ok=True)
        if final and self.staging.is_dir():
            shutil.rmtree(self.staging, ignore_errors=True)
        with index_lock(self.out):
            write_index(self.out, changed=set(written))
        return len(written)
