#!/usr/bin/env bash
# Every CUDA path once, with its figures, in under 8 minutes on one GPU:
#     bash benchmarks/gpu_check.sh            # PYTHON=.venv/bin/python by default
# 1. a ResNet-50 IntagHand training step, AMP bf16, batch 64: images/s and peak memory
# 2. one-process NCCL DistributedDataParallel: an all-reduce and training steps
# 3. the pose sampler at batch 6144: poses/s
# 4. Blender Cycles on the GPU, if Blender finds one: s per 256 px sample
# Each part has its own time limit; a part that fails is reported and the others still run. Exit 1 if any failed.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
CHECK="$PYTHON benchmarks/gpu_check.py"

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check: no CUDA GPU visible to torch ($("$PYTHON" -c 'import torch; print(torch.__version__)' 2>&1 | tail -1)): run it on a GPU machine" >&2
    exit 2
fi
"$PYTHON" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"gpu_check: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}")'

failed=0
part() {  # part SECONDS NAME ARGS...: run one section under a time limit
    local limit=$1 name=$2
    shift 2
    local start=$SECONDS
    if timeout "$limit" "$@"; then
        echo "  ($name: $((SECONDS - start)) s)"
    else
        echo "gpu_check: $name FAILED (exit $?, limit ${limit} s)" >&2
        failed=1
    fi
}
part 120 train   $CHECK train --device cuda --backbone resnet50 --size 256 --batch 64 --steps 10
part 90  ddp     $CHECK ddp --device cuda --backbone resnet50 --size 256 --batch 16 --steps 5
part 150 sampler $CHECK sampler --device cuda --batch 6144 --iters 90
part 90  cycles  $CHECK cycles --size 256 --samples 16 --steps 3
exit $failed
