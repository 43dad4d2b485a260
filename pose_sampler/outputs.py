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
def open_poses_output(settings) -> Iterator[Path]:
    """Lock `settings.out` for this run of `settings` (a SampleSettings); with `settings.restart`, the earlier
    output's unfinished parts are removed under the lock (pose_sampler.run.remove_partial), and a finished file of
    other settings is replaced. Raises InputError for an output of other settings without `restart`."""
    from handmodel.options import fingerprinted
    from pose_sampler.run import output_layout, remove_partial

    out, shard, restart = Path(settings.out), settings.shard, settings.restart
    layout = output_layout(out)
    key = settings.key()
    if layout["single"]:
        with open_output_file(out, "sample-poses"):
            if out.is_file() and not restart:
                done = load_poses(out)
                if done.meta.get("settings_key") != key:
                    diff = _differences(done.meta.get("settings", {}), fingerprinted(settings))
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

    fingerprint = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "settings": fingerprinted(settings)}
    with open_output(out, "sample-poses", fingerprint, shard=shard, adopt=lambda: _is_sampler_folder(out),
                     clear=clear if restart else None,
                     hint="use another --out, or --restart to replace it"):  # fmt: skip
        yield out
