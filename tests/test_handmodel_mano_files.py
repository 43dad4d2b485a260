"""Loading licensed-format MANO files: safe unpickling, the left shapedirs fix, the cache, clear errors."""

import os
import pickle

import numpy as np
import pytest
import torch

from handmodel.errors import InputError
from handmodel.mano_files import read_mano_pickle
from handmodel.models import import_mano, load_hand_models, load_model_dir
from handmodel.skinning import mano_forward
from handmodel.torch_layer import HandLayer
from tests.handmodel_fixtures import write_licensed_style_mano


def test_licensed_style_files_convert_without_chumpy_and_fix_left_shapedirs(tmp_path, cache):
    truth = write_licensed_style_mano(tmp_path / "mano")
    models = load_hand_models(tmp_path / "mano")
    assert models.info["model"] == "mano"
    assert models.info["dir"].startswith(str(cache))
    for hand in ("right", "left"):
        assert np.allclose(models[hand].shapedirs, truth[hand]["shapedirs"])
        assert np.allclose(models[hand].J_regressor, truth[hand]["J_regressor"])
    assert list(models["right"].tip_ids) == [745, 317, 444, 556, 673]  # MANO's fingertip vertices


def test_numpy_skinning_agrees_with_smplx_on_converted_mano(tmp_path, cache):
    write_licensed_style_mano(tmp_path / "mano")
    models = load_hand_models(tmp_path / "mano")
    layer = HandLayer(models, dtype=torch.float64)
    rng = np.random.default_rng(3)
    for hand in ("right", "left"):
        p, s, t = rng.normal(0, 0.5, (5, 48)), rng.normal(0, 1.5, (5, 10)), rng.normal(0, 0.2, (5, 3))
        v, j = mano_forward(models[hand], p, s, t)
        vt, jt = layer(hand, *(torch.from_numpy(a) for a in (p, s, t)))
        assert np.abs(v - vt.numpy()).max() < 1e-6
        assert np.abs(j - jt.numpy()).max() < 1e-6


def test_conversion_is_cached_by_content(tmp_path, cache):
    write_licensed_style_mano(tmp_path / "mano")
    first = import_mano(tmp_path / "mano")
    mtime = (first / "MANO_RIGHT.pkl").stat().st_mtime_ns
    assert import_mano(tmp_path / "mano") == first
    assert (first / "MANO_RIGHT.pkl").stat().st_mtime_ns == mtime
    assert load_model_dir(first).info["hash"] == first.name.split("-", 1)[1]


def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path, cache):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "mano"
    folder.mkdir()
    (folder / "MANO_RIGHT.pkl").write_bytes(pickle.dumps({"v_template": Exploit()}, protocol=2))
    (folder / "MANO_LEFT.pkl").write_bytes(pickle.dumps({}, protocol=2))
    with pytest.raises(InputError, match=r"MANO_RIGHT.pkl: refusing to load '(posix|os)\.system'"):
        load_hand_models(folder)
    assert not marker.exists()


def test_truncated_pickle_gives_a_clear_error(tmp_path, cache):
    write_licensed_style_mano(tmp_path / "mano")
    path = tmp_path / "mano" / "MANO_LEFT.pkl"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InputError, match="MANO_LEFT.pkl: truncated or corrupt"):
        load_hand_models(tmp_path / "mano")
    assert not list(cache.glob("mano-*"))  # nothing half-written in the cache


def test_wrong_shape_names_the_key_and_shape(tmp_path):
    path = tmp_path / "MANO_RIGHT.pkl"
    data = {k: np.zeros(s) for k, s in {"v_template": (778, 3), "f": (10, 3), "J_regressor": (16, 778)}.items()}
    data.update(weights=np.zeros((778, 15)))
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(InputError, match=r"key 'weights' has shape \(778, 15\), expected \(778, 16\)"):
        read_mano_pickle(path)


def test_missing_mano_folder_falls_back_to_standin_with_notice(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MANO_DIR", raising=False)
    models = load_hand_models(tmp_path / "no-such-folder")
    assert models.info["model"] == "standin"
    err = capsys.readouterr().err
    assert "stand-in" in err and str(tmp_path / "no-such-folder") in err and err.count("\n") == 1
