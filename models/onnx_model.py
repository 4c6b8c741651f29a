"""Choosing the captioning backend, and a model folder loaded for ONNX Runtime (no torch).

``backend``: ``"torch"`` (models.checkpoint.load_bundle), ``"onnx"`` (this module: the graphs
of models.export in ONNX Runtime sessions, decoding by models.ort_decoding), or ``"auto"``: onnx
when the folder holds graphs exported from its current weights (models.modeldir.onnx_status),
torch otherwise. The shipped default model has its graphs, so `m2t caption` never loads torch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from m2t.converters.errors import ConfigError

from .config import CaptionerConfig
from .errors import DeviceError, ModelDirError
from .features import Normalizer
from .modeldir import ONNX_MANIFEST, onnx_status, read_config
from .stems import seed_stems
from .vocab import Vocab

BACKENDS = ("auto", "torch", "onnx")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r} is not one of: {', '.join(BACKENDS)}")
    return backend


def choose_backend(model_dir, backend: str = "auto") -> str:
    """"torch" or "onnx" for this folder; ModelDirError when onnx is asked for and not usable."""
    check_backend(backend)
    if backend == "torch":
        return "torch"
    why = onnx_status(model_dir)
    if why is None:
        return "onnx"
    if backend == "onnx":
        raise ModelDirError(f"{model_dir}: --backend onnx: {why}")
    return "torch"


@dataclass
class OnnxBundle:
    """Everything captioning needs, like models.checkpoint.Bundle, with ONNX Runtime sessions in
    place of the torch module (`runner`)."""
    runner: object                     # models.ort_decoding.OrtCaptioner
    cfg: CaptionerConfig
    vocab: Vocab
    norm: Normalizer
    downsample: int
    input_scale: float
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    backend: str = "onnx"


def load_onnx_bundle(directory, device: str = "auto", threads: int | None = None) -> OnnxBundle:
    """A model folder with its ONNX graphs, ready to caption on ONNX Runtime (CUDA when usable)."""
    from .ort_decoding import OrtCaptioner
    d = Path(directory)
    cfg = read_config(d)
    why = onnx_status(d)
    if why is not None:
        raise ModelDirError(f"{d}: {why}")
    mcfg = CaptionerConfig.from_dict(cfg["model"])
    stems = json.loads((d / ONNX_MANIFEST).read_text()).get("stems", {})
    if isinstance(stems, dict):
        seed_stems((str(w), str(s)) for w, s in stems.items())
    try:
        runner = OrtCaptioner(d, device=device, threads=threads, hidden=mcfg.hidden)
    except DeviceError:
        raise
    except Exception as e:  # noqa: BLE001 - a corrupt graph file: one line, not a traceback
        raise ModelDirError(f"{d}: cannot load its ONNX graphs ({e.__class__.__name__}: "
                            f"{(str(e).splitlines() or [''])[0][:160]}); run `m2t export {d}` again") from None
    meta = {k: v for k, v in cfg.items() if k not in ("format_version", "model", "vocab", "normalization",
                                                    "downsample", "input_scale")}
    return OnnxBundle(runner, mcfg, Vocab.from_list(cfg["vocab"]), Normalizer.from_dict(cfg["normalization"]),
                      int(cfg["downsample"]), float(cfg["input_scale"]), meta, d)
