"""The word lists of guided-attention supervision (`models/wordlists/*.txt`) as one `Lexicon`:
the paper's Table 5 groups, m2t's extra words, irregular verbs, connection words, subjects, limb
nouns, verb forms, adverbs and the built-in tagger's lexicon. A directory given as
`load_lexicon(directory)` or in $M2T_WORDLISTS overrides the files one by one. numpy-free.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .stems import stem

WORDLIST_DIR = Path(__file__).with_name("wordlists")
BOUNDARIES = {"and", "then", "while", "before", "after", "but", "until", "whilst", ",", ".", ";", "!", "?"}  # of a clause
SIDES = {"left", "right"}
SUBJECT_NOUNS = {"person", "man", "woman", "human", "figure", "guy", "boy", "girl", "people",   # who a caption is about
                 "individual", "character", "subject", "someone", "somebody", "he", "she", "they"}


def read_wordlist(name: str, directory: str | Path | None = None) -> list[list[str]]:
    """Rows of whitespace-split fields of `<name>.txt`, comments and blank lines dropped. The file
    is taken from `directory` (or $M2T_WORDLISTS) when present there, else from the package."""
    for d in (directory, os.environ.get("M2T_WORDLISTS")):
        if d and (Path(d) / f"{name}.txt").is_file():
            path = Path(d) / f"{name}.txt"
            break
    else:
        path = WORDLIST_DIR / f"{name}.txt"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].lower().split()
        if fields:
            rows.append(fields)
    return rows


def _inflect(base: str) -> dict[str, str]:
    """Regular forms of a verb -> kind ('s', 'ing', 'ed'). Over-generates on purpose (a lexicon
    for recognition: both 'stepping' and 'steping'; also the common misspelling 'walkes')."""
    vowels = "aeiou"
    out = {base + "s": "s", base + "es": "s"}
    if base.endswith("y") and len(base) > 2 and base[-2] not in vowels:
        out[base[:-1] + "ies"] = "s"
        out[base[:-1] + "ied"] = "ed"
    stems = [base]
    if base.endswith("ie"):
        out[base[:-2] + "ying"] = "ing"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        stems = [base[:-1]]
    if (len(base) >= 3 and base[-1] not in vowels + "wxy" and base[-2] in vowels
            and base[-3] not in vowels):
        stems.append(base + base[-1])
    for s in stems:
        out.setdefault(s + "ing", "ing")
        out.setdefault(s + "ed", "ed")
    return out


@dataclass(frozen=True)
class Lexicon:
    """All word lists, loaded once. `paper` / `extra`: ((group, stems), ...) in priority order."""
    paper: tuple[tuple[str, frozenset], ...]
    extra: tuple[tuple[str, frozenset], ...]
    irregular: dict            # form -> base
    connection: frozenset
    subjects: frozenset
    limb_nouns: dict           # noun -> "arm" | "leg"
    verb_forms: dict           # form -> "base" | "s" | "ing" | "ed" | "irr"
    adverbs: frozenset
    fixed: dict                # word -> UPOS


@lru_cache(maxsize=8)
def _load(directory: str | None, env: str | None) -> Lexicon:
    def words(name):
        return [r[0] for r in read_wordlist(name, directory)]

    def stems(name):
        return frozenset(stem(w) for w in words(name))

    paper = tuple((g, stems(f)) for g, f in (("root", "trajectory"), ("arms", "arms"),
                                              ("legs", "legs"), ("torso", "torso")))
    extra = tuple((g, stems(f"extra_{f}_words")) for g, f in (("root", "trajectory"), ("arms", "arm"),
                                                              ("legs", "leg"), ("torso", "torso")))
    irregular = {r[0]: r[1] for r in read_wordlist("irregular_verbs", directory) if len(r) >= 2}
    verb_forms: dict[str, str] = {}
    bases = words("motion_verbs")
    for b in bases:
        verb_forms[b] = "base"
    for form, b in irregular.items():
        verb_forms.setdefault(form, "base" if form == b else "irr")
    for b in bases:
        for form, kind in _inflect(b).items():
            verb_forms.setdefault(form, kind)
    return Lexicon(paper, extra, irregular, frozenset(words("connection")), frozenset(words("subjects")),
                   {r[0]: r[1] for r in read_wordlist("limb_nouns", directory) if len(r) >= 2},
                   verb_forms, frozenset(words("adverbs")),
                   {r[0]: r[1].upper() for r in read_wordlist("lexicon", directory) if len(r) >= 2})


def load_lexicon(directory: str | Path | None = None) -> Lexicon:
    """Word lists from the package, overridden file by file by `directory` or $M2T_WORDLISTS."""
    return _load(None if directory is None else str(directory), os.environ.get("M2T_WORDLISTS"))
