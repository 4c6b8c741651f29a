"""ezc3d's reading of a C3D file, run in a forked child (converters.isolate) and handed back as
plain dicts, lists and numpy arrays: a crash or hang inside ezc3d on a corrupt file becomes one
MotionFileError line. Used by converters.c3d after its own header and parameter checks."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import ezc3d
import numpy as np

from .errors import MotionFileError
from .isolate import run_isolated


@contextmanager
def _disk_path(path: Path, data: bytes):
    """The path ezc3d should open: the file itself, or a temporary copy of gunzipped bytes."""
    if not path.name.lower().endswith(".gz"):
        yield path
        return
    fd, tmp = tempfile.mkstemp(suffix=".c3d")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield Path(tmp)
    finally:
        os.unlink(tmp)


def ezc3d_load(path: Path, data: bytes) -> dict:
    """ezc3d's reading of the file as plain dicts and arrays: {"parameters": {group: {name:
    {"value": ...}}}, "header": {"points": {...}}, "data": {"points": (4, N, T), "meta_points":
    {"residuals": (1, N, T)}}}. ezc3d runs in a child process (converters.isolate): a crash or
    hang inside it on a corrupt file is one error line."""
    with _disk_path(path, data) as p:
        def job():
            try:
                c = ezc3d.c3d(str(p))
            except Exception as e:  # ezc3d raises OSError/RuntimeError/IndexError... with C++ text
                msg = " ".join(str(e).split()).removesuffix(": iostream error")[:200] or e.__class__.__name__
                raise MotionFileError(msg) from None
            params = {g: {k: {"value": _plain(v["value"])} for k, v in grp.items()
                          if isinstance(v, dict) and "value" in v}
                      for g, grp in c["parameters"].items()}
            hp = {k: _plain(v) for k, v in c["header"]["points"].items()}
            arrays = {"points": np.asarray(c["data"]["points"], dtype=np.float64),
                      "residuals": np.asarray(c["data"]["meta_points"]["residuals"], dtype=np.float64)}
            return arrays, {"parameters": params, "header_points": hp}

        arrays, info = run_isolated(job, path, "ezc3d")
    return {"parameters": info["parameters"], "header": {"points": info["header_points"]},
            "data": {"points": arrays["points"], "meta_points": {"residuals": arrays["residuals"]}}}


def _plain(v):
    """A parameter value as JSON-able lists, numbers and strings."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v
