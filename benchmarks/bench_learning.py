"""Does the network learn? The small preset trained on rendered samples against a mean-hands baseline, on CPU.

    .venv/bin/python benchmarks/bench_learning.py [--train 960] [--test 40] [--steps 1600] [--size 64]
        [--work out/bench_learning]

Renders a training and a held-out split with the toolkit's own `sample-poses` and `render` (different seeds, so
no pose is shared; a rerun reuses finished splits), trains `training/configs/tiny.yaml` on the training split,
and evaluates on the held-out one with IntagHand's protocol: MPJPE, PA-MPJPE and MRRPE in mm. The baseline, measured
in the same run, predicts the training split's mean hands (the mean normalised targets, the right hand with its
mean offset from the left) for every image. The training schedule is the tiny preset's, with the learning rate cut
to a tenth for the last quarter of the steps. At the defaults: about 9 min of rendering and 20 min of training on 2
busy CPU cores; 240 renders are too few to generalise from (the network then fits its training split but not the
held-out one).
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handmodel import load_hand_models  # noqa: E402
from handmodel.dataset_io import list_samples, read_meta  # noqa: E402
from handmodel.joints import HANDS  # noqa: E402
from training.checkpoint import load_model  # noqa: E402
from training.config import load_yaml, resolve_config  # noqa: E402
from training.dataset import HandDataset  # noqa: E402
from training.evaluate import predict_dataset  # noqa: E402
from training.mesh_graph import hand_graphs  # noqa: E402
from training.metrics import evaluate_arrays  # noqa: E402
from training.trainer import train  # noqa: E402


def render_split(work: Path, name: str, num: int, seed: int, size: int, identity: dict) -> Path:
    """`sample-poses` then `render` into work/name; a folder that already holds `num` samples made with the active
    hand model (`identity`) is used as it is (a rerun only trains and evaluates again); one made with another hand
    model is rendered again, poses included."""
    poses, out = work / f"{name}_poses.npz", work / name
    if (out / "meta.json").is_file():
        if read_meta(out).get("hand_model", {}).get("hash") == identity["hash"] and len(list_samples(out)) >= num:
            return out
        shutil.rmtree(out)
        for old in work.glob(f"{name}_poses*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    steps = [
        ["sample-poses", "--out", poses, "--num", num, "--seed", seed, "--iters", 30, "--copies", 2, "--no-report"],
        ["render", "--poses", poses, "--out", out, "--resolution", size, "--samples", 4, "--seed", seed],
    ]
    for args in steps:
        r = subprocess.run([sys.executable, "cli.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"bench_learning: `{' '.join(map(str, args[:1]))}` failed: {r.stderr[-1500:]}")
    return out


def mean_hands(dataset: HandDataset) -> dict:
    """The training split's mean normalised joints and vertices per hand (right hand with root_rel added)."""
    sums = {h: {"joints": 0.0, "verts": 0.0} for h in HANDS}
    for i in range(len(dataset)):
        s = dataset[i]
        for h in HANDS:
            offset = s["root_rel"].double().numpy() if h == "right" else 0.0
            for k in ("joints", "verts"):
                sums[h][k] = sums[h][k] + s[f"{h}_{k}"].double().numpy() + offset
    return {h: {k: v / len(dataset) for k, v in sums[h].items()} for h in HANDS}


def summary(m: dict) -> tuple[float, float, float]:
    return m["joint"]["all"], m["pa_mpjpe"]["all"], m["mrrpe"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=960, help="training samples")
    ap.add_argument("--test", type=int, default=40, help="held-out samples")
    ap.add_argument("--steps", type=int, default=1600, help="training steps (batch 8)")
    ap.add_argument("--size", type=int, default=64, help="render and network input side, pixels")
    ap.add_argument("--work", default=str(ROOT / "out" / "bench_learning"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    models = load_hand_models(quiet=True)
    t0 = time.perf_counter()
    train_dir = render_split(work, "train", a.train, 0, a.size, models.identity)
    test_dir = render_split(work, "test", a.test, 1, a.size, models.identity)
    t_render = time.perf_counter() - t0

    user = load_yaml(ROOT / "training" / "configs" / "tiny.yaml")
    user["data"] = {"renderih": str(train_dir)}
    user["model"]["input_size"] = a.size
    per_epoch = max(1, a.train // 8)
    # The tiny preset's schedule scaled to this run: a tenth of the rate for the last quarter of the steps.
    user["train"].update(max_steps=a.steps, batch_size=8, steps_per_epoch=per_epoch,
                         lr_steps=[max(1, round(0.75 * a.steps / per_epoch))])  # fmt: skip
    cfg = resolve_config(user)
    t1 = time.perf_counter()
    result = train(cfg, work / "run", progress=False)
    t_train = time.perf_counter() - t1

    graphs = hand_graphs(models)
    net, _ = load_model(work / "run", models, graphs)
    test = HandDataset(test_dir, models, graphs, a.size, augment=None)
    pred, gt, scale = predict_dataset(net, test, progress=False)
    model_m = evaluate_arrays(pred, gt, scale)
    mean = mean_hands(HandDataset(train_dir, models, graphs, a.size, augment=None))
    base = {h: {k: np.repeat(mean[h][k][None], len(test), axis=0) for k in ("joints", "verts")} for h in HANDS}
    base_m = evaluate_arrays(base, gt, scale)

    print(
        f"\nlearning check: tiny preset, {len(test)} held-out / {a.train} training renders at {a.size} px, "
        f"{result['step']} steps (render {t_render:.0f} s, train {t_train:.0f} s, torch {torch.__version__})"
    )
    print(f"{'':22s} {'MPJPE mm':>9s} {'PA-MPJPE mm':>12s} {'MRRPE mm':>9s}")
    for name, m in (("mean-hands baseline", base_m), ("trained network", model_m)):
        j, pa, rr = summary(m)
        print(f"{name:22s} {j:9.2f} {pa:12.2f} {rr:9.2f}")
    (jb, pb, rb), (jm, pm, rm) = summary(base_m), summary(model_m)
    print(f"{'network / baseline':22s} {jm / jb:9.2f} {pm / pb:12.2f} {rm / rb:9.2f}")


if __name__ == "__main__":
    main()
