"""Ground truth for guided attention: per-token targets for the adaptive gate β and the spatial
attention α (paper Eq. 12-13, Supp. C, Table 5), and an offline POS tagger. numpy only (no torch).

Rules per caption token, in priority order (reference-notes §4.1, official `categorize_tokens_new`):

1. trajectory word (Porter stem in `trajectory.txt`)           -> β=1, α=root
2. local action (stem in `arms.txt` / `legs.txt` / `torso.txt`) -> β=1, α=group
   (arms = both arm columns, legs = both leg columns; the official code forgets swipe/catch;
   here they are supervised). Irregular forms the stemmer misses (threw, stood, bent, caught...)
   are mapped to their base through `irregular_verbs.txt` first.
   m2t extension (`extended_words=True`, default): `extra_*_words.txt` (raise, clap, sit, lean,
   circular, ...) after the paper words; the body-part ones only for tokens not tagged
   NOUN/PROPN ("a point", "takes two steps" stay unsupervised).
3. POS VERB/ADV (UPOS, or PTB VB*/RB*) and not a connection word -> β=1, α unsupervised
4. connection word (`connection.txt`) or subject (`subjects.txt`) -> β=0, α unsupervised
5. everything else -> β=-1, α=-1 (unsupervised)

Differences from the official code: tokens are tagged in context (the official code tags every
vocabulary word alone with spaCy en_core_web_md); targets are per caption, not per vocabulary type.
m2t extension `side_aware=True` (default): an arm/leg word whose clause (tokens up to the nearest
"and"/"then"/"while"/","...) names exactly one side of that limb ("left hand", "right foot")
gets α on that side's column only; "both hands" or "left and right arms" keep both columns
(a following clause without a verb belongs to it: "waves his left hand and then the right one").

Word lists live in `models/wordlists/*.txt` (one entry per line, '#' comments). A directory given
as `load_lexicon(directory)` or in the environment variable M2T_WORDLISTS overrides them file by
file. α columns follow `converters.skeletons.PART_NAMES`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from m2t.converters.skeletons import PART_NAMES

from .stems import seed_stems, stem  # noqa: F401 (Porter stems, memoised; re-exported)

WORDLIST_DIR = Path(__file__).with_name("wordlists")
N_PARTS = len(PART_NAMES)
_COL = {name: PART_NAMES.index(name) for name in PART_NAMES}
GROUP_COLUMNS = {"root": (_COL["root"],), "torso": (_COL["torso"],),
                 "arms": (_COL["left_arm"], _COL["right_arm"]),
                 "legs": (_COL["left_leg"], _COL["right_leg"])}
_SIDE_COLUMN = {("arm", "left"): _COL["left_arm"], ("arm", "right"): _COL["right_arm"],
                ("leg", "left"): _COL["left_leg"], ("leg", "right"): _COL["right_leg"]}
_GROUP_LIMB = {"arms": "arm", "legs": "leg"}
_BOUNDARIES = {"and", "then", "while", "before", "after", "but", "until", "whilst", ",", ".", ";", "!", "?"}
_SIDES = {"left", "right"}
_POSSESSIVE = {"his", "her", "its", "their", "the", "my", "your", "our", "a"}

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


# ----------------------------------------------------------------------------- POS helpers
def is_verb_or_adv(tag: str) -> bool:
    """UPOS VERB/ADV or PTB VB*/RB*/WRB."""
    return tag in ("VERB", "ADV") or tag.startswith(("VB", "RB", "WRB"))


def is_noun(tag: str) -> bool:
    return tag in ("NOUN", "PROPN") or tag.startswith("NN")


def word_group(token: str, pos: str | None = None, extended_words: bool = True,
               lexicon: Lexicon | None = None) -> str | None:
    """'root' | 'arms' | 'legs' | 'torso' for a dictionary word (rules 1-2), else None."""
    lex = lexicon or load_lexicon()
    t = token.lower()
    keys = {stem(t), stem(lex.irregular.get(t, t))}
    for group, stems in lex.paper:
        if keys & stems:
            return group
    if extended_words:
        for group, stems in lex.extra:
            if keys & stems and (group == "root" or not (pos and is_noun(pos))):
                return group
    return None


def _clause(tokens: list[str], i: int, pos: list[str]) -> range:
    """Span of the clause around token i. 'and' joining sides ('left and right hand', 'his left
    hand and his right hand') is not a boundary; following verbless clauses are absorbed
    ('waves his left hand and then his right hand')."""
    def boundary(j):
        if tokens[j] != "and":
            return tokens[j] in _BOUNDARIES
        nxt = tokens[j + 1: j + 3]
        return not (nxt and (nxt[0] in _SIDES | {"both"} or
                             (nxt[0] in _POSSESSIVE and len(nxt) > 1 and nxt[1] in _SIDES | {"both"})))
    lo = i
    while lo > 0 and not boundary(lo - 1):
        lo -= 1
    hi = i + 1
    while hi < len(tokens) and not boundary(hi):
        hi += 1
    while hi < len(tokens):
        k = hi + 1
        while k < len(tokens) and not boundary(k):
            k += 1
        if any(p in ("VERB", "AUX") or p.startswith(("VB", "MD")) for p in pos[hi + 1:k]):
            break
        hi = k
    return range(lo, hi)


def named_sides(tokens: list[str], span: range, limb: str, lexicon: Lexicon) -> set[str]:
    """Sides ('left'/'right') named for `limb` ('arm'/'leg') by nouns in tokens[span]."""
    sides: set[str] = set()
    for j in span:
        if lexicon.limb_nouns.get(tokens[j]) != limb or j == 0:
            continue
        prev = tokens[j - 1]
        if prev in _SIDES:
            sides.add(prev)
            if j >= 3 and tokens[j - 2] in ("and", "or") and tokens[j - 3] in _SIDES:
                sides.add(tokens[j - 3])
        elif prev == "both":
            sides |= _SIDES
    return sides


def caption_targets(tokens: list[str], pos: list[str] | None = None, side_aware: bool = True,
                    extended_words: bool = True, lexicon: Lexicon | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """β target (L,) float32 in {1, 0, -1} and α target (L, 6) float32 (rows of 0/1, or all -1
    where unsupervised) for the L caption tokens (no <sos>/<eos>: give <eos> -1, see `pad_targets`).
    `pos`: one UPOS or PTB tag per token; None -> `tag(tokens)`. With extended_words=False and
    side_aware=False the α targets are those of paper Table 5 (plus swipe/catch)."""
    lex = lexicon or load_lexicon()
    toks = [t.lower() for t in tokens]
    if pos is None:
        pos = tag(toks)
    if len(pos) != len(toks):
        raise ValueError(f"{len(toks)} tokens but {len(pos)} POS tags")
    beta = np.full(len(toks), -1.0, np.float32)
    alpha = np.full((len(toks), N_PARTS), -1.0, np.float32)
    for i, (t, p) in enumerate(zip(toks, pos)):
        group = word_group(t, p, extended_words, lex)
        if group is not None:
            beta[i] = 1.0
            cols = GROUP_COLUMNS[group]
            if side_aware and group in _GROUP_LIMB:
                sides = named_sides(toks, _clause(toks, i, pos), _GROUP_LIMB[group], lex)
                if len(sides) == 1:
                    cols = (_SIDE_COLUMN[(_GROUP_LIMB[group], sides.pop())],)
            alpha[i] = 0.0
            alpha[i, list(cols)] = 1.0
        elif is_verb_or_adv(p) and t not in lex.connection:
            beta[i] = 1.0
        elif t in lex.connection or t in lex.subjects:
            beta[i] = 0.0
    return beta, alpha


def pad_targets(targets: list[tuple[np.ndarray, np.ndarray]], length: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-caption (β (L_i,), α (L_i, 6)) into (N, length) and (N, length, 6), padded with -1
    (so the <eos> step and padding are unsupervised). Captions longer than `length` are cut."""
    beta = np.full((len(targets), length), -1.0, np.float32)
    alpha = np.full((len(targets), length, N_PARTS), -1.0, np.float32)
    for n, (b, a) in enumerate(targets):
        k = min(length, len(b))
        beta[n, :k], alpha[n, :k] = b[:k], a[:k]
    return beta, alpha


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
_SUBJECT_NOUNS = {"person", "man", "woman", "human", "figure", "guy", "boy", "girl", "people",
                  "individual", "character", "subject", "someone", "somebody", "he", "she", "they"}
_POSS = {"his", "her", "its", "their", "my", "your", "our"}
_ORDINALS = {"first", "second", "third", "last", "next"}


def _builtin_tag(tokens: list[str], lex: Lexicon) -> list[str]:
    toks = [t.lower() for t in tokens]
    fixed, verbs, advs = lex.fixed, lex.verb_forms, lex.adverbs
    detlike = {w for w, p in fixed.items() if p in ("DET", "NUM")} | _POSS | {"few", "several", "many"}
    adjlike = {w for w, p in fixed.items() if p == "ADJ"} | {"left", "right", "fast", "straight"}

    def known(w):
        return w in verbs or w in advs or w in _PARTICLES or w in _BOUNDARIES or w.isdigit() or (
            w in fixed and fixed[w] != "NOUN")

    out: list[str] = []
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else ""
        prev2 = toks[i - 2] if i > 1 else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if re.fullmatch(r"\d+(?:[.,]\d+)?[a-z]*", t):
            p = "NUM"
        elif t in _SIDES:
            if (nxt in ("and", "or") and i + 2 < len(toks) and toks[i + 2] in _SIDES) or (nxt and not known(nxt)):
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
                  and prev not in _SUBJECT_NOUNS):
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
