"""Knowing when it does not know: a per-action in-domain score, calibrated on validation data.

For every action word of a caption (`localization.trace_actions`) three signals:
- `prob`: the probability the decoder gave the word;
- `beta`: its gate β̂ (a motion word said from the motion, not from language habit, is near 1);
- `dist`: 1 - the mean cosine similarity of its **motion feature** to the 5 nearest motion
  features of action words of the training split (a bank kept beside the model). The motion
  feature is the encoder output inside the word's window, `Σ_k Γ_k P_k / Σ_k Γ_k`, all six parts
  concatenated and L2-normalised.
Each signal is turned into its percentile among the validation split's action words (low
probability, low β̂ and high distance give low percentiles); the **in-domain score** is the
lowest of the three percentiles (0..1: an action is as typical as its least typical signal;
chosen over the mean, a weighted mean and the distance alone on held-out classes kept apart
from the ones the AUROC is reported on, docs/evaluation.md), and an action is
**low-confidence** when its score is below the `quantile` (5%) of the validation scores, i.e.
about 1 in 20 in-domain actions are flagged.
Files beside the model: `confidence.safetensors` (the bank, float16) and `confidence.json` (the sorted
validation signals, threshold, how it was made).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data as D
from .localization import action_word_indices

SIGNALS = ("prob", "beta", "dist")
K_NEAREST = 5


@dataclass
class Calibration:
    bank: np.ndarray             # (N, F) float32 unit vectors of training action words
    val: dict                    # signal -> sorted validation values
    threshold: float             # in-domain score below it -> low confidence
    meta: dict

    def signals(self, feats: np.ndarray, probs, betas) -> np.ndarray:
        """(A, 3) prob, beta, dist for A actions with motion features feats (A, F). The product runs
        in the bank's float32 (float64 features would make numpy copy the whole bank to float64
        on every call: 10x the time)."""
        sims = (self.bank @ np.asarray(feats, dtype=self.bank.dtype).T).T
        k = min(K_NEAREST, self.bank.shape[0])
        top = -np.sort(-sims, axis=1)[:, :k]
        return np.stack([np.asarray(probs, float), np.asarray(betas, float), 1.0 - top.mean(1)], 1)

    def percentile(self, name: str, values):
        """Share of validation values below (prob, beta) or above (dist) `values`: high = in-domain."""
        ref = self.val[name]
        pct = np.searchsorted(ref, values, side="right") / max(len(ref), 1)
        return 1.0 - pct if name == "dist" else pct

    def score(self, sig: np.ndarray) -> np.ndarray:
        """(A,) in-domain scores in [0, 1] from (A, 3) signals: the lowest of the percentiles."""
        return np.min([self.percentile(n, sig[:, j]) for j, n in enumerate(SIGNALS)], 0)

    def save(self, model_dir) -> None:
        from safetensors.numpy import save_file
        d = Path(model_dir)
        save_file({"bank": self.bank.astype(np.float16)}, str(d / "confidence.safetensors"))   # cosines to ~1e-3
        # exact values: β̂ depends only on the words before it, so equal values (ties) are common and
        # rounding them would move live values below their own ties (percentiles, hence flags, change)
        (d / "confidence.json").write_text(json.dumps({"val": {k: [float(x) for x in v] for k, v in self.val.items()},
                                                       "threshold": self.threshold, "meta": self.meta}))

    @classmethod
    def load(cls, model_dir) -> "Calibration | None":
        d = Path(model_dir)
        if not (d / "confidence.json").is_file():
            return None
        from safetensors.numpy import load_file
        info = json.loads((d / "confidence.json").read_text())
        return cls(load_file(str(d / "confidence.safetensors"))["bank"].astype(np.float32),
                   {k: np.asarray(v) for k, v in info["val"].items()}, float(info["threshold"]), info["meta"])


def window_feature(window: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """The motion feature of one word: Σ_k Γ_k P_k / Σ_k Γ_k over the encoder output parts
    (n, P, H) of its clip, flattened and L2-normalised."""
    w = window.astype(np.float64)
    f = ((w[:, None, None] * parts[:len(w)]).sum(0) / max(w.sum(), 1e-12)).reshape(-1)
    return f / max(np.linalg.norm(f), 1e-12)


def for_model(bundle) -> "Calibration | None":
    """The calibration saved beside a loaded model, or None (cached per model directory)."""
    if bundle.path is None:
        return None
    key = str(bundle.path)
    if key not in _CACHE:
        _CACHE[key] = Calibration.load(bundle.path)
    return _CACHE[key]


_CACHE: dict = {}


def annotate(cal: "Calibration | None", actions, dec, parts: np.ndarray | None) -> None:
    """Set `in_domain` of the PredictedActions of one decoded caption (no-op without a calibration)."""
    if cal is None or parts is None or not actions:
        return
    feats = np.stack([window_feature(dec.window[a.word_index], parts) for a in actions])
    sig = cal.signals(feats, [a.confidence if a.confidence is not None else 1.0 for a in actions],
                      [float(dec.beta[a.word_index]) for a in actions])
    for a, sc in zip(actions, cal.score(sig)):
        a.in_domain = float(sc)


def action_features(bundle, samples, batch_size: int = 32, beam: int = 1):
    """Per motion: [(word, prob, beta, feature (F,))] for each action word of its caption."""
    from .decoding import decode_samples
    out = []
    for _, decs, parts in decode_samples(bundle, samples, beam, batch_size, with_parts=True):   # parts: (T, P, H) per clip
        for b, dec in enumerate(decs):
            words = bundle.vocab.decode(dec.ids)
            probs = np.exp(dec.logprobs) if dec.logprobs is not None else np.ones(len(dec.beta))
            out.append([(words[i], float(probs[i]), float(dec.beta[i]), window_feature(dec.window[i], parts[b]))
                        for i in action_word_indices(words)])
    return out


def fit(bundle, dataset, train_split: str = "train", val_split: str = "val", quantile: float = 0.05,
        max_bank: int = 6000, seed: int = 0) -> Calibration:
    """The bank from the train split's action words, the percentiles and threshold from val."""
    root, _ = D.resolve_dataset(str(dataset))
    train, _ = D.load_samples(root, D.read_split(root, train_split))
    val, _ = D.load_samples(root, D.read_split(root, val_split))
    feats = [a[3] for acts in action_features(bundle, train) for a in acts]
    if not feats:
        raise D.DatasetError(f"{root}: the model names no action in split {train_split!r}; nothing to calibrate")
    bank = np.stack(feats).astype(np.float32)
    if len(bank) > max_bank:
        bank = bank[np.random.default_rng(seed).choice(len(bank), max_bank, replace=False)]
    cal = Calibration(bank, {k: np.zeros(0) for k in SIGNALS}, 0.0,
                      {"dataset": str(dataset), "train_split": train_split, "val_split": val_split,
                       "quantile": quantile, "bank": int(len(bank)), "k": K_NEAREST})
    vacts = [a for acts in action_features(bundle, val) for a in acts]
    sig = cal.signals(np.stack([a[3] for a in vacts]), [a[1] for a in vacts], [a[2] for a in vacts])
    cal.val = {k: np.sort(sig[:, j]) for j, k in enumerate(SIGNALS)}
    cal.threshold = float(np.quantile(cal.score(sig), quantile))
    cal.meta["val_actions"] = int(len(vacts))
    return cal


def timeline_scores(bundle, dataset, split: str = "val", window_s: float | None = None) -> np.ndarray:
    """The in-domain scores of the actions `m2t caption` finds on the composed sequences of
    `split` (the segments `evaluate_localization(..., window_s)` captions, each action on its own
    frames, as for a user's take)."""
    from .localization import evaluate_localization
    from .results import WINDOW_S
    rep = evaluate_localization(bundle, dataset, split, window_s=window_s or WINDOW_S)
    return np.asarray([a["in_domain"] for p in rep.per_sequence for a in p["prediction"]
                       if a["in_domain"] is not None], float)


def clip_scores(cal: Calibration, per_clip) -> tuple[np.ndarray, np.ndarray]:
    """Per clip (the output of `action_features`): the lowest in-domain score of its actions (0
    when it names none) and (3,) the percentile of each signal at that action, for AUROC."""
    scores, parts = [], []
    for acts in per_clip:
        if not acts:
            scores.append(0.0)
            parts.append(np.zeros(len(SIGNALS)))
            continue
        sig = cal.signals(np.stack([a[3] for a in acts]), [a[1] for a in acts], [a[2] for a in acts])
        s = cal.score(sig)
        j = int(np.argmin(s))
        scores.append(float(s[j]))
        parts.append(np.array([cal.percentile(n, sig[j, i]) for i, n in enumerate(SIGNALS)]))
    return np.array(scores), np.array(parts)
