"""The run's report: penetration, joint angles against the limits, a grid of posed pairs, a summary.

Written to a folder beside the output: `penetration.png`, `angles.png`, `poses.png`, `interaction.png` (contact
share and area, wrist distance, relative rotation, interaction types, coupling), `summary.txt`.
"""

from pathlib import Path

import numpy as np

from handmodel.anatomy import LIMITS_DEG, angles_from_pose
from handmodel.atomic import atomic_path, atomic_write_bytes
from handmodel.colours import HAND_COLOURS_UNIT
from handmodel.joints import HANDS, MANO_JOINT_NAMES
from handmodel.skinning import mano_forward


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)


def summary_text(summary: dict, poses) -> str:
    """The one-screen text summary of a run."""
    m = poses.metrics
    kept = m["kept"].astype(bool)
    pen1, ana1 = m["penetration_mm"], m["anatomy_violation_deg"]
    model = poses.meta.get("hand_model", {})
    share = summary["share_kept_pen_le_2mm_and_anatomy_le_0.1deg"]
    k = kept if kept.any() else np.ones(len(kept), dtype=bool)
    rows = [
        f"sample-poses: {summary['num']} poses, {summary['kept']} kept ({kept.mean():.1%})",
        f"  hand model: {model.get('model')} {model.get('hash')}; seeds: {poses.meta.get('seeds', {})}",
        "  max penetration depth per pose (mm)     all     kept",
        f"    median                              {np.median(pen1):8.2f} {np.median(pen1[k]):8.2f}",
        f"    90th percentile                     {np.percentile(pen1, 90):8.2f} {np.percentile(pen1[k], 90):8.2f}",
        f"    share <= 2 mm                       {np.mean(pen1 <= 2):8.1%} {np.mean(pen1[k] <= 2):8.1%}",
        "  worst excess over the joint limits or the ring/pinky coupling (deg)",
        f"    max                                 {ana1.max():8.2f} {ana1[k].max():8.2f}",
        f"    coupling alone, max                 {m['coupling_violation_deg'].max():8.2f}",
        f"  surfaces within 2 mm: {np.mean(m['surface_gap_mm'] <= 2):.1%} of all, "
        f"{np.mean(m['surface_gap_mm'][k] <= 2):.1%} of kept; vertices within 2 mm of the other hand (median, kept): "
        f"{np.median(m['contact_vertices'][k]):.0f}",
        f"  intersecting triangle pairs <= 75 (RenderIH's filter): {np.mean(m['intersecting_triangles'] <= 75):.1%}"
        f" of all (median {np.median(m['intersecting_triangles']):.0f})",
        f"  one body (both wrists reachable, no forearm through the other hand): {np.mean(m['one_body']):.1%} of all",
        f"  kept with penetration <= 2 mm and anatomy <= 0.1 deg: {share:.1%}",
        f"  mean optimization steps per pose: {m['iterations'].mean():.1f}",
    ]
    d = summary.get("discriminator")
    if d:
        counts = f"{d['real_train_poses']} real hands trained, {d['real_heldout_poses']} held out"
        acc = f"accuracy {d['train_accuracy']:.1%} train, {d['heldout_accuracy']:.1%} held out"
        rows.append(
            f"  naturalness discriminator ({counts}): {acc}; ROC AUC {d['train_auc']:.3f} / {d['heldout_auc']:.3f}"
        )
    if summary.get("poses_run"):
        rate = summary["poses_run"] / max(summary["seconds_total"], 1e-9)
        rows.append(f"  time: {summary['seconds_total']:.1f} s for {summary['poses_run']} poses ({rate:.2f} poses/s)")
    return "\n".join(rows) + "\n"


def write_report(folder, poses, models, frames, summary: dict, grid: int = 6) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m = poses.metrics

    fig, ax = plt.subplots(figsize=(7, 4))
    top = max(3.0, float(np.percentile(m["penetration_mm"], 99)))
    bins = np.linspace(0, top, 30)
    ax.hist(np.clip(m["penetration_mm"], 0, top), bins=bins, alpha=0.6, label="after optimization")
    ax.axvline(2.0, color="k", ls="--", lw=1, label="2 mm")
    ax.set_xlabel("max penetration depth per pose (mm)")
    ax.set_ylabel("poses")
    ax.legend()
    fig.tight_layout()
    _save(fig, folder / "penetration.png")
    plt.close(fig)

    kept = m["kept"].astype(bool)
    sel = kept if kept.any() else np.ones(len(poses), dtype=bool)
    ang = np.concatenate(
        [np.degrees(angles_from_pose(poses.params[h]["pose"][sel, 3:], frames[h])) for h in HANDS]
    )  # (n, 15, 3)
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, (k, name) in zip(axes, ((2, "bend"), (1, "splay"))):
        ax.boxplot([ang[:, j, k] for j in range(15)], showfliers=False)
        lim = LIMITS_DEG[name]
        ax.scatter(np.arange(1, 16), lim[:, 0], marker="_", s=200, color="r", label="limits")
        ax.scatter(np.arange(1, 16), lim[:, 1], marker="_", s=200, color="r")
        ax.set_ylabel(f"{name} (deg)")
        ax.legend(loc="upper right")
    axes[1].set_xticks(np.arange(1, 16), MANO_JOINT_NAMES[1:], rotation=45)
    axes[0].set_title("joint angles of the kept poses (both hands) against the anatomical limits")
    fig.tight_layout()
    _save(fig, folder / "angles.png")
    plt.close(fig)

    pool = np.flatnonzero(kept) if kept.any() else np.arange(len(poses))
    show = pool[np.unique(np.linspace(0, len(pool) - 1, min(grid, len(pool))).round().astype(int))]  # spread out
    cols = 3
    rows = max(1, -(-len(show) // cols))
    fig = plt.figure(figsize=(4 * cols, 4 * rows))
    for n, i in enumerate(show):
        ax = fig.add_subplot(rows, cols, n + 1, projection="3d")
        pts = []
        for h in HANDS:
            p = poses.params[h]
            v, _ = mano_forward(models[h], p["pose"][i : i + 1], p["shape"][i : i + 1], p["trans"][i : i + 1])
            tris = v[0][models[h].faces]
            n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
            n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
            light = np.abs(n @ np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]))
            colours = np.clip(np.outer(0.3 + 0.7 * light, HAND_COLOURS_UNIT[h]), 0, 1)
            ax.add_collection3d(Poly3DCollection(tris, facecolors=colours, edgecolor="none"))
            pts.append(v[0])
        pts = np.concatenate(pts)
        c, r = pts.mean(0), (pts.max(0) - pts.min(0)).max() / 2
        ax.set_xlim(c[0] - r, c[0] + r)
        ax.set_ylim(c[1] - r, c[1] + r)
        ax.set_zlim(c[2] - r, c[2] + r)
        ax.set_axis_off()
        ax.set_title(f"id {poses.ids[i]}: pen {m['penetration_mm'][i]:.1f} mm", fontsize=9)
    fig.tight_layout()
    _save(fig, folder / "poses.png")
    plt.close(fig)

    _interaction_figure(plt, folder, poses, models)
    atomic_write_bytes(folder / "summary.txt", summary_text(summary, poses).encode())
    return folder


def _interaction_figure(plt, folder: Path, poses, models) -> None:
    """interaction.png: contact share, contact-area histogram, wrist distance, relative rotation, interaction
    types and the ring/pinky coupling figure."""
    from scipy.spatial.transform import Rotation

    from handmodel.forearm import posed_frames

    m = poses.metrics
    kept = m["kept"].astype(bool)
    sel = kept if kept.any() else np.ones(len(poses), dtype=bool)
    f = {h: posed_frames(models[h], *(poses.params[h][k] for k in ("pose", "shape", "trans"))) for h in HANDS}
    wrist_mm = 1000 * np.linalg.norm(f["right"]["wrist"] - f["left"]["wrist"], axis=1)
    rel = Rotation.from_rotvec(poses.params["left"]["pose"][:, :3]).inv() * Rotation.from_rotvec(
        poses.params["right"]["pose"][:, :3]
    )
    rel_deg = np.degrees(rel.magnitude())
    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    gap = m["surface_gap_mm"]
    edges = [0, 0.5, 1, 2, 5, 10, np.inf]
    counts = [np.mean((gap[sel] >= a) & (gap[sel] < b)) for a, b in zip(edges[:-1], edges[1:])]
    axes[0, 0].bar(range(len(counts)), counts)
    axes[0, 0].set_xticks(range(len(counts)), ["<0.5", "0.5-1", "1-2", "2-5", "5-10", ">10"])
    axes[0, 0].set_title(f"surface gap (mm), kept: {np.mean(gap[sel] <= 2):.0%} within 2 mm")
    axes[0, 1].hist(m["contact_vertices"][sel], bins=30)
    axes[0, 1].set_title("contact area: vertices within 2 mm of the other hand")
    axes[0, 2].hist(wrist_mm[sel], bins=30)
    axes[0, 2].set_title("wrist distance (mm)")
    axes[1, 0].hist(rel_deg[sel], bins=30)
    axes[1, 0].set_title("relative rotation of the two roots (deg)")
    names, n = np.unique(m["interaction"][sel], return_counts=True) if "interaction" in m else ([], [])
    axes[1, 1].barh(list(names), n)
    axes[1, 1].set_title("interaction types (kept)")
    axes[1, 2].hist(m["coupling_violation_deg"], bins=30)
    axes[1, 2].set_title(f"ring/pinky coupling violation (deg), max {m['coupling_violation_deg'].max():.2f}")
    fig.tight_layout()
    _save(fig, folder / "interaction.png")
    plt.close(fig)
