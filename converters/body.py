"""The canonical body: the one skeleton every motion is retargeted onto by default.

HumanML3D retargets every motion onto the skeleton of one reference motion (its "000021") and
scales the root trajectory by the ratio of leg lengths, so that speed and stride do not depend on
the performer's size. m2t does the same with the same bone lengths, measured from the shipped
sample (every file of ``humanml3d-sample/new_joints`` shares them to within 3e-6 m, all frames)::

    python -c "import numpy as np, glob; from m2t.converters.skeletons import T2M; p = np.array(T2M.parents); \
      A = np.concatenate([np.linalg.norm(a[:, 1:] - a[:, p[1:]], axis=-1) for a in \
      (np.load(f).astype(float) for f in sorted(glob.glob('$M2T_DATA/humanml3d-sample/new_joints/*.npy')))]); \
      print(np.round(A.mean(0), 6).tolist(), (A.max(0) - A.min(0)).max())"

The reference body is slightly asymmetric (left thigh 0.3936 m, right 0.3902 m), as HumanML3D's is.
The KIT body is derived from it (``canonical_rest`` through ``KIT_FROM_T2M``).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from .skeletons import KIT_FROM_T2M, T2M, Skeleton, weight_matrix
from .units import TYPICAL_HEIGHT_M, UNITS

# length (metres) of the bone ending at each t2m joint (parent -> joint), HumanML3D reference skeleton
HML3D_BONE_LENGTHS = {
    "left_hip": 0.103074, "right_hip": 0.109883, "spine1": 0.131568, "left_knee": 0.393623,
    "right_knee": 0.390188, "spine2": 0.14319, "left_ankle": 0.432433, "right_ankle": 0.425643,
    "spine3": 0.057365, "left_foot": 0.143382, "right_foot": 0.149419, "neck": 0.21936,
    "left_collar": 0.137487, "right_collar": 0.143383, "head": 0.103039, "left_shoulder": 0.131614,
    "right_shoulder": 0.122984, "left_elbow": 0.25684, "right_elbow": 0.263092,
    "left_wrist": 0.266012, "right_wrist": 0.269876,
}
STATURE_RANGE_M = (1.0, 2.3)
_LEFT_ANKLE = {"t2m": "left_ankle", "kit": "LA"}


@lru_cache(maxsize=None)
def canonical_rest_t2m() -> np.ndarray:
    """(22, 3) T-pose of the canonical body: SMPL rest directions, HumanML3D bone lengths, feet at y=0."""
    rest = T2M.rest
    out = np.zeros_like(rest)
    for j, p in enumerate(T2M.parents):
        if p >= 0:
            d = rest[j] - rest[p]
            out[j] = out[p] + d / np.linalg.norm(d) * HML3D_BONE_LENGTHS[T2M.joint_names[j]]
    out[:, 1] -= out[:, 1].min()
    return out


def canonical_rest(skel: Skeleton) -> np.ndarray:
    if skel.name == "t2m":
        return canonical_rest_t2m()
    return weight_matrix(KIT_FROM_T2M, skel.joint_names, T2M.joint_names) @ canonical_rest_t2m()


def bone_lengths(positions: np.ndarray, parents) -> np.ndarray:
    """(..., J, 3) -> (..., J) length of the bone ending at each joint (0 at roots)."""
    par = np.asarray(parents)
    par_safe = np.where(par < 0, np.arange(len(par)), par)
    return np.linalg.norm(positions[..., :, :] - positions[..., par_safe, :], axis=-1)


def target_lengths(skel: Skeleton) -> np.ndarray:
    """(J,) canonical length of the bone ending at each joint of `skel`."""
    return bone_lengths(canonical_rest(skel), skel.parents)


def leg_length(positions: np.ndarray, skel: Skeleton) -> float:
    """Mean over frames and both legs of hip->knee + knee->ankle (metres)."""
    lens = bone_lengths(positions, skel.parents)
    la = skel.index(_LEFT_ANKLE[skel.name])
    total = 0.0
    for ankle in (la, skel.mirror[la]):
        knee = skel.parents[ankle]
        total += float(np.mean(lens[..., ankle] + lens[..., knee]))
    return total / 2


def _trunk_chain(positions: np.ndarray, skel: Skeleton) -> float:
    """Median-over-frames length of the chain ankle -> knee -> hip -> pelvis -> ... -> head
    (the two legs averaged)."""
    p = positions if positions.ndim == 3 else positions[None]
    lens = np.median(bone_lengths(p, skel.parents), axis=0)
    j, total = skel.head, 0.0
    while skel.parents[j] >= 0:
        total += lens[j]
        j = skel.parents[j]
    la = skel.index(_LEFT_ANKLE[skel.name])
    for ankle in (la, skel.mirror[la]):
        knee = skel.parents[ankle]
        total += (lens[ankle] + lens[knee] + lens[skel.parents[knee]]) / 2
    return float(total)


def stature_m(positions: np.ndarray, skel: Skeleton) -> float:
    """Estimated standing height (metres) of a body on `skel` joints: its ankle-to-head chain
    length scaled so that the canonical body measures TYPICAL_HEIGHT_M (1.70 m)."""
    ref = _trunk_chain(canonical_rest(skel), skel)
    return _trunk_chain(positions, skel) * TYPICAL_HEIGHT_M / ref


def stature_warning(stature: float, source: str, units: str | None, units_from: str | None) -> str | None:
    """A one-line warning with the likely cause when the stature is outside STATURE_RANGE_M."""
    lo, hi = STATURE_RANGE_M
    if lo <= stature <= hi:
        return None
    msg = f"{source}: the body is {stature:.2f} m tall (outside {lo:g}-{hi:g} m)"
    if units in UNITS:
        in_file = stature / UNITS[units]
        best = min(UNITS, key=lambda u: abs(np.log(in_file * UNITS[u] / TYPICAL_HEIGHT_M)))
        if best != units and abs(np.log(in_file * UNITS[best] / TYPICAL_HEIGHT_M)) < np.log(1.35):
            return (f"{msg}; likely cause: the file is in {best}, not {units} ({units_from or 'as read'}); "
                    f"pass --units {best}")
        return (f"{msg}; likely cause: a scaled character or export scale (units {units}, "
                f"{units_from or 'as read'}); check the export scale or pass --units")
    return f"{msg}; likely cause: a unit or export-scale error; pass --units"


class MotionWarning(UserWarning):
    """A warning that is also recorded in the Motion's ``meta["warnings"]`` (so a caller that
    reports those, e.g. the caption JSON, may filter this category to avoid saying it twice)."""


@contextmanager
def recorded_warnings_only():
    """Inside, MotionWarnings are only recorded in `meta["warnings"]`, not emitted: for callers
    that report a Motion's warnings themselves (caption and view results carry them; emitting
    them too printed each twice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MotionWarning)
        yield


def warn(meta: dict, message: str) -> None:
    """Record a warning on a Motion's meta (shown by `info` and in caption JSON) and emit it."""
    meta.setdefault("warnings", []).append(message)
    warnings.warn(message, MotionWarning, stacklevel=3)
