"""Conventions of the dataset format (mask labels, depth encoding) and of the cache root."""

import numpy as np

from handmodel.dataset_io import (
    FOREARM_LABELS,
    HAND_LABELS,
    MASK_LABELS,
    decode_depth_mm,
    encode_depth_mm,
)


def test_mask_labels_are_background_hands_then_forearms_and_distinct():
    assert MASK_LABELS == {"background": 0, "right": 1, "left": 2, "right_forearm": 3, "left_forearm": 4}
    assert HAND_LABELS == {"right": 1, "left": 2} and FOREARM_LABELS == {"right": 3, "left": 4}


def test_depth_is_stored_as_rounded_clipped_uint16_millimetres():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.2, 2.0, (7, 9))
    depth[0, :3] = [0.0, 70.0, -1.0]  # background, beyond the range, below zero
    png = encode_depth_mm(depth)
    assert png.dtype == np.uint16
    expected = [[min(max(int(round(float(d) * 1000)), 0), 65535) for d in row] for row in depth]
    assert png.tolist() == expected
    back = decode_depth_mm(png)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back[1:], depth[1:], atol=5e-4 + 1e-6)
    assert back[0, 0] == 0.0 and back[0, 1] == np.float32(65.535)


def test_the_decoder_graph_cache_lives_under_handkit_cache(tmp_path, monkeypatch, models):
    from training.mesh_graph import cache_path, hand_graphs

    monkeypatch.setenv("HANDKIT_CACHE", str(tmp_path / "cache"))
    graphs = hand_graphs(models)
    written = list((tmp_path / "cache").iterdir())
    assert written == [cache_path(models.info["hash"])] and written[0].parent == tmp_path / "cache"
    again = hand_graphs(models)  # read back from that cache
    assert all(np.array_equal(again[h].pooling[0], graphs[h].pooling[0]) for h in graphs)
