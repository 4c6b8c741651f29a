"""Checkpoints: safetensors weights + one JSON file (config, vocabulary, normalisation, metrics).

A model directory holds ``model.safetensors`` and ``config.json``. Loading never unpickles:
weights come from safetensors, everything else from JSON, and both are checked before anything
is allocated (models/checkpoint_checks.py). Training state for --resume (weights, optimizer
moments, RNG, and the epoch/history as safetensors metadata) is ONE file,
``last/state.safetensors``, written to a temporary name and renamed: a kill leaves either the
previous epoch's state or the new one, never a mix.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from m2t.converters.errors import M2TError
from m2t.converters.fileio import atomic_path

from .checkpoint_checks import check_config, check_finite, check_param_count, check_shapes, safetensors_header
from .config import CaptionerConfig
from .errors import ModelDirError
from .features import Normalizer
from .modeldir import CONFIG, FORMAT_VERSION, ONNX_FILES, WEIGHTS, read_config  # noqa: F401
from .network import Captioner
from .vocab import Vocab

STATE, LEGACY_STATE_JSON, STATE_META_KEY = "state.safetensors", "state.json", "m2t_train_state"


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
    for f in ONNX_FILES:                   # graphs of the previous weights: never left behind
        (d / f).unlink(missing_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
    _atomic_write(d / WEIGHTS, lambda p: save_file(state, p))
    cfg = {"format_version": FORMAT_VERSION, "model": bundle.cfg.to_dict(), "vocab": bundle.vocab.to_list(),
           "normalization": bundle.norm.to_dict(), "downsample": bundle.downsample,
           "input_scale": bundle.input_scale, **bundle.meta}
    _atomic_write(d / CONFIG, lambda p: Path(p).write_text(json.dumps(cfg, indent=1)))
    return d


def load_bundle(directory, device="cpu") -> Bundle:
    """Load a model directory (no pickle anywhere). config.json is checked against its schema,
    the network's size and the weights' header against it, all before allocating; NaN/inf
    weights are refused. Any problem is one ModelDirError line."""
    d = Path(directory)
    cfg = read_config(d)
    try:
        mcfg = CaptionerConfig.from_dict(cfg["model"])
    except M2TError as e:
        raise ModelDirError(f"{d / CONFIG}: {e}") from None
    except TypeError as e:
        raise ModelDirError(f"{d / CONFIG}: bad model config ({e})") from None
    with torch.device("meta"):                       # shapes only, no memory
        shapes = {k: tuple(v.shape) for k, v in Captioner(mcfg).state_dict().items()}
    check_param_count(sum(int(torch.Size(s).numel()) for s in shapes.values()), d / CONFIG)
    check_shapes(safetensors_header(d / WEIGHTS), shapes, d / WEIGHTS)
    try:
        state = load_file(str(d / WEIGHTS), device="cpu")
    except Exception as e:  # SafetensorError, OSError
        raise ModelDirError(f"{d / WEIGHTS}: corrupt safetensors file ({(str(e).splitlines() or [''])[0][:120]})") from None
    check_finite(state, d / WEIGHTS)
    model = Captioner(mcfg)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
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
    # one file, one rename: tensors and the epoch that produced them cannot disagree after a kill
    _atomic_write(d / STATE, lambda p: save_file(tensors, p, metadata={STATE_META_KEY: json.dumps(info)}))
    (d / LEGACY_STATE_JSON).unlink(missing_ok=True)


def read_train_info(directory) -> dict:
    """The epoch, best score, history ... stored with the training state in ``directory``."""
    d = Path(directory)
    if not (d / STATE).is_file():
        raise ModelDirError(f"{d}: no training state to resume from")
    safetensors_header(d / STATE)
    try:
        with safe_open(str(d / STATE), "pt") as f:
            meta = f.metadata() or {}
        if STATE_META_KEY in meta:
            return json.loads(meta[STATE_META_KEY])
        if (d / LEGACY_STATE_JSON).is_file():       # written by m2t before the one-file state
            return json.loads((d / LEGACY_STATE_JSON).read_text())
    except Exception as e:
        raise ModelDirError(f"{d / STATE}: corrupt training state ({e.__class__.__name__})") from None
    raise ModelDirError(f"{d / STATE}: training state without its epoch record; cannot resume")


def load_train_state(directory, model, optimizer) -> dict:
    d = Path(directory)
    info = read_train_info(d)
    try:
        tensors = load_file(str(d / STATE))
    except Exception as e:
        raise ModelDirError(f"{d / STATE}: corrupt training state ({(str(e).splitlines() or [''])[0][:120]})") from None
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        state = {int(pid): {k: tensors[f"opt.{pid}.{k}"] for k in keys} for pid, keys in info["opt_keys"].items()}
        optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})
        torch.set_rng_state(tensors["rng.torch"])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ModelDirError(f"{d / STATE}: training state does not match this model/optimizer "
                            f"({(str(e).splitlines() or [''])[0][:120]})") from None
    return info
