"""Where the captioner runs: device choice shared by training, evaluation and captioning."""
from __future__ import annotations

import torch

from m2t.converters.errors import M2TError


class DeviceError(M2TError):
    """The requested device is not available here."""


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA GPU is available here (use --device auto or cpu)")
    return torch.device(device)
