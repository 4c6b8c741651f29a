"""What a decoder returns for one clip (`Decoded`), and how per-step arrays become one, shared by
the torch decoder (models.decoding) and the ONNX Runtime one (models.ort_decoding). numpy only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .vocab import EOS_ID

TRACE = ("alpha", "window", "gamma", "centre", "width", "beta")


@dataclass
class Decoded:
    """One caption and its trace (steps = emitted tokens incl. the final <eos> when reached)."""
    ids: list[int]                 # word ids without <sos>/<eos>
    score: float                   # mean log-probability per emitted token (incl. <eos>), nats
    beta: np.ndarray               # (S,) gate β̂ per step
    alpha: np.ndarray              # (S, T, P) spatial attention
    window: np.ndarray             # (S, T) Gaussian window Γ
    gamma: np.ndarray              # (S, T) temporal softmax γ
    centre: np.ndarray             # (S,) m_t, frames
    width: np.ndarray              # (S,) σ_t, frames
    logprobs: np.ndarray | None = None   # (S,) log p of each emitted token (incl. <eos>), nats
    parts: np.ndarray | None = None      # (T, P, H) encoder output P of the clip's real frames, when
                                         # decoding was asked for it (with_parts: the in-domain score)


def attach_parts(decoded: list[Decoded], parts: np.ndarray) -> list[Decoded]:
    """Give each caption its clip's rows of the encoder output its decoding ran on: parts
    (B, T', P, H) in the captions' order -> `Decoded.parts` (a view cut to the clip's frames), so
    the in-domain score (models/confidence.py) needs no second encoder pass."""
    for b, d in enumerate(decoded):
        d.parts = parts[b, :d.window.shape[1]]
    return decoded


def package_batch(tokens: np.ndarray, logps: np.ndarray, trace: dict, lengths) -> list[Decoded]:
    """Greedy output: tokens, logps (B, S); trace[k] (B, S, ...) for k in TRACE; lengths (B,)
    real frames -> B captions, each cut after its first <eos>."""
    out = []
    for b in range(tokens.shape[0]):
        row = tokens[b].tolist()
        S = row.index(EOS_ID) + 1 if EOS_ID in row else len(row)
        out.append(package_one(row[:S], logps[b, :S], {k: v[b] for k, v in trace.items()}, int(lengths[b])))
    return out


def package_one(tokens: list[int], logps: np.ndarray, trace: dict, n_frames: int) -> Decoded:
    """One hypothesis: its emitted tokens (a final <eos> included when reached), their log p and
    its per-step trace (S, ...) -> Decoded, attention cut to the clip's n_frames real frames."""
    S = len(tokens)
    ids = tokens[:-1] if tokens and tokens[-1] == EOS_ID else list(tokens)
    logps = np.asarray(logps)[:S]
    return Decoded(ids=ids, score=float(logps.mean()), beta=trace["beta"][:S],
                   alpha=trace["alpha"][:S, :n_frames], window=trace["window"][:S, :n_frames],
                   gamma=trace["gamma"][:S, :n_frames], centre=trace["centre"][:S], width=trace["width"][:S],
                   logprobs=logps.copy())
