"""Evaluation numbers against an independent per-sample numpy/scipy computation on known inputs."""

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handmodel.joints import HANDS
from training.metrics import evaluate_arrays, format_report, root_from_camera

SIZE = 256


def _reference(pred_j, pred_v, gt_j, gt_v):
    """Per sample, spelled out: joint-9 root, wrist-joint9 scale; PA via scipy's orthogonal Procrustes."""
    je, ve, pa = [], [], []
    for pj, pv, gj, gv in zip(pred_j, pred_v, gt_j, gt_v):
        k = np.linalg.norm(gj[0] - gj[9]) / np.linalg.norm(pj[0] - pj[9])
        je.append(np.mean([np.linalg.norm((pj[i] - pj[9]) * k + gj[9] - gj[i]) for i in range(21)]))
        ve.append(np.mean([np.linalg.norm((pv[i] - pj[9]) * k + gj[9] - gv[i]) for i in range(len(pv))]))
        pc, gc = pj - pj.mean(0), gj - gj.mean(0)
        R, sv = orthogonal_procrustes(pc, gc)
        aligned = sv / (pc**2).sum() * pc @ R + gj.mean(0)
        pa.append(np.mean(np.linalg.norm(aligned - gj, axis=1)))
    return 1000 * np.mean(je), 1000 * np.mean(ve), 1000 * np.mean(pa)


def _known_inputs(rng, n=5, v=50):
    K = np.tile(np.array([[300.0, 0, 128], [0, 300.0, 128], [0, 0, 1]]), (n, 1, 1))
    pred, gt = {}, {}
    for hand in HANDS:
        gj = rng.normal(0, 0.04, (n, 21, 3))
        gv = rng.normal(0, 0.04, (n, v, 3))
        roots = np.array([0.05 if hand == "left" else -0.05, 0.0, 0.6]) + rng.normal(0, 0.02, (n, 3))
        cam_j = gj - gj[:, 9:10] + roots[:, None]
        # A prediction: rotated, scaled, shifted and noisy copies of the truth.
        R = Rotation.from_rotvec(rng.normal(0, 0.2, (n, 3))).as_matrix()
        s = rng.uniform(0.7, 1.3, (n, 1, 1))
        pj = s * np.einsum("nij,npj->npi", R, gj) + rng.normal(0, 0.003, gj.shape) + 0.1
        pv = s * np.einsum("nij,npj->npi", R, gv) + rng.normal(0, 0.003, gv.shape) + 0.1
        uv = np.einsum("nij,nj->ni", K, roots)
        uv = uv[:, :2] / uv[:, 2:]
        cam = np.concatenate([300.0 / (roots[:, 2:] * SIZE), (uv / SIZE - 0.5) * 2], axis=1)
        pred[hand] = {"joints": pj, "verts": pv, "cam": cam}
        gt[hand] = {"joints": gj - gj[:, 9:10], "verts": gv - gj[:, 9:10], "joints_cam": cam_j}
    return pred, gt, K


def test_intaghand_errors_and_pa_mpjpe_equal_a_per_sample_reference():
    rng = np.random.default_rng(0)
    pred, gt, K = _known_inputs(rng)
    m = evaluate_arrays(pred, gt, K, SIZE)
    for hand in HANDS:
        je, ve, pa = _reference(pred[hand]["joints"], pred[hand]["verts"], gt[hand]["joints"], gt[hand]["verts"])
        assert np.isclose(m["joint"][hand], je, rtol=1e-9)
        assert np.isclose(m["vertex"][hand], ve, rtol=1e-9)
        assert np.isclose(m["pa_mpjpe"][hand], pa, rtol=1e-6)
        assert m["pa_mpjpe"][hand] < m["joint"][hand]  # rotation is only removed by Procrustes
    assert np.isclose(m["joint"]["all"], (m["joint"]["left"] + m["joint"]["right"]) / 2)


def test_mrrpe_is_zero_for_exact_cameras_and_measures_a_known_root_offset():
    rng = np.random.default_rng(1)
    pred, gt, K = _known_inputs(rng)
    assert evaluate_arrays(pred, gt, K, SIZE)["mrrpe"] < 1e-9
    # Moving the left hand's predicted root 20 mm along x (same depth) gives MRRPE 20 mm.
    left = gt["left"]["joints_cam"][:, 9] + np.array([0.02, 0, 0])
    uv = np.einsum("nij,nj->ni", K, left)
    pred["left"]["cam"][:, 1:] = (uv[:, :2] / uv[:, 2:] / SIZE - 0.5) * 2
    assert np.isclose(evaluate_arrays(pred, gt, K, SIZE)["mrrpe"], 20.0)
    assert np.allclose(root_from_camera(pred["left"]["cam"], K, SIZE), left)


def test_report_prints_the_intaghand_block():
    rng = np.random.default_rng(2)
    text = format_report(evaluate_arrays(*_known_inputs(rng), SIZE))
    assert text.splitlines()[0] == "joint mean error:" and "vert mean error:" in text and "MRRPE" in text
