"""Baselines for benchmarks/decode.py and benchmarks/train_step.py: the authors' loops, rebuilt
from the descriptions in reference-notes §3.2, §5 and §6.1-6.2 (not copied), on OUR Captioner's
weights, so their tokens can be compared with models.decoding token for token.

The structure is the authors', step for step:
  * the encoder (the part MLPs) runs ONCE per batch; at every decoder step the two attention
    projections of every frame, W_ps R and W_p R ((B, T, 6H) -> (B, T, D) each), are computed
    again from R (the authors' attention modules take R and h_t and project both per step);
  * greedy is batched (their evaluation: 1,024 clips a batch) and runs a FIXED number of steps,
    trg_len - 1 (trg_len = the longest first reference of the batch: 32 tokens on KIT test);
    it never stops early and never drops ended captions; the output is cut at <eos> afterwards;
  * the decoder step uses the exact tanh (no sigmoid rewrite) and nn.LSTM on one time step;
  * the "beam" is the per-clip best-first search of §6.2: a PriorityQueue of nodes scored
    -log p / (len - 1 + 1e-6); each pop runs one decoder step and pushes the top-`beam_width`
    children; it stops after `beam_width` hypotheses ending in <eos> or 100 pops (then the best
    unfinished nodes are taken); the best-scored hypothesis wins. The authors run every pop's
    attention over the WHOLE evaluation batch (O(B^2) per batch); `context_batch` reproduces
    that (each pop computes attention for that many clips and keeps one row); 1 is the kind
    variant (the pop's own clip only);
  * training: one teacher-forced-0.5 step = encoder once, then the decoder one step at a time
    (per-step projections as above), one coin per step for the whole batch (the model's previous
    argmax fed otherwise), the same losses, clipping and AdamW as m2t.
Kinder than the released code (so the ratios below are lower bounds): decoding runs under
torch.no_grad(), tensors are allocated on the right device, equal beam scores never crash
(a counter breaks ties), and the encoder is m2t's vectorised one.
"""
from __future__ import annotations

import itertools
from queue import PriorityQueue

import torch
from torch import nn

from m2t.models.network import Attention, Captioner, Memory
from m2t.models.vocab import EOS_ID, SOS_ID


def encode_parts(model: Captioner, x, mask):
    """The authors' encoder, once per batch: part features P (B, T, 6, H) and R (B, T, 6H)."""
    P = model.encoder(x, mask)
    return P, P.flatten(2)


def authors_step(model: Captioner, P, R, mask, prev, state):
    """One decoder step with the attention projections of every frame recomputed from R."""
    spat = model.spat_x(P) if model.cfg.spatial_scoring == "per_part" else model.spat_x(R)
    mem = Memory(P, spat, model.temp_x(R), mask, torch.ones(P.shape[0], P.shape[2], dtype=P.dtype, device=P.device))
    return model.step(mem, prev, state)


@torch.no_grad()
def authors_greedy(model: Captioner, x: torch.Tensor, mask: torch.Tensor, steps: int) -> list[list[int]]:
    """Batched greedy, exactly `steps` (= trg_len - 1) steps for every clip; tokens as emitted
    (incl. any <eos> and what follows; cut them with `cut`)."""
    model.eval()
    P, R = encode_parts(model, x, mask)
    state = model.init_state(x.shape[0], x.device)
    prev = torch.full((x.shape[0],), SOS_ID, dtype=torch.long, device=x.device)
    toks = []
    for _ in range(steps):
        logits, state, _ = authors_step(model, P, R, mask, prev, state)
        prev = logits.argmax(-1)
        toks.append(prev)
    return torch.stack(toks, 1).tolist()


def cut(tokens: list[int]) -> list[int]:
    """Emitted tokens -> word ids before the first <eos> (what m2t's decoders return)."""
    return tokens[:tokens.index(EOS_ID)] if EOS_ID in tokens else tokens


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
def authors_beam(model: Captioner, x: torch.Tensor, mask: torch.Tensor, beam_width: int = 2,
                 max_pops: int = 100, context_batch: int = 1,
                 n_decode: int | None = None) -> tuple[list[list[int]], list[int]]:
    """Per-clip best-first "beam" -> (tokens without <sos>, incl. the final <eos> when found;
    queue pops = decoder steps run, per clip). The encoder runs once per batch; each pop runs one
    decoder step whose attention covers `context_batch` clips of the batch (the authors: the
    whole evaluation batch), of which the popped clip's row is kept. Only the first `n_decode`
    clips are decoded (default: all), so a large context can be timed on a few captions."""
    model.eval()
    P_all, R_all = encode_parts(model, x, mask)
    B = x.shape[0]
    captions, pops_used = [], []
    for b in range(B if n_decode is None else min(n_decode, B)):
        ctx = [b] + [i for i in range(B) if i != b][:max(context_batch, 1) - 1]   # row 0 = this clip
        idx = torch.tensor(ctx, device=x.device)
        P, R, m = P_all.index_select(0, idx), R_all.index_select(0, idx), mask.index_select(0, idx)
        tie = itertools.count()
        queue: PriorityQueue = PriorityQueue()
        root = _Node(model.init_state(len(ctx), x.device), None, SOS_ID, 0.0, 1)
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
            prev = torch.full((len(ctx),), node.token, dtype=torch.long, device=x.device)
            logits, state, _ = authors_step(model, P, R, m, prev, node.state)
            lp, ix = torch.log_softmax(logits[0], -1).topk(beam_width)
            for lv, i in zip(lp.tolist(), ix.tolist()):
                child = _Node(state, node, i, node.logp + lv, node.length + 1)
                queue.put((child.score(), next(tie), child))
        while len(finished) < beam_width and not queue.empty():     # ran out of pops
            score, _, node = queue.get()
            finished.append((score, node))
        finished.sort(key=lambda f: f[0])
        captions.append(finished[0][1].tokens())
        pops_used.append(pops)
    return captions, pops_used


class AuthorsTrainLoop(nn.Module):
    """Drop-in for the Captioner in models.training.loss_terms (call that with teacher_forcing=1.0,
    so it passes the ground-truth inputs through): the authors' training forward, the encoder once,
    then one decoder step at a time with the attention projections recomputed per step, teacher
    forcing `ratio` with one coin per step for the whole batch."""

    def __init__(self, model: Captioner, ratio: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.model, self.ratio, self.generator = model, ratio, generator
        self.n_parts = model.n_parts

    def forward(self, x, mask, y_in, part_mask=None):
        m = self.model
        P, R = encode_parts(m, x, mask)
        if part_mask is not None:                   # m2t's part masks (not in the authors' code), as encode()
            P = P * part_mask.to(P.dtype)[:, None, :, None]
            R = P.flatten(2)
        state = m.init_state(x.shape[0], x.device)
        prev = y_in[:, 0]
        logits, atts = [], []
        for t in range(y_in.shape[1]):
            lg, state, att = authors_step(m, P, R, mask, prev, state)
            logits.append(lg)
            atts.append(att)
            if t + 1 < y_in.shape[1]:
                truth = torch.rand((), generator=self.generator).item() < self.ratio
                prev = y_in[:, t + 1] if truth else lg.detach().argmax(-1)
        cat = lambda k: torch.cat([getattr(a, k) for a in atts], 1)  # noqa: E731
        return torch.stack(logits, 1), Attention(cat("alpha"), cat("gamma"), cat("window"), cat("centre"),
                                                 cat("width"), cat("beta"))
