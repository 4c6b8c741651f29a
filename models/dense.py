"""Dense captions for recordings of any length: label short windows, cut, caption each action.

1. **Labelling windows.** The canonical clip is cut into windows of `window_s` seconds every
   `hop_s` seconds, and again into windows of `SCALES` × `window_s` (0.75, 1, 1.5 and 2 s by default;
   the last window of each length ends at the clip's end; a clip no longer than a window is one
   window). Each window is made canonical again as training clips are (root at the origin on
   the floor plane and facing +Z at its first frames, `compose.place_at_origin`) and decoded (in
   batches); its action words (`localization.trace_actions`) are its candidates. Windows, floor
   and window features: models/take_windows.py.
2. **Frame labels.** On a grid of `STEP_S` seconds, every frame of a window votes for one of the
   window's candidates: the one whose Gaussian window (m, σ) is nearest in units of its half
   span, so a window whose caption says "walks then waves" gives its first frames to the walk
   and its last to the wave. A candidate's label is its verb stem (the stem's synonym class when
   the model has them, models/synonyms.py: "runs" and "jogs" vote together) plus its side (left/right) and
   its direction (backward, sideways, circle) when its clause names them ("raise|left" and
   "raise|right", "walk" and "walk#backward" are different actions). A frame's score
   for a label is the share of the windows covering it that voted so. One label per frame
   (or none, score `NONE_SCORE`) is chosen by a Viterbi pass that pays `MIN_ACTION_S / 2`
   seconds' worth of score per change of label: runs shorter than about `MIN_ACTION_S` only
   survive with clear evidence. Each run of one label is an action.
3. **Action captions.** Each action's frames (plus `PAD_S` of each neighbour, 0 by default) are captioned as
   a clip of their own, which is what the model was trained on: its caption is the action's
   `text`; the most probable action word of that caption with the action's label (the most
   probable one when none has it) gives its side (when the word's clause names no side, the side
   named between the "then"s around it: "walks forward and turns left" -> left, `sentence_side`)
   and its label. The action's `word` is the word (by stem, then form) the windows over it said
   most often with that word's own clause label (side and direction of its own clause, not the
   sentence's: `voted_word`; that caption's word when tied), its `parts` the mean of the ranked
   part scores (Γ-weighted α) of that caption word and of those windows' words (`mean_parts`), its
   confidence that caption word's probability × the action's mean vote share. A caption that names
   no action takes the votes' label, the windows' word and parts, confidence = the vote share, and
   no in-domain score. Neighbours that
   come out with the same label, or with the same caption, are joined.
Actions tile the take in time order and do not overlap (one action at a time). Memory is one
request of windows per take: a take of any length decodes max(`batch_size`, WINDOW_BATCH) windows
of the default length at a time (fewer when windows are longer), then its actions `batch_size` at
a time (an action can be long: a batch is padded to its longest); `decode_steps.drive_many` holds
one such request for each long recording of a batch of files. Defaults (`WINDOW_S`,
`HOP_S`, and which recordings are dense: `DENSE_AFTER_S`) and how they were chosen:
docs/outputs.md, "Long recordings".
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from m2t.converters.skeletons import PART_NAMES, get_skeleton

from . import synonyms
from .confidence import annotate, for_model
from .decode_steps import drive
from .localization import SIDE_WORDS, PredictedAction, side_of, trace_actions
from .modeldir import decode_length
from .results import DENSE_AFTER_S, HOP_S, SCALES, WINDOW_S, check_windowing, feature_time  # noqa: F401 (re-exported)
from .lexicon import BOUNDARIES, load_lexicon
from .supervision import named_sides, stem
from .take_windows import (FLOOR_TOLERANCE_M, FLOOR_WINDOW_S, _features, _window_features,  # noqa: F401 (re-exported)
                           check_window_frames, floor_height, plan_scales, plan_windows, window_lengths)

STEP_S = 0.05          # frame-label grid (s)
MIN_ACTION_S = 0.35    # label changes cost MIN_ACTION_S / 2 seconds of full vote share
NONE_SCORE = 0.1       # score of "no action" on a frame (frames no window speaks for)
PAD_S = 0.0            # context (s) of its neighbours an action is captioned with, each side (val: 0 beat 0.25, 0.5)
JOIN_GAP_S = 0.3       # neighbours with one label or caption closer than this become one action
WINDOW_BATCH = 128     # windows of the default length (WINDOW_S) decoded together: 16 at a time spent a
                       # quarter of each decoder step on per-call costs and left the 2nd thread idle; longer
                       # --window values get proportionally fewer, so a batch's frames (memory) stay bounded


@dataclass
class TimelineAction:
    """One action of the timeline."""
    word: str                        # action word (verb): its windows' most said word (step 3)
    text: str                        # the caption of the action's own frames ("a person waves the right hand")
    onset_s: float
    offset_s: float
    parts: list                      # [(part name, score)] ranked, scores sum to 1
    side: str | None                 # left / right / both from its clause, or None
    confidence: float                # 0..1 (module docstring)
    windows: int                     # labelling windows that voted for it
    in_domain: float | None = None   # models/confidence.py score, when the model is calibrated
    low_confidence: bool | None = None
    direction: str | None = None     # backward / sideways / circle from its clause (part of its label)
    label: str = ""                  # label_of: set from word, side, direction when not given

    def __post_init__(self):
        self.label = self.label or label_of(self)

    def to_dict(self, index: int = 0) -> dict:
        side, direction = self.side, self.direction
        if direction is None and side in ("left", "right") and names_way(self.text, self.word, side):
            direction = side                                  # "walks to the left": also where it goes
        return {"index": index, "word": self.word, "text": self.text, "onset_s": round(self.onset_s, 3),
                "offset_s": round(self.offset_s, 3), "side": side, "confidence": round(self.confidence, 4),
                "windows": self.windows,
                "parts": [{"name": n, "score": round(float(s), 4)} for n, s in self.parts],
                "in_domain": None if self.in_domain is None else round(self.in_domain, 4),
                "low_confidence": self.low_confidence, "direction": direction}


# Porter stems of verbs whose left/right is a way to go (turn, walk, step, ..., written as stems so that
# captioning never loads nltk; tests/test_dense.py checks them against PorterStemmer)
WAY_VERBS = frozenset({"circl", "crawl", "dash", "go", "head", "hop", "jog", "jump", "limp", "move", "pivot", "rotat",
                       "run", "shuffl", "sidestep", "skip", "slide", "sneak", "spin", "sprint", "step", "stride",
                       "turn", "veer", "walk"})


def names_way(text: str, word: str, side: str) -> bool:
    """Whether the clause of `word` in `text` gives `side` as a way to go: "to the left", "turns
    right", "leftwards", and not a limb ("the left hand", "kicks with the left")."""
    words = text.lower().replace(",", " , ").split()
    i = next((k for k, w in enumerate(words) if stem(w) == stem(word)), 0)
    j = next((k for k in range(i + 1, len(words)) if words[k] in BOUNDARIES), len(words))
    clause = words[i:j] if side in words[i:j] or f"{side}ward" in words[i:j] or f"{side}wards" in words[i:j] else words
    lex = load_lexicon()
    if any(side in named_sides(clause, range(len(clause)), limb, lex) for limb in ("arm", "leg")):
        return False
    for k, w in enumerate(clause):
        if w in (f"{side}ward", f"{side}wards"):
            return True
        if w != side or k == 0:
            continue
        before = clause[max(0, k - 2):k]
        if before[-1] in ("to", "toward", "towards") or stem(before[-1]) in WAY_VERBS or (
                len(before) == 2 and before[0] in ("to", "toward", "towards")
                and before[1] in ("the", "his", "her", "their")):
            return True
    return False


@dataclass
class Window:
    start_s: float
    end_s: float
    text: str
    actions: list = field(default_factory=list)     # PredictedAction, times in seconds of the take
    score: float = 0.0                               # mean log-probability per token of its caption


def label_of(a, classes: dict | None = None) -> str:
    """An action's label: verb stem (its synonym class in `classes`, models/synonyms.py), plus the
    side when its clause names left or right, plus its direction (backward, sideways, circle)
    when its clause names one."""
    s = stem(a.word)
    return ((classes or {}).get(s, s) + (f"|{a.side}" if a.side in ("left", "right") else "")
            + (f"#{a.direction}" if a.direction else ""))


# ------------------------------------------------------------------------------ step 2: frame labels
def vote_shares(windows: list[Window], duration_s: float, step: float = STEP_S,
                classes: dict | None = None) -> tuple[list[str], np.ndarray]:
    """(labels, shares (L, N)) on a grid of N = ceil(duration / step) frames (module docstring, step 2)."""
    n = max(1, int(np.ceil(duration_s / step)))
    t = (np.arange(n) + 0.5) * step
    cover, votes = np.zeros(n), {}
    for w in windows:
        inside = np.flatnonzero((t >= w.start_s) & (t < w.end_s))
        cover[inside] += 1
        acts = [a for a in w.actions if a.word not in SIDE_WORDS]
        if not acts or not len(inside):
            continue
        dist = np.stack([np.abs(t[inside] - a.centre_s) / max((a.offset_s - a.onset_s) / 2, 1e-3) for a in acts])
        owner = dist.argmin(0)
        for k, a in enumerate(acts):
            votes.setdefault(label_of(a, classes), np.zeros(n))[inside[owner == k]] += 1
    labels = sorted(votes)
    shares = np.stack([votes[k] for k in labels]) / np.maximum(cover, 1) if labels else np.zeros((0, n))
    return labels, shares


def viterbi_runs(scores: np.ndarray, switch_cost: float) -> list[tuple[int, int, int]]:
    """Best labelling of frames, scores (S, N), paying `switch_cost` per change of label ->
    runs [(state, first frame, last frame + 1)] in order."""
    S, n = scores.shape
    total = scores[:, 0].copy()
    back = np.zeros((S, n), int)
    for i in range(1, n):
        best = int(total.argmax())
        jump = total[best] - switch_cost
        back[:, i] = np.where(total >= jump, np.arange(S), best)
        total = np.maximum(total, jump) + scores[:, i]
    path = np.empty(n, int)
    path[-1] = int(total.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[path[i], i]
    runs, i = [], 0
    for state, grp in itertools.groupby(path):
        k = len(list(grp))
        runs.append((int(state), i, i + k))
        i += k
    return runs


def label_frames(windows: list[Window], duration_s: float, step: float = STEP_S,
                 min_action_s: float | None = None, classes: dict | None = None) -> list[tuple[float, float, str, float]]:
    """[(onset_s, offset_s, label, mean share)] of the runs of one label (module docstring, step 2);
    `min_action_s` defaults to MIN_ACTION_S."""
    min_action_s = MIN_ACTION_S if min_action_s is None else min_action_s
    labels, shares = vote_shares(windows, duration_s, step, classes)
    if not labels:
        return []
    scores = np.vstack([shares, np.full((1, shares.shape[1]), NONE_SCORE)])
    out = []
    for state, a, b in viterbi_runs(scores, min_action_s / step / 2):
        if state < len(labels):
            out.append((a * step, min(b * step, duration_s), labels[state], float(shares[state, a:b].mean())))
    return out


# ------------------------------------------------------------------------------ step 3: action captions
def caption_actions(joints: np.ndarray, fps: float, bundle, spans: list, windows: list[Window],
                    decode_fn, cal=None, skel=None, classes: dict | None = None) -> list[TimelineAction]:
    """Caption each span [(onset_s, offset_s, label, share)] as a clip (module docstring, step 3);
    with a calibration `cal`, the in-domain score of each action comes from the encoder output
    its decoding handed back (`Decoded.parts`; none: no score). `classes`: the labels' synonym
    classes (models/synonyms.py)."""
    return drive(_action_steps(joints, fps, bundle, spans, windows, cal, skel, classes, len(spans)), decode_fn)


def _action_steps(joints, fps, bundle, spans, windows, cal, skel, classes, per_call: int):
    """`caption_actions` as decoding steps (see `drive`)."""
    skel = skel or get_skeleton(bundle.cfg.skeleton)
    ds, n = bundle.downsample, len(joints)
    cuts = [(max(0, int(round((on - PAD_S) * fps))), min(n, int(round((off + PAD_S) * fps)))) for on, off, _, _ in spans]
    cuts = [(a, max(b, min(n, a + 2 * ds))) for a, b in cuts]
    feats = [_features(joints[a:b], bundle, skel) for a, b in cuts]
    decs = (yield per_call, feats) if feats else []
    out: list[TimelineAction] = []
    for (on, off, label, share), (a, _), dec in zip(spans, cuts, decs):
        words = bundle.vocab.decode(dec.ids)
        probs = np.exp(dec.logprobs) if dec.logprobs is not None else None
        acts = [x for x in trace_actions(words, dec.window, dec.alpha, dec.centre, dec.width,
                                         lambda i, a=a: a / fps + float(feature_time(i, fps, ds)), probs)
                if x.word not in SIDE_WORDS]
        annotate(cal, acts, dec, dec.parts)
        over = [w for w in windows if w.start_s < off and w.end_s > on]         # the windows over the action
        voters = sum(1 for w in over if any(label_of(x, classes) == label for x in w.actions))
        named = bool(acts)
        if not named:                                           # its own caption names no action: the votes' label
            rest, _, direction = label.partition("#")
            stem_, _, side = rest.partition("|")
            acts = [PredictedAction(stem_, on, off, (on + off) / 2, side=side or None,
                                    parts=[(p, 1.0 / len(PART_NAMES)) for p in PART_NAMES],
                                    direction=direction or None)]
        agree = [x for x in acts if label_of(x, classes) == label] or acts
        best = max(agree, key=lambda x: x.confidence if x.confidence is not None else 1.0)
        side = best.side or sentence_side(words, best.word_index)
        t = TimelineAction(best.word, " ".join(words), on, off, best.parts, side,
                           (best.confidence if best.confidence is not None else 1.0) * share, voters,
                           best.in_domain, None if best.in_domain is None or cal is None
                           else best.in_domain < cal.threshold, best.direction)
        t.label = label_of(t, classes) if named else label
        own = label_of(best, classes) if named else label      # the windows agree with the word's own clause
        same = [x for w in over for x in w.actions if x.word not in SIDE_WORDS and label_of(x, classes) == own]
        t.word = voted_word([x.word for x in same], best.word if named else None) or best.word
        t.parts = mean_parts(([best.parts] if named else []) + [x.parts for x in same if x.parts]) or best.parts
        out.append(t)
    return out


def voted_word(said: list[str], own: str | None) -> str | None:
    """The word an action is named by: of the stems the labelling windows over it said with the
    label of its own caption's word (`said`, one word per window action; synonyms share a label),
    the one said most often, and of its forms the most said; its own caption's word `own` when
    its stem is among the most said (or nothing was said)."""
    stems = Counter(stem(w) for w in said)
    if not stems or (own is not None and stems[stem(own)] == max(stems.values())):
        return own
    top = stems.most_common(1)[0][0]
    return Counter(w for w in said if stem(w) == top).most_common(1)[0][0]


def mean_parts(rankings: list) -> list:
    """Ranked [(part, score)] lists -> their mean score per part, ranked (ties in PART_NAMES
    order); [] for no lists."""
    if not rankings:
        return []
    acc = np.zeros(len(PART_NAMES))
    for r in rankings:
        d = dict(r)
        acc += [d.get(p, 0.0) for p in PART_NAMES]
    acc /= len(rankings)
    return [(PART_NAMES[i], float(acc[i])) for i in np.argsort(-acc, kind="stable")]


def sentence_side(words: list[str], i: int | None) -> str | None:
    """The side named in the part of a caption between "then"s that holds word i ("walks forward
    and turns left" -> left for "walks"; "walks forward then raises the left hand" -> None)."""
    if i is None:
        return None
    lo = max((k + 1 for k in range(i) if words[k] == "then"), default=0)
    hi = next((k for k in range(i, len(words)) if words[k] == "then"), len(words))
    return side_of(words[lo:hi])


def join_neighbours(timeline: list[TimelineAction]) -> list[TimelineAction]:
    """Neighbours closer than JOIN_GAP_S with one label, or with one caption of their own frames
    ("a person walks forward and turns left" for both "walk" and "turn|left"), become one action."""
    out: list[TimelineAction] = []
    for t in timeline:
        same = out and (out[-1].label == t.label or (t.text and out[-1].text == t.text))
        if same and t.onset_s - out[-1].offset_s < JOIN_GAP_S:
            out[-1] = _join(out[-1], t)
        else:
            out.append(t)
    return out


def _join(a: TimelineAction, b: TimelineAction) -> TimelineAction:
    """Two neighbours with one label or caption: one action over both, described by the longer one."""
    keep = a if a.offset_s - a.onset_s >= b.offset_s - b.onset_s else b
    wa, wb = a.offset_s - a.onset_s, b.offset_s - b.onset_s
    conf = (a.confidence * wa + b.confidence * wb) / max(wa + wb, 1e-9)
    return TimelineAction(keep.word, keep.text, a.onset_s, b.offset_s, keep.parts, keep.side, conf,
                          max(a.windows, b.windows), keep.in_domain, keep.low_confidence, keep.direction,
                          keep.label)


def timeline_text(timeline: list[TimelineAction]) -> str:
    """The actions' captions in time order, joined by ", then "; later ones lose their subject
    ("a person walks forward, then waves the right hand")."""
    from .compose import subject_end
    parts = []
    for i, t in enumerate(timeline):
        words = t.text.split()
        cut = subject_end(words, [""] * len(words)) if i else 0
        parts.append(" ".join(words[cut:]))
    return ", then ".join(p for p in parts if p)


# ------------------------------------------------------------------------------ whole pipeline
def single_timeline(words: list[str], dec, frame_time, duration_s: float, cal=None,
                    parts: np.ndarray | None = None) -> list[TimelineAction]:
    """The timeline of one caption of a whole clip: one action per action word, its span the
    word's window span; with a calibration `cal` and the clip's encoder output `parts`
    (n, P, H), each action gets its in-domain score."""
    probs = np.exp(dec.logprobs) if dec.logprobs is not None else None
    acts = [a for a in trace_actions(words, dec.window, dec.alpha, dec.centre, dec.width, frame_time, probs)
            if a.word not in SIDE_WORDS]
    annotate(cal, acts, dec, parts)
    out = [TimelineAction(a.word, _clause(words, a), a.onset_s, min(a.offset_s, duration_s), a.parts, a.side,
                          a.confidence if a.confidence is not None else 1.0, 1, a.in_domain,
                          None if a.in_domain is None or cal is None else a.in_domain < cal.threshold, a.direction)
           for a in acts]
    out.sort(key=lambda t: (t.onset_s, t.offset_s))
    return out


def _clause(words: list[str], a: PredictedAction) -> str:
    i = a.word_index if a.word_index is not None else 0
    j = i + 1
    while j < len(words) and words[j] not in ("then", "and", "while", "after", "before"):
        j += 1
    return " ".join(words[i:j])


def dense_timeline(joints: np.ndarray, fps: float, bundle, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                   beam: int = 1, batch_size: int = 16, progress=None,
                   decode_fn=None) -> tuple[list[TimelineAction], list[Window]]:
    """Canonical joints (T, J, 3) in metres at `fps` on the model's skeleton -> (timeline, windows).
    `decode_fn(features list) -> [Decoded]` decodes a batch of clips (any backend; for in-domain
    scores of a calibrated model with each clip's encoder output, `Decoded.parts`); by default the
    torch model of `bundle`."""
    if decode_fn is None:
        decode_fn = _torch_decode_fn(bundle, beam)
    return drive(timeline_steps(joints, fps, bundle, window_s, hop_s, batch_size, progress), decode_fn)


def timeline_steps(joints: np.ndarray, fps: float, bundle, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                   batch_size: int = 16, progress=None):
    """`dense_timeline` as decoding steps: a generator that yields (per_call, [clip features])
    requests, is sent their [Decoded], and returns (timeline, windows) (see `drive`; the steps of
    several takes can share decoder calls: models/decode_steps.py)."""
    skel = get_skeleton(bundle.cfg.skeleton)
    check_window_frames(window_s, fps, bundle.downsample)
    plan = plan_scales(len(joints), fps, window_s, hop_s)
    ds = bundle.downsample
    duration = len(joints) / fps
    cal = for_model(bundle)
    windows = []
    step = max(batch_size, round(WINDOW_BATCH * min(1.0, WINDOW_S / window_s)))
    for b0 in range(0, len(plan), step):
        chunk = plan[b0:b0 + step]
        decs = yield step, _window_features(joints, chunk, bundle, skel)
        for (s, e), dec in zip(chunk, decs):
            words = bundle.vocab.decode(dec.ids)
            probs = np.exp(dec.logprobs) if dec.logprobs is not None else None
            acts = trace_actions(words, dec.window, dec.alpha, dec.centre, dec.width,
                                 lambda k, s=s: s / fps + float(feature_time(k, fps, ds)), probs)
            windows.append(Window(s / fps, e / fps, " ".join(words), acts, float(dec.score)))
        if progress:
            progress(min(b0 + step, len(plan)), len(plan))
    classes = synonyms.of_model(bundle)
    spans = label_frames(windows, duration, classes=classes)
    timeline = []
    step = max(1, batch_size)
    for b0 in range(0, len(spans), step):
        timeline += yield from _action_steps(joints, fps, bundle, spans[b0:b0 + step], windows, cal, skel, classes, step)
    return join_neighbours(timeline), windows


def _torch_decode_fn(bundle, beam: int):
    """decode_fn on the torch model of a loaded Bundle (where it is); with the encoder output
    (`Decoded.parts`) when the model is calibrated."""
    import torch
    from .batching import batch_features
    from .decoding import decode
    dev = next(bundle.model.parameters()).device
    max_len, with_parts = decode_length(bundle.meta), for_model(bundle) is not None

    def decode_fn(feats):
        x, mask = batch_features(feats, dev)
        with torch.no_grad():
            return decode(bundle.model, x, mask, beam, max_len, with_parts=with_parts)
    return decode_fn
