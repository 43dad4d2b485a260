"""Evaluation metrics in numpy: IntagHand's aligned joint/vertex errors, PA-MPJPE and MRRPE (millimetres).

IntagHand's protocol, per hand: move the prediction's joint 9 to the ground truth's, scale it about joint 9 by
the ratio of ground-truth to predicted wrist-joint9 length, take the L2 error per joint (or vertex, with the
joints' alignment) and average; "all" is the mean of left and right. MRRPE: the error of the right hand's joint 9
relative to the left's.
"""

import numpy as np

from handmodel.joints import HANDS, ROOT_JOINT, root_bone_length


def intaghand_align(pred_j, pred_v, gt_j):
    """Align a prediction to the ground truth's joint 9 and wrist-joint9 length.

    pred_j (N,21,3), pred_v (N,V,3), gt_j (N,21,3), any consistent unit -> aligned (pred_j, pred_v).
    """
    root_p, root_g = pred_j[:, ROOT_JOINT : ROOT_JOINT + 1], gt_j[:, ROOT_JOINT : ROOT_JOINT + 1]
    len_p, len_g = root_bone_length(pred_j), root_bone_length(gt_j)
    k = (len_g / np.maximum(len_p, 1e-12))[:, None, None]
    return (pred_j - root_p) * k + root_g, (pred_v - root_p) * k + root_g


def similarity_align(pred, gt):
    """Umeyama: the scaled rotation + translation of pred (N,P,3) that best fits gt (N,P,3), applied to pred."""
    mp, mg = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mp, gt - mg
    cov = np.einsum("npi,npj->nij", g, p)  # (N,3,3) = sum g p^T
    U, S, Vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones_like(S)
    D[:, -1] = d
    R = (U * D[:, None, :]) @ Vt
    scale = (S * D).sum(1) / np.maximum((p**2).sum((1, 2)), 1e-12)
    return scale[:, None, None] * np.einsum("nij,npj->npi", R, p) + mg


def evaluate_arrays(pred: dict, gt: dict, scale) -> dict:
    """All metrics in mm from stacked arrays.

    pred[hand]: joints (N,21,3), verts (N,V,3) in the targets' normalised units, the right hand relative to the
    left hand's joint 9 (training/targets.py); gt[hand]: joints (N,21,3), verts (N,V,3) metres relative to the
    hand's own joint 9, joints_cam (N,21,3) camera metres; scale (N,) the targets' normalised units per metre.
    MRRPE: the predicted right-minus-left joint-9 offset, in metres by the sample's scale, against the truth's.
    Returns {"joint": {"left", "right", "all"}, "vertex": {...}, "pa_mpjpe": {...}, "mrrpe": float}.
    """
    out = {"joint": {}, "vertex": {}, "pa_mpjpe": {}}
    for hand in HANDS:
        pj, pv = intaghand_align(pred[hand]["joints"], pred[hand]["verts"], gt[hand]["joints"])
        out["joint"][hand] = 1000 * float(np.linalg.norm(pj - gt[hand]["joints"], axis=-1).mean())
        out["vertex"][hand] = 1000 * float(np.linalg.norm(pv - gt[hand]["verts"], axis=-1).mean())
        pa = similarity_align(pred[hand]["joints"], gt[hand]["joints"])
        out["pa_mpjpe"][hand] = 1000 * float(np.linalg.norm(pa - gt[hand]["joints"], axis=-1).mean())
    for key in ("joint", "vertex", "pa_mpjpe"):
        out[key]["all"] = (out[key]["left"] + out[key]["right"]) / 2
    rel_p = (pred["right"]["joints"][:, ROOT_JOINT] - pred["left"]["joints"][:, ROOT_JOINT]) / scale[:, None]
    rel_g = gt["right"]["joints_cam"][:, ROOT_JOINT] - gt["left"]["joints_cam"][:, ROOT_JOINT]
    out["mrrpe"] = 1000 * float(np.linalg.norm(rel_p - rel_g, axis=-1).mean())
    return out


def format_report(m: dict) -> str:
    """The IntagHand block plus PA-MPJPE and MRRPE."""
    lines = []
    for key, title in (("joint", "joint mean error"), ("vertex", "vert mean error"), ("pa_mpjpe", "PA-MPJPE")):
        v = m[key]
        lines += [
            f"{title}:",
            f"    left: {v['left']:.2f} mm, right: {v['right']:.2f} mm",
            f"    all: {v['all']:.2f} mm",
        ]
    lines.append(f"MRRPE: {m['mrrpe']:.2f} mm")
    return "\n".join(lines)
