"""Batched decoding: greedy and beam search, both returning the per-step attention trace.

Both run the encoder once and reuse its projections at every step (the reference recomputes
them per step and decodes beams one sample at a time). `with_parts=True` hands that encoder
output back (`Decoded.parts`) for the in-domain score, so it needs no second encoder pass.
"""
from __future__ import annotations

from dataclasses import fields

import torch

from .decoded import TRACE, Decoded, attach_parts, package_batch, package_one  # noqa: F401 (Decoded re-exported)
from .batching import batch_features
from .features import motion_features
from .modeldir import decode_length
from .network import Attention, Captioner
from .vocab import EOS_ID, SOS_ID

_TRACE = tuple(f.name for f in fields(Attention))   # the attention trace: one field list, network.Attention
assert set(_TRACE) == set(TRACE), "decoded.TRACE (the torch-free copy) must name network.Attention's fields"


@torch.no_grad()
def greedy(model: Captioner, x: torch.Tensor, mask: torch.Tensor, max_len: int = 30,
           part_mask: torch.Tensor | None = None, with_parts: bool = False) -> list[Decoded]:
    """x (B, T, J, 3), mask (B, T) -> B decoded captions; stops when every caption hit <eos>.
    Captions that have ended are dropped from the computation (the batch is compacted once a
    quarter of its rows are done), so a batch costs about its mean caption length, not its max.
    with_parts: each caption also gets its clip's encoder output (`Decoded.parts`)."""
    model.eval()
    B = x.shape[0]
    mem = model.encode(x, mask, exact=False, part_mask=part_mask)
    parts = mem.parts
    state = model.init_state(B, x.device)
    prev = torch.full((B,), SOS_ID, dtype=torch.long, device=x.device)
    rows = None                                          # original index of each computed row (None: all)
    done = torch.zeros(B, dtype=torch.bool, device=x.device)
    toks, logps, traces = [], [], []
    for _ in range(max_len):
        logits, state, att = model.step(mem, prev, state, exact=False)
        lp = torch.log_softmax(logits, -1)
        nxt = lp.argmax(-1)
        toks.append(_to_batch(nxt, rows, B, EOS_ID))     # rows no longer computed ended earlier:
        logps.append(_to_batch(lp.gather(1, nxt[:, None])[:, 0], rows, B, 0.0))   # _package ignores them
        traces.append(att if rows is None else
                      Attention(*(_to_batch(getattr(att, k), rows, B, 0.0) for k in _TRACE)))
        done |= nxt == EOS_ID
        prev = nxt
        alive = int((~done).sum())
        if alive == 0:
            break
        if alive <= 0.75 * done.numel():                 # compact: keep the rows still decoding
            keep = (~done).nonzero()[:, 0]
            rows = keep if rows is None else rows[keep]
            mem = mem.index_select(keep)
            state = tuple((h.index_select(1, keep), c.index_select(1, keep)) for h, c in state)
            prev, done = prev[keep], done[keep]
    out = _package(torch.stack(toks, 1), torch.stack(logps, 1), traces, mask)
    return attach_parts(out, parts.float().cpu().numpy()) if with_parts else out


def _to_batch(t: torch.Tensor, rows: torch.Tensor | None, B: int, fill) -> torch.Tensor:
    """Values of the computed rows -> (B, ...) in the original row order, `fill` elsewhere."""
    if rows is None:
        return t
    out = t.new_full((B,) + t.shape[1:], fill)
    out[rows] = t
    return out


def _package(tokens, logps, traces, mask) -> list[Decoded]:
    """float32 numpy out whatever the compute dtype (a bfloat16 autocast run has no numpy dtype)."""
    cat = {k: torch.cat([getattr(a, k) for a in traces], 1).float().cpu().numpy() for k in _TRACE}
    return package_batch(tokens.cpu().numpy(), logps.float().cpu().numpy(), cat, mask.sum(1).cpu().numpy())


@torch.no_grad()
def beam_search(model: Captioner, x: torch.Tensor, mask: torch.Tensor, beam: int = 2,
                max_len: int = 30, part_mask: torch.Tensor | None = None, with_parts: bool = False) -> list[Decoded]:
    """Batched synchronous beam search with length-normalised scores (sum log p / length, the
    <eos> counted); a hypothesis ends at <eos>. Each sample stops once it has `beam` finished
    hypotheses; the best finished (or, failing that, the best alive) one is returned.
    beam=1 runs greedy (the beam code with K = 1 gives the same tokens: tests check it).
    with_parts: as `greedy`."""
    if beam <= 1:
        return greedy(model, x, mask, max_len, part_mask, with_parts)
    return _beam(model, x, mask, beam, max_len, part_mask, with_parts)


@torch.no_grad()
def _beam(model: Captioner, x: torch.Tensor, mask: torch.Tensor, K: int, max_len: int,
          part_mask: torch.Tensor | None = None, with_parts: bool = False) -> list[Decoded]:
    model.eval()
    B, dev = x.shape[0], x.device
    mem = model.encode(x, mask, exact=False, part_mask=part_mask)
    parts = mem.parts
    mem = mem.index_select(torch.arange(B, device=dev).repeat_interleave(K))
    state = model.init_state(B * K, dev)
    prev = torch.full((B * K,), SOS_ID, dtype=torch.long, device=dev)
    score = torch.full((B, K), float("-inf"), device=dev)
    score[:, 0] = 0.0                                    # one live hypothesis at the start
    hist_tok = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    hist_lp = torch.zeros(B * K, 0, device=dev)
    hist = {k: None for k in _TRACE}
    finished: list[list[tuple[float, int, int]]] = [[] for _ in range(B)]   # (norm score, row, length)
    saved = {}                                           # (b, slot) -> (tokens, logps, trace)
    done = [False] * B
    for t in range(max_len):
        logits, state, att = model.step(mem, prev, state, exact=False)
        lp = torch.log_softmax(logits, -1)                                 # (B*K, V)
        V = lp.shape[-1]
        cand = (score.reshape(B * K, 1) + lp).reshape(B, K * V)
        top_s, top_i = cand.topk(min(2 * K, K * V), dim=1)
        rows = torch.empty(B, K, dtype=torch.long)
        toks = torch.full((B, K), EOS_ID, dtype=torch.long)
        new_score = torch.full((B, K), float("-inf"))
        steps = {k: getattr(att, k) for k in _TRACE}
        ended = []                                       # (b, slot, source row) that emitted <eos>
        for b in range(B):
            n = 0
            for s, i in zip(top_s[b].tolist(), top_i[b].tolist()):
                if n == K or s == float("-inf"):
                    break
                src, tok = b * K + i // V, i % V
                if done[b]:
                    break
                if tok == EOS_ID:
                    slot = len(saved) + len(ended)
                    ended.append((b, slot, src))
                    finished[b].append((s / (t + 1), slot, t + 1))
                    if len(finished[b]) >= K:
                        done[b] = True
                    continue
                rows[b, n], toks[b, n], new_score[b, n] = src, tok, s
                n += 1
            if n < K:
                rows[b, n:] = rows[b, 0] if n else b * K
        for b, slot, src in ended:                       # keep finished hypotheses before reordering
            tokens = torch.cat([hist_tok[src], torch.tensor([EOS_ID], device=dev)])
            logps = torch.cat([hist_lp[src], lp[src, EOS_ID:EOS_ID + 1]])
            trace = {k: steps[k][src] if hist[k] is None else torch.cat([hist[k][src], steps[k][src]], 0)
                     for k in _TRACE}
            saved[(b, slot)] = (tokens, logps, trace)
        flat = rows.reshape(-1).to(dev)
        tk = toks.reshape(-1).to(dev)
        hist_tok = torch.cat([hist_tok.index_select(0, flat), tk[:, None]], 1)
        hist_lp = torch.cat([hist_lp.index_select(0, flat), lp.index_select(0, flat).gather(1, tk[:, None])], 1)
        for k in _TRACE:
            cur = steps[k].index_select(0, flat)
            hist[k] = cur if hist[k] is None else torch.cat([hist[k].index_select(0, flat), cur], 1)
        state = tuple((h.index_select(1, flat), c.index_select(1, flat)) for h, c in state)
        score = new_score.to(dev)
        prev = tk
        if all(done):
            break
    out = []
    for b in range(B):
        if finished[b]:
            _, slot, _ = max(finished[b], key=lambda f: f[0])
            tokens, logps, trace = saved[(b, slot)]
        else:                                            # no <eos> within max_len: best alive
            r = b * K + int(score[b].argmax())
            tokens, logps, trace = hist_tok[r], hist_lp[r], {k: hist[k][r] for k in _TRACE}
        out.append(_one(tokens, logps, trace, int(mask[b].sum())))
    return attach_parts(out, parts.cpu().numpy()) if with_parts else out


def _one(tokens, logps, trace, n_frames) -> Decoded:
    return package_one(tokens.cpu().tolist(), logps.cpu().numpy(), {k: v.cpu().numpy() for k, v in trace.items()},
                       n_frames)


def decode(model: Captioner, x: torch.Tensor, mask: torch.Tensor, beam: int = 1, max_len: int = 30,
           part_mask: torch.Tensor | None = None, with_parts: bool = False) -> list[Decoded]:
    """Greedy for beam <= 1, beam search otherwise; part_mask (B, P) as Captioner.encode;
    with_parts: each caption also gets its clip's encoder output (`Decoded.parts`)."""
    return beam_search(model, x, mask, beam, max_len, part_mask, with_parts)


def decode_samples(bundle, samples, beam: int = 1, batch_size: int = 32, max_len: int | None = None,
                   progress=None, with_parts: bool = False):
    """Caption dataset samples (models.data.Sample) with a loaded Bundle, `batch_size` at a time
    on the model's device: yields (chunk, decoded captions, encoder parts or None). Encoder parts
    (with_parts): one (T, P, H) array per clip, its real frames, from the encoder pass the decoding
    ran (`Decoded.parts`). The one loop behind evaluation, localisation, plots and the in-domain
    calibration."""
    dev = next(bundle.model.parameters()).device
    max_len = max_len or decode_length(bundle.meta)
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        x, mask = batch_features([motion_features(s.joints, bundle.norm, bundle.downsample) for s in chunk], dev)
        decs = decode(bundle.model, x, mask, beam, max_len, with_parts=with_parts)
        yield chunk, decs, [d.parts for d in decs] if with_parts else None
        if progress:
            progress(min(start + batch_size, len(samples)), len(samples))

