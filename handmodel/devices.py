"""`--device`: a torch device name checked against this machine (torch is imported only when a GPU is named)."""

import re

from handmodel.errors import InputError


def check_device(device: str, kinds: tuple[str, ...] = ("cpu", "cuda", "mps", "auto")) -> None:
    """InputError unless `device` is one of `kinds` (cuda also as cuda:N) and, for a GPU, it exists here."""
    names = [k for k in kinds if k != "cuda"] + (["cuda", "cuda:N"] if "cuda" in kinds else [])
    pattern = "|".join(re.escape(k) for k in kinds if k != "cuda") + ("|cuda(:\\d+)?" if "cuda" in kinds else "")
    if not re.fullmatch(pattern, device):
        raise InputError(f"--device {device}: expected {', '.join(names)}")
    if device in ("cpu", "auto"):
        return
    import torch

    if device.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if int(device.partition(":")[2] or 0) >= n:
            where = f"only {n} CUDA device(s) here" if n else "no CUDA GPU on this machine"
            raise InputError(f"--device {device}: {where}; use --device cpu")
    elif not torch.backends.mps.is_available():
        raise InputError(f"--device {device}: no MPS device on this machine; use --device cpu")
