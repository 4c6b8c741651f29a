"""Dense captions for recordings of any length: overlapping windows merged into one timeline.

1. **Windows.** The canonical clip is cut into windows of `window_s` seconds every `hop_s`
   seconds (the last window ends at the clip's end; a clip no longer than `window_s` is one
   window). Each window is made canonical again as training clips are (root at the origin on
   the floor plane and facing +Z at its first frames, `compose.turn_and_place`), so a window deep
   into a long take looks like a training clip. Windows are decoded in batches.
2. **Actions per window.** The action words of each window's caption
   (`localization.trace_actions`): word, window span `m ∓ 1.1774σ` in seconds of the take,
   ranked body parts (Γ-weighted α), side words of its clause, and the token probability.
   Each gets a weight: its distance from the nearer window edge over half the window
   (edges that are the take's own start/end do not count), clipped to [0.1, 1] — a window sees
   the middle of its span best.
3. **Merge.** Candidates are taken in order of their centre; one joins a timeline action of the
   same verb stem when their spans overlap with tIoU ≥ `merge_iou` or its centre lies inside
   the action; else it starts a new action. An action's onset/offset and part scores are the
   weighted means of its candidates, its side the weighted vote, its confidence the weighted
   mean token probability × the share of the windows covering it that named it.
Actions of different verbs may overlap (a person can walk and wave at once). Memory is one
batch of windows: a take of any length costs `batch_size` windows at a time.
Defaults (`WINDOW_S`, `HOP_S`) and how they were chosen: docs/outputs.md, "Long recordings".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from m2t.converters.errors import MotionFileError
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from .compose import facing_yaw, turn_and_place
from .confidence import annotate, for_model
from .localization import PredictedAction, tiou, trace_actions
from .modeldir import decode_length
from .results import HOP_S, WINDOW_S, check_windowing, feature_time  # noqa: F401 (the defaults, re-exported)


@dataclass
class TimelineAction:
    """One action of the merged timeline."""
    word: str                        # action word (verb) as said by the captions
    text: str                        # its clause in the window caption that saw it best ("waves the right hand")
    onset_s: float
    offset_s: float
    parts: list                      # [(part name, score)] ranked, scores sum to 1
    side: str | None                 # left / right / both from its clause, or None
    confidence: float                # 0..1 (module docstring)
    windows: int                     # windows that named it
    in_domain: float | None = None   # models/confidence.py score (weighted mean), when the model is calibrated
    low_confidence: bool | None = None

    def to_dict(self, index: int = 0) -> dict:
        return {"index": index, "word": self.word, "text": self.text, "onset_s": round(self.onset_s, 3),
                "offset_s": round(self.offset_s, 3), "side": self.side, "confidence": round(self.confidence, 4),
                "windows": self.windows,
                "parts": [{"name": n, "score": round(float(s), 4)} for n, s in self.parts],
                "in_domain": None if self.in_domain is None else round(self.in_domain, 4),
                "low_confidence": self.low_confidence}


@dataclass
class Window:
    start_s: float
    end_s: float
    text: str
    actions: list = field(default_factory=list)     # PredictedAction, times in seconds of the take
    score: float = 0.0                               # mean log-probability per token of its caption


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


def single_timeline(words: list[str], dec, frame_time, duration_s: float, cal=None,
                    parts: np.ndarray | None = None) -> list[TimelineAction]:
    """The timeline of one caption of a whole clip (one window); with a calibration `cal` and
    the clip's encoder output `parts` (n, P, H), each action gets its in-domain score."""
    probs = np.exp(dec.logprobs) if dec.logprobs is not None else None
    acts = trace_actions(words, dec.window, dec.alpha, dec.centre, dec.width, frame_time, probs)
    annotate(cal, acts, dec, parts)
    return merge([Window(0.0, duration_s, " ".join(words), acts)], duration_s,
                 threshold=None if cal is None else cal.threshold)


def recentre(joints: np.ndarray, skel) -> np.ndarray:
    """A window as a training clip: root on the origin, facing +Z over its first 3 frames (only
    moved when the facing is undefined, e.g. hips and shoulders on one vertical line)."""
    try:
        yaw = -facing_yaw(joints, skel, slice(0, 3))
    except MotionFileError:
        yaw = 0.0
    return turn_and_place(joints, yaw, np.zeros(2)).astype(np.float32)


def _weight(a: PredictedAction, w0: float, w1: float, t_end: float) -> float:
    half = max((w1 - w0) / 2, 1e-9)
    left = np.inf if w0 <= 0 else a.centre_s - w0
    right = np.inf if w1 >= t_end else w1 - a.centre_s
    return float(np.clip(min(left, right) / half, 0.1, 1.0))


def merge(windows: list[Window], duration_s: float, merge_iou: float = 0.2,
          threshold: float | None = None) -> list[TimelineAction]:
    """Merge the windows' actions into one timeline (module docstring, step 3); `threshold`: the
    calibrated in-domain threshold (`models.confidence`) below which an action is low-confidence."""
    cands = []
    for w in windows:
        for a in w.actions:
            cands.append((a, _weight(a, w.start_s, w.end_s, duration_s), w))
    cands.sort(key=lambda c: (c[0].centre_s, c[0].word))
    groups: list[list] = []
    for c in cands:
        a = c[0]
        for g in reversed(groups):
            on = np.average([x[0].onset_s for x in g], weights=[x[1] for x in g])
            off = np.average([x[0].offset_s for x in g], weights=[x[1] for x in g])
            if g[0][0].stem == a.stem and (tiou((a.onset_s, a.offset_s), (on, off)) >= merge_iou or on <= a.centre_s <= off):
                g.append(c)
                break
        else:
            groups.append([c])
    out = []
    for g in groups:
        wts = np.array([x[1] for x in g])
        scores = np.zeros(len(PART_NAMES))
        for x, wt in zip(g, wts):
            for name, s in x[0].parts:
                scores[PART_NAMES.index(name)] += wt * s
        scores /= max(wts.sum(), 1e-12)
        order = np.argsort(-scores, kind="stable")
        sides = {}
        for x, wt in zip(g, wts):
            sides[x[0].side] = sides.get(x[0].side, 0.0) + wt
        on = float(np.average([x[0].onset_s for x in g], weights=wts))
        off = float(np.average([x[0].offset_s for x in g], weights=wts))
        covering = sum(1 for w in windows if w.start_s <= (on + off) / 2 <= w.end_s) or 1
        named_in = len({id(x[2]) for x in g})
        conf = float(np.average([x[0].confidence or 0.0 for x in g], weights=wts)) * min(1.0, named_in / covering)
        best = g[int(np.argmax(wts))]
        dom = [x[0].in_domain for x in g]
        in_domain = float(np.average(dom, weights=wts)) if all(d is not None for d in dom) else None
        out.append(TimelineAction(best[0].word, _clause(best[2].text, best[0]), on, off,
                                  [(PART_NAMES[i], float(scores[i])) for i in order],
                                  max(sides, key=lambda k: (sides[k], k is not None)), conf, named_in, in_domain,
                                  None if in_domain is None or threshold is None else in_domain < threshold))
    out.sort(key=lambda t: (t.onset_s, t.offset_s))
    return out


def _clause(text: str, a: PredictedAction) -> str:
    words = text.split()
    i = a.word_index if a.word_index is not None else 0
    j = i + 1
    while j < len(words) and words[j] not in ("then", "and", "while", "after", "before"):
        j += 1
    return " ".join(words[i:j])


def dense_timeline(joints: np.ndarray, fps: float, bundle, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                   beam: int = 1, batch_size: int = 16, merge_iou: float = 0.2, progress=None,
                   decode_fn=None, parts_fn=None) -> tuple[list[TimelineAction], list[Window]]:
    """Canonical joints (T, J, 3) in metres at `fps` on the model's skeleton -> (timeline, windows).
    `decode_fn(features list) -> [Decoded]` and `parts_fn(features list) -> (B, T, P, H) | None`
    decode and encode a batch of windows (any backend); by default the torch model of `bundle`."""
    if decode_fn is None:
        decode_fn, parts_fn = _torch_fns(bundle, beam)
    from .features import motion_features
    skel = get_skeleton(bundle.cfg.skeleton)
    plan = plan_windows(len(joints), fps, window_s, hop_s)
    ds = bundle.downsample
    duration = len(joints) / fps
    cal = for_model(bundle)
    windows = []
    for b0 in range(0, len(plan), max(1, batch_size)):
        chunk = plan[b0:b0 + max(1, batch_size)]
        feats = [motion_features(recentre(joints[s:e], skel) * bundle.input_scale, bundle.norm, ds) for s, e in chunk]
        decs = decode_fn(feats)
        parts = parts_fn(feats) if (cal is not None and parts_fn is not None) else None
        for b, ((s, e), dec) in enumerate(zip(chunk, decs)):
            words = bundle.vocab.decode(dec.ids)
            probs = np.exp(dec.logprobs) if dec.logprobs is not None else None
            acts = trace_actions(words, dec.window, dec.alpha, dec.centre, dec.width,
                                 lambda k, s=s: s / fps + float(feature_time(k, fps, ds)), probs)
            annotate(cal, acts, dec, None if parts is None else parts[b])
            windows.append(Window(s / fps, e / fps, " ".join(words), acts, float(dec.score)))
        if progress:
            progress(min(b0 + batch_size, len(plan)), len(plan))
    return merge(windows, duration, merge_iou, None if cal is None else cal.threshold), windows


def _torch_fns(bundle, beam: int):
    """decode_fn, parts_fn on the torch model of a loaded Bundle (where it is)."""
    import torch
    from .batching import batch_features
    from .decoding import decode
    dev = next(bundle.model.parameters()).device
    max_len = decode_length(bundle.meta)

    def decode_fn(feats):
        x, mask = batch_features(feats, dev)
        with torch.no_grad():
            return decode(bundle.model, x, mask, beam, max_len)

    def parts_fn(feats):
        x, mask = batch_features(feats, dev)
        with torch.no_grad():
            return bundle.model.encode(x, mask).parts.cpu().numpy()
    return decode_fn, parts_fn
