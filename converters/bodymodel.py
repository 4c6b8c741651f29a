"""SMPL / SMPL-H / SMPL-X body-model files loaded WITHOUT running code from them, and their
22 body joints.

- ``.npz`` (smplx's ``SMPLH_MALE.npz``, AMASS's ``smplh/male/model.npz``): read member by member
  with :mod:`converters.safe_npz` (no pickle: an object member is refused, sizes are checked).
- ``.pkl`` (``SMPL_NEUTRAL.pkl``): a restricted unpickler that can only build numpy arrays,
  numpy dtypes/scalars and the *data* of scipy sparse matrices and chumpy arrays (kept as plain
  state, densified here; no scipy or chumpy code runs). Any other global in the pickle
  (``os.system``, ``builtins.eval``, ...) is refused with a line telling how to convert the file.

Only four arrays are used: ``v_template`` (V, 3), ``shapedirs`` (V, 3, S), ``J_regressor``
(J, V) and ``kintree_table`` (2, J). Joints are what smplx computes for them: rest joints
``J = J_regressor @ (v_template + shapedirs[..., :n] @ betas)`` (pose blend shapes do not move
joints), posed by forward kinematics from the pelvis, plus ``trans``.
"""
from __future__ import annotations

import codecs
import copyreg
import importlib
import io
import pickle
from pathlib import Path

import numpy as np

from . import limits
from .errors import ConfigError
from .fileio import read_bytes
from .safe_npz import SafeNpz

KEYS = ("v_template", "shapedirs", "J_regressor", "kintree_table")
SHAPE_SPACE = {"smpl": 300, "smplh": 16, "smplx": 300}      # smplx's SHAPE_SPACE_DIM per model
CONVERT_HINT = (f"use the body model's .npz release instead (SMPL+H and SMPL-X ship one), or an .npz holding "
                f"its arrays {', '.join(KEYS)} exported by the tool you got the model from; m2t never "
                f"unpickles code")


class _State:
    """Stand-in for a class whose data we accept but whose code we never run."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _Sparse(_State):
    pass


class _Chumpy(_State):
    pass


def _numpy_attr(mod: str, name: str):
    for m in (mod, mod.replace("numpy.core", "numpy._core"), mod.replace("numpy._core", "numpy.core")):
        try:
            return getattr(importlib.import_module(m), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"{mod}.{name} not found")


_ALLOWED_NUMPY = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                  ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
                  ("numpy._core.numeric", "_frombuffer")}


class RestrictedUnpickler(pickle.Unpickler):
    """Builds numpy arrays and the state of sparse / chumpy arrays; refuses every other global."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_NUMPY:
            return _numpy_attr(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        if (module, name) in (("builtins", "object"), ("__builtin__", "object")):
            return object
        if module.startswith("scipy.sparse") and name in ("csc_matrix", "csr_matrix", "csc_array", "csr_array"):
            return type(name, (_Sparse,), {"fmt": name[:3]})
        if module.split(".")[0] == "chumpy":
            return _Chumpy
        raise pickle.UnpicklingError(f"refuses to load {module}.{name}")


def _latin1(text, encoding="utf-8"):
    """_codecs.encode as pickles of bytes use it, limited to text codecs."""
    if str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError(f"refuses codec {encoding!r}")
    return codecs.encode(text, encoding)


def _reconstructor(cls, base, state):
    """copyreg._reconstructor limited to the stand-in classes."""
    if not (isinstance(cls, type) and issubclass(cls, _State)) or base is not object:
        raise pickle.UnpicklingError(f"refuses to rebuild {getattr(cls, '__name__', cls)!r}")
    return copyreg._reconstructor(cls, base, state)


def load(model_file) -> dict:
    """{key: ndarray} for KEYS from a body-model file; ConfigError naming the file otherwise."""
    f = Path(model_file)
    try:
        raw = read_bytes(f)
    except Exception as e:
        raise ConfigError(str(e)) from None
    if f.suffix.lower() == ".npz" or raw[:2] == b"PK":
        z = SafeNpz(raw, f, ConfigError)
        missing = [k for k in KEYS if k not in z]
        if missing:
            raise ConfigError(f"{f}: not an SMPL-family body model (no {', '.join(missing)})")
        out = {k: z[k] for k in KEYS}
    else:
        try:
            d = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
        except pickle.UnpicklingError as e:
            raise ConfigError(f"{f}: {e}: a body-model .pkl may only hold numpy arrays and sparse "
                              f"matrices (m2t never runs code from a data file); {CONVERT_HINT}") from None
        except Exception as e:  # truncated, not a pickle, bad array state, ...
            raise ConfigError(f"{f}: cannot read body model ({e.__class__.__name__}: "
                              f"{(str(e).splitlines() or [''])[0][:200]})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{f}: not an SMPL-family body model (a pickle of {type(d).__name__})")
        missing = [k for k in KEYS if k not in d]
        if missing:
            raise ConfigError(f"{f}: not an SMPL-family body model (no {', '.join(missing)})")
        out = {k: _dense(f, k, d[k]) for k in KEYS}
    return _validate(f, out)


def _dense(f, key, v) -> np.ndarray:
    if isinstance(v, _Sparse):
        st = v.state if isinstance(v.state, dict) else {}
        shape = st.get("_shape", st.get("shape"))
        try:
            data, ind, ptr = (np.asarray(st[k]) for k in ("data", "indices", "indptr"))
            rows, cols = (int(n) for n in shape)
            if rows * cols * 8 > limits.MAX_ARRAY_BYTES:
                raise ValueError(f"shape {rows} x {cols} too large")
            out = np.zeros((rows, cols))
            outer = cols if v.fmt == "csc" else rows
            if len(ptr) != outer + 1 or ptr[-1] > len(data) or len(ind) < ptr[-1]:
                raise ValueError("index pointers out of range")
            for o in range(outer):
                sl = slice(int(ptr[o]), int(ptr[o + 1]))
                if v.fmt == "csc":
                    out[ind[sl], o] = data[sl]
                else:
                    out[o, ind[sl]] = data[sl]
            return out
        except Exception as e:
            raise ConfigError(f"{f}: {key!r}: bad sparse matrix ({e.__class__.__name__}: {e})") from None
    if isinstance(v, _Chumpy):
        st = v.state if isinstance(v.state, dict) else {}
        if isinstance(st.get("x"), np.ndarray):
            return st["x"]
        raise ConfigError(f"{f}: {key!r} is a chumpy expression, not an array; {CONVERT_HINT}")
    if not isinstance(v, np.ndarray):
        raise ConfigError(f"{f}: {key!r} is a {type(v).__name__}, not an array")
    return v


def _validate(f, d: dict) -> dict:
    def bad(msg):
        return ConfigError(f"{f}: not a usable SMPL-family body model ({msg})")
    for k, v in d.items():
        if v.dtype.kind not in "fiu":
            raise bad(f"{k!r} has dtype {v.dtype}")
    vt, sd, jr, kt = (np.asarray(d[k]) for k in KEYS)
    if vt.ndim != 2 or vt.shape[1] != 3 or sd.ndim != 3 or sd.shape[:2] != vt.shape or jr.ndim != 2 \
            or jr.shape[1] != vt.shape[0] or jr.shape[0] < 22 or kt.ndim != 2 or kt.shape[0] != 2 \
            or kt.shape[1] != jr.shape[0]:
        raise bad(f"shapes v_template {vt.shape}, shapedirs {sd.shape}, J_regressor {jr.shape}, "
                  f"kintree_table {kt.shape}")
    out = {k: np.asarray(v, dtype=np.float64) for k, v in d.items() if k != "kintree_table"}
    for k, v in out.items():
        if not np.isfinite(v).all():
            raise bad(f"{k!r} is not finite (NaN or inf)")
    out["parents"] = np.where(kt[0] >= 2**31 - 1, -1, kt[0]).astype(np.int64)
    return out


def rest_joints(model: dict, model_type: str, betas: np.ndarray) -> np.ndarray:
    """(J, 3) rest joints for `betas`, truncated to the model's shape space (as smplx does)."""
    sd = model["shapedirs"]
    n = min(len(betas), sd.shape[-1], SHAPE_SPACE.get(model_type, sd.shape[-1]))
    v = model["v_template"] + (sd[..., :n] @ np.asarray(betas[:n], dtype=np.float64) if n else 0.0)
    return model["J_regressor"] @ v
