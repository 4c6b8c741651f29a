"""Caption results without torch: the objects `m2t caption` returns, the time formula, the
onset/offset rules, body-part scores, segments and the option checks (writers, the CLI and the
viewer import this module; the rules themselves are described in docs/outputs.md).

- **time** (:func:`feature_time`, the one place for it): feature frame k lies at
  ``(downsample // 2 + k * downsample) / fps`` seconds of the canonical clip, whose frame 0 is the
  source's first frame.
- **onset/offset** (:func:`word_span`): rule ``"fwhm"`` (default) ``m ∓ sqrt(2 ln 2)·σ`` (where Γ ≥ 0.5),
  clipped to the first and last feature frame; rule ``"gamma95"`` the first and last feature frame
  where Γ > 0.95 (the official code's highlighting), else the frame of Γ's maximum.
- **body parts** (:func:`part_scores`): ``score_i = Σ_k Γ_k α_ki / Σ_k Γ_k``, ranked, summing to 1.
- **segments**: the timeline of actions (`models.dense`): one entry per action word of the caption
  for a clip no longer than the window, the merged timeline of overlapping windows for a longer
  recording (then `tokens` is empty: no single caption covers it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from m2t.converters.errors import ConfigError
from m2t.converters.skeletons import PART_NAMES

SCHEMA = "m2t.caption/2"
SEGMENTS_SCHEMA_ID = "m2t.segments/2"
ONSET_RULES = ("fwhm", "gamma95")
DEVICES = ("auto", "cpu", "cuda")
WINDOW_S, HOP_S = 2.0, 0.5                 # labelling windows of dense captioning (models/dense.py)
SCALES = (0.375, 0.5, 0.75, 1.0)           # labelling windows of these multiples of WINDOW_S (docs/outputs.md: chosen on val)
DENSE_AFTER_S = 2.0                        # recordings longer than this (= WINDOW_S) are captioned densely (docs/outputs.md)
FWHM_C = math.sqrt(2.0 * math.log(2.0))     # 1.1774: Γ = 0.5 at m ± c·σ
GAMMA95 = 0.95


def check_options(beam: int = 1, onset_rule: str = "fwhm", device: str | None = "auto",
                  batch_size: int = 1) -> None:
    """The one check of captioning options (library and CLI alike); ConfigError naming the flag."""
    if not isinstance(beam, int) or beam < 1:
        raise ConfigError(f"--beam must be >= 1, got {beam}")
    if onset_rule not in ONSET_RULES:
        raise ConfigError(f"--onset-rule {onset_rule!r} is not one of: {', '.join(ONSET_RULES)}")
    if device is not None and device not in DEVICES:
        raise ConfigError(f"--device {device!r} is not one of: {', '.join(DEVICES)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")


def check_windowing(window_s: float, hop_s: float, dense_after_s: float = DENSE_AFTER_S) -> None:
    """The check of the dense-captioning options; ConfigError naming the flags."""
    if not (window_s > 0 and 0 < hop_s <= window_s):
        raise ConfigError(f"need 0 < --hop ({hop_s:g}) <= --window ({window_s:g})")
    if not dense_after_s >= 0:
        raise ConfigError(f"--dense-after must be >= 0 seconds, got {dense_after_s:g}")


@dataclass
class Token:
    """One word of a caption. The timing and part fields are None unless `is_motion_word`."""
    index: int                       # position in the caption, 0-based
    word: str
    beta: float                      # β̂ of the adaptive gate, 0..1
    confidence: float                # probability of this token at its decoding step, 0..1
    is_motion_word: bool             # caption_targets β target == 1 in context (lexical)
    centre_frame: float | None = None    # Gaussian centre m, feature frames
    width_frames: float | None = None    # Gaussian width σ, feature frames
    centre_s: float | None = None        # m in seconds of the source clip
    width_s: float | None = None         # σ in seconds
    onset_s: float | None = None
    offset_s: float | None = None
    parts: list[tuple[str, float]] | None = None   # ranked (part name, score), scores sum to 1

    def to_dict(self) -> dict:
        d = {"index": self.index, "word": self.word, "beta": _r(self.beta, 4),
             "confidence": _r(self.confidence, 4), "is_motion_word": self.is_motion_word,
             "centre_frame": _r(self.centre_frame, 3), "width_frames": _r(self.width_frames, 3),
             "centre_s": _r(self.centre_s, 3), "width_s": _r(self.width_s, 3),
             "onset_s": _r(self.onset_s, 3), "offset_s": _r(self.offset_s, 3),
             "parts": None if self.parts is None else [{"name": n, "score": _r(s, 4)} for n, s in self.parts]}
        return d


@dataclass
class CaptionResult:
    """A caption with its per-word timing and body parts (docs/outputs.md)."""
    source: str
    text: str
    tokens: list[Token]
    score: float                     # mean log-probability per emitted token (incl. <eos>), nats
    duration_s: float                # canonical clip: frames / fps
    fps: float                       # canonical clip frame rate (20 t2m, 12.5 kit)
    frames: int                      # canonical clip frames
    downsample: int                  # feature frame k = canonical frame downsample//2 + k*downsample
    onset_rule: str
    beam: int
    skeleton: str
    model_dir: str | None = None
    m2t_version: str | None = None
    warnings: list[str] = field(default_factory=list)
    frame_times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (n,) s per feature frame
    window: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (S, n) Γ per step
    alpha: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 6), np.float32))  # (S, n, 6) α per step
    segments: list = field(default_factory=list)       # timeline actions (dicts, docs/outputs.md "segments")
    windowing: dict | None = None                       # {"window_s", "hop_s", "windows", "lengths_s"} of a dense caption
    time_offset_s: float = 0.0       # source-file time of the canonical clip's frame 0 (Motion.time_offset_s)

    @property
    def words(self) -> list[str]:
        return [t.word for t in self.tokens]

    @property
    def motion_words(self) -> list[Token]:
        return [t for t in self.tokens if t.is_motion_word]

    @property
    def is_timeline(self) -> bool:
        """A take captioned as a timeline of actions (`segments`), no caption of the whole take."""
        return not self.motion_words and bool(self.segments)

    @property
    def feature_fps(self) -> float:
        return self.fps / self.downsample

    def attention_map(self, index: int) -> np.ndarray:
        """(6, n) Γ_k·α_ki of token `index`: body parts (PART_NAMES order) × feature frames."""
        return (self.window[index][:, None] * self.alpha[index]).T

    def to_dict(self, attention: bool = False, clip_times: bool = False) -> dict:
        """The JSON document of schema "m2t.caption/2" (CAPTION_SCHEMA). With `attention`, also
        `frame_times_s` and per token `window` (Γ per feature frame) and `alpha` (per frame, 6 parts).
        Times are seconds of the source file (clip time + `time_offset_s`: frames a reader cut
        before the clip, e.g. a C3D file's empty leading frames); `clip_times=True` keeps them
        relative to the clip's first frame (the viewer, which animates the clip)."""
        d = self._to_dict(attention)
        return d if clip_times else shift_document(d, self.time_offset_s)

    def _to_dict(self, attention: bool) -> dict:
        d = {"time_offset_s": _r(self.time_offset_s, 6), "schema": SCHEMA, "source": self.source, "text": self.text, "score": _r(self.score, 4),
             "duration_s": _r(self.duration_s, 3), "fps": float(self.fps), "frames": int(self.frames),
             "downsample": int(self.downsample), "feature_fps": float(self.feature_fps),
             "feature_frames": int(len(self.frame_times)), "onset_rule": self.onset_rule, "beam": int(self.beam),
             "model": {"dir": self.model_dir, "skeleton": self.skeleton, "m2t_version": self.m2t_version},
             "parts": list(PART_NAMES), "warnings": list(self.warnings),
             "tokens": [t.to_dict() for t in self.tokens], "segments": [dict(s) for s in self.segments],
             "windowing": None if self.windowing is None else dict(self.windowing)}
        if attention:
            d["frame_times_s"] = [_r(x, 3) for x in self.frame_times]
            for t, td in zip(self.tokens, d["tokens"]):
                td["window"] = [_r(x, 4) for x in self.window[t.index]]
                td["alpha"] = [[_r(x, 4) for x in row] for row in self.alpha[t.index]]
        return d


def _r(x, nd):
    return None if x is None else round(float(x), nd)


TIME_KEYS = ("centre_s", "onset_s", "offset_s")


def shift_document(d: dict, offset: float) -> dict:
    """Clip seconds -> source-file seconds in a caption or segments document (the one place the
    offset is applied): every token's and segment's centre/onset/offset and `frame_times_s`."""
    if not offset:
        return d
    for item in list(d.get("tokens", [])) + list(d.get("segments", [])):
        for k in TIME_KEYS:
            if item.get(k) is not None:
                item[k] = round(item[k] + offset, 3)
    if "frame_times_s" in d:
        d["frame_times_s"] = [round(x + offset, 3) for x in d["frame_times_s"]]
    return d


def feature_time(k, fps: float, downsample: int):
    """Seconds of (possibly fractional) feature frame k in the source clip."""
    return (downsample // 2 + np.asarray(k, np.float64) * downsample) / fps


def window_span(centre, width, c: float = FWHM_C):
    """The frames a word's window covers, [m - c·σ, m + c·σ] (c = FWHM_C: where Γ ≥ 0.5); numbers
    or tensors. The `fwhm` rule below, λ_temp (losses.temporal_loss) and the timeline use it."""
    return centre - c * width, centre + c * width


def clipped_span(centre: float, width: float, n: int) -> tuple[float, float]:
    """`window_span` clipped to a clip's n feature frames [0, n - 1], as floats (min/max, not
    np.clip: on a scalar that costs microseconds, and dense captioning clips ~10,000 spans a folder)."""
    lo, hi = window_span(centre, width)
    return float(min(max(lo, 0), n - 1)), float(min(max(hi, 0), n - 1))


def word_span(window: np.ndarray, centre: float, width: float, rule: str = "fwhm") -> tuple[float, float]:
    """Onset and offset of one word in feature frames (floats) by `rule` (module docstring)."""
    n = len(window)
    if rule == "fwhm":
        return clipped_span(centre, width, n)
    if rule == "gamma95":
        idx = np.flatnonzero(window > GAMMA95)
        if idx.size == 0:
            k = float(np.argmax(window))
            return k, k
        return float(idx[0]), float(idx[-1])
    raise ConfigError(f"onset rule {rule!r} is not one of: {', '.join(ONSET_RULES)}")


def part_scores(window: np.ndarray, alpha: np.ndarray) -> list[tuple[str, float]]:
    """score_i = Σ_k Γ_k α_ki / Σ_k Γ_k, ranked high to low, with PART_NAMES."""
    w = window.astype(np.float64)
    s = (w[:, None] * alpha).sum(0) / max(float(w.sum()), 1e-12)
    order = np.argsort(-s, kind="stable")
    return [(PART_NAMES[i], float(s[i])) for i in order]


@dataclass
class FileCaption:
    """Outcome of one file in a batch run: `result` or a one-line `error`."""
    source: Path
    result: CaptionResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# ----------------------------------------------------------------------------- segments
def segments(result: CaptionResult) -> list[dict]:
    """One entry per motion word: {index, word, onset_s, offset_s, parts [(name, score), ...] ranked,
    confidence, beta}, in caption order."""
    return [{"index": t.index, "word": t.word, "onset_s": t.onset_s, "offset_s": t.offset_s,
             "parts": list(t.parts or []), "confidence": t.confidence, "beta": t.beta}
            for t in result.motion_words]


def segments_document(result: CaptionResult) -> dict:
    """The JSON document of schema "m2t.segments/2" (SEGMENTS_SCHEMA): the timeline of actions."""
    doc = {"schema": SEGMENTS_SCHEMA_ID, "source": result.source, "text": result.text,
           "duration_s": _r(result.duration_s, 3), "time_offset_s": _r(result.time_offset_s, 6),
           "windowing": None if result.windowing is None else dict(result.windowing),
           "segments": [dict(s) for s in result.segments]}
    return shift_document(doc, result.time_offset_s)
