"""The naturalness discriminator: a small MLP over the 45 joint angles that tells real hand poses from augmented ones.

With `--interhand`, the naturalness term is RenderIH's: an MLP trained to separate the seeds' captured poses (real)
from their perturbed copies (the augmentation of `pose_sampler.augment`, the run's own bend and splay deltas); the
optimizer then adds -log D(angles), the discriminator's "this is fake" cost, to the Gaussian density of
`pose_sampler.naturalness` (which stays). Both hands are pooled, as for the Gaussian, because `handmodel.anatomy`'s
frames give the same angles the same meaning on either hand. Every fifth frame's hands are held out of training:
the figures (accuracy and ROC AUC of held-out real poses against augmented copies of them) show whether it
learned what natural means or only the training poses. Training is Adam on seeded mini-batches for a fixed number
of steps from a seeded initialisation, so a run is reproducible from its seeds and settings. Saved beside the
output (`discriminator.pt`): the layer sizes, the weights and the figures.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handmodel.atomic import atomic_path
from handmodel.errors import InputError
from pose_sampler.augment import augment_angles

HIDDEN = 64
HOLDOUT_EVERY = 5  # frames f with f % HOLDOUT_EVERY == 0 are held out (from two frames on)
FAKES_PER_REAL = 4  # augmented copies of each real pose (the two classes weigh the same in the loss)
MAX_FIT = 20000  # real hand poses trained on at most (evenly spread over the frames)
STEPS = 300
BATCH = 2048  # poses per step (all of them when there are fewer)
LR = 3e-3
WEIGHT_DECAY = 1e-4


class Discriminator(torch.nn.Module):
    """angles (B, 15, 3) radians -> logit (B,) that the pose is real (a captured hand, not an augmented copy)."""

    def __init__(self, hidden: int = HIDDEN):
        super().__init__()
        self.hidden = hidden
        self.net = torch.nn.Sequential(
            torch.nn.Linear(45, hidden),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Linear(hidden, hidden),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Linear(hidden, 1),
        )

    def forward(self, angles: torch.Tensor) -> torch.Tensor:
        return self.net(angles.reshape(len(angles), 45)).squeeze(-1)


def split_frames(n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices (training, held out) of n_frames seed frames."""
    f = np.arange(n_frames)
    if n_frames < 2:  # one frame: nothing to hold out, it is measured on what it was trained on
        return f, f
    held = f % HOLDOUT_EVERY == 0
    return f[~held], f[held]


def augmented_copies(angles: np.ndarray, seed: int, bend_delta_deg: float, splay_delta_deg: float,
                     copies: int = 1) -> np.ndarray:  # fmt: skip
    """`copies` augmented copies of each pose (n, 15, 3) radians -> (copies n, 15, 3), copy-major, from the generator
    of `seed` (the fakes)."""
    rng = np.random.default_rng([int(seed), 0x6469])
    return augment_angles(rng, np.concatenate([angles] * copies), bend_delta_deg, splay_delta_deg)


def roc_auc(real_logit: np.ndarray, fake_logit: np.ndarray) -> float:
    """Probability that a real pose scores above a fake one (ties count half): the ROC AUC."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([real_logit, fake_logit]))
    n_r, n_f = len(real_logit), len(fake_logit)
    return float((ranks[:n_r].sum() - n_r * (n_r + 1) / 2) / (n_r * n_f))


@dataclass
class Trained:
    model: Discriminator
    figures: dict


def train_discriminator(frame_angles: np.ndarray, seed: int, bend_delta_deg: float, splay_delta_deg: float,
                        steps: int = STEPS) -> Trained:  # fmt: skip
    """Train on the seed frames' hand poses: frame_angles (n_frames, 2, 15, 3) radians (right, left).

    Real: the hands of the training frames (at most MAX_FIT poses); fake: FAKES_PER_REAL augmented copies of each.
    Returns the
    model (eval mode, no gradients on its weights) and its figures (pose counts, final loss, accuracy at logit 0 and
    ROC AUC on the training and held-out poses)."""
    frame_angles = np.asarray(frame_angles, dtype=np.float64)
    if frame_angles.ndim != 4 or frame_angles.shape[1:] != (2, 15, 3) or len(frame_angles) == 0:
        raise InputError(f"discriminator: expected seed angles (n, 2, 15, 3), got {frame_angles.shape}")
    train_f, held_f = split_frames(len(frame_angles))
    real = frame_angles[train_f].reshape(-1, 15, 3)
    if len(real) > MAX_FIT:
        real = real[np.linspace(0, len(real) - 1, MAX_FIT).round().astype(int)]
    held = frame_angles[held_f].reshape(-1, 15, 3)
    fake = augmented_copies(real, seed, bend_delta_deg, splay_delta_deg, FAKES_PER_REAL)
    held_fake = augmented_copies(held, seed + 1, bend_delta_deg, splay_delta_deg)
    torch.manual_seed(int(seed))
    model = Discriminator()
    x = torch.as_tensor(np.concatenate([real, fake]), dtype=torch.float32)
    y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(len(fake) / len(real)))
    g = torch.Generator().manual_seed(int(seed))
    for _ in range(steps):
        opt.zero_grad()
        batch = slice(None) if len(x) <= BATCH else torch.randint(len(x), (BATCH,), generator=g)
        loss = loss_fn(model(x[batch]), y[batch])
        loss.backward()
        opt.step()
    model.eval().requires_grad_(False)
    figures = {"real_train_poses": len(real), "real_heldout_poses": len(held), "steps": int(steps),
               "final_loss": float(loss.detach()), **_scores(model, real, fake, "train"),
               **_scores(model, held, held_fake, "heldout")}  # fmt: skip
    return Trained(model, figures)


def _scores(model: Discriminator, real: np.ndarray, fake: np.ndarray, name: str) -> dict:
    with torch.no_grad():
        r = model(torch.as_tensor(real, dtype=torch.float32)).numpy()
        f = model(torch.as_tensor(fake, dtype=torch.float32)).numpy()
    acc = (np.sum(r > 0) + np.sum(f <= 0)) / (len(r) + len(f))
    return {f"{name}_accuracy": float(acc), f"{name}_auc": roc_auc(r, f)}


def save_discriminator(path: str | os.PathLike, trained: Trained) -> None:
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in trained.model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"kind": "naturalness-discriminator", "hidden": trained.model.hidden, "state_dict": state,
                    "figures": trained.figures}, tmp)  # fmt: skip


class Naturalness:
    """The naturalness term with a discriminator: the Gaussian prior's nll plus `weight` x -log D(angles)."""

    def __init__(self, gaussian, discriminator: Discriminator, weight: float = 1.0):
        self.gaussian, self.weight = gaussian, weight
        self.discriminator = discriminator
        self._on = {}

    def _model(self, device, dtype) -> Discriminator:
        key = (str(device), dtype)
        if key not in self._on:
            import copy

            self._on[key] = copy.deepcopy(self.discriminator).to(device=device, dtype=dtype).requires_grad_(False)
        return self._on[key]

    def nll(self, angles: torch.Tensor) -> torch.Tensor:
        """Per pose (B,) for angles (B, 15, 3): differentiable in the angles, not in the discriminator."""
        logit = self._model(angles.device, angles.dtype)(angles)
        return self.gaussian.nll(angles) + self.weight * torch.nn.functional.softplus(-logit)
