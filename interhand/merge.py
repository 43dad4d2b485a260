"""`interhand merge`: several processed sequences of one capture -> one new sequence, by symbolic links.

The new sequence's annots.json lists every frame of the sources (frame numbers are unique within a capture);
its images, params, vertices, masks, depth and per-frame blend-weight files are links to the sources' files,
so the merge takes no space. The canonical blend-weight grid depends on the whole sequence: run
`interhand blend-weights` on the merged sequence to make one.
"""

import os
from pathlib import Path

import numpy as np

from handmodel.atomic import atomic_write_json
from handmodel.errors import InputError
from handmodel.models import check_hand_model
from interhand.sequence import frame_file, image_file, read_annots, sequence_dir


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    dst.symlink_to(src.resolve())


def merge_sequences(out: str | os.PathLike, split: str, capture: int, seqs: list[str], new_name: str) -> dict:
    """Merge the processed sequences `seqs` of OUT/split/Capture{capture} into `new_name`.
    Returns {'frames', 'links'}."""
    if len(seqs) < 2:
        raise InputError(f"--seq: give at least two sequences to merge (got {len(seqs)})")
    if new_name in seqs:
        raise InputError(f"--new-name {new_name!r}: must differ from the merged sequences")
    dst = sequence_dir(out, split, capture, new_name)
    if (dst / "annots.json").exists():
        raise InputError(f"{dst}: a sequence of that name exists already (pick another --new-name)")
    sources = {seq: read_annots(sequence_dir(out, split, capture, seq)) for seq in seqs}
    first = sources[seqs[0]]
    cameras, frames, owner = {}, [], {}
    for seq, annots in sources.items():
        where = sequence_dir(out, split, capture, seq) / "annots.json"
        check_hand_model(annots.get("hand_model"), first.get("hand_model") or {}, where, expected_name=f"{seqs[0]}'s")
        for cam, c in annots["cameras"].items():
            if cam in cameras and not all(np.allclose(cameras[cam][k], c[k]) for k in ("K", "R", "t")):
                raise InputError(f"{sequence_dir(out, split, capture, seq)}: camera {cam} differs from {owner[cam]}'s")
            cameras.setdefault(cam, c)
            owner.setdefault(cam, seq)
        for f in annots["frames"]:
            frames.append((f["frame"], seq, f))
    frames.sort(key=lambda item: item[0])
    for (fa, sa, _), (fb, sb, _) in zip(frames, frames[1:]):
        if fa == fb:
            raise InputError(f"--seq: frame {fa} appears in both {sa} and {sb} (frames must be unique)")
    links = 0
    for frame, seq, f in frames:
        src = sequence_dir(out, split, capture, seq)
        for kind in ("params", "vertices", "lbs/frames"):
            if frame_file(src, kind, frame).exists():
                _link(frame_file(src, kind, frame), frame_file(dst, kind, frame))
                links += 1
        for cam in f["images"]:
            for kind in ("images", "masks", "depth"):
                if image_file(src, kind, cam, frame).exists():
                    _link(image_file(src, kind, cam, frame), image_file(dst, kind, cam, frame))
                    links += 1
    merged = {k: v for k, v in first.items() if k not in ("cameras", "frames", "skipped")}
    merged.update(
        seq=new_name,
        merged_from=list(seqs),
        cameras={
            cam: {k: np.asarray(v).tolist() if k in ("K", "R", "t") else v for k, v in c.items()}
            for cam, c in cameras.items()
        },
        frames=[f for _, _, f in frames],
        skipped={k: sum(a["skipped"].get(k, 0) for a in sources.values()) for k in first["skipped"]},
    )
    atomic_write_json(dst / "annots.json", merged, indent=1)
    return {"frames": len(frames), "links": links}
