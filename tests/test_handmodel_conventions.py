"""Conventions of the dataset format (mask labels, depth encoding) and of the cache root."""

import shutil

import numpy as np

from handmodel.dataset_io import (
    FOREARM_LABELS,
    HAND_LABELS,
    decode_depth_mm,
    encode_depth_mm,
    list_samples,
    read_meta,
    sample_paths,
)
from handmodel.png import write_png


def test_the_renderers_masks_read_back_in_training_as_each_hand_with_forearms_as_background(
    tmp_path, monkeypatch, drawn_dataset, models, graphs
):
    """One render's object-index pass (the pass index HandScene gives each object) through the renderer's mask
    decoding and the dataset's PNG writer into a dataset, read by training: right-hand pixels are the right hand's
    mask, left-hand pixels the left's, forearms and anything else background."""
    import blender_scripts.passes
    from training.dataset import HandDataset

    root = shutil.copytree(drawn_dataset, tmp_path / "data")
    name = list_samples(root)[0]
    size = read_meta(root)["image_size"][0]
    # Vertical stripes, one per object: its pass index, and which of training's masks (right, left) it belongs to.
    stripes = [(HAND_LABELS["right"], (1, 0)), (HAND_LABELS["left"], (0, 1)), (FOREARM_LABELS["right"], (0, 0)),
               (FOREARM_LABELS["left"], (0, 0)), (0, (0, 0)), (7, (0, 0))]  # fmt: skip
    edges = np.linspace(0, size, len(stripes) + 1).round().astype(int)
    index = np.zeros((size, size), np.float32)
    for (pass_index, _), lo, hi in zip(stripes, edges[:-1], edges[1:], strict=True):
        index[:, lo:hi] = pass_index
    channels = {"ViewLayer.Object Index.X": index, "ViewLayer.Depth.Z": np.full((size, size), 0.5, np.float32)}
    monkeypatch.setattr(blender_scripts.passes, "read_exr_channels", lambda path: channels)
    mask = blender_scripts.passes.decode_passes("render.exr", rgb=False)["mask"]
    write_png(sample_paths(root, name)["mask"], mask)  # as the renderer's SampleWriter and `interhand prepare` do

    read = HandDataset(root, models, graphs, 64, None)[list_samples(root).index(name)]["mask"].numpy()
    aux = read.shape[-1]
    for (pass_index, expected), lo, hi in zip(stripes, edges[:-1], edges[1:], strict=True):
        column = int(((lo + hi) / 2 + 0.5) * aux / size - 0.5)  # the training mask's column at the stripe's middle
        assert [int(read[c][:, column].min()) for c in (0, 1)] == list(expected), pass_index
        assert [int(read[c][:, column].max()) for c in (0, 1)] == list(expected), pass_index


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
