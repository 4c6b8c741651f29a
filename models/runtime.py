"""Where the captioner runs: device choice shared by training, evaluation and captioning, and the
installed version stamped into checkpoints."""
from __future__ import annotations

import torch

from .errors import DeviceError


def m2t_version() -> str:
    """The installed m2t version (package metadata; "unknown" when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("m2t")
    except PackageNotFoundError:
        return "unknown"


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA GPU is available here (use --device auto or cpu)")
    return torch.device(device)
