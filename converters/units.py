"""Length units: names, scales to metres, and detection from body height."""
from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError

# unit name -> metres per unit. "asf" is the CMU/HDM05 ASF unit (inches / 0.45).
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048, "asf": 0.0254 / 0.45}
TYPICAL_HEIGHT_M = 1.7


def body_extent(positions: np.ndarray) -> float:
    """Median over (up to 200 sampled) frames of the largest bounding-box side: the standing
    height for upright motion, roughly the arm span in a T-pose. positions (T, J, 3)."""
    step = max(1, positions.shape[0] // 200)
    p = positions[::step]
    # joints first and contiguous: numpy reduces over the leading axis ~10x faster than over the
    # middle one of (T, J, 3) (the same maxima; docs/performance.md, BVH reading)
    q = np.ascontiguousarray(p.transpose(1, 0, 2)).reshape(p.shape[1], -1)
    return float(np.median((q.max(axis=0) - q.min(axis=0)).reshape(-1, 3).max(axis=-1)))


def detect_units(positions: np.ndarray) -> str:
    """The unit that makes the body extent closest (in log scale) to a 1.7 m person."""
    h = body_extent(positions)
    if not h > 0:
        return "m"
    return min(UNITS, key=lambda u: abs(math.log(h * UNITS[u] / TYPICAL_HEIGHT_M)))


def resolve_units(positions: np.ndarray, units: str | None, path) -> tuple[str, float, str]:
    """-> (unit name, metres per unit, "flag" | "detected from body height")."""
    if units is not None:
        if units not in UNITS:
            raise ConfigError(f"{path}: unknown unit {units!r}; choose one of {', '.join(UNITS)}")
        return units, UNITS[units], "flag"
    u = detect_units(positions)
    return u, UNITS[u], "detected from body height"
