"""Subjects in a C3D file: labels carry the subject as a prefix ("Daphnee:ASISr", "boite:avant_gauche").

A file with several subjects is never reduced silently to one: `info` lists them, and loading it
needs `--subject NAME` (converters/api.load_motion raises otherwise)."""
from __future__ import annotations

import numpy as np

from .errors import ConfigError


def subject_of(label: str) -> str:
    return label.split(":", 1)[0].strip() if ":" in label else ""


def select(labels: list[str], subject: str | None, path) -> tuple[np.ndarray, dict[str, int]]:
    """-> (mask of the labels to keep, {subject: marker count} over the whole file)."""
    subs = [subject_of(lab) for lab in labels]
    counts: dict[str, int] = {}
    for s in subs:
        counts[s] = counts.get(s, 0) + 1
    if subject is None:
        return np.ones(len(labels), bool), counts
    want = subject.strip().lower()
    mask = np.array([s.lower() == want for s in subs])
    if not mask.any():
        names = ", ".join(f"{k or '(no prefix)'} ({v} markers)" for k, v in counts.items())
        raise ConfigError(f"{path}: no subject {subject!r}; the file has: {names}")
    return mask, counts


def check_one(meta: dict, path) -> None:
    """Raise when a file holds several subjects and none was chosen."""
    subs = meta.get("subjects") or {}
    if len(subs) > 1 and not meta.get("subject"):
        names = ", ".join(f"{k or '(no prefix)'} ({v} markers)" for k, v in subs.items())
        raise ConfigError(f"{path}: {len(subs)} subjects in the file: {names}; choose one with --subject NAME")
