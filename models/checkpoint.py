"""Checkpoints: safetensors weights + one JSON file (config, vocabulary, normalisation, metrics).

A model directory holds ``model.safetensors`` and ``config.json``. Loading never unpickles:
weights come from safetensors, everything else from JSON. Training state for --resume
(optimizer moments, RNG, epoch) lives in ``last/`` in the same two formats.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from m2t.converters.fileio import atomic_path

from .config import CaptionerConfig
from .errors import ModelDirError
from .features import Normalizer
from .network import Captioner
from .vocab import Vocab

FORMAT_VERSION = 1
WEIGHTS, CONFIG = "model.safetensors", "config.json"


@dataclass
class Bundle:
    """Everything needed to caption with a trained model."""
    model: Captioner
    vocab: Vocab
    norm: Normalizer
    downsample: int
    input_scale: float                 # metres -> dataset units (1 for t2m, 1000 for KIT mm)
    meta: dict = field(default_factory=dict)
    path: Path | None = None           # the directory it was loaded from (None when built in memory)

    @property
    def cfg(self) -> CaptionerConfig:
        return self.model.cfg


def _atomic_write(path: Path, write):
    """write(tmp_path) to a temporary file beside `path`, renamed onto it when complete."""
    with atomic_path(path) as tmp:
        write(str(tmp))


def save_bundle(directory, bundle: Bundle) -> Path:
    d = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
    _atomic_write(d / WEIGHTS, lambda p: save_file(state, p))
    cfg = {"format_version": FORMAT_VERSION, "model": bundle.cfg.to_dict(), "vocab": bundle.vocab.to_list(),
           "normalization": bundle.norm.to_dict(), "downsample": bundle.downsample,
           "input_scale": bundle.input_scale, **bundle.meta}
    _atomic_write(d / CONFIG, lambda p: Path(p).write_text(json.dumps(cfg, indent=1)))
    return d


def read_config(directory) -> dict:
    d = Path(directory)
    if not d.is_dir():
        raise ModelDirError(f"{d}: model directory not found")
    for f in (WEIGHTS, CONFIG):
        if not (d / f).is_file():
            raise ModelDirError(f"{d}: not a model directory ({f} missing)")
    try:
        cfg = json.loads((d / CONFIG).read_text())
    except json.JSONDecodeError as e:
        raise ModelDirError(f"{d / CONFIG}:{e.lineno}: invalid JSON ({e.msg})") from None
    if cfg.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(f"{d / CONFIG}: unsupported format_version {cfg.get('format_version')!r}")
    return cfg


def load_bundle(directory, device="cpu") -> Bundle:
    """Load a model directory (no pickle anywhere)."""
    d = Path(directory)
    cfg = read_config(d)
    model = Captioner(CaptionerConfig.from_dict(cfg["model"]))
    try:
        state = load_file(str(d / WEIGHTS), device="cpu")
        model.load_state_dict(state)
    except (RuntimeError, OSError) as e:
        raise ModelDirError(f"{d / WEIGHTS}: weights do not match config.json ({str(e).splitlines()[0]})") from None
    model.to(device).eval()
    meta = {k: v for k, v in cfg.items() if k not in ("format_version", "model", "vocab", "normalization",
                                                    "downsample", "input_scale")}
    return Bundle(model, Vocab.from_list(cfg["vocab"]), Normalizer.from_dict(cfg["normalization"]),
                  int(cfg["downsample"]), float(cfg["input_scale"]), meta, d)


# ------------------------------------------------------------------ training state for --resume
def save_train_state(directory, model, optimizer, meta: dict) -> None:
    d = Path(directory)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for k, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(v)
            tensors[f"opt.{pid}.{k}"] = t.detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    info = {**meta, "param_groups": opt["param_groups"],
            "opt_keys": {str(pid): sorted(st) for pid, st in opt["state"].items()}}
    _atomic_write(d / "state.safetensors", lambda p: save_file(tensors, p))
    _atomic_write(d / "state.json", lambda p: Path(p).write_text(json.dumps(info, indent=1)))


def load_train_state(directory, model, optimizer) -> dict:
    d = Path(directory)
    if not (d / "state.safetensors").is_file() or not (d / "state.json").is_file():
        raise ModelDirError(f"{d}: no training state to resume from")
    tensors = load_file(str(d / "state.safetensors"))
    info = json.loads((d / "state.json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = {int(pid): {k: tensors[f"opt.{pid}.{k}"] for k in keys} for pid, keys in info["opt_keys"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return info
