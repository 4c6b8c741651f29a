"""Leaving the performer's style out of a caption (`m2t caption --no-style`).

A model trained on Bandai-Namco and Xia clips learned their style labels: it ends captions with
"happily", "in a feminine way", "like a thug", or starts them with "an elderly person". On a
recording from elsewhere that style is the model's guess, not something it measured. The phrases
are the style adverbs and subjects of the caption templates (`models/captions/templates.json`);
`without_style` drops the adverbs and makes a styled subject "a person", word by word, so every
remaining word keeps its timing, attention and body parts. numpy only.
"""
from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

TEMPLATES = Path(__file__).with_name("captions") / "templates.json"      # the caption templates (dataset_build)


@lru_cache(maxsize=1)
def style_phrases() -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """(adverb phrases, subject phrases) as word tuples, longest first."""
    styles = json.loads(TEMPLATES.read_text())["styles"].values()
    adverbs = {tuple(a.split()) for s in styles for a in s["adverbs"]}
    subjects = {tuple(x.split()) for s in styles for x in s["subjects"]}
    return (tuple(sorted(adverbs, key=len, reverse=True)), tuple(sorted(subjects, key=len, reverse=True)))


def style_edits(words: list[str]) -> dict[int, str | None]:
    """{word index: None (drop it) or the word to put instead} for the style phrases in `words`."""
    adverbs, subjects = style_phrases()
    edits: dict[int, str | None] = {}
    i = 0
    while i < len(words):
        adverb = next((p for p in adverbs if tuple(words[i:i + len(p)]) == p), None)
        subject = None if adverb else next((p for p in subjects if tuple(words[i:i + len(p)]) == p), None)
        if adverb:
            edits.update({j: None for j in range(i, i + len(adverb))})
            i += len(adverb)
        elif subject:                        # "an elderly person" / "a thug" -> "a person"
            last = i + len(subject) - 1
            edits.update({j: None for j in range(i + 1, last)})
            edits[i], edits[last] = "a", "person"
            i = last + 1
        else:
            i += 1
    return edits


def strip_text(text: str) -> str:
    """The caption text without its style phrases (punctuation kept: "walks happily, then" -> "walks, then")."""
    words = text.replace(",", " ,").split()
    edits = style_edits(words)
    kept = [edits.get(i, w) for i, w in enumerate(words)]
    return " ".join(w for w in kept if w is not None).replace(" ,", ",")


def without_style(result):
    """A CaptionResult without style phrases: tokens (reindexed, with their Γ and α rows), text, and
    each timeline action's caption; a timeline's text is joined again (`dense.timeline_text`)."""
    from .dense import timeline_text
    edits = style_edits([t.word for t in result.tokens])
    keep = [i for i in range(len(result.tokens)) if edits.get(i, "") is not None]
    tokens = [dataclasses.replace(result.tokens[i], index=k, word=edits.get(i) or result.tokens[i].word)
              for k, i in enumerate(keep)]
    rows = np.asarray(keep, dtype=int)
    window = result.window[rows] if len(result.window) else result.window
    alpha = result.alpha[rows] if len(result.alpha) else result.alpha
    segments = [{**s, "text": strip_text(s["text"])} if isinstance(s.get("text"), str) else s for s in result.segments]
    if tokens:
        text = " ".join(t.word for t in tokens)
    elif segments:
        text = timeline_text([SimpleNamespace(text=s.get("text", "")) for s in segments])
    else:
        text = strip_text(result.text)
    return dataclasses.replace(result, tokens=tokens, window=window, alpha=alpha, segments=segments, text=text)
