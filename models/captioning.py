"""Caption motion files with a trained model (torch): load a model folder, turn files into model
input, decode, and build :class:`~m2t.models.results.CaptionResult` objects.

Pipeline: file -> :func:`m2t.converters.load_motion` on the model's skeleton at the dataset frame
rate (20 fps t2m, 12.5 fps kit) -> positions × ``bundle.input_scale`` ->
:func:`m2t.models.features.motion_features` -> greedy or beam decoding -> one CaptionResult, whose
times, onset/offset rules and body-part scores are defined in models/results.py.

A token is a **motion word** by lexicon, not by the model: :func:`m2t.models.supervision.caption_targets`
gives it β target 1 *in the context of the caption*; the model's own β̂ is reported next to it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from m2t.converters.api import load_motion
from m2t.converters.errors import ConfigError, MotionFileError, file_error
from m2t.converters.motion import Motion
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from .batching import batch_features
from .checkpoint import Bundle, load_bundle
from .decoding import Decoded, decode
from .confidence import for_model
from .dense import dense_timeline, single_timeline
from .errors import ModelDirError
from .features import motion_features, observed_parts
from .results import HOP_S, WINDOW_S, CaptionResult, FileCaption, Token, check_options, check_windowing, \
    feature_time, part_scores, word_span
from .runtime import pick_device
from .supervision import caption_targets

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
    check_options(device=device)
    d = resolve_model_dir(model)
    return load_bundle(d, pick_device(device))


# ----------------------------------------------------------------------------- results
def _motion_flags(words: list[str], bundle: Bundle) -> list[bool]:
    if not words:
        return []
    extended = bundle.meta.get("train", {}).get("extended_words", True)
    beta, _ = caption_targets(words, extended_words=extended)
    return [bool(b == 1.0) for b in beta]


def build_result(dec: Decoded, bundle: Bundle, source: str, n_frames: int, fps: float,
                 onset_rule: str = "fwhm", beam: int = 1, warnings: list[str] | None = None,
                 parts: np.ndarray | None = None) -> CaptionResult:
    """Turn one decoded caption and its trace into a CaptionResult. `parts`: the clip's encoder
    output (n, P, H), for the in-domain score of its actions when the model is calibrated."""
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
    timeline = single_timeline(words, dec, lambda k: float(feature_time(k, fps, ds)), n_frames / fps,
                               for_model(bundle), parts)
    return CaptionResult(source=source, text=" ".join(words), tokens=tokens, score=float(dec.score),
                         duration_s=n_frames / fps, fps=float(fps), frames=int(n_frames), downsample=ds,
                         onset_rule=onset_rule, beam=int(beam), skeleton=bundle.cfg.skeleton,
                         model_dir=None if bundle.path is None else str(bundle.path),
                         m2t_version=bundle.meta.get("m2t_version"), warnings=list(warnings or []),
                         frame_times=feature_time(np.arange(n), fps, ds).astype(np.float32),
                         window=np.asarray(dec.window, np.float32), alpha=np.asarray(dec.alpha, np.float32),
                         segments=[a.to_dict(i) for i, a in enumerate(timeline)])


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


def _part_mask(m: Motion, bundle: Bundle, warns: list[str]) -> np.ndarray:
    """(P,) observed body parts of a clip (Motion.observed per joint, when the reader knows it);
    a warning names the parts the model cannot see (their attention is masked to 0)."""
    parts = get_skeleton(bundle.cfg.skeleton).parts
    pm = observed_parts(getattr(m, "observed", None), parts)
    if not pm.all():
        names = ", ".join(PART_NAMES[i].replace("_", " ") for i in np.flatnonzero(pm == 0))
        warns.append(f"body parts not observed in this file: {names}; the model's attention is masked there "
                     "and it cannot describe what they do")
    return pm


def _model_input(items, dev) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """[(features, part mask)] -> x, mask, part_mask (None when every part of every clip is observed)."""
    x, mask = batch_features([f for f, _ in items], dev)
    pm = np.stack([p for _, p in items])
    return x, mask, (None if pm.all() else torch.from_numpy(pm).to(dev))


def _device_of(bundle: Bundle, device) -> torch.device:
    if device is None:
        return next(bundle.model.parameters()).device
    dev = pick_device(device)
    bundle.model.to(dev)
    return dev


def _max_len(bundle: Bundle) -> int:
    return int(bundle.meta.get("train", {}).get("max_decode_len", 30))


def caption_motion(motion_or_path, bundle: Bundle, beam: int = 1, device: str | None = None,
                   onset_rule: str = "fwhm", window_s: float = WINDOW_S, hop_s: float = HOP_S,
                   **load_options) -> CaptionResult:
    """Caption one file (any format `converters.load_motion` reads; `load_options` go to it:
    units, up, asf, source_fps, joint_map, body_model_dir, ...) or a canonical Motion on the
    model's skeleton. `device`: None keeps the model where it is, else auto/cpu/cuda. A clip
    longer than `window_s` is captioned densely (`models.dense`: windows every `hop_s`)."""
    check_options(beam, onset_rule, device)
    check_windowing(window_s, hop_s)
    m = _as_motion(motion_or_path, bundle, load_options)
    source = str(motion_or_path) if not isinstance(motion_or_path, Motion) else str(m.source)
    dev = _device_of(bundle, device)
    if m.n_frames / m.fps > window_s:
        return caption_long(m, bundle, source, beam, onset_rule, window_s, hop_s)
    warns = _check_clip(m, bundle)
    x, mask, pm = _model_input([(_features(m, bundle), _part_mask(m, bundle, warns))], dev)
    dec = decode(bundle.model, x, mask, beam, _max_len(bundle), pm)[0]
    parts = _encoder_parts(bundle, x, mask, pm)
    return build_result(dec, bundle, source, m.n_frames, m.fps, onset_rule, beam, warns,
                        None if parts is None else parts[0])


def _encoder_parts(bundle: Bundle, x, mask, pm) -> np.ndarray | None:
    """(B, T, P, H) encoder output, only when the model has an in-domain calibration."""
    if for_model(bundle) is None:
        return None
    with torch.no_grad():
        return bundle.model.encode(x, mask, part_mask=pm).parts.cpu().numpy()


def caption_long(m: Motion, bundle: Bundle, source: str, beam: int = 1, onset_rule: str = "fwhm",
                 window_s: float = WINDOW_S, hop_s: float = HOP_S, batch_size: int = 16) -> CaptionResult:
    """A recording longer than one window: the merged timeline of overlapping windows
    (`models.dense`) as `segments`; `text` joins the actions' clauses in time order; `tokens` is
    empty (no single caption covers the recording)."""
    warns = [w for w in _check_clip(m, bundle) if "trained on clips of at most" not in w]
    _part_mask(m, bundle, warns)
    timeline, windows = dense_timeline(m.positions, m.fps, bundle, window_s, hop_s, beam, batch_size)
    warns.append(f"clip is {m.n_frames / m.fps:.1f} s long: captioned in {len(windows)} windows of {window_s:g} s "
                 f"every {hop_s:g} s, merged into {len(timeline)} actions (`segments`); no single caption, so "
                 f"`tokens` is empty")
    ds = bundle.downsample
    n = len(range(ds // 2, m.n_frames, ds))
    return CaptionResult(source=source, text=", then ".join(a.text for a in timeline), tokens=[],
                         score=float(np.mean([w.score for w in windows])), duration_s=m.n_frames / m.fps,
                         fps=float(m.fps), frames=int(m.n_frames), downsample=ds, onset_rule=onset_rule, beam=int(beam),
                         skeleton=bundle.cfg.skeleton, model_dir=None if bundle.path is None else str(bundle.path),
                         m2t_version=bundle.meta.get("m2t_version"), warnings=warns,
                         frame_times=feature_time(np.arange(n), m.fps, ds).astype(np.float32),
                         window=np.zeros((0, n), np.float32), alpha=np.zeros((0, n, 6), np.float32),
                         segments=[a.to_dict(i) for i, a in enumerate(timeline)],
                         windowing={"window_s": float(window_s), "hop_s": float(hop_s), "windows": len(windows)})


def iter_captions(paths: Iterable, bundle: Bundle, beam: int = 1, device: str | None = None,
                  onset_rule: str = "fwhm", batch_size: int = 16, progress=None, window_s: float = WINDOW_S,
                  hop_s: float = HOP_S, **load_options) -> Iterator[FileCaption]:
    """Caption many files, `batch_size` at a time through one padded decode call; yields one
    FileCaption per path in input order as each batch finishes; never stops at a bad file.
    Files longer than `window_s` are captioned densely (`caption_long`).
    `progress(i, n, path)` is called before each file is loaded."""
    check_options(beam, onset_rule, device, batch_size)
    check_windowing(window_s, hop_s)
    paths = [Path(p) for p in paths]
    dev = _device_of(bundle, device)
    max_len = _max_len(bundle)
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        loaded, out = [], []
        for j, p in enumerate(chunk):
            if progress:
                progress(start + j, len(paths), p)
            try:
                m = load_motion(p, skeleton=bundle.cfg.skeleton, **load_options)
                if m.n_frames / m.fps > window_s:
                    out.append(FileCaption(p, caption_long(m, bundle, str(p), beam, onset_rule, window_s, hop_s,
                                                           batch_size)))
                    continue
                warns = _check_clip(m, bundle)
                loaded.append((len(out), m, warns, (_features(m, bundle), _part_mask(m, bundle, warns))))
                out.append(FileCaption(p))
            except Exception as e:            # noqa: BLE001 - a bad file never stops the batch
                out.append(FileCaption(p, error=file_error(p, e)))
        if loaded:
            x, mask, pm = _model_input([f for *_, f in loaded], dev)
            parts = _encoder_parts(bundle, x, mask, pm)
            for b, ((k, m, warns, _), dec) in enumerate(zip(loaded, decode(bundle.model, x, mask, beam, max_len, pm))):
                out[k].result = build_result(dec, bundle, str(chunk[k]), m.n_frames, m.fps, onset_rule, beam, warns,
                                             None if parts is None else parts[b])
        yield from out


def caption_files(paths: Iterable, bundle: Bundle, beam: int = 1, device: str | None = None,
                  onset_rule: str = "fwhm", batch_size: int = 16, progress=None, window_s: float = WINDOW_S,
                  hop_s: float = HOP_S, **load_options) -> list[FileCaption]:
    """All of :func:`iter_captions` as a list (one FileCaption per path, in order)."""
    return list(iter_captions(paths, bundle, beam, device, onset_rule, batch_size, progress, window_s, hop_s,
                              **load_options))


