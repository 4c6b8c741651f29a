"""Decoding: batched greedy and beam search, traces, batch independence."""
from __future__ import annotations

import torch

from m2t.models.config import model_preset
from m2t.models.decoding import beam_search, greedy
from m2t.models.network import Captioner
from m2t.models.vocab import EOS_ID


def _setup(seed=0):
    torch.manual_seed(seed)
    m = Captioner(model_preset("tiny", vocab_size=40)).eval()
    x = torch.randn(5, 30, 22, 3)
    mask = torch.ones(5, 30, dtype=torch.bool)
    mask[3, 12:] = False
    return m, x, mask


def test_greedy_is_batch_independent_and_traced():
    m, x, mask = _setup()
    batch = greedy(m, x, mask, max_len=12)
    for b in range(5):
        n = int(mask[b].sum())
        alone = greedy(m, x[b:b + 1, :n], mask[b:b + 1, :n], max_len=12)[0]
        assert alone.ids == batch[b].ids
        S = len(batch[b].beta)
        assert batch[b].alpha.shape == (S, n, 6) and batch[b].window.shape == (S, n)
        assert EOS_ID not in batch[b].ids


def test_beam_one_equals_greedy_and_wider_beam_scores_no_worse():
    m, x, mask = _setup(1)
    g = greedy(m, x, mask, max_len=10)
    assert [d.ids for d in beam_search(m, x, mask, beam=1, max_len=10)] == [d.ids for d in g]
    b4 = beam_search(m, x, mask, beam=4, max_len=10)
    for a, b in zip(g, b4):
        if len(a.ids) < 10 and len(b.ids) < 10:          # both finished with <eos>
            assert b.score >= a.score - 1e-6
        assert b.alpha.shape[0] == len(b.beta)


def test_beam_finds_eos_when_model_prefers_it():
    m, x, mask = _setup(2)
    with torch.no_grad():
        m.out.bias.zero_()
        m.out.bias[EOS_ID] = 50.0                          # <eos> dominates every step
    for d in beam_search(m, x, mask, beam=3, max_len=10):
        assert d.ids == [] and len(d.beta) == 1
