"""Step 1 of dense captioning (models/dense.py): the labelling windows of a take (lengths
`SCALES` × `--window`, every `--hop`), the height of its floor, and each window's model input,
placed as training clips are (`compose.place_at_origin`). A take's windows of one length are
placed and normalised as one stack: the same numbers as one at a time, ~2.35x faster
(`benchmarks/window_features.py`).
"""
from __future__ import annotations

import math

import numpy as np

from m2t.converters.errors import ConfigError

from .compose import place_at_origin
from .results import SCALES, check_windowing

FLOOR_WINDOW_S = 2.0   # a take's floor: the median over windows of this length of their lowest joint height
FLOOR_TOLERANCE_M = 0.1   # re-floored when that median is higher than this above y = 0


def window_lengths(window_s: float) -> list[float]:
    """The labelling window lengths (s) for `--window` (module docstring)."""
    return [k * window_s for k in SCALES]


def plan_windows(n_frames: int, fps: float, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """[(first, last + 1)] source frames of each window (module docstring)."""
    check_windowing(window_s, hop_s)
    w, h = max(1, int(round(window_s * fps))), max(1, int(round(hop_s * fps)))
    if n_frames <= w:
        return [(0, n_frames)]
    starts = list(range(0, n_frames - w + 1, h))
    if starts[-1] + w < n_frames:
        starts.append(n_frames - w)
    return [(s, s + w) for s in starts]


def check_window_frames(window_s: float, fps: float, downsample: int) -> None:
    """ConfigError when the shortest labelling window holds fewer than two feature frames
    (2 × `downsample` frames at `fps`): nothing to caption in it."""
    shortest = min(window_lengths(window_s))
    if int(round(shortest * fps)) < 2 * downsample:
        need = math.ceil(2 * downsample / fps / min(SCALES) * 100) / 100
        raise ConfigError(f"--window {window_s:g}: its shortest windows ({shortest:g} s) hold fewer than two of this "
                          f"model's feature frames; use --window {need:g} or more")


def plan_scales(n_frames: int, fps: float, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """plan_windows of every window length SCALES × window_s (each every min(hop, length)),
    in order of length, duplicates dropped."""
    check_windowing(window_s, hop_s)
    out: dict = {}
    for w in window_lengths(window_s):
        out.update(dict.fromkeys(plan_windows(n_frames, fps, w, min(hop_s, w))))
    return list(out)


def floor_height(joints: np.ndarray, fps: float) -> float:
    """The height (m) the body stands at in most of a take: the median, over windows of
    FLOOR_WINDOW_S (every half window), of each window's lowest joint. Canonicalisation puts the
    lowest point of the whole take at y = 0 (as HumanML3D does for its clips); on a long take one
    glitched frame, or a blend that pushes a foot through the floor, then lifts every other
    frame, which the model never saw in training."""
    w = max(1, int(round(FLOOR_WINDOW_S * fps)))
    lows = [float(joints[s:s + w, :, 1].min()) for s in range(0, max(1, len(joints) - w + 1), max(1, w // 2))]
    return float(np.median(lows))


def _features(joints: np.ndarray, bundle, skel) -> np.ndarray:
    """One clip (T, J, 3), or a stack of equal-length clips (W, T, J, 3), as model input."""
    from .features import motion_features
    return motion_features(place_at_origin(joints, skel) * bundle.input_scale, bundle.norm, bundle.downsample)


def _window_features(joints: np.ndarray, spans: list[tuple[int, int]], bundle, skel) -> list[np.ndarray]:
    """The model input of each window (s, e) of a take, those of one length placed and
    normalised as one stack (the same numbers as `_features` window by window, without its
    per-window cost: ~5,000 windows for 120 files of a few seconds)."""
    out: list = [None] * len(spans)
    by_len: dict = {}
    for k, (s, e) in enumerate(spans):
        by_len.setdefault(e - s, []).append(k)
    for n, ks in by_len.items():
        starts = np.array([spans[k][0] for k in ks])
        stack = _features(joints[starts[:, None] + np.arange(n)], bundle, skel)
        for k, f in zip(ks, stack):
            out[k] = f
    return out
