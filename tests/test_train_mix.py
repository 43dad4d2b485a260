"""Training on rendered data alongside InterHand2.6M (`interhand prepare` output), mixed by a named preset."""

import pytest
import train_fixtures

from handmodel.dataset_io import list_samples
from interhand.prepare import PrepareSettings, prepare_interhand
from tests.interhand_fixtures import hand_models, release_with_images
from training.checkpoint import read_checkpoint
from training.config import build_config
from training.evaluate import evaluate
from training.trainer import train

rendered_dataset = train_fixtures.rendered_dataset


@pytest.fixture(scope="module")
def prepared_interhand(tmp_path_factory):
    root, _ = release_with_images()
    out = tmp_path_factory.mktemp("ih") / "dataset"
    prepare_interhand(PrepareSettings(data_path=root, out=out), hand_models(), progress=False)
    return out


def test_real_plus_synthetic_preset_trains_on_both_and_evaluates_on_real(
    rendered_dataset, prepared_interhand, tmp_path
):
    cfg = build_config(
        str(train_fixtures.TINY_CONFIG),
        data=[f"renderih={rendered_dataset}", f"interhand={prepared_interhand}"],
        preset="real+synthetic",
        overrides={"train.max_steps": 2},
    )
    assert cfg["stages"][0]["mix"] == {"interhand": 0.5, "renderih": 0.5}
    result = train(cfg, tmp_path / "run", progress=False)
    assert read_checkpoint(tmp_path / "run")["step"] == 2
    # Both datasets were drawn from: 2 steps of 4 samples, each dataset at least once.
    assert sum(result["drawn"].values()) == 8 and min(result["drawn"].values()) > 0, result["drawn"]
    m = evaluate(tmp_path / "run", prepared_interhand, progress=False)
    assert m["samples"] == len(list_samples(prepared_interhand)) > 0
    assert all(m[k]["all"] > 0 for k in ("joint", "vertex", "pa_mpjpe"))
