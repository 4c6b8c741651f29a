"""What two of issue 11's suggested levers could give the 15x goal: a narrower attention width
and bfloat16, each timed against the rebuilt authors' greedy in the same run.

    python benchmarks/decode_variants.py [--threads 2] [--batch 256] [--steps 20] [--repeat 3]

KIT-size inputs as benchmarks/decode.py (random weights from a fixed seed, random normalised
clips of T = 62 frames, V = 1,700, --steps tokens per caption, nothing ends early). Rows:
  authors greedy        reference_loop.authors_greedy on the KIT preset (H = D = 128, E = 64).
  ours onnx, <sizes>    models.ort_decoding.greedy on the graphs of a model with that attention /
                        projection width D (and, in the last row, H = 64, E = 32 too); "encoder"
                        is its encoder alone, the floor of any decoder on it. These are speed
                        upper bounds: a narrower model would still have to be trained to the
                        same accuracy, which is not measured here.
  ours torch fp32 / bf16
                        models.decoding.greedy, and the same under torch.autocast(cpu, bfloat16)
                        (AMX/AVX-512 BF16 matrix units where the CPU has them); "same tokens" is
                        the share of captions equal to the fp32 ones.
The best of --repeat calls counts; torch and ONNX Runtime use --threads threads.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before torch / onnxruntime start threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")    # as the CLI: no spinning numpy threads

import argparse  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from reference_loop import authors_greedy  # noqa: E402  (beside this script)
from m2t.models import ort_decoding as O  # noqa: E402
from m2t.models.config import model_preset  # noqa: E402
from m2t.models.decoding import greedy  # noqa: E402
from m2t.models.export import export_model  # noqa: E402
from m2t.models.network import Captioner  # noqa: E402

WIDTHS = ({"proj": 128}, {"proj": 64}, {"proj": 32}, {"proj": 32, "hidden": 64, "emb": 32})


def best(fn, repeat: int):
    fn()                                                   # warm-up
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def model(seed: int, **sizes) -> Captioner:
    torch.manual_seed(seed)
    return Captioner(model_preset("kit", vocab_size=1700, **sizes)).eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{args.threads} threads, load average {os.getloadavg()[0]:.2f}")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 62, 21, 3, generator=g)
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    xn, mn = x.numpy(), mask.numpy()
    ref = model(0)
    with torch.no_grad():
        t_auth, _ = best(lambda: authors_greedy(ref, x, mask, args.steps), max(1, args.repeat - 1))
    print(f"authors greedy (KIT preset, {args.steps} steps): {t_auth * 1e3:.0f} ms for {args.batch} clips")
    for sizes in WIDTHS:
        with tempfile.TemporaryDirectory() as d:
            export_model(model(0, **sizes), d, weights_sha256="-")
            r = O.OrtCaptioner(d, "cpu", threads=args.threads)
            t, _ = best(lambda: O.greedy(r, xn, mn, args.steps, compact=False), args.repeat)
            t_enc, _ = best(lambda: O._chunked(r, lambda rr, a, m, pm: [rr.encode(a, m, pm)] * len(a),
                                                xn, mn, None, O.CHUNK, True), args.repeat)
        label = ", ".join(f"{k}={v}" for k, v in sizes.items())
        print(f"ours onnx, {label:24s} {t * 1e3:5.0f} ms = {t_auth / t:4.1f}x the authors' greedy; encoder alone "
              f"{t_enc * 1e3:4.0f} ms (ceiling {t_auth / t_enc:.1f}x)")
    with torch.no_grad():
        t32, r32 = best(lambda: greedy(ref, x, mask, args.steps), args.repeat)

        def bf16():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return greedy(ref, x, mask, args.steps)
        try:
            t16, r16 = best(bf16, args.repeat)
        except (RuntimeError, TypeError) as e:              # no bf16 kernels for some op on this CPU/torch
            print(f"ours torch fp32 {t32 * 1e3:.0f} ms = {t_auth / t32:.1f}x; bf16 autocast not runnable here: {e}")
            return
    same = sum(a.ids == b.ids for a, b in zip(r32, r16))
    print(f"ours torch fp32 {t32 * 1e3:.0f} ms = {t_auth / t32:.1f}x; bf16 autocast {t16 * 1e3:.0f} ms = "
          f"{t_auth / t16:.1f}x, same tokens as fp32 on {same}/{len(r32)} captions")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
