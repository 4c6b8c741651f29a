"""Caption motion files with a trained model and say when and where each motion word happens
(what `m2t caption` and `m2t segment` run; the output formats are documented in docs/outputs.md).

Pipeline: file -> :func:`converters.load_motion` on the model's skeleton at the dataset frame rate
(20 fps t2m, 12.5 fps kit; the canonical clip starts at the source's first frame, so its times are
the source's times) -> positions × ``bundle.input_scale`` -> :func:`models.features.motion_features`
-> greedy or beam decoding -> one :class:`CaptionResult`.

Per emitted word the decoder gives β̂ (adaptive gate), the Gaussian window Γ over feature frames
(centre m, width σ) and the spatial attention α over the six body parts. From these:

- **motion word**: lexical, not learned: a token is a motion word when
  :func:`models.supervision.caption_targets` gives it β target 1 *in the context of the caption*
  (dictionary motion words of the paper's Table 5 and m2t's extra lists, plus verbs/adverbs by the
  POS tagger that are not connection words). The model's own β̂ is reported next to it.
- **times**: feature frame k lies at ``(downsample // 2 + k * downsample) / fps`` seconds.
  Onset/offset rule ``"fwhm"`` (default): ``m ∓ sqrt(2 ln 2)·σ`` (where Γ ≥ 0.5), clipped to the
  first and last feature frame. Rule ``"gamma95"``: the first and last feature frame where
  Γ > 0.95 (the official code's highlighting); when no frame passes, the frame of Γ's maximum.
- **body parts**: ``score_i = Σ_k Γ_k α_ki / Σ_k Γ_k`` (α averaged inside the window), names from
  :data:`converters.skeletons.PART_NAMES`, ranked high to low; the scores of a word sum to 1.
- **confidence**: the probability the decoder gave the emitted token at its step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from m2t.converters.api import load_motion
from m2t.converters.errors import ConfigError, M2TError, MotionFileError
from m2t.converters.motion import Motion
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from .checkpoint import Bundle, ModelDirError, load_bundle
from .decoding import Decoded, decode
from .features import motion_features
from .supervision import caption_targets
from .features import batch_features
from .runtime import pick_device

SCHEMA = "m2t.caption/1"
SEGMENTS_SCHEMA_ID = "m2t.segments/1"
ONSET_RULES = ("fwhm", "gamma95")
FWHM_C = math.sqrt(2.0 * math.log(2.0))     # 1.1774: Γ = 0.5 at m ± c·σ
GAMMA95 = 0.95
NO_DEFAULT_MODEL = "no default model shipped in this install: pass --model DIR"


# ----------------------------------------------------------------------------- the model
def default_model_dir() -> Path:
    """Where the shipped default model lives (config.json + model.safetensors)."""
    return Path(__file__).parent / "weights" / "default"


def resolve_model_dir(model=None) -> Path:
    """`model` or the shipped default; ModelDirError with one line when there is none."""
    if model is not None:
        return Path(model)
    d = default_model_dir()
    if not (d / "config.json").is_file():
        raise ModelDirError(NO_DEFAULT_MODEL)
    return d


def load_model(model=None, device: str = "auto") -> Bundle:
    """Load a model directory (default: the shipped model) on `device` (auto, cpu, cuda)."""
    d = resolve_model_dir(model)
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r} is not one of: auto, cpu, cuda")
    return load_bundle(d, pick_device(device))


# ----------------------------------------------------------------------------- results
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

    @property
    def words(self) -> list[str]:
        return [t.word for t in self.tokens]

    @property
    def motion_words(self) -> list[Token]:
        return [t for t in self.tokens if t.is_motion_word]

    @property
    def feature_fps(self) -> float:
        return self.fps / self.downsample

    def attention_map(self, index: int) -> np.ndarray:
        """(6, n) Γ_k·α_ki of token `index`: body parts (PART_NAMES order) × feature frames."""
        return (self.window[index][:, None] * self.alpha[index]).T

    def to_dict(self, attention: bool = False) -> dict:
        """The JSON document of schema "m2t.caption/1" (CAPTION_SCHEMA). With `attention`, also
        `frame_times_s` and per token `window` (Γ per feature frame) and `alpha` (per frame, 6 parts)."""
        d = {"schema": SCHEMA, "source": self.source, "text": self.text, "score": _r(self.score, 4),
             "duration_s": _r(self.duration_s, 3), "fps": float(self.fps), "frames": int(self.frames),
             "downsample": int(self.downsample), "feature_fps": float(self.feature_fps),
             "feature_frames": int(len(self.frame_times)), "onset_rule": self.onset_rule, "beam": int(self.beam),
             "model": {"dir": self.model_dir, "skeleton": self.skeleton, "m2t_version": self.m2t_version},
             "parts": list(PART_NAMES), "warnings": list(self.warnings),
             "tokens": [t.to_dict() for t in self.tokens]}
        if attention:
            d["frame_times_s"] = [_r(x, 3) for x in self.frame_times]
            for t, td in zip(self.tokens, d["tokens"]):
                td["window"] = [_r(x, 4) for x in self.window[t.index]]
                td["alpha"] = [[_r(x, 4) for x in row] for row in self.alpha[t.index]]
        return d


def _r(x, nd):
    return None if x is None else round(float(x), nd)


def feature_time(k, fps: float, downsample: int):
    """Seconds of (possibly fractional) feature frame k in the source clip."""
    return (downsample // 2 + np.asarray(k, np.float64) * downsample) / fps


def word_span(window: np.ndarray, centre: float, width: float, rule: str = "fwhm") -> tuple[float, float]:
    """Onset and offset of one word in feature frames (floats) by `rule` (module docstring)."""
    n = len(window)
    if rule == "fwhm":
        lo, hi = centre - FWHM_C * width, centre + FWHM_C * width
        return float(np.clip(lo, 0, n - 1)), float(np.clip(hi, 0, n - 1))
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


def _motion_flags(words: list[str], bundle: Bundle) -> list[bool]:
    if not words:
        return []
    extended = bundle.meta.get("train", {}).get("extended_words", True)
    beta, _ = caption_targets(words, extended_words=extended)
    return [bool(b == 1.0) for b in beta]


def build_result(dec: Decoded, bundle: Bundle, source: str, n_frames: int, fps: float,
                 onset_rule: str = "fwhm", beam: int = 1, warnings: list[str] | None = None) -> CaptionResult:
    """Turn one decoded caption and its trace into a CaptionResult."""
    ds = bundle.downsample
    words = bundle.vocab.decode(dec.ids)
    flags = _motion_flags(words, bundle)
    n = dec.window.shape[1]
    lp = dec.logprobs if dec.logprobs is not None else np.zeros(len(dec.beta))
    tokens = []
    for i, (w, motion) in enumerate(zip(words, flags)):
        t = Token(i, w, float(dec.beta[i]), float(np.exp(lp[i])), motion)
        if motion and n > 0:
            m, s = float(dec.centre[i]), float(dec.width[i])
            a, b = word_span(dec.window[i], m, s, onset_rule)
            t.centre_frame, t.width_frames = m, s
            t.centre_s, t.width_s = float(feature_time(m, fps, ds)), s * ds / fps
            t.onset_s, t.offset_s = float(feature_time(a, fps, ds)), float(feature_time(b, fps, ds))
            t.parts = part_scores(dec.window[i], dec.alpha[i])
        tokens.append(t)
    return CaptionResult(source=source, text=" ".join(words), tokens=tokens, score=float(dec.score),
                         duration_s=n_frames / fps, fps=float(fps), frames=int(n_frames), downsample=ds,
                         onset_rule=onset_rule, beam=int(beam), skeleton=bundle.cfg.skeleton,
                         model_dir=None if bundle.path is None else str(bundle.path),
                         m2t_version=bundle.meta.get("m2t_version"), warnings=list(warnings or []),
                         frame_times=feature_time(np.arange(n), fps, ds).astype(np.float32),
                         window=np.asarray(dec.window, np.float32), alpha=np.asarray(dec.alpha, np.float32))


# ----------------------------------------------------------------------------- captioning
def _as_motion(motion_or_path, bundle: Bundle, load_options: dict) -> Motion:
    skel = bundle.cfg.skeleton
    if isinstance(motion_or_path, Motion):
        m = motion_or_path
        if m.skeleton != skel:
            raise ConfigError(f"{m.source or 'motion'}: on skeleton {m.skeleton!r}, the model expects {skel!r} "
                              f"(use converters.load_motion(path, skeleton={skel!r}))")
        return m
    return load_motion(motion_or_path, skeleton=skel, **load_options)


def _check_clip(m: Motion, bundle: Bundle) -> list[str]:
    """Raise for clips too short to caption; warn about lengths outside the training range."""
    ds = bundle.downsample
    src = m.source or "motion"
    if m.n_frames < ds // 2 + 1:
        raise MotionFileError(f"{src}: {m.n_frames} frame(s) at {m.fps:g} fps is too short to caption "
                              f"(need at least {ds // 2 + 1})")
    want = get_skeleton(bundle.cfg.skeleton).fps
    warns = []
    if abs(m.fps - want) > 1e-6:
        warns.append(f"clip is at {m.fps:g} fps; the model expects {want:g} fps")
    tr = bundle.meta.get("train", {})
    lo, hi = tr.get("min_frames"), tr.get("max_frames")
    if hi and m.n_frames > hi:
        warns.append(f"clip is {m.n_frames / m.fps:.1f} s long; the model was trained on clips of at most "
                     f"{hi / want:.1f} s, so one caption covers it coarsely (cut it into shorter clips)")
    elif lo and m.n_frames < lo:
        warns.append(f"clip is {m.n_frames / m.fps:.1f} s long; the model was trained on clips of at least "
                     f"{lo / want:.1f} s")
    return warns


def _features(m: Motion, bundle: Bundle) -> np.ndarray:
    return motion_features(m.positions * bundle.input_scale, bundle.norm, bundle.downsample)


def _device_of(bundle: Bundle, device) -> torch.device:
    if device is None:
        return next(bundle.model.parameters()).device
    dev = pick_device(device)
    bundle.model.to(dev)
    return dev


def _check_args(beam: int, onset_rule: str):
    if beam < 1:
        raise ConfigError(f"--beam must be >= 1, got {beam}")
    if onset_rule not in ONSET_RULES:
        raise ConfigError(f"--onset-rule {onset_rule!r} is not one of: {', '.join(ONSET_RULES)}")


def _max_len(bundle: Bundle) -> int:
    return int(bundle.meta.get("train", {}).get("max_decode_len", 30))


def caption_motion(motion_or_path, bundle: Bundle, beam: int = 1, device: str | None = None,
                   onset_rule: str = "fwhm", **load_options) -> CaptionResult:
    """Caption one file (any format `converters.load_motion` reads; `load_options` go to it:
    units, up, asf, source_fps, joint_map, body_model_dir, ...) or a canonical Motion on the
    model's skeleton. `device`: None keeps the model where it is, else auto/cpu/cuda."""
    _check_args(beam, onset_rule)
    m = _as_motion(motion_or_path, bundle, load_options)
    warns = _check_clip(m, bundle)
    dev = _device_of(bundle, device)
    x, mask = batch_features([_features(m, bundle)], dev)
    dec = decode(bundle.model, x, mask, beam, _max_len(bundle))[0]
    source = str(motion_or_path) if not isinstance(motion_or_path, Motion) else str(m.source)
    return build_result(dec, bundle, source, m.n_frames, m.fps, onset_rule, beam, warns)


@dataclass
class FileCaption:
    """Outcome of one file in a batch run: `result` or a one-line `error`."""
    source: Path
    result: CaptionResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def iter_captions(paths: Iterable, bundle: Bundle, beam: int = 1, device: str | None = None,
                  onset_rule: str = "fwhm", batch_size: int = 16, progress=None,
                  **load_options) -> Iterator[FileCaption]:
    """Caption many files, `batch_size` at a time through one padded decode call; yields one
    FileCaption per path in input order as each batch finishes; never stops at a bad file.
    `progress(i, n, path)` is called before each file is loaded."""
    _check_args(beam, onset_rule)
    paths = [Path(p) for p in paths]
    dev = _device_of(bundle, device)
    max_len = _max_len(bundle)
    for start in range(0, len(paths), max(1, batch_size)):
        chunk = paths[start:start + max(1, batch_size)]
        loaded, out = [], []
        for j, p in enumerate(chunk):
            if progress:
                progress(start + j, len(paths), p)
            try:
                m = load_motion(p, skeleton=bundle.cfg.skeleton, **load_options)
                warns = _check_clip(m, bundle)
                loaded.append((len(out), m, warns, _features(m, bundle)))
                out.append(FileCaption(p))
            except M2TError as e:
                out.append(FileCaption(p, error=str(e)))
        if loaded:
            x, mask = batch_features([f for *_, f in loaded], dev)
            for (k, m, warns, _), dec in zip(loaded, decode(bundle.model, x, mask, beam, max_len)):
                out[k].result = build_result(dec, bundle, str(chunk[k]), m.n_frames, m.fps, onset_rule, beam, warns)
        yield from out


def caption_files(paths: Iterable, bundle: Bundle, beam: int = 1, device: str | None = None,
                  onset_rule: str = "fwhm", batch_size: int = 16, progress=None,
                  **load_options) -> list[FileCaption]:
    """All of :func:`iter_captions` as a list (one FileCaption per path, in order)."""
    return list(iter_captions(paths, bundle, beam, device, onset_rule, batch_size, progress, **load_options))


# ----------------------------------------------------------------------------- segments
def segments(result: CaptionResult) -> list[dict]:
    """One entry per motion word: {index, word, onset_s, offset_s, parts [(name, score), ...] ranked,
    confidence, beta}, in caption order."""
    return [{"index": t.index, "word": t.word, "onset_s": t.onset_s, "offset_s": t.offset_s,
             "parts": list(t.parts or []), "confidence": t.confidence, "beta": t.beta}
            for t in result.motion_words]


def segments_document(result: CaptionResult) -> dict:
    """The JSON document of schema "m2t.segments/1" (SEGMENTS_SCHEMA)."""
    return {"schema": SEGMENTS_SCHEMA_ID, "source": result.source, "text": result.text,
            "duration_s": _r(result.duration_s, 3), "onset_rule": result.onset_rule,
            "segments": [{"index": s["index"], "word": s["word"], "onset_s": _r(s["onset_s"], 3),
                          "offset_s": _r(s["offset_s"], 3), "beta": _r(s["beta"], 4),
                          "confidence": _r(s["confidence"], 4),
                          "parts": [{"name": n, "score": _r(v, 4)} for n, v in s["parts"]]}
                         for s in segments(result)]}


# ----------------------------------------------------------------------------- JSON schemas
_NUM_OR_NULL = {"type": ["number", "null"]}
_PART_SCORE = {"type": "object", "additionalProperties": False, "required": ["name", "score"],
               "properties": {"name": {"enum": list(PART_NAMES)},
                              "score": {"type": "number", "minimum": 0, "maximum": 1}}}
_TOKEN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["index", "word", "beta", "confidence", "is_motion_word", "centre_frame", "width_frames",
                 "centre_s", "width_s", "onset_s", "offset_s", "parts"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "word": {"type": "string"},
        "beta": {"type": "number", "minimum": 0, "maximum": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "is_motion_word": {"type": "boolean"},
        "centre_frame": _NUM_OR_NULL, "width_frames": _NUM_OR_NULL,
        "centre_s": _NUM_OR_NULL, "width_s": _NUM_OR_NULL,
        "onset_s": _NUM_OR_NULL, "offset_s": _NUM_OR_NULL,
        "parts": {"type": ["array", "null"], "items": _PART_SCORE},
        "window": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}},
        "alpha": {"type": "array", "items": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}}},
    },
    "if": {"properties": {"is_motion_word": {"const": True}}},
    "then": {"properties": {k: {"type": "number", "minimum": 0} for k in
                            ("centre_frame", "width_frames", "centre_s", "width_s", "onset_s", "offset_s")}
             | {"parts": {"type": "array", "items": _PART_SCORE}}},
    "else": {"properties": {k: {"type": "null"} for k in
                            ("centre_frame", "width_frames", "centre_s", "width_s", "onset_s", "offset_s", "parts")}},
}

CAPTION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA,
    "title": "m2t caption with per-word timing and body parts (docs/outputs.md)",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "source", "text", "score", "duration_s", "fps", "frames", "downsample", "feature_fps",
                 "feature_frames", "onset_rule", "beam", "model", "parts", "warnings", "tokens"],
    "properties": {
        "schema": {"const": SCHEMA},
        "source": {"type": "string"},
        "text": {"type": "string"},
        "score": {"type": "number", "maximum": 0},
        "duration_s": {"type": "number", "minimum": 0},
        "fps": {"type": "number", "exclusiveMinimum": 0},
        "frames": {"type": "integer", "minimum": 1},
        "downsample": {"type": "integer", "minimum": 1},
        "feature_fps": {"type": "number", "exclusiveMinimum": 0},
        "feature_frames": {"type": "integer", "minimum": 1},
        "onset_rule": {"enum": list(ONSET_RULES)},
        "beam": {"type": "integer", "minimum": 1},
        "model": {"type": "object", "additionalProperties": False, "required": ["dir", "skeleton", "m2t_version"],
                  "properties": {"dir": {"type": ["string", "null"]}, "skeleton": {"enum": ["t2m", "kit"]},
                                 "m2t_version": {"type": ["string", "null"]}}},
        "parts": {"const": list(PART_NAMES)},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "frame_times_s": {"type": "array", "items": {"type": "number", "minimum": 0}},
        "tokens": {"type": "array", "items": _TOKEN},
    },
}

SEGMENTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SEGMENTS_SCHEMA_ID,
    "title": "m2t motion-word segments (docs/outputs.md)",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "source", "text", "duration_s", "onset_rule", "segments"],
    "properties": {
        "schema": {"const": SEGMENTS_SCHEMA_ID},
        "source": {"type": "string"},
        "text": {"type": "string"},
        "duration_s": {"type": "number", "minimum": 0},
        "onset_rule": {"enum": list(ONSET_RULES)},
        "segments": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["index", "word", "onset_s", "offset_s", "beta", "confidence", "parts"],
            "properties": {"index": {"type": "integer", "minimum": 0}, "word": {"type": "string"},
                           "onset_s": {"type": "number", "minimum": 0}, "offset_s": {"type": "number", "minimum": 0},
                           "beta": {"type": "number", "minimum": 0, "maximum": 1},
                           "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                           "parts": {"type": "array", "items": _PART_SCORE}}}},
    },
}
