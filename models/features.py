"""Motion -> the captioner's input, as the reference preprocessing does it (reference-notes §1.4).

1. per-axis z-score with 3 means and 3 stds (statistics from the train split, saved in the checkpoint);
2. root-relative joints: x_j <- x_j - x_0 for j > 0, the root keeps its absolute normalised position;
3. temporal downsampling: keep frames s//2, s//2 + s, ... (s = 2: frames 1, 3, 5, ...).
Velocities are first differences computed inside the encoder (network.py).
Positions are in the dataset's units: metres for HumanML3D (t2m), millimetres for KIT-ML.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Normalizer:
    mean: np.ndarray   # (3,)
    std: np.ndarray    # (3,)

    @classmethod
    def fit(cls, motions) -> "Normalizer":
        """Per-axis statistics over every frame of every joint of `motions` [(T, J, 3)]."""
        n = sum(m.shape[0] * m.shape[1] for m in motions)
        s = sum(m.reshape(-1, 3).astype(np.float64).sum(0) for m in motions)
        mean = s / n
        var = sum(((m.reshape(-1, 3) - mean) ** 2).sum(0) for m in motions) / n
        return cls(mean.astype(np.float32), np.sqrt(np.maximum(var, 1e-12)).astype(np.float32))

    def to_dict(self) -> dict:
        return {"mean": [float(x) for x in self.mean], "std": [float(x) for x in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32))


def motion_features(joints: np.ndarray, norm: Normalizer, downsample: int = 2) -> np.ndarray:
    """joints (T, J, 3) in dataset units -> (T', J, 3) float32 model input, T' = frames kept
    (a stack (W, T, J, 3) of clips -> (W, T', J, 3))."""
    x = (joints.astype(np.float32) - norm.mean) / norm.std
    x[..., 1:, :] -= x[..., :1, :]
    return np.ascontiguousarray(x[..., downsample // 2::downsample, :, :])


def observed_parts(joint_observed, parts) -> np.ndarray:
    """Per-joint observation flags (J,) -> (P,) float32 part mask for the captioner: a body part
    counts as observed when at least half of its joints are (the root always is). None -> all 1."""
    if joint_observed is None:
        return np.ones(len(parts), np.float32)
    obs = np.asarray(joint_observed, bool)
    out = np.array([obs[list(p)].mean() >= 0.5 for p in parts], np.float32)
    out[0] = 1.0
    return out


def pad_features(feats) -> tuple[np.ndarray, np.ndarray]:
    """[(T_i, J, 3)] -> x (B, T, J, 3) float32 zero-padded, mask (B, T) bool (numpy; the torch
    backend wraps it in models.batching.batch_features)."""
    T = max(f.shape[0] for f in feats)
    x = np.zeros((len(feats), T) + feats[0].shape[1:], np.float32)
    mask = np.zeros((len(feats), T), bool)
    for i, f in enumerate(feats):
        x[i, :len(f)], mask[i, :len(f)] = f, True
    return x, mask
