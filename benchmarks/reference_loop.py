"""Baselines for benchmarks/decode.py and benchmarks/train_step.py: the official code's loops,
rewritten step by step from docs/reference-notes §3.2, §5 and §6.1-6.2, on OUR Captioner's weights
(so tokens can be compared with models.decoding).

What makes them the reference's loops (and slow):
  * every decoding step calls `model.encode(x, mask)` again: the part MLPs and the attention
    projections W_ps R, W_p R of every frame are recomputed for every word (the official code
    recomputes its encoder projections per step; ours computes them once);
  * greedy runs a fixed number of steps (the reference runs trg_len - 1 steps, never stops early);
  * the "beam" is the per-sample best-first search of decode_beam_2.py: a PriorityQueue of nodes
    scored -log p / (len - 1 + 1e-6), each pop runs one decoder step on one sample and pushes its
    top-`beam_width` children; it stops after `beam_width` hypotheses ending in <eos> or after 100
    pops (then the best unfinished nodes are taken); the best-scored hypothesis wins;
  * training runs the decoder one step at a time with teacher forcing 0.5, one coin per step for
    the whole batch (the model's argmax is fed otherwise).
Deliberately kinder than the official code: decoding runs under torch.no_grad(); the beam decodes
one sample in a batch of one (the official one recomputes attention for the whole batch at every
pop, O(B^2)); equal scores never crash (a counter breaks ties).
"""
from __future__ import annotations

import itertools
from queue import PriorityQueue

import torch
from torch import nn

from m2t.models.network import Attention, Captioner
from m2t.models.vocab import EOS_ID, SOS_ID


def _step_recomputed(model: Captioner, x, mask, prev, state):
    mem = model.encode(x, mask)                     # recomputed at every step, as the reference
    return model.step(mem, prev, state)


@torch.no_grad()
def reference_greedy(model: Captioner, x: torch.Tensor, mask: torch.Tensor, steps: int,
                     per_sample: bool = True) -> list[list[int]]:
    """Greedy tokens (incl. any <eos> and what follows), exactly `steps` per caption.
    per_sample=True decodes one clip at a time (batch of 1, cut to its own length)."""
    model.eval()
    if not per_sample:
        return _greedy_batch(model, x, mask, steps)
    out = []
    for b in range(x.shape[0]):
        n = int(mask[b].sum())
        out += _greedy_batch(model, x[b:b + 1, :n], mask[b:b + 1, :n], steps)
    return out


def _greedy_batch(model, x, mask, steps):
    state = model.init_state(x.shape[0], x.device)
    prev = torch.full((x.shape[0],), SOS_ID, dtype=torch.long, device=x.device)
    toks = []
    for _ in range(steps):
        logits, state, _ = _step_recomputed(model, x, mask, prev, state)
        prev = logits.argmax(-1)
        toks.append(prev)
    return torch.stack(toks, 1).tolist()


class _Node:
    __slots__ = ("state", "parent", "token", "logp", "length")

    def __init__(self, state, parent, token, logp, length):
        self.state, self.parent, self.token, self.logp, self.length = state, parent, token, logp, length

    def score(self) -> float:                       # lower is better (PriorityQueue pops the minimum)
        return -self.logp / (self.length - 1 + 1e-6)

    def tokens(self) -> list[int]:
        out, n = [], self
        while n.parent is not None:
            out.append(n.token)
            n = n.parent
        return out[::-1]


@torch.no_grad()
def reference_beam(model: Captioner, x: torch.Tensor, mask: torch.Tensor, beam_width: int = 2,
                   max_pops: int = 100) -> tuple[list[list[int]], list[int]]:
    """Per-sample best-first "beam" -> (tokens without <sos>, incl. the final <eos> when found;
    number of queue pops = decoder steps run, per sample)."""
    model.eval()
    captions, pops_used = [], []
    for b in range(x.shape[0]):
        n = int(mask[b].sum())
        xb, mb = x[b:b + 1, :n], mask[b:b + 1, :n]
        tie = itertools.count()
        queue: PriorityQueue = PriorityQueue()
        root = _Node(model.init_state(1, x.device), None, SOS_ID, 0.0, 1)
        queue.put((root.score(), next(tie), root))
        finished, pops = [], 0
        while pops < max_pops and not queue.empty():
            score, _, node = queue.get()
            pops += 1
            if node.token == EOS_ID and node.parent is not None:
                finished.append((score, node))
                if len(finished) >= beam_width:
                    break
                continue
            prev = torch.tensor([node.token], device=x.device)
            logits, state, _ = _step_recomputed(model, xb, mb, prev, node.state)
            lp, idx = torch.log_softmax(logits, -1)[0].topk(beam_width)
            for l, i in zip(lp.tolist(), idx.tolist()):
                child = _Node(state, node, i, node.logp + l, node.length + 1)
                queue.put((child.score(), next(tie), child))
        while len(finished) < beam_width and not queue.empty():     # ran out of pops
            score, _, node = queue.get()
            finished.append((score, node))
        finished.sort(key=lambda f: f[0])
        captions.append(finished[0][1].tokens())
        pops_used.append(pops)
    return captions, pops_used


class ReferenceTrainLoop(nn.Module):
    """Drop-in for the Captioner in models.training.loss_terms (call that with teacher_forcing=1.0,
    so it passes the ground-truth inputs through): the official training forward, one step at a
    time, teacher forcing `ratio` with one coin per step, the encoder recomputed every step."""

    def __init__(self, model: Captioner, ratio: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.model, self.ratio, self.generator = model, ratio, generator
        self.n_parts = model.n_parts

    def forward(self, x, mask, y_in):
        m = self.model
        state = m.init_state(x.shape[0], x.device)
        prev = y_in[:, 0]
        logits, atts = [], []
        for t in range(y_in.shape[1]):
            lg, state, att = _step_recomputed(m, x, mask, prev, state)
            logits.append(lg)
            atts.append(att)
            if t + 1 < y_in.shape[1]:
                truth = torch.rand((), generator=self.generator).item() < self.ratio
                prev = y_in[:, t + 1] if truth else lg.detach().argmax(-1)
        cat = lambda k: torch.cat([getattr(a, k) for a in atts], 1)  # noqa: E731
        return torch.stack(logits, 1), Attention(cat("alpha"), cat("gamma"), cat("window"), cat("centre"),
                                                 cat("width"), cat("beta"))
