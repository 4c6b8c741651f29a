"""Write models/wordlists/porter_stems.txt: the Porter stem of every word the captioning path
stems with the shipped word lists and the shipped default model's vocabulary, so `m2t caption`
does not import nltk (~0.3 s). Re-run after changing a word list or the default model:

    python scripts/make_stem_cache.py

tests/test_model_supervision.py checks every entry against nltk's PorterStemmer and that the
default model's vocabulary and the word lists are covered.
"""
from __future__ import annotations

import json

from m2t.models import stems as ST
from m2t.models import supervision as S
from m2t.models.captioning import default_model_dir


def main():
    ST._stems.clear()                                  # record from scratch, with nltk
    lex = S.load_lexicon()
    vocab = json.loads((default_model_dir() / "config.json").read_text())["vocab"]
    for w in vocab:
        ST.stem(w)
        ST.stem(lex.irregular.get(w.lower(), w))
    rows = sorted(ST._stems.items())
    ST.STEM_CACHE.write_text("".join(f"{w}\t{s}\n" for w, s in rows), encoding="utf-8")
    print(f"wrote {ST.STEM_CACHE} ({len(rows)} words)")


if __name__ == "__main__":
    main()
