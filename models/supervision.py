"""Ground truth for guided attention: per-token targets for the adaptive gate β and the spatial
attention α (paper Eq. 12-13, Supp. C, Table 5). numpy only (no torch). The word lists are
`models/lexicon.py`, the offline POS tagger `models/tagging.py` (both re-exported here).

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

import numpy as np

from m2t.converters.skeletons import PART_NAMES

from .lexicon import BOUNDARIES, SIDES, WORDLIST_DIR, Lexicon, load_lexicon, read_wordlist  # noqa: F401 (re-exported)
from .stems import seed_stems, stem  # noqa: F401 (Porter stems, memoised; re-exported)
from .tagging import align_hml3d_tags, parse_hml3d_tags, tag, tagger_mode, tagger_name  # noqa: F401 (re-exported)

N_PARTS = len(PART_NAMES)
_COL = {name: PART_NAMES.index(name) for name in PART_NAMES}
GROUP_COLUMNS = {"root": (_COL["root"],), "torso": (_COL["torso"],),
                 "arms": (_COL["left_arm"], _COL["right_arm"]),
                 "legs": (_COL["left_leg"], _COL["right_leg"])}
_SIDE_COLUMN = {("arm", "left"): _COL["left_arm"], ("arm", "right"): _COL["right_arm"],
                ("leg", "left"): _COL["left_leg"], ("leg", "right"): _COL["right_leg"]}
_GROUP_LIMB = {"arms": "arm", "legs": "leg"}
_POSSESSIVE = {"his", "her", "its", "their", "the", "my", "your", "our", "a"}


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
            return tokens[j] in BOUNDARIES
        nxt = tokens[j + 1: j + 3]
        return not (nxt and (nxt[0] in SIDES | {"both"} or
                             (nxt[0] in _POSSESSIVE and len(nxt) > 1 and nxt[1] in SIDES | {"both"})))
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
        if prev in SIDES:
            sides.add(prev)
            if j >= 3 and tokens[j - 2] in ("and", "or") and tokens[j - 3] in SIDES:
                sides.add(tokens[j - 3])
        elif prev == "both":
            sides |= SIDES
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
