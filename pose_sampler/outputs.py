"""Where `sample-poses` may write: its output (one poses file, or a folder of chunk files) is locked for the run,
and an output made with other settings is refused instead of replaced or mixed (`--restart` replaces it).

The folder form is fingerprinted like every output folder (handmodel/outdir.py), so shards of one run share it;
the one-file form is checked against the settings recorded in the file itself.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from handmodel.errors import InputError
from handmodel.outdir import open_output, open_output_file, remove_fingerprint
from handmodel.poses_io import FORMAT_NAME, FORMAT_VERSION, load_poses


def _differences(old: dict, new: dict) -> str:
    for key, value in new.items():
        if key in old and old[key] != value:
            return f"{key} was {old[key]!r}, now {value!r}"
    return "other settings"


def _is_sampler_folder(folder: Path) -> bool:
    own = ("prior.npz", "discriminator.pt", "report")
    return all(p.name.startswith("poses-") or p.name in own for p in folder.iterdir() if p.name != ".handkit")


@contextmanager
def open_poses_output(out, settings, shard=(0, 1), restart: bool = False) -> Iterator[Path]:
    """Lock `out` for this run of `settings` (a SampleSettings); with `restart`, the earlier output's unfinished
    parts are removed under the lock (pose_sampler.run.remove_partial), and a finished file of other settings is
    replaced. Raises InputError for an output of other settings without `restart`."""
    from pose_sampler.run import output_layout, remove_partial

    out = Path(out)
    layout = output_layout(out)
    key = settings.key()
    if layout["single"]:
        with open_output_file(out, "sample-poses"):
            if out.is_file() and not restart:
                done = load_poses(out)
                if done.meta.get("settings_key") != key:
                    diff = _differences(done.meta.get("settings", {}), settings.__dict__)
                    raise InputError(f"{out}: made by another sample-poses run ({diff}); use another --out, or "
                                     "--restart to replace it")  # fmt: skip
            if restart:
                remove_partial(out)
            yield out
        return

    def clear():
        remove_partial(out)
        for name in ("prior.npz", "discriminator.pt", "report"):
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        remove_fingerprint(out)

    chosen = {k: v for k, v in settings.__dict__.items() if k != "device"}  # as in SampleSettings.key
    fingerprint = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "settings": chosen}
    with open_output(out, "sample-poses", fingerprint, shard=shard, adopt=lambda: _is_sampler_folder(out),
                     clear=clear if restart else None,
                     hint="use another --out, or --restart to replace it"):  # fmt: skip
        yield out
