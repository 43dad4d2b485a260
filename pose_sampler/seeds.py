"""Seed poses for the sampler: InterHand2.6M's interacting frames, or the built-in prior (pose_sampler.prior).

Sample ids map to seeds the same way under any shard layout: sample i is copy `i % copies` of seed
`i // copies`; every random draw comes from a generator keyed by (global seed, stream, id).
"""

import zlib

import numpy as np

from handmodel.errors import InputError
from handmodel.joints import HANDS
from pose_sampler import one_body

MAX_PRIOR_FIT = 1024  # seeds the naturalness prior is fitted on (built-in prior)


def rng_for(seed: int, stream: str, index: int) -> np.random.Generator:
    """The generator for one (global seed, stream name, id): independent of batching and order."""
    return np.random.default_rng([int(seed), zlib.crc32(stream.encode()), int(index)])


class InterHandSeeds:
    """Seeds from a release: the frames of `handmodel.interhand_release.interacting_mano_frames`, world coordinates."""

    source = "interhand"

    def __init__(self, root, split: str, models):
        from handmodel.interhand_release import interacting_mano_frames

        self.models = models
        self.frames = interacting_mano_frames(root, split, models)
        if not self.frames:
            raise InputError(
                f"{root}: no interacting frames with both MANO hands valid in split '{split}' "
                "(check the split name, or run without --interhand to use the built-in prior)"
            )
        self.description = {"source": "interhand", "root": str(root), "split": split, "frames": len(self.frames)}

    def seeds(self, seed_ids: np.ndarray) -> dict:
        """Per hand {'pose' (n,48), 'shape' (n,10), 'trans' (n,3)} float64, plus 'label' (n,) strings."""
        picks = [self.frames[int(j) % len(self.frames)] for j in seed_ids]
        out = {h: {k: np.stack([p[h][k] for p in picks]) for k in ("pose", "shape", "trans")} for h in HANDS}
        out["label"] = np.array([f"capture{p['capture']}/frame{p['frame']}" for p in picks])
        out["body_to_world"] = one_body.estimate(self.models, out)
        return out

    def fit_poses(self) -> dict[str, np.ndarray]:
        """The finger poses (n, 45) per hand the naturalness prior is fitted on: all frames."""
        return {h: np.stack([p[h]["pose"][3:] for p in self.frames]) for h in HANDS}

    def is_original(self, seed_ids: np.ndarray) -> np.ndarray:
        """Whether a seed id is the first use of its frame (later cycles get perturbed copy 0 too)."""
        return np.asarray(seed_ids) < len(self.frames)


class PriorSeeds:
    """Seeds from the built-in prior (pose_sampler.prior)."""

    source = "prior"

    def __init__(self, models, frames, layer, seed: int, topo=None):
        self.models, self.frames, self.layer, self.seed, self.topo = models, frames, layer, seed, topo
        self.description = {"source": "prior", "prior_fit_seeds": MAX_PRIOR_FIT}

    def seeds(self, seed_ids: np.ndarray) -> dict:
        from pose_sampler.prior import sample_prior_seeds

        out = sample_prior_seeds(
            lambda sid, stream: rng_for(self.seed, stream, sid), seed_ids, self.models, self.frames, self.layer,
            self.topo,
        )  # fmt: skip
        out["label"] = out.pop("config")
        return out

    def fit_poses(self) -> dict[str, np.ndarray]:
        """The first MAX_PRIOR_FIT seeds' finger poses, whatever --num is (a pose must not depend on it)."""
        from pose_sampler.prior import finger_poses

        ids = np.arange(MAX_PRIOR_FIT)
        return finger_poses(lambda sid, stream: rng_for(self.seed, stream, sid), ids, self.frames)

    def is_original(self, seed_ids: np.ndarray) -> np.ndarray:
        return np.ones(len(seed_ids), dtype=bool)
