"""`m2t evaluate --localization`: does each motion word say *when* and *which part*, measured on
composed sequences with known action boundaries (`m2t dataset compose`, docs/evaluation.md).

Per sequence the model's caption is decoded with its trace. **Action words** of a caption are
its motion words (β target 1, `supervision.caption_targets`) that are verbs or dictionary
action words, trajectory words (forward, circle, ...; but "circles" as a verb is an action) and side words (left, right, both) excepted. Each ground-truth action has
**key stems**: the Porter stems of the action words of all paraphrases of its clip. Ground-truth
actions (time order) and predicted action words (caption order) are aligned monotonically,
maximising the number of pairs whose stem is a key of the action (LCS): an aligned action is
**named**. Its predicted span is the word's window span `[m - cσ, m + cσ]` (`results.window_span`,
the `fwhm` onset/offset of `m2t caption`), clipped to the clip, in seconds.

Metrics (all actions count; an action that is not named counts as a miss):
- `all_named`: share of sequences whose every action is named;
- `named`: share of actions named;
- `recall@θ`: share of actions named with tIoU ≥ θ (θ = 0.3, 0.5, 0.7); `mean_tiou` (0 when not named);
- `onset_mae_s`, `offset_mae_s`: mean |error| in seconds over named actions;
- `pointing`: share of actions named whose window centre lies inside the action;
- `side_acc`: over named actions whose caption names a side, the side words of the predicted
  clause (from its action word to the next aligned one) give the same side;
- `part_acc`: over named actions with ground-truth parts, the part with the most attention
  (Γ-weighted α, as `m2t caption`'s ranking) is one of them;
- `beta_auc`: AUC of β̂ separating motion words (β target 1) from non-motion words (target 0)
  over every predicted token.
No metric penalises extra predicted actions, so `counts.predicted` (actions predicted in all)
stands beside `counts.actions` (true ones): over-cutting shows there.
Baselines use the model's named actions (so `named` is shared) and replace only the span:
`whole` (the whole clip), `centre` (a window of length duration/K at the centre, K = named
actions), `equal` (K equal parts in caption order), `energy` (K segments cut at the K-1 deepest
minima of the smoothed kinematic energy, in order); `energy` also names the part that moves most
inside its span for `part_acc`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from m2t.converters.skeletons import PART_NAMES, get_skeleton

from . import data as D
from .compose import composed_ids, read_segments
from .results import DENSE_AFTER_S, HOP_S, clipped_span, feature_time
from .lexicon import BOUNDARIES, SUBJECT_NOUNS
from .supervision import caption_targets, stem, word_group
from .styles import style_edits
from .tagging import tag, tagger_mode

THRESHOLDS = (0.3, 0.5, 0.7)
METHODS = ("model", "whole", "centre", "equal", "energy")
SIDES = ("left", "right")
SIDE_WORDS = frozenset(SIDES + ("both",))         # say which side an action is on; never an action themselves
# clause words that make one verb a different action ("back" is not one: captions say "back and forth")
DIRECTIONS = {"backward": "backward", "backwards": "backward", "sideways": "sideways", "circle": "circle",
              "circles": "circle"}


# ------------------------------------------------------------------------------ words and names
def action_word_indices(words: list[str], pos: list[str] | None = None) -> list[int]:
    """Indices of the action words of a caption (module docstring). Without `pos` the caption is
    tagged, and the answer kept per caption (a timeline's windows say the same captions often)."""
    if not words:
        return []
    if not pos:
        return list(_action_words_of(tuple(words), tagger_mode()))
    return _action_words(words, pos)


@functools.lru_cache(maxsize=4096)
def _action_words_of(words: tuple, mode: str) -> tuple:
    return tuple(_action_words(list(words), tag(list(words), backend=mode)))


def _action_words(words: list[str], pos: list[str]) -> list[int]:
    beta, _ = caption_targets(words, pos)
    style = style_edits(words)                           # "a tired person", "with a strut": never actions
    out = []
    for i, (w, p, b) in enumerate(zip(words, pos, beta)):
        g = word_group(w, p)
        verb = p == "VERB" or p.startswith("VB")
        # a path word is an action only as the clause's verb right after its subject ("a person
        # circles both arms", "then circles"), not "jogs in a clockwise circle" mis-tagged a verb
        path_verb = verb and (i == 0 or words[i - 1] in BOUNDARIES or words[i - 1] in SUBJECT_NOUNS)
        if (b == 1 and (g != "root" or path_verb) and w not in SIDE_WORDS and (verb or g is not None)
                and style.get(i, "") is not None):
            out.append(i)
    return out


def key_stems(captions: list[str]) -> set[str]:
    from .vocab import tokenize
    keys = set()
    for c in captions:
        toks = tokenize(c)
        keys |= {stem(toks[i]) for i in action_word_indices(toks)}
    return keys


def align(keys: list[set], stems: list[str]) -> list[int | None]:
    """Monotone alignment of actions (each a set of key stems) to predicted stems maximising
    the matches (LCS); -> per action the index into `stems` or None. Ties take earlier words."""
    n, m = len(keys), len(stems)
    best = np.zeros((n + 1, m + 1), int)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i, j] = max(best[i + 1, j], best[i, j + 1], best[i + 1, j + 1] + 1 if stems[j] in keys[i] else 0)
    out, i, j = [], 0, 0
    while i < n:
        if j < m and stems[j] in keys[i] and best[i, j] == best[i + 1, j + 1] + 1:
            out.append(j)
            i, j = i + 1, j + 1
        elif j < m and best[i, j] == best[i, j + 1]:
            j += 1
        else:
            out.append(None)
            i += 1
    return out


def direction_of(words: list[str]) -> str | None:
    """The first DIRECTIONS word of a clause, normalised ("walks backwards" -> "backward"), or None."""
    return next((DIRECTIONS[w] for w in words if w in DIRECTIONS), None)


def side_of(words: list[str]) -> str | None:
    if "both" in words:
        return "both"
    named = {w for w in words if w in SIDES}
    return named.pop() if len(named) == 1 else None


# ------------------------------------------------------------------------------ geometry of time
def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else float(a == b)


def auc(scores, labels) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(allv):                                    # average ranks of ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def kinematic_energy(joints: np.ndarray, fps: float, smooth_s: float = 0.5) -> np.ndarray:
    """(T,) Σ_j |v_j|² of root-relative joints plus the root's own velocity, moving-averaged."""
    rel = joints - joints[:, :1]
    rel[:, 0] = joints[:, 0]
    v = np.diff(rel, axis=0, prepend=rel[:1]) * fps
    e = (v ** 2).sum((1, 2))
    k = max(1, int(round(smooth_s * fps)))
    return np.convolve(e, np.ones(k) / k, mode="same")


def part_energy(joints: np.ndarray, skeleton: str) -> np.ndarray:
    """(T, 6) kinematic energy per body part (PART_NAMES order)."""
    rel = joints - joints[:, :1]
    rel[:, 0] = joints[:, 0]
    v2 = (np.diff(rel, axis=0, prepend=rel[:1]) ** 2).sum(-1)
    return np.stack([v2[:, list(p)].mean(1) for p in get_skeleton(skeleton).parts], 1)


def energy_segments(energy: np.ndarray, k: int, fps: float, min_len_s: float = 0.5) -> list[tuple[float, float]]:
    """k consecutive segments (seconds) cut at the k-1 deepest strict local minima of `energy` that
    lie at least `min_len_s` from each other and from the ends (fewer available: equal parts)."""
    T = len(energy)
    gap = max(1, int(round(min_len_s * fps)))
    minima = [t for t in range(1, T - 1) if energy[t] <= energy[t - 1] and energy[t] <= energy[t + 1]
              and min(energy[t - 1], energy[t + 1]) > energy[t]]
    cuts: list[int] = []
    for t in sorted(minima, key=lambda t: (energy[t], t)):
        if len(cuts) == k - 1:
            break
        if gap <= t <= T - gap and all(abs(t - c) >= gap for c in cuts):
            cuts.append(t)
    if len(cuts) < k - 1:
        return equal_segments(T / fps, k)
    edges = [0.0] + [c / fps for c in sorted(cuts)] + [T / fps]
    return list(zip(edges[:-1], edges[1:]))


def equal_segments(duration: float, k: int) -> list[tuple[float, float]]:
    edges = np.linspace(0, duration, k + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


# ------------------------------------------------------------------------------ one sequence
@dataclass
class PredictedAction:
    """One action a caption names: its action word and where/when the model put it."""
    word: str
    onset_s: float
    offset_s: float
    centre_s: float
    part: str | None = None                          # part with the most attention
    side: str | None = None                          # side words of its clause
    word_index: int | None = None                    # position in the caption (None after merging)
    confidence: float | None = None
    parts: list = field(default_factory=list)        # [(name, score)] ranked
    in_domain: float | None = None                   # models/confidence.py score, when calibrated
    direction: str | None = None                     # direction_of its clause

    @property
    def stem(self) -> str:
        return stem(self.word)


def trace_actions(words: list[str], window: np.ndarray, alpha: np.ndarray, centre: np.ndarray,
                  width: np.ndarray, frame_time, probs=None) -> list[PredictedAction]:
    """The action words of one decoded caption with their window span clipped to the clip
    (`results.clipped_span`), centre, attended part and clause side; `frame_time(k)` converts
    feature frames to seconds; window/alpha/centre/width are per decoding step (= word)."""
    idx = action_word_indices(words)
    n = window.shape[1]
    out = []
    for i, nxt in zip(idx, idx[1:] + [len(words)]):
        lo, hi = clipped_span(float(centre[i]), float(width[i]), n)
        w = window[i].astype(np.float64)
        score = (w[:, None] * alpha[i]).sum(0) / max(float(w.sum()), 1e-12)
        order = np.argsort(-score, kind="stable")
        out.append(PredictedAction(words[i], frame_time(lo), frame_time(hi), frame_time(float(centre[i])),
                                   PART_NAMES[int(order[0])], side_of(words[i:nxt]), i,
                                   None if probs is None else float(probs[i]),
                                   [(PART_NAMES[j], float(score[j])) for j in order],
                                   direction=direction_of(words[i:nxt])))
    return out


@dataclass
class ActionResult:
    named: bool
    gt: tuple[float, float]
    spans: dict = field(default_factory=dict)        # method -> (onset_s, offset_s)
    centre_s: float | None = None
    side: str | None = None                          # ground truth
    side_pred: str | None = None
    parts: list = field(default_factory=list)        # ground truth
    part_pred: dict = field(default_factory=dict)    # method -> part name


def score_actions(doc: dict, preds: list[PredictedAction], duration: float, energy: np.ndarray,
                  parts_e: np.ndarray, fps: float) -> list[ActionResult]:
    """Per ground-truth action of one sequence: named or not (aligned to `preds`, in time
    order), spans of the model and of each baseline, side and part predictions."""
    acts = doc["actions"]
    match = align([key_stems(a["captions"]) for a in acts], [p.stem for p in preds])
    named = [(ai, preds[j]) for ai, j in enumerate(match) if j is not None]
    k = max(1, len(named))
    base = {"whole": [(0.0, duration)] * k,
            "centre": [(duration / 2 - duration / (2 * k), duration / 2 + duration / (2 * k))] * k,
            "equal": equal_segments(duration, k), "energy": energy_segments(energy, k, fps)}
    out = [ActionResult(False, (a["start_s"], a["end_s"]), side=a.get("side"), parts=list(a.get("parts") or []))
           for a in acts]
    for r, (ai, p) in enumerate(named):
        res = out[ai]
        res.named = True
        res.spans["model"] = (p.onset_s, p.offset_s)
        res.centre_s = p.centre_s
        for name, segs in base.items():
            res.spans[name] = segs[r]
        res.side_pred = p.side
        res.part_pred["model"] = p.part
        a, b = (int(np.floor(x * fps)) for x in res.spans["energy"])
        seg = parts_e[a:max(b, a + 1)]
        res.part_pred["energy"] = PART_NAMES[int(np.argmax(seg.sum(0)))] if len(seg) else None
    return out


def score_sequence(doc: dict, words: list[str], window: np.ndarray, alpha: np.ndarray, centre: np.ndarray,
                   width: np.ndarray, frame_time, duration: float, energy: np.ndarray, parts_e: np.ndarray,
                   fps: float) -> list[ActionResult]:
    """`score_actions` of the actions of one decoded caption (`trace_actions`)."""
    return score_actions(doc, trace_actions(words, window, alpha, centre, width, frame_time), duration,
                         energy, parts_e, fps)


# ------------------------------------------------------------------------------ aggregation
def summarise(sequences: list[list[ActionResult]], beta_scores=(), beta_labels=(), predicted: int | None = None) -> dict:
    """{method: {metric: value}} over every action of every sequence (module docstring)."""
    acts = [a for s in sequences for a in s]
    n = max(1, len(acts))
    out = {}
    for m in METHODS:
        ious = [tiou(a.spans[m], a.gt) if a.named else 0.0 for a in acts]
        named = [a for a in acts if a.named]
        row = {"named": len(named) / n,
               **{f"recall@{t}": sum(i >= t for i in ious) / n for t in THRESHOLDS},
               "mean_tiou": float(np.mean(ious)) if acts else 0.0,
               "onset_mae_s": float(np.mean([abs(a.spans[m][0] - a.gt[0]) for a in named])) if named else None,
               "offset_mae_s": float(np.mean([abs(a.spans[m][1] - a.gt[1]) for a in named])) if named else None}
        centres = [a.centre_s if m == "model" else sum(a.spans[m]) / 2 for a in named]
        row["pointing"] = sum(a.gt[0] <= c <= a.gt[1] for a, c in zip(named, centres)) / n
        with_parts = [a for a in named if a.parts and m in a.part_pred]
        row["part_acc"] = (float(np.mean([a.part_pred[m] in a.parts for a in with_parts])) if with_parts else None)
        out[m] = row
    sided = [a for a in acts if a.named and a.side]
    out["model"]["all_named"] = float(np.mean([all(a.named for a in s) for s in sequences])) if sequences else 0.0
    out["model"]["side_acc"] = float(np.mean([a.side_pred == a.side for a in sided])) if sided else None
    out["model"]["beta_auc"] = auc(beta_scores, beta_labels)
    out["counts"] = {"sequences": len(sequences), "actions": len(acts), "named": sum(a.named for a in acts),
                     "with_side": len(sided), "with_parts": sum(1 for a in acts if a.named and a.parts),
                     "beta_tokens": len(beta_labels), "predicted": predicted}
    return out


@dataclass
class LocalizationReport:
    split: str
    beam: int
    metrics: dict
    per_sequence: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"split": self.split, "beam": self.beam, "metrics": self.metrics}


def evaluate_localization(bundle, dataset, split: str = "test", beam: int = 1, batch_size: int = 32,
                          max_len: int | None = None, progress=None, window_s: float | None = None,
                          hop_s: float | None = None, dense_after_s: float | None = None) -> LocalizationReport:
    """Decode every composed sequence (one with segments/<id>.json) of `split` with the loaded
    model `bundle` and score it (module docstring). With `window_s` (and `hop_s`, default
    `results.HOP_S`), the predicted actions are the `segments` `m2t caption` gives with those
    windows (`_evaluate_dense`; sequences up to `dense_after_s`, default `results.DENSE_AFTER_S`,
    get one caption as there; without `window_s`, `dense_after_s` has no effect) instead of the action words of one caption of the whole sequence."""
    from .decoding import decode_samples
    root, ids = composed_ids(dataset, split)
    samples, _ = D.load_samples(root, ids)
    skel = bundle.cfg.skeleton
    ds = bundle.downsample
    sequences, per, scores, labels, predicted = [], [], [], [], 0
    if window_s:
        return _evaluate_dense(bundle, root, samples, split, beam, window_s, hop_s or min(HOP_S, window_s), batch_size,
                               progress, DENSE_AFTER_S if dense_after_s is None else dense_after_s)
    for chunk, decs, _ in decode_samples(bundle, samples, beam, batch_size, max_len, progress):
        for s, dec in zip(chunk, decs):
            doc = read_segments(root, s.id)
            fps = float(doc["fps"])
            words = bundle.vocab.decode(dec.ids)
            predicted += len(action_word_indices(words))
            joints = s.joints / bundle.input_scale
            res = score_sequence(doc, words, dec.window, dec.alpha, dec.centre, dec.width,
                                 lambda k: float(feature_time(k, fps, ds)), s.joints.shape[0] / fps,
                                 kinematic_energy(joints, fps), part_energy(joints, skel), fps)
            sequences.append(res)
            if words:
                b, _ = caption_targets(words)
                for bt, bh in zip(b, dec.beta[:len(words)]):
                    if bt >= 0:
                        scores.append(float(bh))
                        labels.append(bool(bt == 1))
            per.append({"id": s.id, "prediction": " ".join(words),
                        "actions": [{"gt": r.gt, "named": r.named, "span": r.spans.get("model"),
                                     "side": r.side, "side_pred": r.side_pred, "parts": r.parts,
                                     "part_pred": r.part_pred.get("model")} for r in res]})
    return LocalizationReport(split, beam, summarise(sequences, scores, labels, predicted), per)


def segment_actions(segments: list[dict]) -> list[PredictedAction]:
    """The `segments` of a caption document (docs/outputs.md) as PredictedActions to score."""
    return [PredictedAction(t["word"], t["onset_s"], t["offset_s"], (t["onset_s"] + t["offset_s"]) / 2,
                            t["parts"][0]["name"] if t["parts"] else None, t["side"], None, t["confidence"],
                            [(q["name"], q["score"]) for q in t["parts"]]) for t in segments]


def _evaluate_dense(bundle, root, samples, split, beam, window_s, hop_s, batch_size, progress,
                    dense_after_s: float = DENSE_AFTER_S):
    """Each sequence captioned as `m2t caption` does (`captioning.caption_motion`: the timeline of
    `models.dense` past `dense_after_s` seconds, else one caption), its `segments` scored."""
    from m2t.converters.motion import Motion
    from .captioning import caption_motion
    names = get_skeleton(bundle.cfg.skeleton).joint_names
    sequences, per = [], []
    for n, s in enumerate(samples):
        doc = read_segments(root, s.id)
        fps = float(doc["fps"])
        joints = s.joints / bundle.input_scale
        r = caption_motion(Motion(joints, fps, names, skeleton=bundle.cfg.skeleton, source=s.id), bundle, beam,
                           window_s=window_s, hop_s=hop_s, dense_after_s=dense_after_s)
        res = score_actions(doc, segment_actions(r.segments), s.joints.shape[0] / fps, kinematic_energy(joints, fps),
                            part_energy(joints, bundle.cfg.skeleton), fps)
        sequences.append(res)
        per.append({"id": s.id, "prediction": r.segments,
                    "actions": [{"gt": r_.gt, "named": r_.named, "span": r_.spans.get("model"), "side": r_.side,
                                 "side_pred": r_.side_pred, "parts": r_.parts, "part_pred": r_.part_pred.get("model")}
                                for r_ in res]})
        if progress:
            progress(n + 1, len(samples))
    return LocalizationReport(split, beam, summarise(sequences, predicted=sum(len(p["prediction"]) for p in per)), per)


def write_localization(report: LocalizationReport, out_dir) -> list[Path]:
    import json
    from m2t.converters.fileio import write_text_atomic
    out = Path(out_dir)
    files = [out / "localization.json", out / "localization_predictions.jsonl"]
    write_text_atomic(files[0], json.dumps(report.to_dict(), indent=1))
    write_text_atomic(files[1], "".join(json.dumps(p) + "\n" for p in report.per_sequence))
    return files
