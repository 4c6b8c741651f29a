"""Canonicalisation as HumanML3D does it: Y up, floor at y = 0, root XZ at the origin and facing
+Z at frame 0 (left side on +X), resampled to the dataset rate, retargeted onto the canonical body
(converters/body.py) unless the source proportions are kept.

All functions take and return (T, J, 3) float arrays in metres and are pure.
"""
from __future__ import annotations

import numpy as np

from . import limits
from .errors import ConfigError, MotionFileError
from .motion import Motion
from .rotations import rotation_y
from .skeletons import Skeleton, get_skeleton

# proper rotations taking each axis direction to +Y, as functions of (x, y, z)
_TO_Y_UP = {
    "+y": np.eye(3),
    "-y": np.diag([1.0, -1.0, -1.0]),
    "+z": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),   # (x, y, z) -> (x, z, -y)
    "-z": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),   # (x, y, z) -> (x, -z, y)
    "+x": np.array([[0, -1.0, 0], [1, 0, 0], [0, 0, 1]]),   # (x, y, z) -> (-y, x, z)
    "-x": np.array([[0, 1.0, 0], [-1, 0, 0], [0, 0, 1]]),   # (x, y, z) -> (y, -x, z)
}
UP_AXES = tuple(_TO_Y_UP)


def detect_up(positions: np.ndarray, skel: Skeleton) -> str:
    """The axis direction closest to the mean feet-to-head vector."""
    v = (positions[:, skel.head] - positions[:, list(skel.feet)].mean(axis=1)).mean(axis=0)
    k = int(np.argmax(np.abs(v)))
    return ("+" if v[k] >= 0 else "-") + "xyz"[k]


def to_y_up(positions: np.ndarray, up: str) -> np.ndarray:
    if up not in _TO_Y_UP:
        raise ConfigError(f"unknown up axis {up!r}; choose one of {', '.join(UP_AXES)}")
    return positions @ _TO_Y_UP[up].T


def resample(positions: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear interpolation in time; the first frame is kept, the last one not extrapolated."""
    T = positions.shape[0]
    if abs(fps_in - fps_out) < 1e-9 or T == 1:
        return positions
    n = int(np.floor((T - 1) * fps_out / fps_in + 1e-4)) + 1     # 1e-4 frame: BVH frame times are rounded
    t = np.arange(n) * (fps_in / fps_out)          # in input frames
    i0 = np.minimum(np.floor(t).astype(int), T - 1)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (t - i0)[:, None, None]
    return positions[i0] * (1 - w) + positions[i1] * w


def make_bones_uniform(positions: np.ndarray, skel: Skeleton) -> np.ndarray:
    """Retarget onto the canonical body (converters/body.py): every bone keeps its direction and
    gets the canonical length; the root path is scaled by the ratio of leg lengths (canonical /
    source, mean over frames and both legs), as HumanML3D's uniform_skeleton. A bone of zero
    length in some frame takes the canonical rest direction there."""
    from .body import canonical_rest, leg_length, target_lengths
    lengths = target_lengths(skel)
    rest = canonical_rest(skel)
    scale = leg_length(rest[None], skel) / max(leg_length(positions, skel), 1e-9)
    out = np.empty_like(positions)
    out[:, 0] = positions[:, 0] * scale
    for j, p in enumerate(skel.parents):
        if p < 0:
            continue
        d = positions[:, j] - positions[:, p]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        r = rest[j] - rest[p]
        d = np.where(n > 1e-9, d / np.maximum(n, 1e-12), r / np.linalg.norm(r))
        out[:, j] = out[:, p] + d * lengths[j]
    return out


def facing_angles(frames: np.ndarray, skel: Skeleton) -> np.ndarray:
    """Rotation about +Y (radians) that turns the body at each pose of `frames` (..., J, 3) to
    face +Z -> (...) float64; NaN where the facing is undefined (hips and shoulders on one
    vertical line)."""
    r_hip, l_hip, r_sh, l_sh = skel.face
    across = (frames[..., r_hip, :] - frames[..., l_hip, :]) + (frames[..., r_sh, :] - frames[..., l_sh, :])
    forward = np.cross([0.0, 1.0, 0.0], across)
    angle = np.arctan2(forward[..., 0], forward[..., 2])   # angle of forward from +Z towards +X
    return np.where(np.hypot(forward[..., 0], forward[..., 2]) < 1e-9, np.nan, angle)


def facing_angle(frame: np.ndarray, skel: Skeleton) -> float:
    """Rotation about +Y (radians) that turns the body at `frame` (J, 3) to face +Z."""
    angle = float(facing_angles(frame, skel))
    if np.isnan(angle):
        raise MotionFileError("cannot tell which way the body faces at frame 0 (hips and shoulders coincide)")
    return angle


def canonicalize(m: Motion, fps: float | None = None, up: str | None = None,
                 keep_proportions: bool = False) -> Motion:
    """Motion on t2m/kit joints (any axes, any rate) -> HumanML3D canonical frame.

    up: the source up axis ("+y", "+z", ...), detected from the feet-to-head direction when None.
    keep_proportions: keep the source's bone lengths instead of retargeting onto the canonical body.
    """
    skel = get_skeleton(m.skeleton)
    fps = limits.check_rate(skel.fps if fps is None else fps, "--fps", option=True)
    n_out = int(np.floor((m.n_frames - 1) * fps / m.fps + 1e-9)) + 1
    limits.check_samples(n_out, m.n_joints, m.source, f"resampled to {fps:g} fps, the motion")
    p = m.positions.astype(np.float64)
    up_used = up or detect_up(p, skel)
    p = to_y_up(p, up_used)
    p = resample(p, m.fps, fps)
    if not keep_proportions:
        p = make_bones_uniform(p, skel)
    floor = p[..., 1].min()
    p[..., 1] -= floor
    origin = p[0, 0, [0, 2]].copy()
    p[..., 0] -= origin[0]
    p[..., 2] -= origin[1]
    try:
        angle = facing_angle(p[0], skel)
    except MotionFileError as e:
        raise MotionFileError(f"{m.source}: {e}") from None
    p = p @ rotation_y(-angle).T
    meta = {**m.meta, "canonical": {"up_from": up_used, "up_detected": up is None, "fps_from": round(m.fps, 4),
                                    "floor_offset_m": round(float(floor), 4),
                                    "origin_offset_m": [round(float(x), 4) for x in origin],
                                    "facing_rotation_deg": round(float(np.degrees(-angle)), 2),
                                    "canonical_body": not keep_proportions}}
    return m.with_(positions=p.astype(np.float32), fps=fps, meta=meta)
