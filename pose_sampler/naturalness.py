"""The naturalness prior: a Gaussian density over the 45 joint angles, learned from the seed poses.

The density needs no training loop, is exactly reproducible from the seeds, and its negative log-likelihood is a
smooth loss; it is the whole naturalness term with the built-in prior. With `--interhand`, RenderIH's
real-vs-augmented discriminator (`pose_sampler.discriminator`) is trained on the frames and added to it. Both
hands share one model because `handmodel.anatomy`'s frames give the same angles the same meaning on either hand.
The covariance is shrunk toward its diagonal (and floored) so a few hundred seeds, or seeds with joints that never
move, still give a proper density.
The fitted model is saved beside the output (`<out>.prior.npz`) so a run can be reproduced or inspected.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handmodel.atomic import atomic_path
from handmodel.errors import InputError


@dataclass
class GaussianPrior:
    """mean (45,) radians, precision (45, 45) 1/rad^2, n_seeds: how many hand poses it was fitted on."""

    mean: np.ndarray
    precision: np.ndarray
    n_seeds: int

    def nll(self, angles: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per pose, up to a constant, over the dimension: angles (B, 15, 3) -> (B,)."""
        x = angles.reshape(len(angles), 45) - torch.as_tensor(self.mean, dtype=angles.dtype, device=angles.device)
        P = torch.as_tensor(self.precision, dtype=angles.dtype, device=angles.device)
        return 0.5 * ((x @ P) * x).sum(-1) / 45.0


def fit_prior(angles: np.ndarray, shrink: float = 0.2, floor_deg: float = 2.0) -> GaussianPrior:
    """Fit to hand poses' angles (n, 15, 3) radians (both hands pooled)."""
    x = np.asarray(angles, dtype=np.float64).reshape(len(angles), 45)
    mean = x.mean(0)
    cov = np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((45, 45))
    cov = (1 - shrink) * cov + shrink * np.diag(np.diag(cov))
    cov += np.eye(45) * np.radians(floor_deg) ** 2
    return GaussianPrior(mean=mean, precision=np.linalg.inv(cov), n_seeds=len(x))


def save_prior(path: str | os.PathLike, prior: GaussianPrior) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez(tmp, kind="gaussian-joint-angles", mean=prior.mean, precision=prior.precision, n_seeds=prior.n_seeds)


def load_prior(path: str | os.PathLike) -> GaussianPrior:
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
        mean, precision, n = data["mean"], data["precision"], int(data["n_seeds"])
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: not a naturalness prior file ({e}) (delete it to refit from the seeds)") from None
    if mean.shape != (45,) or precision.shape != (45, 45) or not np.all(np.isfinite(precision)):
        raise InputError(f"{path}: 'mean' or 'precision' has the wrong shape or non-finite values (delete it to refit)")
    return GaussianPrior(mean=mean, precision=precision, n_seeds=n)
