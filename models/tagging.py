"""Part-of-speech tags for captions, offline: HumanML3D's own tags aligned to m2t's tokens,
spaCy when installed with a local model, else a built-in lexicon tagger ($M2T_TAGGER: auto,
spacy or builtin). Used by the supervision targets (models/supervision.py) and the action words
of a caption (models/localization.py).
"""
from __future__ import annotations

import os
import re
from functools import lru_cache

from .lexicon import BOUNDARIES, SIDES, SUBJECT_NOUNS, Lexicon, load_lexicon


# ----------------------------------------------------------------------------- HumanML3D tags
def parse_hml3d_tags(tagged: str) -> tuple[list[str], list[str]]:
    """'a/DET man/NOUN kick/VERB' (HumanML3D texts, 2nd '#' field; a whole line is accepted too)
    -> (['a', 'man', 'kick'], ['DET', 'NOUN', 'VERB']). Tokens are HumanML3D's: lemmatised for
    NOUN/VERB, non-alphabetic ones (numbers, punctuation) dropped, hyphens removed."""
    if "#" in tagged:
        tagged = tagged.split("#")[1]
    words, tags = [], []
    for item in tagged.split():
        word, sep, t = item.rpartition("/")
        if not sep or not word:
            raise ValueError(f"not a word/TAG item: {item!r}")
        words.append(word.lower())
        tags.append(t.upper())
    return words, tags


def align_hml3d_tags(tokens: list[str], hml_words: list[str], hml_tags: list[str],
                     lexicon: Lexicon | None = None) -> list[str] | None:
    """Carry HumanML3D's tags over to our caption tokens (`models.vocab.tokenize`): numbers get
    NUM, 'counter'+'clockwise' share the tag of 'counterclockwise'. None when they do not line up
    (then use `tag(tokens)`)."""
    lex = lexicon or load_lexicon()
    out, i, j, n, m = [], 0, 0, len(tokens), len(hml_words)
    while i < n:
        t = tokens[i].lower()
        w = hml_words[j] if j < m else None
        if any(c.isdigit() for c in t):
            alpha_part = re.sub(r"[^a-z]", "", t)
            if w is not None and alpha_part and alpha_part == w:
                out.append(hml_tags[j])
                j += 1
            else:
                out.append("NUM")
            i += 1
        elif w is None:
            return None
        elif i + 1 < n and t + tokens[i + 1].lower() == w:
            out += [hml_tags[j]] * 2
            i, j = i + 2, j + 1
        elif t[0] == w[0] or lex.irregular.get(t) == w or (n - i) == (m - j):
            out.append(hml_tags[j])
            i, j = i + 1, j + 1
        else:
            return None
    return out if j == m else None


# ----------------------------------------------------------------------------- tagging
_PARTICLES = {"around", "up", "down", "over", "out", "off", "along", "across", "through", "about",
              "behind"}
_ADP_NOT_TO = {"in", "on", "at", "of", "into", "onto", "from", "with", "without", "for", "by", "like",
               "under", "above", "below", "against", "near", "inside", "outside", "toward", "towards"}
_POSS = {"his", "her", "its", "their", "my", "your", "our"}
_ORDINALS = {"first", "second", "third", "last", "next"}


def _builtin_tag(tokens: list[str], lex: Lexicon) -> list[str]:
    toks = [t.lower() for t in tokens]
    fixed, verbs, advs = lex.fixed, lex.verb_forms, lex.adverbs
    detlike = {w for w, p in fixed.items() if p in ("DET", "NUM")} | _POSS | {"few", "several", "many"}
    adjlike = {w for w, p in fixed.items() if p == "ADJ"} | {"left", "right", "fast", "straight"}

    def known(w):
        return w in verbs or w in advs or w in _PARTICLES or w in BOUNDARIES or w.isdigit() or (
            w in fixed and fixed[w] != "NOUN")

    out: list[str] = []
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else ""
        prev2 = toks[i - 2] if i > 1 else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if re.fullmatch(r"\d+(?:[.,]\d+)?[a-z]*", t):
            p = "NUM"
        elif t in SIDES:
            if (nxt in ("and", "or") and i + 2 < len(toks) and toks[i + 2] in SIDES) or (nxt and not known(nxt)):
                p = "ADJ"
            elif prev in detlike or prev in _ADP_NOT_TO or prev == "to":
                p = "NOUN"
            else:
                p = "ADV"
        elif t in _PARTICLES:
            p = "ADP" if nxt and (nxt in detlike or fixed.get(nxt) == "PRON" or not known(nxt)) else "ADV"
        elif t in fixed:
            p = fixed[t]
        elif t in verbs:
            kind, p = verbs[t], "VERB"
            if t in ("do", "does", "did") and nxt in ("not", "n't"):
                p = "AUX"
            elif t in ("have", "has", "had") and (nxt == "been" or verbs.get(nxt) in ("ed", "irr")):
                p = "AUX"
            elif kind in ("base", "s") and (prev in detlike or prev in _ADP_NOT_TO or (
                    prev in adjlike and (prev not in _ORDINALS or prev2 in detlike))):
                p = "NOUN"      # "a kick", "two steps", "in place", "a slow walk"
            elif (kind == "base" and (prev2 in detlike or prev2.isdigit()) and out and out[-1] == "NOUN"
                  and prev not in SUBJECT_NOUNS):
                p = "NOUN"      # "a quarter turn", "a 180 degree turn"
        elif t in advs:
            p = "NOUN" if prev in detlike else "ADV"
        elif t.endswith("ly") and len(t) > 4:
            p = "ADV"
        elif (t.endswith("ing") and len(t) > 5) or (t.endswith("ed") and len(t) > 4):
            p = "VERB"
        else:
            p = "NOUN"
        out.append(p)
    return out


@lru_cache(maxsize=4)
def _spacy(mode: str):
    """The loaded spaCy pipeline, or None (not installed / no local model; never downloads)."""
    if mode == "builtin":
        return None
    try:
        import spacy
    except ImportError:
        if mode == "spacy":
            raise
        return None
    for model in ("en_core_web_sm", "en_core_web_md"):
        try:
            return model, spacy.load(model, exclude=["parser", "ner", "lemmatizer"])
        except (OSError, ImportError, ValueError):
            continue
    if mode == "spacy":
        raise OSError("M2T_TAGGER=spacy but no en_core_web_sm/en_core_web_md model is installed")
    return None


def tagger_mode() -> str:
    """The tagger $M2T_TAGGER asks for: auto (default), spacy or builtin (ValueError otherwise)."""
    mode = os.environ.get("M2T_TAGGER", "auto").lower()
    if mode not in ("auto", "spacy", "builtin"):
        raise ValueError(f"M2T_TAGGER must be auto, spacy or builtin, not {mode!r}")
    return mode


def tagger_name(backend: str | None = None) -> str:
    """'spacy:en_core_web_sm' (or _md) when spaCy and a local model load, else 'builtin'.
    `backend` (or $M2T_TAGGER): 'auto' (default), 'spacy' (error if unavailable), 'builtin'."""
    found = _spacy(backend or tagger_mode())
    return f"spacy:{found[0]}" if found else "builtin"


def tag(tokens: list[str], backend: str | None = None, lexicon: Lexicon | None = None) -> list[str]:
    """UPOS tag per token (pre-split tokens are kept as they are). Backend as in `tagger_name`."""
    found = _spacy(backend or tagger_mode())
    if found is None:
        return _builtin_tag(list(tokens), lexicon or load_lexicon())
    from spacy.tokens import Doc
    nlp = found[1]
    doc = nlp(Doc(nlp.vocab, words=[t.lower() for t in tokens]))
    return [tok.pos_ for tok in doc]
