"""Porter stems for the motion-word rules (models.supervision), memoised and seeded from a
checked cache, so captioning does not import nltk (~0.3 s) for words it has seen.

`STEM_CACHE` (models/wordlists/porter_stems.txt, written by scripts/make_stem_cache.py) holds the
word lists and the shipped model's vocabulary; `m2t export` adds a model's vocabulary to its
onnx.json, which models.onnx_model seeds. Any other word goes through nltk's PorterStemmer
(default NLTK_EXTENSIONS mode, as the official code), imported on first need.
tests/test_model_supervision.py checks every cached stem against PorterStemmer.
"""
from __future__ import annotations

from pathlib import Path

STEM_CACHE = Path(__file__).with_name("wordlists") / "porter_stems.txt"   # word<TAB>stem, written by scripts/make_stem_cache.py
_stems: dict[str, str] = {}
_stemmer = None


def _porter():
    """NLTK's PorterStemmer (default NLTK_EXTENSIONS mode, as the official code). Importing nltk
    takes ~0.3 s, so it happens only for a word the stem cache does not hold."""
    global _stemmer
    if _stemmer is None:
        from nltk.stem import PorterStemmer
        _stemmer = PorterStemmer()
    return _stemmer


def seed_stems(pairs) -> None:
    """Add known (word, Porter stem) pairs to the memo (the shipped cache, a model's vocabulary)."""
    _stems.update((w, s) for w, s in pairs)


def stem(word: str) -> str:
    """Porter stem of the lower-cased word; memoised, seeded from STEM_CACHE (the word lists and
    the shipped model's vocabulary; tests check every entry against PorterStemmer)."""
    w = word.lower()
    s = _stems.get(w)
    if s is None:
        s = _stems[w] = _porter().stem(w)
    return s


if STEM_CACHE.is_file():
    seed_stems(ln.split("\t") for ln in STEM_CACHE.read_text(encoding="utf-8").splitlines() if "\t" in ln)

