"""The run's report: penetration before/after, joint angles against the limits, a grid of posed pairs, a summary.

Written to a folder beside the output: `penetration.png`, `angles.png`, `poses.png`, `summary.txt`.
"""

from pathlib import Path

import numpy as np

from handmodel.anatomy import LIMITS_DEG, angles_from_pose
from handmodel.atomic import atomic_path, atomic_write_bytes
from handmodel.joints import HANDS, MANO_JOINT_NAMES
from handmodel.skinning import mano_forward

HAND_COLOURS = {"right": (0.85, 0.45, 0.35), "left": (0.35, 0.55, 0.85)}


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)


def summary_text(summary: dict, poses) -> str:
    """The one-screen text summary of a run."""
    m = poses.metrics
    kept = m["kept"].astype(bool)
    pen0, pen1 = m["penetration_mm_before"], m["penetration_mm"]
    ana0, ana1 = m["anatomy_violation_deg_before"], m["anatomy_violation_deg"]
    model = poses.meta.get("hand_model", {})
    touching_kept = np.mean(m["contact_pairs"][kept] > 0) if kept.any() else 0.0
    share = summary["share_kept_pen_le_2mm_and_anatomy_le_0.1deg"]
    rows = [
        f"sample-poses: {summary['num']} poses, {summary['kept']} kept ({kept.mean():.1%})",
        f"  hand model: {model.get('model')} {model.get('hash')}; seeds: {poses.meta.get('seeds', {})}",
        "  max penetration depth per pose (mm)     before    after",
        f"    median                              {np.median(pen0):8.2f} {np.median(pen1):8.2f}",
        f"    90th percentile                     {np.percentile(pen0, 90):8.2f} {np.percentile(pen1, 90):8.2f}",
        f"    share <= 2 mm                       {np.mean(pen0 <= 2):8.1%} {np.mean(pen1 <= 2):8.1%}",
        "  worst excess over the joint limits (deg)",
        f"    max                                 {ana0.max():8.2f} {ana1.max():8.2f}",
        f"    share <= 0.1 deg                    {np.mean(ana0 <= 0.1):8.1%} {np.mean(ana1 <= 0.1):8.1%}",
        f"  hands touching (contact pairs > 0): {np.mean(m['contact_pairs'] > 0):.1%} of all, {touching_kept:.1%} kept",
        f"  kept with penetration <= 2 mm and anatomy <= 0.1 deg: {share:.1%}",
        f"  mean optimization steps per pose: {m['iterations'].mean():.1f}",
    ]
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
    top = max(1.0, float(np.percentile(m["penetration_mm_before"], 99)))
    bins = np.linspace(0, top, 30)
    ax.hist(np.clip(m["penetration_mm_before"], 0, top), bins=bins, alpha=0.6, label="before optimization")
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
            colours = np.clip(np.outer(0.3 + 0.7 * light, HAND_COLOURS[h]), 0, 1)
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

    atomic_write_bytes(folder / "summary.txt", summary_text(summary, poses).encode())
    return folder
