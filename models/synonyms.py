"""Action words a model's training captions use for one action ("runs", "jogs", "sprints").

Annotators (and HumanML3D-style paraphrase sets) describe one clip with several verbs. For the
dense timeline two windows that say "runs" and "jogs" over the same frames speak for one action,
so its labels use the **class** of an action word's stem instead of the stem itself.

Classes are fitted on the training captions of a model (`fit_captions`, at `m2t train`; stored
in its config.json under "synonyms"), on its single-action clips only (a composed sequence's
caption says several actions): for two action stems a and b, `alt` counts the ordered pairs of
captions of one clip where one says a and not b and the other b and not a (each said instead of
the other); `together` counts captions saying both. a and b are synonyms when
`alt ≥ ALT_SHARE × min(n_a, n_b)` (n: captions saying the stem), `together == 0` (said together
they are two actions: "walks and turns") and both are said in at least `MIN_CAPTIONS` captions.
Classes are the connected groups of synonyms; each is named by its most frequent stem. A stem in
no class is its own class. Nothing here changes a caption: only which windows count as agreeing.
"""
from __future__ import annotations

import itertools
from collections import Counter

from .errors import ModelDirError

ALT_SHARE = 0.5        # said instead of each other in at least half the captions of the rarer stem
MIN_CAPTIONS = 10      # a stem said in fewer training captions than this is never merged
MAX_ENTRIES = 5000     # a config.json "synonyms" table larger than this is refused


def fit(clips) -> dict[str, str]:
    """`clips`: per training clip, its captions as token lists -> {stem: class name} for the
    stems of classes with two or more members (module docstring)."""
    return _classes([_stems(list(t)) for t in captions] for captions in clips)


def fit_captions(caption_lists) -> dict[str, str]:
    """`fit` over the clips (lists of models.data.Caption; their part-of-speech tags are used when
    the dataset has them) whose captions carry no action frames, i.e. single-action clips, not
    composed sequences."""
    return _classes([_stems(c.tokens, c.pos) for c in caps] for caps in caption_lists
                    if caps and all(c.frames is None for c in caps))


def _stems(tokens: list[str], pos: list[str] | None = None) -> frozenset:
    from .localization import action_word_indices
    from .supervision import stem
    return frozenset(stem(tokens[i]) for i in action_word_indices(tokens, pos))


def _classes(clips) -> dict[str, str]:
    """Per clip, the action stems of each caption -> the classes (module docstring)."""
    n, alt, together = Counter(), Counter(), Counter()
    for sets in clips:
        for s in sets:
            n.update(s)
            together.update(itertools.combinations(sorted(s), 2))
        for s1, s2 in itertools.permutations(sets, 2):
            for a in s1 - s2:
                alt.update((a, b) for b in s2 - s1 if a < b)
    parent: dict[str, str] = {}

    def root(a: str) -> str:
        while parent.get(a, a) != a:
            a = parent[a]
        return a
    for (a, b), k in sorted(alt.items()):
        if (min(n[a], n[b]) >= MIN_CAPTIONS and together[a, b] == 0
                and k >= ALT_SHARE * min(n[a], n[b]) and root(a) != root(b)):
            parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for s in sorted(n):
        groups.setdefault(root(s), []).append(s)
    out = {}
    for members in groups.values():
        if len(members) > 1:
            name = max(members, key=lambda s: (n[s], s))
            out.update(dict.fromkeys(members, name))
    return out


def check(table, where) -> dict[str, str]:
    """A config.json "synonyms" value -> the table; ModelDirError (one line) when malformed."""
    if not (isinstance(table, dict) and len(table) <= MAX_ENTRIES
            and all(isinstance(k, str) and isinstance(v, str) and len(k) < 64 and len(v) < 64
                    for k, v in table.items())):
        raise ModelDirError(f"{where}: 'synonyms' must be an object of at most {MAX_ENTRIES} stem -> class strings")
    return table


def of_model(bundle) -> dict[str, str]:
    """The synonym classes stored with a loaded model ({} for models trained before them)."""
    return (bundle.meta or {}).get("synonyms") or {}
