"""Captioning speed: m2t's batched greedy / beam search against the official code's loops.

    python benchmarks/decode.py [--sizes kit,hml3d] [--regimes full,eos] [--threads 2] [--batch 256]

Everything runs in one process on the same inputs and the same weights. Models: the presets of
models.config (KIT: H = D = 128, E = 64, V = 1700, 21 joints, T = 62 frames = a 10 s clip at 6.25 fps
after downsampling; HumanML3D: H = D = 256, E = 128, V = 3605, 22 joints, T = 100 = 10 s at 10 fps),
random weights from a fixed seed, random normalised motions. No checkpoint or dataset is needed.

Methods:
  ours greedy          models.decoding.greedy on batches of --batch clips: the encoder and the
                       attention projections run once per batch, every step reuses them; ended
                       captions leave the batch; stops when all have emitted <eos> or after --steps.
  ours greedy, inference_mode / batch 2x
                       the same call under torch.inference_mode() / with twice the batch.
  ours beam 2          models.decoding.beam_search(beam=2): synchronous, batched, length-normalised.
  ours greedy, 1 clip at a time
                       the greedy call on one clip at a time (caching without batching).
  reference greedy, per clip
                       benchmarks/reference_loop.py: the official loop, one clip at a time, the
                       encoder and the attention projections recomputed at every step, exactly
                       --steps steps (the official code runs trg_len - 1 steps, never stops early).
  reference greedy, batched
                       the same loop on --ref-batch-clips clips at once (the official evaluation
                       batches this loop, 1024 clips per batch).
  reference beam 2     the official per-clip best-first search (PriorityQueue, score
                       -log p / (len - 1 + 1e-6), 2 children per pop, stops after 2 finished
                       hypotheses or 100 pops), recomputing the encoder at every pop.
The two beam searches are different algorithms (their captions can differ); the greedy ones must
give the same tokens, and the script checks that. The reference loops are rebuilt on m2t's modules
(vectorised encoder), so they are a lower bound on the cost of the authors' code as released.

Regimes (random weights almost never emit <eos>):
  full  nothing ends: every greedy caption runs all --steps steps, every best-first search all
        100 pops (a worst case for both, and the only regime where the step counts match exactly).
  eos   the <eos> logit is raised by a bias found by bisection so that greedy captions end after
        about --eos-len tokens on average, as trained models do.

Timing: time.perf_counter around whole calls after one warm-up call per method. m2t's batched
methods run --repeat rounds, interleaved within each round (load changes hit them alike); the best
round counts and the median is printed in brackets. The slow reference loops run once. --threads
sets torch.set_num_threads; the per-clip loops (ours and the reference's) run at --ref-threads
(default 1): ops on one clip are too small to gain from a second thread, and when another process
keeps a core busy, every parallel op of a 2-thread process waits for its descheduled thread (OpenMP
spin-waits), which made the per-clip loops 10-100x slower. The glibc allocator thresholds are
raised at start-up (models.training.tune_cpu_allocator) unless --no-tune-allocator.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import torch  # noqa: E402

from reference_loop import reference_beam, reference_greedy  # noqa: E402
from m2t.models.config import model_preset  # noqa: E402
from m2t.models.decoding import beam_search, greedy  # noqa: E402
from m2t.models.network import Captioner, count_parameters  # noqa: E402
from m2t.models.training import tune_cpu_allocator  # noqa: E402
from m2t.models.vocab import EOS_ID  # noqa: E402

SIZES = {"kit": dict(preset="kit", V=1700, T=62, J=21), "hml3d": dict(preset="hml3d", V=3605, T=100, J=22)}


def cut(tokens):
    """Reference tokens -> word ids before the first <eos> (ours never returns <eos>)."""
    return tokens[:tokens.index(EOS_ID)] if EOS_ID in tokens else tokens


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, min(times), statistics.median(times)


def calibrate_eos(model, x, mask, steps, target):
    """Bisection on a bias added to the <eos> logit so greedy captions end after ~target tokens."""
    base = model.out.bias[EOS_ID].item()
    lo, hi = 0.0, 20.0

    def mean_len(b):
        with torch.no_grad():
            model.out.bias[EOS_ID] = base + b
        return sum(len(d.beta) for d in greedy(model, x, mask, steps)) / x.shape[0]

    for _ in range(12):
        mid = (lo + hi) / 2
        if mean_len(mid) > target:
            lo = mid
        else:
            hi = mid
    return mean_len((lo + hi) / 2)


def run_size(name, args):
    s = SIZES[name]
    torch.manual_seed(args.seed)
    model = Captioner(model_preset(s["preset"], vocab_size=s["V"])).eval()
    g = torch.Generator().manual_seed(args.seed + 1)
    N = args.clips
    x = torch.randn(max(N, 2 * args.batch), s["T"], s["J"], 3, generator=g)
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    cfg = model.cfg
    print(f"\n=== {name.upper()} size: H={cfg.hidden} D={cfg.proj} E={cfg.emb} V={cfg.vocab_size}, "
          f"{count_parameters(model):,} parameters; clips T={s['T']} frames, J={s['J']} joints; "
          f"--steps {args.steps}")
    summary = {}
    for regime in args.regimes:
        if regime == "eos":
            mlen = calibrate_eos(model, x[:64], mask[:64], args.steps, args.eos_len)
            print(f"\n[{name} / eos] <eos> bias {model.out.bias[EOS_ID].item():.3f}: greedy captions end "
                  f"after {mlen:.1f} tokens on average (incl. <eos>)")
        else:
            print(f"\n[{name} / full] no caption ends: every method runs to its cap")
        summary[regime] = run_regime(model, x, mask, args, f"{name} / {regime}")
    return summary


def run_regime(model, x, mask, args, title):
    B, N, steps, R = args.batch, args.clips, args.steps, args.repeat
    nr, nb, nrb = args.ref_clips, args.beam_clips, args.ref_batch_clips
    n2 = max(N, 2 * B)

    def ours(fn, xx, mm, bs, inference=False):
        out = []
        for i in range(0, xx.shape[0], bs):
            if inference:
                with torch.inference_mode():
                    out += fn(model, xx[i:i + bs], mm[i:i + bs], max_len=steps)
            else:
                out += fn(model, xx[i:i + bs], mm[i:i + bs], max_len=steps)
        return out

    def beam2(model, x, mask, max_len):
        return beam_search(model, x, mask, 2, max_len)

    # m2t's methods: R rounds, the methods interleaved inside each round (load changes hit all alike)
    fast = {"ours greedy": (lambda: ours(greedy, x[:N], mask[:N], B), N, B),
            "ours greedy, inference_mode": (lambda: ours(greedy, x[:N], mask[:N], B, True), N, B),
            "ours greedy, batch 2x": (lambda: ours(greedy, x[:n2], mask[:n2], 2 * B), n2, 2 * B),
            "ours beam 2": (lambda: ours(beam2, x[:N], mask[:N], B), N, B)}
    greedy(model, x[:8], mask[:8], steps)                                       # warm-up
    beam_search(model, x[:8], mask[:8], 2, steps)
    times = {k: [] for k in fast}
    outs = {}
    for _ in range(R):
        for k, (fn, _, _) in fast.items():
            t0 = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t0)
    rows = []
    for k, (_, n, b) in fast.items():
        best, med = min(times[k]), statistics.median(times[k])
        rows.append((k, n, b, sum(len(d.beta) for d in outs[k]) / n, best / n, n / best, n / med))
    g_ours, b_ours = outs["ours greedy"], outs["ours beam 2"]

    # the reference loops, once each (slow). The per-clip ones run at --ref-threads (default 1: ops on
    # one clip are too small to gain from a second thread, and on a loaded machine every parallel op
    # waits for a descheduled thread, which made them 10-100x slower at 2 threads)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.ref_threads)
    th = f"{args.ref_threads} thread{'s' * (args.ref_threads > 1)}"
    g_one, best, med = timed(lambda: ours(greedy, x[:nr], mask[:nr], 1), R)
    rows.append((f"ours greedy, 1 clip at a time, {th}", nr, 1, sum(len(d.beta) for d in g_one) / nr,
                 best / nr, nr / best, nr / med))
    reference_greedy(model, x[:1], mask[:1], 2)                                 # warm-up
    r_one, r_time, _ = timed(lambda: reference_greedy(model, x[:nr], mask[:nr], steps), 1)
    rows.append((f"reference greedy, per clip, {th}", nr, 1, steps, r_time / nr, nr / r_time, None))
    ref_per_clip = r_time / nr
    reference_beam(model, x[:1], mask[:1], 2, max_pops=5)                      # warm-up
    (b_ref, pops), b_time, _ = timed(lambda: reference_beam(model, x[:nb], mask[:nb], 2), 1)
    torch.set_num_threads(threads)
    r_bat, best, _ = timed(lambda: reference_greedy(model, x[:nrb], mask[:nrb], steps, per_sample=False), 1)
    rows.append(("reference greedy, batched", nrb, nrb, steps, best / nrb, nrb / best, None))
    rows.append((f"reference beam 2 (best-first), {th}", nb, 1, sum(pops) / nb, b_time / nb, nb / b_time, None))
    g_inf, g_big = outs["ours greedy, inference_mode"], outs["ours greedy, batch 2x"]

    # ---- checks: the greedy decoders agree token for token
    ours_ids = [d.ids for d in g_ours]
    checks = {
        "ours greedy == reference greedy per clip": ours_ids[:nr] == [cut(t) for t in r_one],
        "ours greedy == reference greedy batched": ours_ids[:nrb] == [cut(t) for t in r_bat],
        "ours greedy: inference_mode / batch 2x / 1 clip give the same tokens":
            ours_ids == [d.ids for d in g_inf] and ours_ids == [d.ids for d in g_big][:N]
            and ours_ids[:nr] == [d.ids for d in g_one],
    }
    agree = sum(a.ids == cut(b) for a, b in zip(b_ours[:nb], b_ref))

    print(f"\n{title}: {torch.get_num_threads()} threads unless said; ms/caption and captions/s from the "
          f"best of {R} runs (median run in brackets); x ref per clip = against the per-clip reference greedy")
    head = ("method", "clips", "batch", "steps/caption", "ms/caption", "captions/s", "x ref per clip")
    table = [head] + [(m, n, b, f"{st:.1f}", f"{spc * 1e3:.2f}",
                       f"{cps:,.1f}" + (f" [{cm:,.1f}]" if cm else ""), f"{ref_per_clip / spc:,.1f}")
                      for m, n, b, st, spc, cps, cm in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        print("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("(steps/caption: decoder steps a caption took -- for ours the emitted tokens incl. <eos>, "
          "for the best-first search its queue pops)")
    for k, v in checks.items():
        print(f"check: {k}: {'OK' if v else 'MISMATCH'}")
    print(f"info: ours beam 2 and the reference best-first give the same caption on {agree}/{nb} clips")
    by = {r[0]: r for r in rows}
    res = {"greedy_cps": by["ours greedy"][5], "greedy_ratio": ref_per_clip / by["ours greedy"][4],
           "greedy_ratio_batched": by["reference greedy, batched"][4] / by["ours greedy"][4],
           "beam_ratio": (b_time / nb) / by["ours beam 2"][4],
           "beam_cps": by["ours beam 2"][5], "ok": all(checks.values())}
    print(f"ours greedy / reference greedy per clip: {res['greedy_ratio']:,.0f}x   "
          f"(vs the batched reference loop: {res['greedy_ratio_batched']:,.1f}x)")
    print(f"ours beam 2 / reference best-first beam 2: {res['beam_ratio']:,.0f}x per caption")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="kit,hml3d", help="comma list of kit, hml3d (default %(default)s)")
    ap.add_argument("--regimes", default="full,eos", help="comma list of full, eos (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default %(default)s)")
    ap.add_argument("--batch", type=int, default=256, help="our decoding batch (default %(default)s)")
    ap.add_argument("--clips", type=int, default=256, help="clips for our methods (default %(default)s)")
    ap.add_argument("--ref-clips", type=int, default=8, help="clips for the per-clip reference greedy "
                    "(default %(default)s)")
    ap.add_argument("--ref-batch-clips", type=int, default=64, help="clips for the batched reference greedy, "
                    "all in one batch (default %(default)s)")
    ap.add_argument("--beam-clips", type=int, default=4, help="clips for the reference best-first beam "
                    "(default %(default)s)")
    ap.add_argument("--ref-threads", type=int, default=1, help="torch threads for the per-clip reference "
                    "loops (default %(default)s)")
    ap.add_argument("--steps", type=int, default=20, help="greedy steps / max caption length (default %(default)s)")
    ap.add_argument("--eos-len", type=float, default=10.0, help="mean caption length in the eos regime "
                    "(default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of our methods (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-tune-allocator", action="store_true", help="keep glibc's default malloc thresholds")
    args = ap.parse_args(argv)
    args.regimes = [r for r in args.regimes.split(",") if r]
    tuned = False if args.no_tune_allocator else tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, allocator thresholds raised: {tuned}, "
          f"load average {os.getloadavg()[0]:.2f}")
    results = {name: run_size(name, args) for name in args.sizes.split(",") if name}
    print("\nsummary (goals: ours greedy >= 300x the reference per-clip greedy; >= 500 captions/s, KIT size):")
    for name, by_regime in results.items():
        for regime, r in by_regime.items():
            print(f"  {name:5s} {regime:4s}: ours greedy {r['greedy_cps']:,.0f} captions/s, "
                  f"{r['greedy_ratio']:,.0f}x reference per clip ({r['greedy_ratio_batched']:,.1f}x batched); "
                  f"ours beam 2 {r['beam_cps']:,.0f} captions/s, {r['beam_ratio']:,.0f}x reference best-first; "
                  f"checks {'OK' if r['ok'] else 'MISMATCH'}")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; total benchmark time "
          f"{time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
