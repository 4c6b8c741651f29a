"""Captioner training-step speed: m2t's parallel teacher-forced step against the authors' step.

    python benchmarks/train_step.py [--threads 2] [--steps 4] [--compile] [--variants all]

One training step = models.training.loss_terms (L_lang + 3 L_adapt + 2 L_spat) + backward +
clip_grad_norm_(1.0) + AdamW step, exactly as models.training.train does it, at KIT size
(H = D = 128, E = 64, V = 1700, 21 joints) on one batch of 64 clips of T = 100 frames (the KIT
training maximum after downsampling) with captions of 20 tokens (<sos> + 18 words + <eos>: 19
decoder steps), random weights (fixed seed) and random β/α targets (part of the words supervised).

Variants, each in its own fresh Python process, one after the other, so that none inherits another's
heap or allocator settings (the driver only starts them, with any MALLOC_* variables removed from
their environment, and collects one JSON line from each):
  ours                 Captioner.forward: the whole caption in parallel (the LSTMs see only words,
                       so the attention of all 19 steps is one batched computation); glibc's
                       default malloc thresholds.
  ours+alloc           the same after models.training.tune_cpu_allocator() (what train() calls on
                       CPU), called first thing in the process, before torch makes any large
                       allocation: mallopt thresholds only apply to later allocations. (Exporting
                       MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736 to the
                       child would do the same; the function is what m2t itself uses.)
  ours+tf0.5, ours+alloc+tf0.5
                       teacher forcing 0.5 the m2t way (parallel scheduled sampling: an extra
                       no-grad teacher-forced pass gives the model's predictions, and each input
                       token is replaced by the prediction with probability 0.5).
  ours+alloc+compile   (--compile) torch.compile(model) on top of ours+alloc; the first step
                       (compilation) is timed on its own and capped by --compile-timeout.
  reference            benchmarks/reference_loop.AuthorsTrainLoop: the authors' forward rebuilt
                       (reference-notes §3.2, §5): the encoder once per batch, then one decoder
                       step at a time with teacher forcing 0.5 (one coin per step for the whole
                       batch, argmax fed otherwise) and both attention projections recomputed at
                       every step; default malloc thresholds (as the authors' code runs); the same
                       loss, clipping and optimizer code as ours.
  reference+alloc      the same loop after tune_cpu_allocator().
Default: ours, ours+alloc, ours+alloc+tf0.5, reference (--variants all: every variant).
Timing: time.perf_counter around each step after --warmup untimed steps (reference: 1); the median
and the best of --steps (reference: --ref-steps) timed steps are printed; ratios use medians.
torch.set_num_threads(--threads) in every process.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before torch starts its threads (docs/performance.md)

import argparse
import json
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {   # name -> (model, teacher forcing, tune allocator, compile, run by default)
    "ours": ("ours", 1.0, False, False, True),
    "ours+alloc": ("ours", 1.0, True, False, True),
    "ours+tf0.5": ("ours", 0.5, False, False, False),
    "ours+alloc+tf0.5": ("ours", 0.5, True, False, True),
    "ours+alloc+compile": ("ours", 1.0, True, True, False),
    "reference": ("reference", 0.5, False, False, True),
    "reference+alloc": ("reference", 0.5, True, False, False),
}


def worker(name: str, args) -> dict:
    kind, tf, tune, comp, _ = VARIANTS[name]
    tuned = False
    if tune:                                      # first, before torch makes any large allocation
        from m2t.models.training import tune_cpu_allocator
        tuned = tune_cpu_allocator()
    import numpy as np
    import torch

    from reference_loop import AuthorsTrainLoop   # beside this script (on sys.path)
    from m2t.models.config import TRAIN_PRESETS, TrainConfig, model_preset
    from m2t.models.batching import collate
    from m2t.models.data import Item
    from m2t.models.network import Captioner
    from m2t.models.training import loss_terms

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    V, B, T, J, L = 1700, args.batch, args.frames, 21, args.caption_tokens
    model = Captioner(model_preset("kit", vocab_size=V))
    rng = np.random.default_rng(args.seed)
    items = []
    for _ in range(B):
        ids = np.concatenate([[1], rng.integers(4, V, L - 2), [2]]).astype(np.int64)   # <sos> ... <eos>
        beta = rng.choice(np.float32([-1, 0, 1]), L - 1)
        alpha = -np.ones((L - 1, 6), np.float32)
        sup = rng.random(L - 1) < 0.3
        alpha[sup] = (rng.random((int(sup.sum()), 6)) < 0.3).astype(np.float32)
        items.append(Item(rng.standard_normal((T, J, 3)).astype(np.float32), ids, beta, alpha, 0))
    batch = collate(items)
    tcfg = TrainConfig(**{**TRAIN_PRESETS["kit"], "teacher_forcing": tf if kind == "ours" else 1.0})
    gen = torch.Generator().manual_seed(args.seed)
    net = AuthorsTrainLoop(model, tf, gen) if kind == "reference" else model
    if comp:
        net = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    model.train()

    def step():
        loss, means, _ = loss_terms(net, batch, tcfg, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        return float(loss)

    res = {"name": name, "threads": torch.get_num_threads(), "allocator_tuned": tuned, "torch": torch.__version__}
    if comp:
        t0 = time.perf_counter()
        step()
        res["compile_s"] = time.perf_counter() - t0
    n_steps, n_warm = (args.ref_steps, 1) if kind == "reference" else (args.steps, args.warmup)
    for _ in range(n_warm):
        step()
    times, losses = [], []
    for _ in range(n_steps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
    res.update(median_s=statistics.median(times), best_s=min(times), times=times, loss=losses[-1])
    return res


def run_variant(name, args, timeout):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--threads", str(args.threads),
           "--steps", str(args.steps), "--ref-steps", str(args.ref_steps), "--warmup", str(args.warmup),
           "--batch", str(args.batch),
           "--frames", str(args.frames), "--caption-tokens", str(args.caption_tokens), "--seed", str(args.seed)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}   # clean allocator settings
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"name": name, "error": f"did not finish within {timeout} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"name": name, "error": f"exit {p.returncode}: {tail}"}
    return json.loads(lines[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default %(default)s)")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per variant (default %(default)s)")
    ap.add_argument("--ref-steps", type=int, default=2, help="timed steps of the reference variants, after "
                    "1 warm-up step (default %(default)s)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (default %(default)s)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--caption-tokens", type=int, default=20, help="incl. <sos> and <eos> (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (first compile 100+ s)")
    ap.add_argument("--compile-timeout", type=int, default=400, help="seconds for the compile variant")
    ap.add_argument("--variants", default=None, help="comma list of variant names, or 'all' (default: "
                    + ", ".join(n for n, v in VARIANTS.items() if v[4]) + "; plus the compile one with --compile)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    if args.variants == "all":
        names = list(VARIANTS)
    elif args.variants:
        names = args.variants.split(",")
    else:
        names = [n for n, v in VARIANTS.items() if v[4] or (args.compile and v[3])]
    import torch
    t_start = time.perf_counter()
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, no GPU used, Python "
          f"{platform.python_version()}, torch {torch.__version__}, {args.threads} threads; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"step: KIT size, V=1700, batch {args.batch}, T={args.frames} frames, captions of "
          f"{args.caption_tokens} tokens ({args.caption_tokens - 1} decoder steps); {args.warmup} warm-up + "
          f"{args.steps} timed steps per variant (reference: 1 + {args.ref_steps}), each in a fresh process")
    results = []
    for n in names:
        r = run_variant(n, args, args.compile_timeout if "compile" in n else 600)
        results.append(r)
        extra = f", compile {r['compile_s']:.0f} s" if "compile_s" in r else ""
        print(f"  {n}: " + (r["error"] if "error" in r else
                            f"median {r['median_s'] * 1e3:,.0f} ms, best {r['best_s'] * 1e3:,.0f} ms{extra}"),
              flush=True)
    ref = next((r for r in results if r["name"] == "reference" and "error" not in r), None)
    print(f"\nms per training step ({args.threads} threads; ratio = reference median / variant median):")
    head = ("variant", "median ms", "best ms", "x reference")
    rows = [head]
    for r in results:
        if "error" in r:
            rows.append((r["name"], "-", "-", r["error"]))
            continue
        rows.append((r["name"], f"{r['median_s'] * 1e3:,.0f}", f"{r['best_s'] * 1e3:,.0f}",
                     f"{ref['median_s'] / r['median_s']:.1f}" if ref else "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    for i, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; total benchmark time "
          f"{time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
