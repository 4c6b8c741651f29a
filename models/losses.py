"""Training losses of the guided-attention captioner (paper Eq. 11-14).

    total = language_loss + λ_spat · spatial_loss + λ_adapt · adapt_loss        (Eq. 14)
            [+ λ_temp · temporal_loss, m2t extension, off by default: docs/model.md]

Targets come from `models.supervision` (β, α with -1 = unsupervised). Every loss is a masked mean
that returns an exact 0.0 (finite, still attached to the graph) when nothing is supervised, and
probabilities are clamped to [eps, 1-eps] before the log, so α̂ or β̂ = 0 or 1 never gives inf/NaN.
Differences from the official code (reference-notes §4.2): no NaN on all-unsupervised batches,
padded frames and padded tokens never count (the official L_spat includes padded frames, which
inflates its value and denominator), and -1 targets never reach BCE.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .results import window_span

EPS = 1e-6


def _bce(p: torch.Tensor, target: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Elementwise binary cross-entropy of probabilities p against targets in [0, 1]."""
    p = torch.clamp(p, eps, 1.0 - eps)
    return -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p))


def _masked_mean(terms: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # torch.where (not terms * mask) so that a non-finite term at a masked place cannot leak in.
    total = torch.where(mask, terms, torch.zeros_like(terms)).sum()
    return total / mask.sum().clamp(min=1).to(terms.dtype)


def adapt_loss(beta_hat: torch.Tensor, beta_tgt: torch.Tensor, token_mask: torch.Tensor,
               eps: float = EPS) -> torch.Tensor:
    """Gate supervision L_adapt (Eq. 12): BCE(β̂, β) averaged over the supervised positions.

    beta_hat (B, L) gate values in [0, 1]; beta_tgt (B, L) in {1, 0, -1} (-1 = unsupervised);
    token_mask (B, L) bool, True at real (non-padded) target steps. Returns a scalar. The paper
    sums over words; the official code (and this) takes the mean over supervised positions.
    """
    sup = token_mask.bool() & (beta_tgt >= 0)
    return _masked_mean(_bce(beta_hat, beta_tgt.clamp(0, 1).to(beta_hat.dtype), eps), sup)


def spatial_loss(alpha_hat: torch.Tensor, alpha_tgt: torch.Tensor, token_mask: torch.Tensor,
                 frame_mask: torch.Tensor, eps: float = EPS, normalize: str = "elements"
                 ) -> torch.Tensor:
    """Spatial-attention supervision L_spat (Eq. 13).

    alpha_hat (B, L, T, P) predicted part weights α̂_tki (P = 6 parts, softmax over P);
    alpha_tgt (B, L, P) per-word target, the same for every frame, -1 = unsupervised (a whole
    row, or single entries); token_mask (B, L) bool real target steps; frame_mask (B, T) bool real
    (non-padded) motion frames. BCE(α̂_tki, α_ti) over supervised entries of valid tokens at valid
    frames.

    normalize="elements" (default): mean over the supervised (token, frame, part) elements. This
    is what the official code intends with `/count_nonzero(loss)` minus its padding bug, and
    keeps the λ_spat scale of the paper's released settings. normalize="words": sum divided by
    the number of supervised words N_y, as Eq. 13 is written (≈ mean × frames × parts).
    Returns a scalar; 0 when nothing is supervised.
    """
    if normalize not in ("elements", "words"):
        raise ValueError(f"normalize must be 'elements' or 'words', not {normalize!r}")
    sup = (alpha_tgt >= 0) & token_mask.bool()[..., None]                    # (B, L, P)
    mask = sup[:, :, None, :] & frame_mask.bool()[:, None, :, None]          # (B, L, T, P)
    target = alpha_tgt.clamp(0, 1).to(alpha_hat.dtype)[:, :, None, :]      # (B, L, 1, P)
    terms = _bce(alpha_hat, target, eps)
    if normalize == "elements":
        return _masked_mean(terms, mask)
    n_words = sup.any(-1).sum().clamp(min=1).to(terms.dtype)
    return torch.where(mask, terms, torch.zeros_like(terms)).sum() / n_words


def temporal_loss(centre: torch.Tensor, width: torch.Tensor, seg: torch.Tensor, token_mask: torch.Tensor,
                  n_frames: torch.Tensor, slack: float = 0.1, min_slack: float = 1.0) -> torch.Tensor:
    """λ_temp (m2t extension; paper §4.2: "if the action time is available, these annotations
    could serve to supervise the spread of temporal weights").

    A motion word's window span [lo, hi] = [m - cσ, m + cσ] (c = sqrt(2 ln 2), `results.window_span`,
    the same span `m2t caption` reports) should cover its action's feature frames [a, b], and
    overshoot each end by at most τ = max(slack·(b - a), min_slack) frames:

        ℓ_t = ( relu(lo - a) + relu(b - hi) + relu(a - τ - lo) + relu(hi - b - τ) ) / T_valid

    0 when the window covers the action within the tolerance. centre, width (B, L) frames;
    seg (B, L, 2) [a, b] feature frames, -1 where no action is known; token_mask (B, L) bool;
    n_frames (B,) valid frames. Mean over supervised tokens; 0 when there are none.
    """
    sup = token_mask.bool() & (seg[..., 0] >= 0)
    a, b = seg[..., 0].to(centre.dtype), seg[..., 1].to(centre.dtype)
    lo, hi = window_span(centre, width)
    tau = torch.clamp(slack * (b - a), min=min_slack)
    terms = (F.relu(lo - a) + F.relu(b - hi) + F.relu(a - tau - lo) + F.relu(hi - b - tau))
    terms = terms / n_frames.to(centre.dtype).clamp(min=1)[:, None]
    return _masked_mean(terms, sup)


def language_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """L_lang: cross-entropy of logits (B, L, V) against target ids (B, L), ignoring `pad_id`;
    mean over the non-pad targets (<eos> counts), 0 when there are none."""
    flat = targets.reshape(-1)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), flat, ignore_index=pad_id,
                         reduction="sum")
    return ce / (flat != pad_id).sum().clamp(min=1).to(ce.dtype)


def total_loss(lang: torch.Tensor, spat: torch.Tensor, adapt: torch.Tensor,
               lambda_spat: float, lambda_adapt: float, temp: torch.Tensor | float = 0.0,
               lambda_temp: float = 0.0) -> torch.Tensor:
    """Eq. 14: lang + λ_spat · spat + λ_adapt · adapt (paper best: KIT (2, 3), HML3D (0, 3)),
    plus λ_temp · temp when λ_temp > 0 (m2t extension, 0 by default)."""
    return lang + lambda_spat * spat + lambda_adapt * adapt + (lambda_temp * temp if lambda_temp else 0.0)
