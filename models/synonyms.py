"""Action words a model's training captions use for one action ("runs", "jogs", "sprints").

Annotators (and HumanML3D-style paraphrase sets) describe one clip with several verbs. For the
dense timeline two windows that say "runs" and "jogs" over the same frames speak for one action,
so its labels use the **class** of an action word's stem instead of the stem itself.

Classes are fitted on the training captions of a model (`fit_captions`, at `m2t train`; stored
in its config.json under "synonyms"), on its single-action clips only (a composed sequence's
caption says several actions). For two action stems a and b, a caption saying a and not b is
said **instead of** b when another caption of its clip says b and not a; `together` counts the
captions saying both. a and b are synonyms when, of the rarer one's captions (n of them), at
least `ALT_SHARE` × n are said instead of the other, `together == 0` (said together they are
two actions: "walks and turns") and both are said in at least `MIN_CAPTIONS` captions. Classes
grow by joining synonyms (most captions said instead first), and two groups are joined only
while no stem of one is ever said together with a stem of the other; each class is named by
its most frequent stem. A stem in no class is its own class. Nothing here changes a caption: only which windows count as agreeing.
"""
from __future__ import annotations

import itertools
import re
from collections import Counter

from .errors import ModelDirError

ALT_SHARE = 0.5        # said instead of each other in at least half the captions of the rarer stem
MIN_CAPTIONS = 10      # a stem said in fewer training captions than this is never merged
MAX_ENTRIES = 5000     # a config.json "synonyms" table larger than this is refused
_STEM = re.compile(r"[a-z0-9']{1,63}")   # what a caption token's stem can be (models.vocab.tokenize)


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
    n, instead, together = Counter(), Counter(), Counter()
    for sets in clips:
        sets = [frozenset(x for x in s if _STEM.fullmatch(x)) for s in sets]   # only stems `check` accepts
        for s in sets:
            n.update(s)
            together.update(itertools.combinations(sorted(s), 2))
        for i, s1 in enumerate(sets):                   # (a, b): this caption says a instead of b (counted once)
            instead.update({(a, b) for j, s2 in enumerate(sets) if j != i for a in s1 - s2 for b in s2 - s1})
    pairs = []
    for a, b in instead:
        rare = a if (n[a], a) < (n[b], b) else b
        share = instead[rare, b if rare == a else a] / n[rare]
        if a < b and min(n[a], n[b]) >= MIN_CAPTIONS and together[a, b] == 0 and share >= ALT_SHARE:
            pairs.append((-share, a, b))
    group = {s: {s} for s in n}
    for _, a, b in sorted(pairs):
        ga, gb = group[a], group[b]
        if ga is gb or any(together[min(x, y), max(x, y)] for x in ga for y in gb):
            continue
        ga |= gb
        for s in gb:
            group[s] = ga
    out = {}
    for members in {id(g): g for g in group.values()}.values():
        if len(members) > 1:
            name = max(members, key=lambda s: (n[s], s))
            out.update(dict.fromkeys(members, name))
    return out


def check(table, where) -> dict[str, str]:
    """A config.json "synonyms" value -> the table; ModelDirError (one line) when malformed (a
    class name may not carry the "|" or "#" of a label's side or direction)."""
    if not (isinstance(table, dict) and len(table) <= MAX_ENTRIES
            and all(isinstance(k, str) and isinstance(v, str) and _STEM.fullmatch(k) and _STEM.fullmatch(v)
                    for k, v in table.items())):
        raise ModelDirError(f"{where}: 'synonyms' must be an object of at most {MAX_ENTRIES} stem -> class "
                            f"entries, each 1-63 lower-case letters, digits or apostrophes")
    return table


def of_model(bundle) -> dict[str, str]:
    """The synonym classes stored with a loaded model ({} for models trained before them)."""
    return (bundle.meta or {}).get("synonyms") or {}
