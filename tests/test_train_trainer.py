"""The trainer's schedule and resume."""

import pytest
import torch
import train_fixtures

from handmodel.errors import InputError
from training.checkpoint import read_checkpoint
from training.config import resolve_config
from training.trainer import learning_rate, train


def test_learning_rate_warms_up_steps_down_and_follows_the_stage_scale():
    cfg = resolve_config(
        {
            "data": {"renderih": "a", "interhand": "b"},
            "stages": [
                {"mix": {"renderih": 1.0}, "epochs": 6},
                {"mix": {"interhand": 1.0}, "epochs": 4, "lr_scale": 0.1},
            ],
            "train": {"lr": 1e-3, "warmup_epochs": 2, "lr_steps": [4], "lr_gamma": 0.5},
        }
    )
    spe = 10
    assert learning_rate(cfg, 0, spe) == pytest.approx(1e-3 / 20)
    assert learning_rate(cfg, 9, spe) == pytest.approx(1e-3 / 2)
    assert learning_rate(cfg, 20, spe) == pytest.approx(1e-3)
    assert learning_rate(cfg, 39, spe) == pytest.approx(1e-3)
    assert learning_rate(cfg, 40, spe) == pytest.approx(5e-4)
    assert learning_rate(cfg, 60, spe) == pytest.approx(5e-5)  # the fine-tuning stage


def test_resume_continues_exactly_where_an_uninterrupted_run_would_be(drawn_dataset, tmp_path):
    def cfg(steps, **model):
        return train_fixtures.tiny_config(
            {"drawn": drawn_dataset},
            train={"max_steps": steps, "batch_size": 2, "steps_per_epoch": 2, "checkpoint_every": 1},
            model=model,
        )

    straight = train(cfg(4), tmp_path / "straight", progress=False)
    train(cfg(2), tmp_path / "split", progress=False)
    resumed = train(cfg(4), tmp_path / "split", resume=tmp_path / "split", progress=False)
    assert resumed["step"] == 4 and resumed["history"] == pytest.approx(straight["history"][2:], rel=1e-4)
    a = read_checkpoint(tmp_path / "straight")["model"]
    b = read_checkpoint(tmp_path / "split")["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)
    with pytest.raises(InputError, match="other model settings"):
        train(cfg(6, gcn_dims=[16, 16, 16]), tmp_path / "split", resume=tmp_path / "split", progress=False)


def test_resume_after_a_max_steps_stop_in_mid_epoch_trains_the_rest_of_that_epoch(drawn_dataset, tmp_path):
    def cfg(steps):
        return train_fixtures.tiny_config(
            {"drawn": drawn_dataset},
            train={"max_steps": steps, "batch_size": 1, "steps_per_epoch": 4, "checkpoint_every": 1},
        )

    straight = train(cfg(5), tmp_path / "straight", progress=False)
    first = train(cfg(2), tmp_path / "split", progress=False)
    resumed = train(cfg(5), tmp_path / "split", resume=tmp_path / "split", progress=False)
    # Steps 3 and 4 finish epoch 0 on the samples the straight run drew there; step 5 starts epoch 1.
    assert resumed["history"] == pytest.approx(straight["history"][2:], rel=1e-4)
    assert first["drawn"] == {"drawn": 2} and resumed["drawn"] == {"drawn": 3} and resumed["epoch"] == 1
