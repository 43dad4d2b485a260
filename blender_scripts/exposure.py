"""Exposure of each sample, and the photometric figures of the hands in an image. Numpy only.

The rule: the hands' median luma (Rec.709 weights on the sRGB-encoded pixel, 0-1) lands on a target inside
`EXPOSURE_BAND` with at most `MAX_CLIPPED` of the hand pixels clipped (any channel at `CLIP_LEVEL` or above). The
target follows the skin a little (light skin is brighter in a photograph than dark skin under the same light) and is
spread by a random number of stops per sample, so the data keep dim and bright pictures. The exposure is a gain on
the linear image (the film's exposure), after a camera-like auto white balance (`white_balance_gains`) has taken
most of the light's colour cast out (a blue sky no longer turns skin grey-blue; a sunset stays a little warm). It is
metered on the
render itself, like a camera's through-the-lens meter: the gain multiplies the denoised scene-linear image before
it is encoded, which is the same image as rendering with that film exposure (the world's light is the only light),
so metering costs no extra render and sees shadows, subsurface scattering, the texture and the camera exactly.
(A 32-pixel, 2-8 sample pre-pass costs about 2% of a sample but its hand median was off by up to 2x: Monte Carlo
noise skews a per-pixel median; an estimate from the HDRI's irradiance would miss shadows and the sky's sun.)

Images are encoded with a camera-like highlight shoulder above `SHOULDER` (linear) instead of a hard clip. The
background (a separate pass of the same render) is brought down when its median would be brighter than
`BACKGROUND_MAX` (a sunlit courtyard or sky behind shaded hands): the light on the hands stays as it was.
"""

import json
from pathlib import Path

import numpy as np

from handmodel.dataset_io import hand_mask

EXPOSURE_BAND = (0.25, 0.75)  # median hand luma, sRGB-encoded 0-1
CLIP_LEVEL = 250 / 255
MAX_CLIPPED = 0.01
FLOOR_MAX_CLIPPED = 0.04  # clipping allowed to keep the median inside the band
FLOOR_MARGIN = 0.03
BACKGROUND_MAX = 0.85  # median luma a background is held to (a blown-out one is brought down)
SHOULDER = 0.6  # linear value where the highlight roll-off starts
SHOULDER_LENGTH = 1.5  # how slowly it approaches white (1: the slope matches at the knee and nothing more)
LUMA = np.array([0.2126, 0.7152, 0.0722])
MAX_PIXELS = 2048  # hand pixels the gain search looks at (evenly strided)
WHITE_BALANCE = 0.8  # share of a warm light's colour cast the white balance removes (the rest keeps a sunset warm)
COOL_WHITE_BALANCE = 0.95  # share of a cool (bluer than red) light's cast removed: shade and blue sky read neutral


def tone_curve(linear: np.ndarray) -> np.ndarray:
    """Linear values -> display-linear values in [0, 1): the identity up to SHOULDER, then an exponential
    roll-off towards 1 (slope 1 / SHOULDER_LENGTH at the knee), like a film's shoulder: white is reached only
    about 1.7 stops above the knee."""
    x = np.maximum(np.asarray(linear, dtype=np.float32), 0.0)
    k, s = SHOULDER, SHOULDER_LENGTH * (1 - SHOULDER)
    return np.where(x <= k, x, k + (1 - k) * (1 - np.exp(-(x - k) / s)))


def srgb_encode(display: np.ndarray) -> np.ndarray:
    x = np.clip(display, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def encode(linear: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Scene-linear Rec.709 (..., 3) x gain -> sRGB uint8 through the highlight shoulder."""
    return np.round(srgb_encode(tone_curve(np.asarray(linear, dtype=np.float32) * gain)) * 255.0).astype(np.uint8)


def hand_figures(rgb: np.ndarray, mask: np.ndarray) -> dict:
    """{'hand_luma_median': median luma of the hand pixels (0-1), 'hand_clipped': share of them with a channel at
    CLIP_LEVEL or above, 'hand_pixels'} of an sRGB uint8 image (H,W,3) and its mask (H,W, the dataset's labels)."""
    px = rgb[hand_mask(mask)].astype(np.float64) / 255.0  # forearms left out
    if not len(px):
        return {"hand_luma_median": None, "hand_clipped": None, "hand_pixels": 0}
    return {"hand_luma_median": float(np.median(px @ LUMA)), "hand_clipped": float(np.mean(px.max(1) >= CLIP_LEVEL)),
            "hand_pixels": int(len(px))}  # fmt: skip


def target_luma(albedo_linear, stops: float = 0.0) -> float:
    """The median hand luma to aim for: 0.5 for a mid skin (albedo luma 0.55 encoded), brighter for lighter and
    darker for darker skin at 0.8 of their own difference (as a photograph metered on the scene shows them; albedo:
    linear (3,) of the back of the hand), then moved by `stops` of exposure; kept inside EXPOSURE_BAND with a
    margin."""
    albedo = float(np.asarray(albedo_linear, dtype=np.float64) @ LUMA)
    base = 0.5 + 0.8 * (float(srgb_encode(albedo)) - 0.55)
    # A stop of exposure moves an sRGB value by about 2^(1/2.2).
    t = base * 2.0 ** (stops / 2.2)
    lo, hi = EXPOSURE_BAND
    return float(np.clip(t, lo + 0.04, hi - 0.05))


def choose_gain(linear_hand: np.ndarray, target: float, max_clipped: float = MAX_CLIPPED) -> float:
    """The gain on linear hand pixels (N,3) that puts their median encoded luma on `target` with at most
    `max_clipped` of them clipped. Where the light is so hard that the target would clip more (a sunlit side
    beside a deep shadow), the gain comes down to the one that clips `max_clipped`, but not below the one that
    keeps the median just inside the band unless that clips more than `FLOOR_MAX_CLIPPED`. 1.0 without pixels.

    Searched in half stops over +-10 stops on a quarter of the pixels, then in 1/16 stops around the choice on at
    most MAX_PIXELS pixels."""
    px = np.asarray(linear_hand, dtype=np.float32).reshape(-1, 3)
    if not len(px):
        return 1.0
    px = px[:: max(1, len(px) // MAX_PIXELS)]
    y = np.median(px @ LUMA.astype(np.float32))
    gain = float(srgb_to_linear_scalar(target) / max(y, 1e-8))
    for step, half_width, pixels in ((0.5, 10.0, px[::4]), (1 / 16, 0.5, px)):
        stops = np.arange(-half_width, half_width + step / 2, step)
        gain = _decide(pixels, gain * 2.0**stops, target, max_clipped)
    return gain


def _decide(px: np.ndarray, gains: np.ndarray, target: float, max_clipped: float) -> float:
    """choose_gain's rule over increasing candidate gains."""
    shown = srgb_encode(tone_curve(px[None] * gains[:, None, None].astype(np.float32)))  # (G,N,3)
    luma = np.median(shown @ LUMA.astype(np.float32), axis=1)  # non-decreasing in the gain
    # non-decreasing in the gain; a value rounds to the clip level from half a level below it
    clipped = np.mean(shown.max(2) >= CLIP_LEVEL - 0.5 / 255, axis=1)

    def last(ok):  # largest gain index where ok holds (ok is a prefix), 0 if none
        return max(int(np.sum(ok)) - 1, 0)

    at_target = int(np.argmin(np.abs(luma - target)))
    clip_ok = last(clipped <= max_clipped)
    if at_target <= clip_ok:
        return float(gains[at_target])
    floor = int(np.argmin(np.abs(luma - (EXPOSURE_BAND[0] + FLOOR_MARGIN))))
    return float(gains[max(clip_ok, min(floor, last(clipped <= FLOOR_MAX_CLIPPED)))])


def background_gain(background: np.ndarray) -> float:
    """The factor (<= 1) on the background pixels (N,3, scene-linear after the exposure gain) that keeps their
    median encoded luma at most BACKGROUND_MAX: 1 unless the background would be blown out. Like a fill light on
    the hands, it only narrows the gap between a shaded subject and a bright scene behind it."""
    px = np.asarray(background, dtype=np.float32).reshape(-1, 3)
    if not len(px):
        return 1.0
    factors = 2.0 ** (-np.arange(0, 65) / 8.0)  # 1 .. 1/256 in 1/8 stops
    y = np.median(px @ LUMA.astype(np.float32))
    shown = srgb_encode(tone_curve(y * factors))  # the median pixel's luma, near enough for a grey-ish sky
    ok = np.flatnonzero(shown <= BACKGROUND_MAX)
    return float(factors[ok[0]] if len(ok) else factors[-1])


def white_balance_gains(illuminant, strength: float | None = None) -> np.ndarray:
    """Per-channel gains (3,) on a scene-linear image lit by a light of linear RGB `illuminant` (its mean colour)
    that take `strength` of the light's colour cast out and keep its luma: a grey surface under it comes out with
    the light's chromaticity raised to the power 1 - strength (default: COOL_WHITE_BALANCE for a light with more
    blue than red, else WHITE_BALANCE). Ones without an illuminant (None or black)."""
    if illuminant is None:
        return np.ones(3, dtype=np.float32)
    ill = np.asarray(illuminant, dtype=np.float64).reshape(3)
    if strength is None:
        strength = COOL_WHITE_BALANCE if ill[2] > ill[0] else WHITE_BALANCE
    y = float(ill @ LUMA)
    if not np.isfinite(y) or y <= 1e-12:
        return np.ones(3, dtype=np.float32)
    ill = np.maximum(ill, 1e-3 * y)  # a light with no red (or green, blue) at all is not balanced to infinity
    gains = (y / ill) ** strength
    gains *= y / float((ill * gains) @ LUMA)
    return gains.astype(np.float32)


def srgb_to_linear_scalar(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def summarize(records: list[dict]) -> dict:
    """Dataset figures from the per-sample `source` records: the hands' median luma (median and 5/95th
    percentiles over samples), mean clipped share, the shares of samples outside the exposure band and with more
    than 5% clipped hand pixels, and histograms of HDRIs and skin tones."""
    luma = np.array([r["hand_luma_median"] for r in records if r.get("hand_luma_median") is not None], float)
    clip = np.array([r["hand_clipped"] for r in records if r.get("hand_clipped") is not None], float)
    out = {"samples": len(records), "exposure_band": list(EXPOSURE_BAND)}
    if len(luma):
        out["hand_luma_median"] = {"median": float(np.median(luma)), "p05": float(np.percentile(luma, 5)),
                                   "p95": float(np.percentile(luma, 95))}  # fmt: skip
        out["outside_band"] = float(np.mean((luma < EXPOSURE_BAND[0]) | (luma > EXPOSURE_BAND[1])))
    if len(clip):
        out["hand_clipped_mean"] = float(np.mean(clip))
        out["clipped_over_5pct"] = float(np.mean(clip > 0.05))
    for key, name in (("hdri", "hdri_histogram"), ("skin_tone", "skin_tone_histogram")):
        hist: dict[str, int] = {}
        for r in records:
            if r.get(key) is not None:
                hist[str(r[key])] = hist.get(str(r[key]), 0) + 1
        out[name] = dict(sorted(hist.items()))
    return out


def sample_records(root) -> dict[str, dict]:
    """{sample name: its annotation's `source`} of every finished sample of a dataset (folder or shard folder)
    whose annotation can be read (the readers of the samples name and count the others)."""
    from handmodel.errors import InputError
    from handmodel.shards import is_shard_folder, open_samples
    from handmodel.validate import load_json

    def source_of(ann) -> dict:
        source = ann.get("source") if isinstance(ann, dict) else None
        return source if isinstance(source, dict) else {}

    out = {}
    if is_shard_folder(root):
        samples = open_samples(root)
        for name in samples.names:
            try:
                out[name] = source_of(json.loads(samples.read(name, "annotation")))
            except (TypeError, ValueError):  # no member, not UTF-8 or not JSON
                continue
        return out
    ann_dir = Path(root) / "annotations"  # a folder being written may lack meta.json yet: read its annotations alone
    for path in sorted(ann_dir.glob("*.json")) if ann_dir.is_dir() else ():
        if not path.name.startswith("."):
            try:
                out[path.stem] = source_of(load_json(path))
            except InputError:
                continue
    return out


def describe(fig: dict) -> str:
    """One printable line of `summarize`'s figures."""
    if "hand_luma_median" not in fig:
        return f"{fig['samples']} samples (no exposure figures)"
    lo, hi = fig["exposure_band"]
    m = fig["hand_luma_median"]
    return (f"hands' median luma {m['median']:.2f} (5-95%: {m['p05']:.2f}-{m['p95']:.2f}); "
            f"{100 * fig['outside_band']:.1f}% outside {lo:.2f}-{hi:.2f}; {100 * fig['hand_clipped_mean']:.2f}% of "
            f"hand pixels clipped; {100 * fig['clipped_over_5pct']:.1f}% of images > 5% clipped "
            f"({fig['samples']} samples)")  # fmt: skip
