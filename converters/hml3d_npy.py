"""HumanML3D-format `.npy` files as input: `new_joints` (T, 22, 3) t2m or (T, 21, 3) KIT, m2t's own
`convert` output, and 263-d `new_joint_vecs` (T, 263), which are turned back into joints
(converters/hml3d_vecs.py). Frame rate: the dataset's (t2m 20, KIT 12.5) unless `fps` is given.
Units are detected from body height (HumanML3D t2m files are metres, KIT files millimetres)
unless given."""
from __future__ import annotations

import io
import textwrap

import numpy as np

from .errors import MotionFileError
from .fileio import read_bytes
from .hml3d_vecs import DIM, vecs_to_joints
from .motion import Motion
from .skeletons import KIT, T2M
from .units import resolve_units


def read(path, units: str | None = None, fps: float | None = None) -> Motion:
    data = read_bytes(path)
    try:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        if not data.startswith(b"\x93NUMPY"):
            why = "no .npy header"
        elif "pickle" in str(e):
            why = "it holds pickled Python objects, which m2t never loads"
        else:
            why = textwrap.shorten(" ".join(str(e).split()), 120, placeholder=" ...")
        raise MotionFileError(f"{path}: not a readable .npy array ({why})") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu":
        raise MotionFileError(f"{path}: expected a numeric array, got {getattr(a, 'dtype', type(a))}")
    kind = "joints"
    if a.ndim == 2 and a.shape[1] == DIM:
        a, kind = vecs_to_joints(a), "263-d vectors"
    if a.ndim != 3 or a.shape[1:] not in ((22, 3), (21, 3)):
        raise MotionFileError(f"{path}: array of shape {a.shape} is neither HumanML3D joints (T, 22, 3) / "
                              f"(T, 21, 3) nor 263-d vectors (T, 263)")
    if a.shape[0] == 0:
        raise MotionFileError(f"{path}: the motion has zero frames")
    if not np.isfinite(a).all():
        raise MotionFileError(f"{path}: NaN or infinite values")
    skel = T2M if a.shape[1] == 22 else KIT
    unit_name, scale, how = resolve_units(a.astype(np.float64), units, path)
    meta = {"units": unit_name, "units_from": how, "layout": f"HumanML3D {kind}", "fps_from": "flag" if fps else
            f"{skel.name} dataset rate"}
    return Motion(positions=(a * scale).astype(np.float32), fps=float(fps or skel.fps), joint_names=skel.joint_names,
                  parents=skel.parents, skeleton=skel.name, source=str(path), up="+y", meta=meta)
