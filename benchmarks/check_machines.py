"""The sampler's figures under stand-ins for other CPUs: one hand-model hash, and check_poses' targets met.

    .venv/bin/python benchmarks/check_machines.py                 # --num 256 --seed 0 under each setting below
    .venv/bin/python benchmarks/check_machines.py --num 64 --settings default,aten-default

For each setting (OpenBLAS's kernel, torch's CPU kernels) in a fresh hand-model cache: `assets info --json` (the
hash), `sample-poses --num N --seed S` (built-in prior, stand-in, default options) and `benchmarks/check_poses.py`
on the file. Prints one row per setting: the hash, whether the poses file's arrays equal the first setting's, and
check_poses' figures with the targets it missed. Exit 1 if the hashes differ or a target is missed.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {
    "default": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "blas-sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "blas-haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "blas-1-thread": {"OPENBLAS_NUM_THREADS": "1"},
}
FIGURES = (
    "kept_share",
    "kept_max_penetration_mm",
    "kept_share_touching_2mm",
    "kept_median_vertices_within_2mm",
    "kept_share_angles_near_limit",
    "diversity_mm",
)
MACHINE_VARIABLES = ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "MANO_DIR")


def _run(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True)


def _arrays_sha256(path: Path) -> str:
    """A hash of every array in the poses file (the zip's own bytes hold write times)."""
    digest = hashlib.sha256()
    with np.load(path) as f:
        for key in sorted(f.files):
            digest.update(key.encode() + np.ascontiguousarray(f[key]).tobytes())
    return digest.hexdigest()


def measure(name: str, num: int, seed: int, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in MACHINE_VARIABLES}
    env.update(SETTINGS[name], HANDKIT_CACHE=str(work / name / "cache"))
    info = _run(["cli.py", "assets", "info", "--json"], env)
    if info.returncode:
        sys.exit(f"{name}: assets info failed: {info.stderr.strip().splitlines()[-1]}")
    poses = work / name / "poses.npz"
    sampled = _run(["cli.py", "sample-poses", "--out", poses, "--num", num, "--seed", seed, "--no-report"], env)
    if sampled.returncode:
        sys.exit(f"{name}: sample-poses failed: {sampled.stderr.strip().splitlines()[-1]}")
    checked = _run(["benchmarks/check_poses.py", poses, "--json"], env)
    if not checked.stdout.strip():
        sys.exit(f"{name}: check_poses failed: {checked.stderr.strip().splitlines()[-1]}")
    figures = json.loads(checked.stdout)
    return {
        "hash": json.loads(info.stdout)["hash"],
        "poses_sha256": _arrays_sha256(poses),
        "figures": {k: figures[k] for k in FIGURES},
        "missed": [k for k, ok in figures["targets"].items() if not ok],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, of: {', '.join(SETTINGS)}")
    args = ap.parse_args()
    names = args.settings.split(",")
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        ap.error(f"--settings: unknown {', '.join(unknown)}")
    print(f"sample-poses --num {args.num} --seed {args.seed}, then check_poses, per setting")
    print(f"{'setting':18s} {'hash':16s} {'same poses':10s} " + " ".join(f"{f[:14]:>14s}" for f in FIGURES))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            row = rows[name] = measure(name, args.num, args.seed, Path(tmp))
            same = "yes" if row["poses_sha256"] == rows[names[0]]["poses_sha256"] else "no"
            values = " ".join(f"{row['figures'][f]:14.3f}" for f in FIGURES)
            missed = f"  MISSED {', '.join(row['missed'])}" if row["missed"] else ""
            print(f"{name:18s} {row['hash']:16s} {same:10s} {values}{missed}", flush=True)
    one_hash = len({r["hash"] for r in rows.values()}) == 1
    print("one hand-model hash" if one_hash else "DIFFERENT hand-model hashes")
    return 0 if one_hash and not any(r["missed"] for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
