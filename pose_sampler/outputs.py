"""Where `sample-poses` may write: its output (one poses file, or a folder of chunk files) is locked for the run,
and an output made with other settings is refused instead of replaced or mixed (`--restart` replaces it).

Both forms carry the run's identity (`poses_fingerprint`: the fingerprinted settings, the format, the hand model):
the folder form in its fingerprint like every output folder (handmodel/outdir.py), so shards of one run share it;
the one-file form in the file's meta.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from handmodel.errors import InputError
from handmodel.outdir import first_difference, open_output, open_output_file, remove_fingerprint
from handmodel.poses_io import load_poses


@contextmanager
def open_poses_output(settings) -> Iterator[Path]:
    """Lock `settings.out` for this run of `settings` (a SampleSettings); with `settings.restart`, the earlier
    output's unfinished parts are removed under the lock (pose_sampler.run.remove_partial), and a finished file of
    other settings is replaced. Raises InputError for an output of other settings without `restart`."""
    from handmodel import load_hand_models
    from pose_sampler.run import output_layout, remove_partial
    from pose_sampler.settings import poses_fingerprint

    out, shard, restart = Path(settings.out), settings.shard, settings.restart
    layout = output_layout(out)
    fingerprint = poses_fingerprint(settings, load_hand_models(settings.mano_dir, quiet=True))
    if layout["single"]:
        with open_output_file(out, "sample-poses"):
            if out.is_file() and not restart:
                try:
                    done = load_poses(out)
                except InputError as e:
                    raise InputError(f"{e}; --restart replaces it") from None
                diff = first_difference(done.meta.get("fingerprint", {}), fingerprint)
                if diff is not None:
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

    with open_output(out, "sample-poses", fingerprint, shard=shard,
                     clear=clear if restart else None,
                     hint="use another --out, or --restart to replace it"):  # fmt: skip
        yield out
