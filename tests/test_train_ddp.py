"""DistributedDataParallel: two CPU processes with gloo train a couple of steps and write one checkpoint."""

import torch
import train_fixtures

from training.checkpoint import read_checkpoint
from training.trainer import spawn


def test_two_process_gloo_ddp_trains_and_checkpoints(drawn_dataset, tmp_path):
    cfg = train_fixtures.tiny_config({"drawn": drawn_dataset}, train={"max_steps": 2, "batch_size": 2})
    spawn(cfg, tmp_path / "run", ["cpu", "cpu"], progress=False)
    ckpt = read_checkpoint(tmp_path / "run")
    assert ckpt["world"] == 2 and ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert (tmp_path / "run" / "config.yaml").is_file()
