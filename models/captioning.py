"""Caption motion files with a trained model: load a model folder (ONNX Runtime or torch backend,
models/onnx_model.py), turn files into model input, decode, and build
:class:`~m2t.models.results.CaptionResult` objects. torch is imported only on the torch backend.
With ``jobs`` > 1 on the ONNX Runtime CPU backend, each worker process loads the model once (1
intra-op thread) and reads, converts and decodes whole batches of files (the same batches as one
process, so the same results); on the torch backend or a GPU the workers read and convert and
the parent decodes. The worker processes live in models/caption_workers.py.

Pipeline: file -> :func:`m2t.converters.load_motion` on the model's skeleton at the dataset frame
rate (20 fps t2m, 12.5 fps kit) -> positions × ``bundle.input_scale`` ->
:func:`m2t.models.features.motion_features` -> greedy or beam decoding -> one CaptionResult, whose
times, onset/offset rules and body-part scores are defined in models/results.py.

A token is a **motion word** by lexicon, not by the model: :func:`m2t.models.supervision.caption_targets`
gives it β target 1 *in the context of the caption*; the model's own β̂ is reported next to it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from m2t.converters.api import load_motion
from m2t.converters.errors import ConfigError, MotionFileError, file_error
from m2t.converters.motion import Motion
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from m2t.converters.batch import check_jobs

from .decoded import Decoded
from .errors import ModelDirError
from .features import motion_features, observed_parts, pad_features
from .onnx_model import OnnxBundle, check_backend, choose_backend, load_onnx_bundle
from .confidence import for_model
from .decode_steps import drive, drive_many
from .dense import single_timeline, timeline_steps, timeline_text
from .take_windows import FLOOR_TOLERANCE_M, floor_height, window_lengths
from .modeldir import decode_length
from .results import DENSE_AFTER_S, HOP_S, WINDOW_S, CaptionResult, FileCaption, Token, check_options, check_windowing, \
    feature_time, part_scores, word_span
from .supervision import caption_targets

if TYPE_CHECKING:                       # torch-free at run time; Bundle is the torch backend's
    from .checkpoint import Bundle

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


def load_model(model=None, device: str = "auto", backend: str = "auto") -> "Bundle | OnnxBundle":
    """Load a model directory (default: the shipped model) on `device` (auto, cpu, cuda) for
    `backend` (auto: ONNX Runtime when the folder has current ONNX graphs, else torch)."""
    check_options(device=device)
    check_backend(backend)
    d = resolve_model_dir(model)
    if choose_backend(d, backend) == "onnx":
        return load_onnx_bundle(d, device)
    from .checkpoint import load_bundle
    from .runtime import pick_device
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
    output (n, P, H), for the in-domain score of its actions when the model is calibrated
    (default: `dec.parts`, what decoding with_parts handed back)."""
    parts = dec.parts if parts is None else parts
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


def min_clip_frames(bundle: Bundle) -> int:
    """The shortest clip `caption` accepts, in frames at the model's rate: half the model's shortest
    training clip (a 0.1 s clip was captioned "hops once on both legs"), at least one feature frame."""
    lo = bundle.meta.get("train", {}).get("min_frames") or 0
    return max(bundle.downsample // 2 + 1, int(lo) // 2)


def _check_clip(m: Motion, bundle: Bundle) -> list[str]:
    """Raise for clips too short to caption; warn about lengths outside the training range."""
    src = m.source or "motion"
    tr = bundle.meta.get("train", {})
    lo, hi = tr.get("min_frames"), tr.get("max_frames")
    need = min_clip_frames(bundle)
    if m.n_frames < need:
        why = "half the model's shortest training clip" if need > bundle.downsample // 2 + 1 else "one feature frame"
        t0 = float(getattr(m, "time_offset_s", 0.0) or 0.0)
        what = f"{m.n_frames} frame(s) ({m.n_frames / m.fps:.2f} s at {m.fps:g} fps)"
        if t0 > 0:
            what = f"the part {t0:.2f}-{t0 + (m.n_frames - 1) / m.fps:.2f} s ({m.n_frames} frame(s) at {m.fps:g} fps)"
        raise MotionFileError(f"{src}: {what} is too "
                              f"short to caption (need at least {need} frames, {need / m.fps:.2f} s: {why})")
    want = get_skeleton(bundle.cfg.skeleton).fps
    prefix = f"{src}: "                                   # converter warnings (lead-in, stature), once each
    warns = [w[len(prefix):] if w.startswith(prefix) else w for w in m.meta.get("warnings", [])]
    if abs(m.fps - want) > 1e-6:
        warns.append(f"clip is at {m.fps:g} fps; the model expects {want:g} fps")
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


def _check_device(bundle: OnnxBundle, device) -> None:
    if device not in (None, "auto") and device != bundle.runner.device:
        raise ConfigError(f"--device {device}: this ONNX model was loaded on {bundle.runner.device} "
                          f"(load it with device={device!r})")


def _decode(bundle, items, beam: int, max_len: int, device, with_parts: bool = False) -> list[Decoded]:
    """[(features, part mask)] -> decoded captions, on the bundle's backend (part_mask None when
    every part of every clip is observed). `device`: None keeps the model where it is.
    `with_parts`: each caption also gets its clip's encoder output (`Decoded.parts`, from the
    encoder pass of the decoding: one pass serves both)."""
    feats = [f for f, _ in items]
    pm = np.stack([p for _, p in items])
    pm = None if pm.all() else pm
    if isinstance(bundle, OnnxBundle):
        _check_device(bundle, device)
        from .ort_decoding import decode as ort_decode
        x, mask = pad_features(feats)
        return ort_decode(bundle.runner, x, mask, beam, max_len, pm, with_parts=with_parts)
    import torch
    from .batching import batch_features
    from .decoding import decode
    if device is None:
        dev = next(bundle.model.parameters()).device
    else:
        from .runtime import pick_device
        dev = pick_device(device)
        bundle.model.to(dev)
    x, mask = batch_features(feats, dev)
    return decode(bundle.model, x, mask, beam, max_len, None if pm is None else torch.from_numpy(pm).to(dev),
                  with_parts=with_parts)


def _calibrated(bundle) -> bool:
    """The model has an in-domain calibration (models/confidence.py): decoding hands back the
    encoder output for its score."""
    return for_model(bundle) is not None


def caption_long(positions: np.ndarray, fps: float, bundle, source: str, warns: list[str], part_mask: np.ndarray,
                 beam: int = 1, onset_rule: str = "fwhm", window_s: float = WINDOW_S, hop_s: float = HOP_S,
                 batch_size: int = 16, device=None) -> CaptionResult:
    """A recording longer than DENSE_AFTER_S: the timeline of `models.dense` as `segments`; `text`
    joins the actions' captions in time order; `tokens` is empty (no single caption covers the
    recording). When the timeline has one action and the clip is no longer than the model's
    training clips, the one caption of the whole clip is returned instead (with its tokens).
    Works on both backends."""
    max_len, with_parts = _max_len(bundle), _calibrated(bundle)

    def decode_fn(feats):
        return _decode(bundle, [(f, part_mask) for f in feats], beam, max_len, device, with_parts)
    return drive(_long_steps(positions, fps, bundle, source, warns, beam, onset_rule, window_s, hop_s, batch_size),
                 decode_fn)


def _long_steps(positions, fps, bundle, source, warns, beam, onset_rule, window_s, hop_s, batch_size):
    """`caption_long` as decoding steps (`models.decode_steps`), so that the takes of a batch of files
    can share decoder calls (`_caption_batch`)."""
    lift = floor_height(positions, fps)
    if lift > FLOOR_TOLERANCE_M:
        positions = positions - np.array([0.0, lift, 0.0], dtype=positions.dtype)
        warns = warns + [f"the body is {lift:.2f} m above the take's lowest point in most of it (a glitched frame or "
                         f"a joint through the floor sets that point): heights were lowered by {lift:.2f} m "
                         f"before captioning"]

    timeline, windows = yield from timeline_steps(positions, fps, bundle, window_s, hop_s, batch_size)
    hi = bundle.meta.get("train", {}).get("max_frames")
    if len(timeline) <= 1 and (not hi or len(positions) <= hi):
        feats = motion_features(positions * bundle.input_scale, bundle.norm, bundle.downsample)
        (dec,) = yield batch_size, [feats]
        r = build_result(dec, bundle, source, len(positions), fps, onset_rule, beam, warns)
        return _voted_span(r, timeline)
    warns = [w for w in warns if "trained on clips of at most" not in w]
    lengths = window_lengths(window_s)
    warns.append(f"clip is {len(positions) / fps:.1f} s long: {len(windows)} windows of "
                 f"{', '.join(f'{x:g}' for x in lengths)} s every "
                 f"{hop_s:g} s found {len(timeline)} actions, each captioned on its own frames (`segments`); "
                 f"no single caption covers it, so `tokens` is empty")
    ds = bundle.downsample
    n = len(range(ds // 2, len(positions), ds))
    return CaptionResult(source=source, text=timeline_text(timeline), tokens=[],
                         score=float(np.mean([w.score for w in windows])), duration_s=len(positions) / fps,
                         fps=float(fps), frames=int(len(positions)), downsample=ds, onset_rule=onset_rule, beam=int(beam),
                         skeleton=bundle.cfg.skeleton, model_dir=None if bundle.path is None else str(bundle.path),
                         m2t_version=bundle.meta.get("m2t_version"), warnings=warns,
                         frame_times=feature_time(np.arange(n), fps, ds).astype(np.float32),
                         window=np.zeros((0, n), np.float32), alpha=np.zeros((0, n, 6), np.float32),
                         segments=[a.to_dict(i) for i, a in enumerate(timeline)],
                         windowing={"window_s": float(window_s), "hop_s": float(hop_s), "windows": len(windows),
                                    "lengths_s": [round(float(x), 3) for x in lengths]})


def _voted_span(r: CaptionResult, timeline: list) -> CaptionResult:
    """A take whose windows all found one action, captioned whole: when that caption names one
    action too, the action's span is the windows' (where they voted for it), not the caption
    word's window Γ, which on a steady walk of several seconds covers about half of it."""
    if len(timeline) == 1 and len(r.segments) == 1 and _same_action(timeline[0], r.segments[0]["word"]):
        act = timeline[0]
        r.segments[0].update(onset_s=round(act.onset_s, 3), offset_s=round(act.offset_s, 3), windows=act.windows)
    return r


def _same_action(act, word: str) -> bool:
    """The windows' action and a caption's word name one action (stem, or the label's verb class)."""
    from .supervision import stem
    return stem(act.word) == stem(word) or act.label.split("|")[0].split("#")[0] == stem(word)


def _max_len(bundle: Bundle) -> int:
    return decode_length(bundle.meta)


def caption_motion(motion_or_path, bundle: "Bundle | OnnxBundle", beam: int = 1, device: str | None = None,
                   onset_rule: str = "fwhm", window_s: float = WINDOW_S, hop_s: float = HOP_S,
                   dense_after_s: float = DENSE_AFTER_S, **load_options) -> CaptionResult:
    """Caption one file (any format `converters.load_motion` reads; `load_options` go to it:
    units, up, asf, source_fps, joint_map, body_model_dir, ...) or a canonical Motion on the
    model's skeleton. `device`: None keeps the model where it is, else auto/cpu/cuda. A clip
    longer than `dense_after_s` is captioned densely (`models.dense`: windows of `window_s`
    every `hop_s`)."""
    check_options(beam, onset_rule, device)
    check_windowing(window_s, hop_s, dense_after_s)
    m = _as_motion(motion_or_path, bundle, load_options)
    warns = _check_clip(m, bundle)
    item = (_features(m, bundle), _part_mask(m, bundle, warns))
    source = str(motion_or_path) if not isinstance(motion_or_path, Motion) else str(m.source)
    if m.n_frames / m.fps > dense_after_s:
        r = caption_long(m.positions, m.fps, bundle, source, warns, item[1], beam, onset_rule, window_s, hop_s,
                         device=device)
    else:
        dec = _decode(bundle, [item], beam, _max_len(bundle), device, _calibrated(bundle))[0]
        r = build_result(dec, bundle, source, m.n_frames, m.fps, onset_rule, beam, warns)
    r.time_offset_s = float(getattr(m, "time_offset_s", 0.0) or 0.0)
    return r


def iter_captions(paths: Iterable, bundle: "Bundle | OnnxBundle", beam: int = 1, device: str | None = None,
                  onset_rule: str = "fwhm", batch_size: int = 16, progress=None, jobs: int = 1,
                  window_s: float = WINDOW_S, hop_s: float = HOP_S, dense_after_s: float = DENSE_AFTER_S,
                  **load_options) -> Iterator[FileCaption]:
    """Caption many files, `batch_size` at a time through one padded decode call; yields one
    FileCaption per path in input order as each batch finishes; never stops at a bad file.
    `jobs` > 1 captions in that many worker processes (module docstring: on the ONNX Runtime
    CPU backend every batch is read, converted and decoded in one worker; else workers read and
    convert and this process decodes); results are the same as with one process. Files longer
    than `dense_after_s` are captioned densely (`caption_long`).
    `progress(i, n, path)` is called as each file is loaded."""
    check_options(beam, onset_rule, device, batch_size)
    check_windowing(window_s, hop_s, dense_after_s)
    check_jobs(jobs)
    paths = [Path(p) for p in paths]
    opts = dict(beam=beam, onset_rule=onset_rule, batch_size=batch_size, window_s=window_s, hop_s=hop_s)
    from .caption_workers import _captioned_in_workers, _loaded, _prep_of, _worker_decodes  # here: it imports us
    if _worker_decodes(bundle, jobs, len(paths)):
        _check_device(bundle, device)
        yield from _captioned_in_workers(paths, str(bundle.path), jobs, progress, load_options, opts, dense_after_s)
        return
    batch: list = []
    for path, got, error in _loaded(paths, _prep_of(bundle, dense_after_s), load_options, jobs, progress):
        batch.append((FileCaption(path, error=error), got))
        if len(batch) == batch_size:
            yield from _caption_batch(bundle, batch, device=device, **opts)
            batch = []
    yield from _caption_batch(bundle, batch, device=device, **opts)


def _caption_batch(bundle, batch: list, beam: int, onset_rule: str, batch_size: int, window_s: float,
                   hop_s: float, device) -> list[FileCaption]:
    """[(FileCaption, what caption_workers._load_one returned)] -> the FileCaptions with their
    results: the clips in one padded decode call; the long recordings densely, their windows and
    actions sharing decoder calls (`decode_steps.drive_many`: a few files' windows fill one call where
    each file alone made small ones). Never raises for a file."""
    ok = [(fc, got) for fc, got in batch if got is not None and got[5] is None]
    if ok:
        items = [got[3:5] for _, got in ok]
        decoded = _decode(bundle, items, beam, _max_len(bundle), device, _calibrated(bundle))
        for (fc, (n, fps, warns, _, _, _, off)), dec in zip(ok, decoded):
            fc.result = build_result(dec, bundle, str(fc.source), n, fps, onset_rule, beam, warns)
            fc.result.time_offset_s = off
    long = [(fc, got) for fc, got in batch if got is not None and got[5] is not None]
    if long:
        max_len, with_parts = _max_len(bundle), _calibrated(bundle)

        def decode_fn(items):                             # [(index into long, features)]
            return _decode(bundle, [(f, long[k][1][4]) for k, f in items], beam, max_len, device, with_parts)
        steps = {k: _long_steps(got[5], got[1], bundle, str(fc.source), got[2], beam, onset_rule, window_s, hop_s,
                                batch_size) for k, (fc, got) in enumerate(long)}
        for k, r in drive_many(steps, decode_fn).items():
            fc, got = long[k]
            if isinstance(r, Exception):                  # a bad file never stops the batch
                fc.error = file_error(fc.source, r)
            else:
                fc.result, r.time_offset_s = r, got[6]
    return [fc for fc, _ in batch]


def caption_files(paths: Iterable, bundle: "Bundle | OnnxBundle", beam: int = 1, device: str | None = None,
                  onset_rule: str = "fwhm", batch_size: int = 16, progress=None, jobs: int = 1,
                  window_s: float = WINDOW_S, hop_s: float = HOP_S, dense_after_s: float = DENSE_AFTER_S,
                  **load_options) -> list[FileCaption]:
    """All of :func:`iter_captions` as a list (one FileCaption per path, in order)."""
    return list(iter_captions(paths, bundle, beam, device, onset_rule, batch_size, progress, jobs, window_s, hop_s,
                              dense_after_s, **load_options))


def __getattr__(name: str):
    """`iter_captions_in_workers` and `workers_load_model` moved to models/caption_workers.py; still
    importable from here (lazily: caption_workers imports this module)."""
    if name in ("iter_captions_in_workers", "workers_load_model"):
        from . import caption_workers
        return getattr(caption_workers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
