"""Limits every reader checks before it allocates (docs/formats.md, "Limits").

One place for the numbers: frame rates from file headers, ``--fps`` and ``--source-fps``;
file, array and motion sizes; hierarchy depth. A value outside them is a one-line
MotionFileError (or ConfigError for an option) naming the file and the value, never a
multi-gigabyte allocation or a run of minutes.
"""
from __future__ import annotations

import math

from .errors import ConfigError, MotionFileError

MIN_FPS = 1.0                    # Hz, every frame-rate source (file header, --fps, --source-fps)
MAX_FPS = 10_000.0
MAX_FILE_BYTES = 1 << 30         # a motion file, after gunzip (1 GiB)
MAX_ARRAY_BYTES = 512 << 20      # one array of an .npz / body model, as its header declares it (512 MiB)
MAX_SAMPLES = 20_000_000         # frames x joints (or markers) of one motion, read or resampled
MAX_DEPTH = 200                  # nesting of a BVH hierarchy / ASF skeleton
MAX_JOINTS = 10_000              # joints, bones or markers in one file


def check_rate(fps, what: str, path=None, option: bool = False) -> float:
    """`fps` as a float inside [MIN_FPS, MAX_FPS] or a one-line error naming `what` (e.g.
    "Frame Time 1000 s", "POINT:RATE", "--fps"). option=True raises ConfigError (a flag)."""
    try:
        v = float(fps)
    except (TypeError, ValueError):
        v = math.nan
    if not (MIN_FPS <= v <= MAX_FPS):           # also False for NaN
        where = f"{path}: " if path is not None else ""
        cls = ConfigError if option else MotionFileError
        shown = f"{v:g}" if v == v else repr(fps)
        raise cls(f"{where}{what}: frame rate {shown} Hz is outside the supported "
                  f"{MIN_FPS:g}-{MAX_FPS:,.0f} Hz")
    return v


def check_samples(frames: int, joints: int, path, what: str = "motion") -> None:
    """Refuse a motion of more than MAX_SAMPLES frame x joint samples (before allocating it)."""
    if joints > MAX_JOINTS:
        raise MotionFileError(f"{path}: {what} has {joints:,} joints/markers; m2t reads at most {MAX_JOINTS:,}")
    if frames * max(joints, 1) > MAX_SAMPLES:
        raise MotionFileError(f"{path}: {what} of {frames:,} frames x {joints:,} joints is larger than m2t's "
                              f"limit of {MAX_SAMPLES:,} samples (split the take)")


def check_bytes(n: int, path, what: str, limit: int = MAX_FILE_BYTES) -> None:
    if n > limit:
        raise MotionFileError(f"{path}: {what} is {n:,} bytes, more than m2t's limit of {limit:,}")
