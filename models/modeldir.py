"""A model directory on disk, without torch: file names, `config.json` reading, and whether the
ONNX graphs beside the weights are present and current.

A model directory holds ``model.safetensors`` + ``config.json`` (models.checkpoint writes them)
and, after ``m2t export``, ``encoder.onnx`` + ``decoder_step.onnx`` + ``onnx.json``
(models.export). ``onnx.json`` records the SHA-256 of the safetensors file the graphs were
exported from, so graphs left over from older weights are never used.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .checkpoint_checks import check_config
from .errors import ModelDirError

FORMAT_VERSION = 1
WEIGHTS, CONFIG = "model.safetensors", "config.json"
ONNX_ENCODER, ONNX_DECODER, ONNX_MANIFEST = "encoder.onnx", "decoder_step.onnx", "onnx.json"
ONNX_FILES = (ONNX_ENCODER, ONNX_DECODER, ONNX_MANIFEST)
ONNX_FORMAT = 1


def read_config(directory) -> dict:
    """config.json of a model directory, checked against its schema with bounds (before anything
    is allocated from it); ModelDirError with one line otherwise."""
    d = Path(directory)
    if not d.is_dir():
        raise ModelDirError(f"{d}: model directory not found")
    for f in (WEIGHTS, CONFIG):
        if not (d / f).is_file():
            raise ModelDirError(f"{d}: not a model directory ({f} missing)")
    if (d / CONFIG).stat().st_size > 64 << 20:
        raise ModelDirError(f"{d / CONFIG}: larger than 64 MiB; not an m2t config")
    try:
        cfg = json.loads((d / CONFIG).read_bytes().decode("utf-8"))
    except json.JSONDecodeError as e:
        raise ModelDirError(f"{d / CONFIG}:{e.lineno}: invalid JSON ({e.msg})") from None
    except (UnicodeDecodeError, RecursionError, OSError) as e:
        raise ModelDirError(f"{d / CONFIG}: unreadable ({e.__class__.__name__})") from None
    if not isinstance(cfg, dict) or cfg.get("format_version") != FORMAT_VERSION:
        got = cfg.get("format_version") if isinstance(cfg, dict) else type(cfg).__name__
        raise ModelDirError(f"{d / CONFIG}: unsupported format_version {got!r}")
    check_config(cfg, d / CONFIG)
    return cfg


def decode_length(meta: dict) -> int:
    """Most tokens a caption may have: the model's training setting (`max_decode_len`), else 30."""
    return int(meta.get("train", {}).get("max_decode_len", 30))


def weights_digest(directory) -> str:
    """SHA-256 (hex) of the directory's model.safetensors."""
    h = hashlib.sha256()
    with open(Path(directory) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def onnx_status(directory) -> str | None:
    """None when the directory has ONNX graphs exported from its current weights, else why not
    (one phrase: missing files, an unreadable manifest, graphs of other weights)."""
    d = Path(directory)
    missing = [f for f in ONNX_FILES if not (d / f).is_file()]
    if missing:
        return f"no ONNX export ({', '.join(missing)} missing; run `m2t export {d}`)"
    try:
        man = json.loads((d / ONNX_MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return f"{ONNX_MANIFEST} is not valid JSON (run `m2t export {d}` again)"
    if man.get("onnx_format") != ONNX_FORMAT:
        return f"{ONNX_MANIFEST}: unsupported onnx_format {man.get('onnx_format')!r} (run `m2t export {d}` again)"
    if man.get("weights_sha256") != weights_digest(d):
        return f"the ONNX graphs were exported from other weights (run `m2t export {d}` again)"
    return None
