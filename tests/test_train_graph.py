"""The decoder's fixed geometry computed from the hand model: levels, upsampling, regressor, cache."""

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from handmodel.joints import HANDS
from handmodel.skinning import mano_forward
from training.mesh_graph import LEVEL_SIZES, build_hand_graph, cache_path, hand_graphs


@pytest.fixture(scope="module")
def graphs(models, tmp_path_factory):
    return hand_graphs(models, tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("hand", HANDS)
def test_graph_levels_have_intaghand_sizes_are_connected_and_nest(graphs, hand):
    g = graphs[hand]
    assert [len(a) for a in g.adjacency] == list(LEVEL_SIZES)
    for adj in g.adjacency:
        assert np.array_equal(adj, adj.T) and not adj.diagonal().any()
        assert connected_components(adj, directed=False)[0] == 1
    for lvl in range(2):
        # Every finer node stands under exactly one coarse node.
        kids = np.sort(g.children[lvl].reshape(-1))
        assert np.array_equal(kids, np.arange(LEVEL_SIZES[lvl + 1]))
        # A coarse node's position is the mean of its two children's.
        assert np.allclose(g.pooling[lvl], g.pooling[lvl + 1][g.children[lvl]].mean(1))
    assert all(np.allclose(p.sum(1), 1.0) for p in g.pooling)


@pytest.mark.parametrize("hand", HANDS)
def test_upsampling_rebuilds_posed_meshes_from_252_vertices(models, graphs, hand):
    g = graphs[hand]
    assert np.allclose(g.upsample.sum(1), 1.0)
    assert np.allclose(g.upsample[g.picked], np.eye(len(g.picked)))
    rng = np.random.default_rng(0)
    pose = np.concatenate([np.zeros((4, 3)), rng.normal(0, 0.3, (4, 45))], axis=1)
    verts, _ = mano_forward(models[hand], pose, rng.normal(0, 1, (4, 10)), np.zeros((4, 3)))
    err = np.linalg.norm(np.einsum("vp,npk->nvk", g.upsample, verts[:, g.picked]) - verts, axis=-1)
    assert err.mean() < 0.003 and err.max() < 0.015  # metres


@pytest.mark.parametrize("hand", HANDS)
def test_joint_regressor_gives_mano_joints_of_the_rest_hand(models, graphs, hand):
    verts, joints = mano_forward(models[hand], np.zeros((1, 48)), np.zeros((1, 10)), np.zeros((1, 3)))
    assert np.allclose(graphs[hand].regressor21 @ verts[0], joints[0], atol=1e-9)


def test_graph_cache_is_keyed_by_the_model_hash(models, graphs, tmp_path):
    first = hand_graphs(models, tmp_path)
    path = cache_path(models.info["hash"], tmp_path)
    assert path.is_file() and models.info["hash"] in path.name
    again = hand_graphs(models, tmp_path)  # from the cache
    for hand in HANDS:
        assert np.array_equal(again[hand].upsample, first[hand].upsample)
        assert np.array_equal(again[hand].adjacency[0], graphs[hand].adjacency[0])

    class Other(dict):
        info = {"hash": "another-model"}

    other = Other(models)
    hand_graphs(other, tmp_path)
    assert cache_path("another-model", tmp_path).is_file()


def test_graph_build_is_deterministic(models):
    a, b = build_hand_graph(models["right"]), build_hand_graph(models["right"])
    assert np.array_equal(a.picked, b.picked) and np.array_equal(a.children[0], b.children[0])
