"""Where the captioner runs: device choice shared by training, evaluation and captioning, and the
per-process device of a torchrun (DDP) launch, and the installed version stamped into checkpoints."""
from __future__ import annotations

import os
from dataclasses import dataclass

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


@dataclass
class Dist:
    """This process's place in a torchrun launch (world 1: a plain single process)."""
    world: int
    rank: int
    local_rank: int
    device: torch.device

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"

    def ddp_kwargs(self) -> dict:
        """DistributedDataParallel arguments: on CUDA each rank owns exactly its own GPU."""
        if self.device.type == "cuda":
            return {"device_ids": [self.device.index], "output_device": self.device.index}
        return {}


def dist_from_env(device: str = "auto", env=None) -> Dist:
    """Read torchrun's WORLD_SIZE, RANK and LOCAL_RANK. On CUDA, rank r of a node uses GPU
    LOCAL_RANK (`torch.cuda.set_device` is called), never all ranks on cuda:0."""
    env = os.environ if env is None else env
    world, rank = int(env.get("WORLD_SIZE", "1")), int(env.get("RANK", "0"))
    local = int(env.get("LOCAL_RANK", str(rank if world > 1 else 0)))
    dev = pick_device(device)
    if dev.type == "cuda":
        n = torch.cuda.device_count()
        if world > 1 or dev.index is None:
            if local >= n:
                raise DeviceError(f"LOCAL_RANK {local} but this node has {n} GPU(s): launch at most "
                                  f"{n} processes per node (torchrun --nproc_per_node {n})")
            dev = torch.device("cuda", local if world > 1 else 0)
        torch.cuda.set_device(dev)
    return Dist(world, rank, local, dev)
