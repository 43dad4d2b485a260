"""Evaluation numbers against an independent per-sample numpy/scipy computation on known inputs."""

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handmodel.joints import HANDS
from training.metrics import evaluate_arrays, format_report


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
    """Ground truth of two hands and a prediction made from it by a per-hand similarity plus noise, in the
    targets' units (the right hand relative to the left's joint 9, `scale` units per metre)."""
    pred, gt = {}, {}
    scale = rng.uniform(0.8, 1.2, n)
    roots = {"right": np.array([-0.05, 0.0, 0.6]), "left": np.array([0.05, 0.0, 0.6])}
    roots = {h: r + rng.normal(0, 0.02, (n, 3)) for h, r in roots.items()}
    for hand in HANDS:
        gj = rng.normal(0, 0.04, (n, 21, 3))
        gv = rng.normal(0, 0.04, (n, v, 3))
        gj, gv = gj - gj[:, 9:10], gv - gj[:, 9:10]
        R = Rotation.from_rotvec(rng.normal(0, 0.2, (n, 3))).as_matrix()
        s = rng.uniform(0.7, 1.3, (n, 1, 1))
        offset = ((roots["right"] - roots["left"]) * scale[:, None])[:, None] if hand == "right" else 0.0
        pj = s * np.einsum("nij,npj->npi", R, gj * scale[:, None, None]) + rng.normal(0, 0.003, gj.shape) + offset
        pv = s * np.einsum("nij,npj->npi", R, gv * scale[:, None, None]) + rng.normal(0, 0.003, gv.shape) + offset
        pred[hand] = {"joints": pj, "verts": pv}
        gt[hand] = {"joints": gj, "verts": gv, "joints_cam": gj + roots[hand][:, None]}
    return pred, gt, scale


def test_intaghand_errors_and_pa_mpjpe_equal_a_per_sample_reference():
    rng = np.random.default_rng(0)
    pred, gt, scale = _known_inputs(rng)
    m = evaluate_arrays(pred, gt, scale)
    for hand in HANDS:
        je, ve, pa = _reference(pred[hand]["joints"], pred[hand]["verts"], gt[hand]["joints"], gt[hand]["verts"])
        assert np.isclose(m["joint"][hand], je, rtol=1e-9)
        assert np.isclose(m["vertex"][hand], ve, rtol=1e-9)
        assert np.isclose(m["pa_mpjpe"][hand], pa, rtol=1e-6)
        assert m["pa_mpjpe"][hand] < m["joint"][hand]  # rotation is only removed by Procrustes
    assert np.isclose(m["joint"]["all"], (m["joint"]["left"] + m["joint"]["right"]) / 2)


def test_mrrpe_is_the_error_of_the_right_root_relative_to_the_left_in_mm():
    rng = np.random.default_rng(1)
    pred, gt, scale = _known_inputs(rng)
    # Exact roots: the predicted offset of the right joint 9 from the left one, in metres, is the truth's.
    for hand in HANDS:
        pred[hand]["joints"][:, 9] = gt[hand]["joints_cam"][:, 9] * scale[:, None]
    assert evaluate_arrays(pred, gt, scale)["mrrpe"] < 1e-9
    # Moving the right hand's predicted root by 20 mm (in normalised units, 20 mm times the scale) gives 20 mm.
    step = np.stack([np.cos(np.arange(5.0)), np.sin(np.arange(5.0)), np.zeros(5)], axis=1) * 0.02
    pred["right"]["joints"][:, 9] += step * scale[:, None]
    per_sample = [np.linalg.norm(d) for d in step]
    assert np.isclose(evaluate_arrays(pred, gt, scale)["mrrpe"], 1000 * np.mean(per_sample))
    assert np.isclose(evaluate_arrays(pred, gt, scale)["mrrpe"], 20.0)


def test_report_prints_the_intaghand_block():
    rng = np.random.default_rng(2)
    text = format_report(evaluate_arrays(*_known_inputs(rng)))
    assert text.splitlines()[0] == "joint mean error:" and "vert mean error:" in text and "MRRPE" in text
