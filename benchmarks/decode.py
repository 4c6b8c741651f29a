"""Captioning speed: m2t's decoders (torch and ONNX Runtime) against the authors' loops, rebuilt.

    python benchmarks/decode.py [--sizes kit,hml3d] [--regimes full,eos] [--threads 2] [--batch 256]

Everything runs in one process on the same inputs and the same weights. Models: the presets of
models.config (KIT: H = D = 128, E = 64, V = 1700, 21 joints, T = 62 frames = a 10 s clip at 6.25 fps
after downsampling; HumanML3D: H = D = 256, E = 128, V = 3605, 22 joints, T = 100 = 10 s at 10 fps),
random weights from a fixed seed, random normalised motions. No checkpoint or dataset is needed.

Methods (benchmarks/reference_loop.py describes the authors' structure):
  ours onnx greedy     models.ort_decoding.greedy on models.export's graphs (what `m2t caption`
                       runs): encoder once per batch, cached projections, ended captions leave
                       the batch; stops when all have emitted <eos> or after --steps.
  ours onnx greedy, no graph optimisation / all graph optimisations / no early exit /
  chunks one after another / no chunks
                       the same with ONNX Runtime's graph optimisations off / at ORT_ENABLE_ALL
                       (the default is ORT_ENABLE_BASIC) / ended captions kept / the chunks of
                       at most ort_decoding.CHUNK clips decoded one after another on --threads
                       intra-op threads (by default --threads chunks run at once, one per
                       thread, on single-threaded sessions) / the whole batch in one piece on
                       --threads intra-op threads.
  ours onnx encoder only
                       only the encoder graph, on the same chunks and threads as ours onnx
                       greedy: the floor of any decoder on this encoder, so authors greedy /
                       this is the most any decoding loop could gain over the authors' (they
                       run the same encoder once per batch).
  ours torch greedy    models.decoding.greedy (the torch backend), same structure.
  ours onnx / torch beam 2
                       the batched synchronous length-normalised beam search of both backends.
  authors greedy       reference_loop.authors_greedy on --ref-batch clips a batch: encoder once,
                       both attention projections recomputed every step, exactly --steps steps
                       (their trg_len - 1; 32 on KIT test with --steps 32), no early exit.
  authors beam 2       reference_loop.authors_beam: per-clip best-first search (≤ 100 pops) with
                       attention over --beam-context clips per pop (the authors: their whole
                       evaluation batch; 1 = only the clip itself, the kinder lower bound).
The greedy decoders must give the same tokens (checked); the two beam searches are different
algorithms (agreement printed for information).

Regimes (random weights almost never emit <eos>):
  full  nothing ends: every greedy caption runs all --steps steps (20-token captions), every
        best-first search all 100 pops.
  eos   the <eos> logit is raised by a bias found by bisection so that greedy captions end after
        about --eos-len tokens on average, as trained models do (the authors' greedy still runs
        --steps steps: that is their loop).

Timing: time.perf_counter around whole calls after one warm-up call per method; the batched
methods (ours and the authors' greedy) run --repeat rounds interleaved within each round (load
changes hit them alike); the best round counts, the median is printed in brackets. The
best-first beam runs once on --beam-clips clips. torch and ONNX Runtime both use --threads threads.
OMP_WAIT_POLICY=PASSIVE is set before torch is imported (the CLI does the same; on a busy machine
spinning OpenMP threads made 2-thread runs 8x slower: docs/performance.md).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before torch / onnxruntime start threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as the CLI: no spinning numpy threads

import argparse  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from reference_loop import authors_beam, authors_greedy, cut  # noqa: E402  (beside this script)
from m2t.models import ort_decoding as O  # noqa: E402
from m2t.models.config import model_preset  # noqa: E402
from m2t.models.decoding import beam_search, greedy  # noqa: E402
from m2t.models.export import export_model  # noqa: E402
from m2t.models.network import Captioner, count_parameters  # noqa: E402
from m2t.models.vocab import EOS_ID  # noqa: E402

SIZES = {"kit": dict(preset="kit", V=1700, T=62, J=21), "hml3d": dict(preset="hml3d", V=3605, T=100, J=22)}
GOAL_CPS, GOAL_RATIO = 1000, 15


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
    x = torch.randn(args.clips, s["T"], s["J"], 3, generator=g)
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    cfg = model.cfg
    print(f"\n=== {name.upper()} size: H={cfg.hidden} D={cfg.proj} E={cfg.emb} V={cfg.vocab_size}, "
          f"{count_parameters(model):,} parameters; clips T={s['T']} frames, J={s['J']} joints; --steps {args.steps}")
    summary = {}
    for regime in args.regimes:
        if regime == "eos":
            mlen = calibrate_eos(model, x[:64], mask[:64], args.steps, args.eos_len)
            print(f"\n[{name} / eos] <eos> bias {model.out.bias[EOS_ID].item():.3f}: greedy captions end "
                  f"after {mlen:.1f} tokens on average (incl. <eos>)")
        else:
            print(f"\n[{name} / full] no caption ends: every method runs to its cap")
        with tempfile.TemporaryDirectory() as d:              # the graphs of these very weights
            export_model(model, d, weights_sha256="-")
            runners = {key: O.OrtCaptioner(d, "cpu", threads=args.threads, level=level) for key, level in
                       (("opt", "ORT_ENABLE_BASIC"), ("plain", "ORT_DISABLE_ALL"), ("all", "ORT_ENABLE_ALL"))}
            summary[regime] = run_regime(model, runners, x, mask, args, f"{name} / {regime}")
    return summary


def encode_only(runner, a, m):
    """The encoder graph on the chunks greedy decodes (the same split and threads), no decoder
    step: every decoder that runs this encoder takes at least this long, so the authors' greedy
    time over this time bounds the ratio any decoding loop on this encoder can reach."""
    def run(r, a, m, pm):
        r.encode(a, m, pm)
        return [None] * len(a)
    return O._chunked(runner, run, a, m, None, O.CHUNK, True) or run(runner, a, m, None)


def run_regime(model, runners, x, mask, args, title):
    B, N, steps, R = args.batch, args.clips, args.steps, args.repeat
    xn, mn = x.numpy(), mask.numpy()

    def batched(fn, bs, np_in=False):
        def run():
            out = []
            for i in range(0, N, bs):
                out += fn(xn[i:i + bs], mn[i:i + bs]) if np_in else fn(x[i:i + bs], mask[i:i + bs])
            return out
        return run

    opt, plain, full = runners["opt"], runners["plain"], runners["all"]
    methods = {
        "ours onnx greedy": batched(lambda a, m: O.greedy(opt, a, m, steps), B, True),
        "ours onnx greedy, no graph optimisation": batched(lambda a, m: O.greedy(plain, a, m, steps), B, True),
        "ours onnx greedy, all graph optimisations": batched(lambda a, m: O.greedy(full, a, m, steps), B, True),
        "ours onnx greedy, no early exit": batched(lambda a, m: O.greedy(opt, a, m, steps, compact=False), B, True),
        "ours onnx greedy, chunks one after another": batched(lambda a, m: O.greedy(opt, a, m, steps, workers=False),
                                                               B, True),
        "ours onnx greedy, no chunks": batched(lambda a, m: O.greedy(opt, a, m, steps, chunk=None, workers=False),
                                               B, True),
        "ours onnx encoder only (no decoding)": batched(lambda a, m: encode_only(opt, a, m), B, True),
        "ours torch greedy": batched(lambda a, m: greedy(model, a, m, steps), B),
        "ours onnx beam 2": batched(lambda a, m: O.beam_search(opt, a, m, 2, steps), B, True),
        "ours torch beam 2": batched(lambda a, m: beam_search(model, a, m, 2, steps), B),
        f"authors greedy (batch {args.ref_batch})": batched(lambda a, m: authors_greedy(model, a, m, steps),
                                                            args.ref_batch),
    }
    for fn in (lambda: O.greedy(opt, xn[:8], mn[:8], steps), lambda: O.greedy(plain, xn[:8], mn[:8], steps), lambda: O.greedy(full, xn[:8], mn[:8], steps),
               lambda: greedy(model, x[:8], mask[:8], steps), lambda: O.beam_search(opt, xn[:8], mn[:8], 2, steps),
               lambda: beam_search(model, x[:8], mask[:8], 2, steps), lambda: authors_greedy(model, x[:8], mask[:8], 2)):
        fn()                                                                       # warm-up
    times = {k: [] for k in methods}
    outs = {}
    for _ in range(R):
        for k, fn in methods.items():
            t0 = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t0)
    rows = []
    for k in methods:
        best, med = min(times[k]), statistics.median(times[k])
        n_steps = steps if k.startswith("authors") else sum(len(d.beta) if d else 0 for d in outs[k]) / N
        rows.append((k, N, args.ref_batch if k.startswith("authors") else B, n_steps, best / N, N / best, N / med))
    nb = args.beam_clips
    nctx = max(nb, args.beam_context)                     # the batch the pops' attention spans
    authors_beam(model, x[:nctx], mask[:nctx], 2, max_pops=3, context_batch=args.beam_context, n_decode=1)
    t0 = time.perf_counter()
    b_ref, pops = authors_beam(model, x[:nctx], mask[:nctx], 2, context_batch=args.beam_context, n_decode=nb)
    b_time = time.perf_counter() - t0
    rows.append((f"authors beam 2 (best-first, attention over {args.beam_context} clip(s) per pop)", nb, 1,
                 sum(pops) / nb, b_time / nb, nb / b_time, None))

    ref_greedy = [cut(t) for t in outs[f"authors greedy (batch {args.ref_batch})"]]
    ids = lambda k: [d.ids for d in outs[k]]  # noqa: E731
    checks = {"ours onnx greedy == authors greedy (tokens)": ids("ours onnx greedy") == ref_greedy,
              "ours torch greedy == authors greedy (tokens)": ids("ours torch greedy") == ref_greedy,
              "onnx greedy: no / all graph optimisations, no early exit, sequential / no chunks give the same tokens":
                  ids("ours onnx greedy, no graph optimisation") == ids("ours onnx greedy")
                  == ids("ours onnx greedy, all graph optimisations")
                  == ids("ours onnx greedy, no early exit") == ids("ours onnx greedy, no chunks")
                  == ids("ours onnx greedy, chunks one after another")}
    agree = sum(a.ids == cut(b) for a, b in zip(outs["ours onnx beam 2"][:nb], b_ref))
    same_beam = sum(a == b for a, b in zip(ids("ours onnx beam 2"), ids("ours torch beam 2")))

    by = {r[0]: r for r in rows}
    ref = by[f"authors greedy (batch {args.ref_batch})"][4]
    print(f"\n{title}: {args.threads} thread(s); ms/caption and captions/s from the best of {R} rounds "
          f"(median round in brackets; the best-first beam: one run); x authors = authors greedy time / method time")
    head = ("method", "clips", "batch", "steps/caption", "ms/caption", "captions/s", "x authors greedy")
    table = [head] + [(m, n, b, f"{st:.1f}", f"{spc * 1e3:.3f}", f"{cps:,.0f}" + (f" [{cm:,.0f}]" if cm else ""),
                       f"{ref / spc:,.2f}") for m, n, b, st, spc, cps, cm in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        print("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("(steps/caption: decoder steps per caption -- ours: emitted tokens incl. <eos>; authors' greedy: its "
          "fixed step count; best-first: queue pops)")
    for k, v in checks.items():
        print(f"check: {k}: {'OK' if v else 'MISMATCH'}")
    print(f"info: ours onnx beam 2 and ours torch beam 2 give the same caption on {same_beam}/{N} clips "
          "(random weights leave near-ties that float rounding can flip; tests/test_model_onnx.py checks whole "
          "beam loops for equality)")
    print(f"info: ours beam 2 and the authors' best-first give the same caption on {agree}/{nb} clips")
    og, tg = by["ours onnx greedy"], by["ours torch greedy"]
    res = {"onnx_cps": og[5], "onnx_ratio": ref / og[4], "torch_cps": tg[5], "torch_ratio": ref / tg[4],
           "beam_ratio": (b_time / nb) / by["ours onnx beam 2"][4], "ok": all(checks.values()),
           "ceiling": ref / by["ours onnx encoder only (no decoding)"][4]}
    print(f"goal >= {GOAL_CPS:,} captions/s: ours onnx greedy {og[5]:,.0f} ({'met' if og[5] >= GOAL_CPS else 'NOT met'}); "
          f"goal >= {GOAL_RATIO}x the authors' greedy: {res['onnx_ratio']:.1f}x "
          f"({'met' if res['onnx_ratio'] >= GOAL_RATIO else 'NOT met'}; the encoder alone takes 1/{res['ceiling']:.1f} "
          f"of the authors' greedy time: no decoder on it can exceed {res['ceiling']:.1f}x); "
          f"torch backend {res['torch_ratio']:.1f}x; "
          f"onnx beam 2 / authors' best-first: {res['beam_ratio']:,.0f}x per caption")
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="kit,hml3d", help="comma list of kit, hml3d (default %(default)s)")
    ap.add_argument("--regimes", default="full,eos", help="comma list of full, eos (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads (default %(default)s)")
    ap.add_argument("--batch", type=int, default=256, help="our decoding batch (default %(default)s)")
    ap.add_argument("--clips", type=int, default=256, help="clips for the batched methods (default %(default)s)")
    ap.add_argument("--ref-batch", type=int, default=256, help="the authors' greedy batch (their evaluation: "
                    "1024; default %(default)s, the same as ours)")
    ap.add_argument("--beam-clips", type=int, default=4, help="clips for the authors' best-first beam (default %(default)s)")
    ap.add_argument("--beam-context", type=int, default=1, help="clips whose attention each best-first pop computes "
                    "(the authors: the whole batch; default %(default)s)")
    ap.add_argument("--steps", type=int, default=20, help="greedy steps / max caption length (default %(default)s)")
    ap.add_argument("--eos-len", type=float, default=10.0, help="mean caption length in the eos regime (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved timed rounds (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.regimes = [r for r in args.regimes.split(",") if r]
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}, {args.threads} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}, load average {os.getloadavg()[0]:.2f}")
    results = {name: run_size(name, args) for name in args.sizes.split(",") if name}
    print(f"\nsummary (goals, KIT size, full regime = 20-token captions: ours >= {GOAL_CPS:,} captions/s and "
          f">= {GOAL_RATIO}x the authors' greedy in the same run):")
    for name, by_regime in results.items():
        for regime, r in by_regime.items():
            print(f"  {name:5s} {regime:4s}: onnx greedy {r['onnx_cps']:,.0f} captions/s = {r['onnx_ratio']:.1f}x the "
                  f"authors' greedy; torch greedy {r['torch_cps']:,.0f} captions/s = {r['torch_ratio']:.1f}x; onnx beam 2 "
                  f"{r['beam_ratio']:,.0f}x the authors' best-first; ceiling (encoder only) {r['ceiling']:.1f}x; "
                  f"checks {'OK' if r['ok'] else 'MISMATCH'}")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; total benchmark time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
