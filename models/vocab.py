"""Tokenisation and vocabulary (saved in every checkpoint, so a model always reloads).

Tokens: lower-case words and numbers; punctuation is dropped (no whitespace tokens, unlike the
official code's spaCy tokenizer on corrected text). Ids: <pad>=0, <sos>=1, <eos>=2, <unk>=3,
then the train-split words with frequency >= min_freq, sorted alphabetically.
"""
from __future__ import annotations

import re
from collections import Counter

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = range(4)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """'A man kicks, then waves!' -> ['a', 'man', 'kicks', 'then', 'waves']"""
    return _WORD.findall(text.lower())


class Vocab:
    def __init__(self, words):
        self.itos = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists, min_freq: int = 1) -> "Vocab":
        counts = Counter(t for toks in token_lists for t in toks)
        return cls(sorted(w for w, c in counts.items() if c >= min_freq))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens, add_sos_eos: bool = True) -> list[int]:
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return [SOS_ID] + ids + [EOS_ID] if add_sos_eos else ids

    def decode(self, ids) -> list[str]:
        """Ids -> tokens, stopping at <eos> and skipping <sos>/<pad>."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (SOS_ID, PAD_ID):
                continue
            out.append(self.itos[i])
        return out

    def to_list(self) -> list[str]:
        return list(self.itos)

    @classmethod
    def from_list(cls, itos) -> "Vocab":
        v = cls([])
        v.itos = list(itos)
        v.stoi = {w: i for i, w in enumerate(v.itos)}
        return v
