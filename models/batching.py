"""Padded torch batches: training batches of dataset items, and model input for captioning and
evaluation. The only data module that imports torch (models/data.py and features.py are numpy)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .features import pad_features
from .vocab import PAD_ID


def batch_features(feats, device) -> tuple[torch.Tensor, torch.Tensor]:
    """[(T_i, J, 3)] -> x (B, T, J, 3) zero-padded, mask (B, T) (features.pad_features as torch)."""
    x, mask = pad_features(feats)
    return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)


@dataclass
class Batch:
    x: torch.Tensor        # (B, T, J, 3)
    mask: torch.Tensor     # (B, T) bool
    y: torch.Tensor        # (B, L + 1) ids, padded with <pad>
    beta: torch.Tensor     # (B, L) targets for y[:, 1:], -1 padded
    alpha: torch.Tensor    # (B, L, 6)
    seg: torch.Tensor | None = None   # (B, L, 2) action frames per target token (λ_temp), -1 = none

    def to(self, device) -> "Batch":
        return Batch(*(None if t is None else t.to(device)
                       for t in (self.x, self.mask, self.y, self.beta, self.alpha, self.seg)))


def collate(items) -> Batch:
    B = len(items)
    T = max(it.x.shape[0] for it in items)
    L = max(len(it.ids) for it in items)
    J = items[0].x.shape[1]
    x = np.zeros((B, T, J, 3), np.float32)
    mask = np.zeros((B, T), bool)
    y = np.full((B, L), PAD_ID, np.int64)
    beta = -np.ones((B, L - 1), np.float32)
    alpha = -np.ones((B, L - 1, 6), np.float32)
    seg = -np.ones((B, L - 1, 2), np.float32)
    for b, it in enumerate(items):
        n, k = it.x.shape[0], len(it.ids)
        x[b, :n], mask[b, :n], y[b, :k] = it.x, True, it.ids
        beta[b, :k - 1], alpha[b, :k - 1] = it.beta, it.alpha
        if getattr(it, "seg", None) is not None:
            seg[b, :k - 1] = it.seg
    return Batch(*(torch.from_numpy(a) for a in (x, mask, y, beta, alpha, seg)))


def bucket_batches(lengths, batch_size: int, generator: torch.Generator | None = None,
                   shuffle: bool = True) -> list[list[int]]:
    """Length-bucketed batches: sort by motion length (ties broken randomly when shuffling), cut
    into batches of similar length, then shuffle the batch order. Deterministic for a generator."""
    n = len(lengths)
    if shuffle:
        noise = torch.rand(n, generator=generator).numpy()
        order = np.lexsort((noise, np.asarray(lengths)))
    else:
        order = np.argsort(np.asarray(lengths), kind="stable")
    batches = [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]
    if shuffle:
        perm = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[i] for i in perm]
    return batches
