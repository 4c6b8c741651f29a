"""Checks on an untrusted model directory, run before anything is allocated.

- ``config.json`` against a schema with bounds (:func:`check_config`): types, ranges, the
  vocabulary's length equal to ``vocab_size``, finite normalisation statistics, and the
  parameter count the sizes imply (:data:`MAX_PARAMS`).
- ``*.safetensors`` header (:func:`safetensors_header`): its JSON, dtypes and that every tensor's
  byte range lies inside the file, so a corrupt or truncated file is one line, not a traceback.
- :func:`check_shapes`: the header's tensors are exactly the ones the config's network has.
- :func:`check_finite`: NaN/inf weights are refused (they caption as an empty sentence).
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from .errors import ModelDirError

MAX_PARAMS = 200_000_000          # 800 MB of float32 weights
MAX_HEADER_BYTES = 100 << 20
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}

# key: (type, low, high); None = no bound
MODEL_SCHEMA = {
    "skeleton": (str, None, None), "vocab_size": (int, 4, 1_000_000), "hidden": (int, 2, 8192),
    "proj": (int, 1, 8192), "emb": (int, 1, 8192), "dropout": (float, 0.0, 1.0),
    "part_pool": (str, None, None), "spatial_scoring": (str, None, None), "output_layer": (str, None, None),
    "sigma_min": (float, 1e-9, 1e3),
}
TOP_SCHEMA = {"downsample": (int, 1, 100), "input_scale": (float, 1e-6, 1e6)}


def _check_value(where: str, key: str, v, typ, lo, hi):
    ok_type = isinstance(v, bool) is False and (isinstance(v, typ) or (typ is float and isinstance(v, int)))
    if not ok_type:
        raise ModelDirError(f"{where}: {key!r} must be {typ.__name__}, got {type(v).__name__} {v!r:.40}")
    if typ in (int, float) and not (math.isfinite(v) and (lo is None or lo <= v) and (hi is None or v <= hi)):
        raise ModelDirError(f"{where}: {key!r} = {v!r} is outside {lo}-{hi}")


def check_config(cfg, where) -> None:
    """Raise ModelDirError unless config.json's model part is sane (see module doc)."""
    if not isinstance(cfg, dict):
        raise ModelDirError(f"{where}: must be a JSON object, got {type(cfg).__name__}")
    for key in ("model", "vocab", "normalization", "downsample", "input_scale"):
        if key not in cfg:
            raise ModelDirError(f"{where}: missing key {key!r}")
    model = cfg["model"]
    if not isinstance(model, dict):
        raise ModelDirError(f"{where}: 'model' must be an object")
    for key, (typ, lo, hi) in MODEL_SCHEMA.items():
        if key in model:
            _check_value(where, f"model.{key}", model[key], typ, lo, hi)
    for key, (typ, lo, hi) in TOP_SCHEMA.items():
        _check_value(where, key, cfg[key], typ, lo, hi)
    vocab = cfg["vocab"]
    if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
        raise ModelDirError(f"{where}: 'vocab' must be a list of words")
    if len(vocab) != model.get("vocab_size") or len(set(vocab)) != len(vocab):
        raise ModelDirError(f"{where}: 'vocab' has {len(vocab)} words ({len(set(vocab))} distinct) but "
                            f"model.vocab_size is {model.get('vocab_size')!r}")
    norm = cfg["normalization"]
    for key in ("mean", "std"):
        vals = norm.get(key) if isinstance(norm, dict) else None
        if not (isinstance(vals, list) and len(vals) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                                  and math.isfinite(x) for x in vals)):
            raise ModelDirError(f"{where}: 'normalization.{key}' must be 3 finite numbers")
    if not all(x > 0 for x in norm["std"]):
        raise ModelDirError(f"{where}: 'normalization.std' must be positive")
    if "synonyms" in cfg:
        from .synonyms import check
        check(cfg["synonyms"], where)


def check_param_count(n: int, where) -> None:
    if n > MAX_PARAMS:
        raise ModelDirError(f"{where}: the sizes in config.json make {n:,} parameters, more than m2t's "
                            f"limit of {MAX_PARAMS:,}")


def safetensors_header(path) -> dict:
    """{name: (dtype, shape)} from a safetensors file, after checking that its header is valid
    JSON and every tensor's byte range lies inside the file (nothing else is read)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("file shorter than its 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > min(MAX_HEADER_BYTES, size - 8):
                raise ValueError(f"header length {n:,} exceeds the file")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ModelDirError(f"{p}: corrupt safetensors file ({e.__class__.__name__}: "
                            f"{(str(e).splitlines() or [''])[0][:120]})") from None
    if not isinstance(header, dict):
        raise ModelDirError(f"{p}: corrupt safetensors file (header is not an object)")
    out, data = {}, size - 8 - n
    for name, t in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (a, b) = t["dtype"], [int(x) for x in t["shape"]], t["data_offsets"]
            nbytes = math.prod(shape) * _DTYPE_BYTES[dtype]
            ok = all(x >= 0 for x in shape) and isinstance(a, int) and isinstance(b, int) \
                and 0 <= a <= b <= data and b - a == nbytes
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise ModelDirError(f"{p}: corrupt safetensors file (tensor {name!r:.60}: bad dtype, shape or "
                                f"offsets; file truncated?)")
        out[name] = (dtype, tuple(shape))
    return out


def check_shapes(header: dict, expected: dict, path) -> None:
    """expected {name: shape} of the network built from config.json."""
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        raise ModelDirError(f"{path}: weights do not match config.json (missing {missing[:3]}, unexpected {extra[:3]})")
    for k, shape in expected.items():
        if tuple(header[k][1]) != tuple(shape):
            raise ModelDirError(f"{path}: weights do not match config.json ({k}: {header[k][1]} in the file, "
                                f"{tuple(shape)} from config.json)")


def check_finite(tensors: dict, path) -> None:
    import torch
    for k, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ModelDirError(f"{path}: weight {k!r} holds NaN or infinite values (corrupt or diverged model)")
