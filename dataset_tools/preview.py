"""A contact sheet of dataset samples: each image with its hands' mask outlines and 2D joints (`cli.py preview`)."""

import cv2
import numpy as np

from handmodel.colours import HAND_COLOURS_BGR
from handmodel.dataset_io import HAND_LABELS, MAX_BAD
from handmodel.errors import InputError
from handmodel.joints import PARENTS_21
from handmodel.png import write_png


def draw_sample(root, name: str, scale: int = 1, samples=None) -> np.ndarray:
    """One sample of the dataset `root` (either form; `samples`: its open_samples, if open) as BGR: the image with
    each hand's mask outline and its 21 joints and bones."""
    from handmodel.dataset_io import read_sample
    from handmodel.shards import open_samples

    sample = read_sample(root, name, samples=samples or open_samples(root))  # checked whole: InputError naming it
    img, mask, ann = cv2.cvtColor(sample["image"], cv2.COLOR_RGB2BGR), sample["mask"], sample["annotation"]
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for hand, colour in HAND_COLOURS_BGR.items():
        contours, _ = cv2.findContours((mask == HAND_LABELS[hand]).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)  # fmt: skip
        cv2.drawContours(img, contours, -1, colour, 1, cv2.LINE_AA)
        j = (ann[hand]["joints_2d"] + 0.5) * scale - 0.5
        for k, parent in enumerate(PARENTS_21):
            if parent >= 0:
                a, b = (tuple(int(round(x)) for x in j[i]) for i in (k, parent))
                cv2.line(img, a, b, colour, 1, cv2.LINE_AA)
        for p in j:
            cv2.circle(img, tuple(int(round(x)) for x in p), max(1, scale), (255, 255, 255), -1, cv2.LINE_AA)
    return img


# What the sheet sorts by: each sample's figure (annotation `source`, written by the renderer).
SORT_KEYS = {"luma": "hand_luma_median", "clipped": "hand_clipped", "exposure": "exposure", "hdri": "hdri",
             "tone": "skin_tone"}  # fmt: skip


def select_samples(root, names: list[str], sort: str | None = None, only: str | None = None) -> list[str]:
    """The samples to draw, filtered and sorted by their photometric figures.

    sort: a SORT_KEYS name, '-' in front for descending (e.g. '-clipped'); only: 'outside-band' (median hand luma
    outside the exposure band), 'clipped' (more than 5% of the hand pixels clipped), 'hdri=NAME' or 'tone=NAME'.
    """
    from blender_scripts.exposure import EXPOSURE_BAND, sample_records

    if sort is None and only is None:
        return names
    records = sample_records(root)
    rec = {n: records.get(n, {}) for n in names}
    if only is not None:
        key, _, value = only.partition("=")
        tests = {
            "outside-band": lambda r: (
                r.get("hand_luma_median") is not None
                and not EXPOSURE_BAND[0] <= r["hand_luma_median"] <= EXPOSURE_BAND[1]
            ),
            "clipped": lambda r: (r.get("hand_clipped") or 0) > 0.05,
            "hdri": lambda r: r.get("hdri") == value,
            "tone": lambda r: r.get("skin_tone") == value,
        }
        if key not in tests or (key in ("hdri", "tone")) != bool(value):
            raise InputError(f"--only {only}: expected outside-band, clipped, hdri=NAME or tone=NAME")
        names = [n for n in names if tests[key](rec[n])]
    if sort is not None:
        field = SORT_KEYS.get(sort.lstrip("-"))
        if field is None:
            raise InputError(f"--sort {sort}: expected one of {', '.join(SORT_KEYS)} (a leading '-' sorts descending)")
        missing = [n for n in names if rec[n].get(field) is None]
        if missing:
            raise InputError(f"{root}: sample {missing[0]} has no '{field}' figure (rendered before the figures?)")
        names = sorted(names, key=lambda n: rec[n][field], reverse=sort.startswith("-"))
    return names


def _label(tile: np.ndarray, source: dict) -> None:
    luma, clipped = source.get("hand_luma_median"), source.get("hand_clipped")
    if luma is None:
        return
    text = f"{luma:.2f} {100 * clipped:.0f}% {source.get('hdri', '')}"
    cv2.putText(tile, text, (3, tile.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(tile, text, (3, tile.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)


def contact_sheet(root, out, count: int = 16, columns: int = 4, scale: int = 1, sort: str | None = None,
                  only: str | None = None, max_bad: float = MAX_BAD) -> int:  # fmt: skip
    """Draw the first `count` complete samples of the dataset `root` (a folder or a shard folder) in a grid
    (filtered and sorted by their figures with `only` / `sort`, see `select_samples`; then each tile is labelled
    with the hands' median luma, clipped share and HDRI); returns how many were drawn. Bad samples are skipped and
    counted (the dataset policy, handmodel.dataset_io.BadSamples): more than `max_bad` of the samples looked at is
    an InputError."""
    from blender_scripts.exposure import sample_records
    from handmodel.dataset_io import BadSamples, read_meta
    from handmodel.shards import open_samples

    read_meta(root)
    samples = open_samples(root)
    bad = BadSamples(root, max_bad)
    names, tiles = [], []
    for name in select_samples(root, samples.names, sort, only):
        if len(tiles) == count:
            break
        try:
            tiles.append(draw_sample(root, name, scale, samples))
        except InputError as e:
            bad.add(e)
            continue
        names.append(name)
    bad.check(len(names) + len(bad))
    if not names:
        raise InputError(f"{root}: no finished samples to preview" + (f" with --only {only}" if only else ""))
    if sort is not None or only is not None:
        records = sample_records(root)
        for name, tile in zip(names, tiles):
            _label(tile, records.get(name, {}))
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + columns - 1) // columns
    sheet = np.zeros((rows * h, min(columns, len(tiles)) * w, 3), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = cv2.resize(tile, (w, h))
    write_png(out, sheet[..., ::-1])
    return len(tiles)
