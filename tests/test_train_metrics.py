"""Evaluation numbers against an independent per-sample numpy/scipy computation on known inputs."""

import numpy as np
from scipy.spatial import procrustes
from scipy.spatial.transform import Rotation

from handmodel.joints import HANDS
from training.metrics import evaluate_arrays, format_report


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


def _random_directions(rng, shape):
    d = rng.normal(size=shape + (3,))
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def test_joint_and_vertex_errors_are_the_offsets_built_into_the_prediction():
    """A prediction that is the truth plus offsets of known lengths (none at the wrist and joint 9, which the
    alignment uses), in other units and at another place: the errors are the mean offset lengths."""
    rng = np.random.default_rng(0)
    pred, gt, scale = _known_inputs(rng)
    lengths = {}
    for hand in HANDS:
        gj, gv = gt[hand]["joints"], gt[hand]["verts"]
        n = len(gj)
        lj, lv = rng.uniform(0.001, 0.01, (n, 21)), rng.uniform(0.001, 0.01, gv.shape[:2])
        lj[:, [0, 9]] = 0.0
        units = rng.uniform(5.0, 15.0, (n, 1, 1))  # prediction units per metre
        shift = rng.normal(0, 0.5, (n, 1, 3))
        moved = {"joints": gj + lj[..., None] * _random_directions(rng, gj.shape[:2]),
                 "verts": gv + lv[..., None] * _random_directions(rng, gv.shape[:2])}  # fmt: skip
        pred[hand] = {key: x * units + shift for key, x in moved.items()}
        lengths[hand] = (lj, lv)
    m = evaluate_arrays(pred, gt, scale)
    for hand in HANDS:
        lj, lv = lengths[hand]
        assert np.isclose(m["joint"][hand], 1000 * lj.mean(), rtol=1e-9)
        assert np.isclose(m["vertex"][hand], 1000 * lv.mean(), rtol=1e-9)
    assert np.isclose(m["joint"]["all"], (m["joint"]["left"] + m["joint"]["right"]) / 2)


def test_pa_mpjpe_equals_scipy_procrustes_and_ignores_rotation_scale_and_shift():
    rng = np.random.default_rng(3)
    pred, gt, scale = _known_inputs(rng)
    m = evaluate_arrays(pred, gt, scale)
    for hand in HANDS:
        errors = []
        for pj, gj in zip(pred[hand]["joints"], gt[hand]["joints"], strict=True):
            # scipy standardises both sets (centred, unit Frobenius norm) and fits the prediction to the truth.
            _, fitted, _ = procrustes(gj, pj)
            centred = gj - gj.mean(0)
            aligned = fitted * np.linalg.norm(centred) + gj.mean(0)
            errors.append(np.linalg.norm(aligned - gj, axis=1))
        assert np.isclose(m["pa_mpjpe"][hand], 1000 * np.mean(errors), rtol=1e-6)
        assert m["pa_mpjpe"][hand] < m["joint"][hand]  # the prediction is rotated: only Procrustes removes that
    # A prediction that is the truth rotated, scaled and moved, without noise: no PA error, a large aligned one.
    for hand in HANDS:
        gj = gt[hand]["joints"]
        R = Rotation.from_rotvec(rng.normal(0, 0.5, (len(gj), 3))).as_matrix()
        pred[hand]["joints"] = 3.0 * np.einsum("nij,npj->npi", R, gj) + rng.normal(0, 1, (len(gj), 1, 3))
    m = evaluate_arrays(pred, gt, scale)
    for hand in HANDS:
        assert m["pa_mpjpe"][hand] < 1e-9 and m["joint"][hand] > 5.0


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
