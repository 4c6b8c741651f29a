"""Captioning time inside one process (no start-up): the shipped model on given files, and what the
encoder did.

    python benchmarks/caption_time.py FILE_OR_DIR ... [--rounds 5] [--backend auto] [--beam 1]

The model is loaded once and one warm-up round runs; then every round captions all inputs with
`models.captioning.caption_files` (dense captioning for files longer than DENSE_AFTER_S, in-domain
scores when the model is calibrated). Prints each round's seconds, the best and the median, and
the encoder's calls and clips per round (counted by wrapping the backend's encode), so a change
of the encoder's work shows apart from timing noise. Compare two versions of the code by running
this script from each (e.g. a second environment installed from the older commit), alternately.
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
import time  # noqa: E402

from m2t.converters.api import collect_inputs  # noqa: E402
from m2t.models.captioning import caption_files, load_model  # noqa: E402
from m2t.models.onnx_model import OnnxBundle  # noqa: E402


def count_encoder(bundle) -> list[int]:
    """Wrap the bundle's encoder class so every call appends its number of clips."""
    if isinstance(bundle, OnnxBundle):
        from m2t.models.ort_decoding import OrtCaptioner as cls
    else:
        from m2t.models.network import Captioner as cls
    calls: list[int] = []
    orig = cls.encode

    def encode(self, x, *a, **k):
        calls.append(int(x.shape[0]))
        return orig(self, x, *a, **k)
    cls.encode = encode
    return calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--beam", type=int, default=1)
    args = ap.parse_args(argv)
    files = [f for f, _ in collect_inputs(args.inputs, False)]
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS')}, load average {os.getloadavg()[0]:.2f}")
    bundle = load_model(backend=args.backend)
    calls = count_encoder(bundle)
    out = caption_files(files, bundle, beam=args.beam)                 # warm-up
    assert all(fc.ok for fc in out), [fc.error for fc in out if not fc.ok]
    times = []
    for _ in range(args.rounds):
        calls.clear()
        t0 = time.perf_counter()
        caption_files(files, bundle, beam=args.beam)
        times.append(time.perf_counter() - t0)
    segs = sum(len(fc.result.segments) for fc in out)
    print(f"{len(files)} files, {segs} segments; backend {getattr(bundle, 'backend', 'torch')}, beam {args.beam}")
    print("rounds (s): " + " ".join(f"{t:.3f}" for t in times))
    print(f"best {min(times):.3f} s, median {statistics.median(times):.3f} s; encoder per round: {len(calls)} calls, "
          f"{sum(calls)} clips; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
