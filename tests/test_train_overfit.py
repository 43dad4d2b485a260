"""The tiny config overfits a few rendered samples within 150 steps: the loss and MPJPE on them fall by at least half,
the aligned vertex error by a tenth, and MRRPE ends under 30 mm."""

import pytest
import train_fixtures

from training.evaluate import evaluate
from training.trainer import train

STEPS = 150


@pytest.mark.slow
def test_tiny_network_overfits_rendered_samples(rendered_dataset, tmp_path):
    data = {"renderih": rendered_dataset}
    # The starting point: the initial weights after one step at learning rate 0 (BatchNorm statistics only).
    train(train_fixtures.tiny_config(data, train={"max_steps": 1, "lr": 0.0}), tmp_path / "start", progress=False)
    before = evaluate(tmp_path / "start", rendered_dataset, progress=False)
    result = train(train_fixtures.tiny_config(data, train={"max_steps": STEPS}), tmp_path / "run", progress=False)
    after = evaluate(tmp_path / "run", rendered_dataset, progress=False)
    assert result["step"] == STEPS and result["history"][-1] < result["history"][0] / 2
    assert after["joint"]["all"] <= before["joint"]["all"] / 2, (before["joint"], after["joint"])
    assert after["vertex"]["all"] <= 0.9 * before["vertex"]["all"]
    # The hands' relative position is learnt: the right joint 9 relative to the left within 30 mm.
    assert after["mrrpe"] < 30.0, (before["mrrpe"], after["mrrpe"])
