"""Folders in parallel: `converters.convert(..., jobs=N)` and captioning with `jobs=N` against one
process, on the same files, in one run.

    python benchmarks/folders.py [--data DIR] [--files 120] [--jobs 2] [--repeat 3]

Files: the first --files BVH files of DIR/bandai-namco/dataset-1/data (gzipped BVH, ~100-250
frames each; default DIR: $M2T_DATA, else ../shared/data), or synthetic walks when absent.
Each round converts every file to a fresh temporary folder with jobs=1 and with jobs=N
(interleaved), then captions them with the shipped model on its default backend with jobs=1 (on
its default threads, and on 1 thread: one core) and jobs=N (batch 16); the best round counts.
Goal (issue 11): >= 1.7x with 2 jobs on an idle 2-core machine -- the load average is printed,
because on a shared machine a second worker only gets the CPU time others leave. One process
already decodes the pooled windows of a batch of files on its threads, so the ratio against one
core is printed too.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as the CLI: no spinning numpy threads

import argparse  # noqa: E402
import contextlib  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from m2t.converters import convert  # noqa: E402
from m2t.converters.synthetic import write_walk_bvh  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.7


@contextlib.contextmanager
def one_thread(on: bool):
    """A model loaded inside runs ONNX Runtime on 1 thread ($OMP_NUM_THREADS, read at load time)."""
    old = os.environ.get("OMP_NUM_THREADS")
    if on:
        os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if on and old is None:
            del os.environ["OMP_NUM_THREADS"]
        elif on:
            os.environ["OMP_NUM_THREADS"] = old


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("M2T_DATA") or str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-caption", action="store_true", help="time conversion only")
    args = ap.parse_args(argv)
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="m2t-folders-") as tmp:
        tmp = Path(tmp)
        src = Path(args.data) / "bandai-namco" / "dataset-1" / "data"
        files = sorted(src.glob("*.bvh*"))[:args.files]
        if not files:
            files = []
            for i in range(args.files):
                p = tmp / "src" / f"walk{i:03d}.bvh"
                write_walk_bvh(p, seconds=5.0)
                files.append(p)
        print(f"files: {len(files)} from {files[0].parent}")
        times = {}

        def timed(name, fn):
            t0 = time.perf_counter()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - t0)

        plan_mod = None
        if not args.no_caption:
            from m2t.models import caption_batch as plan_mod
        for r in range(args.repeat):
            for j in (1, args.jobs):
                timed(f"convert, jobs={j}", lambda: convert(files, tmp / f"conv{r}_{j}", jobs=j))
            if plan_mod is not None:
                for j, name in ((1, "caption, jobs=1"), (1, "caption, jobs=1, 1 thread"),
                                (args.jobs, f"caption, jobs={args.jobs}")):
                    plan = plan_mod.plan_captions(files, out=tmp / f"cap{r}_{len(times.get(name, []))}_{j}{name[-1]}",
                                                  formats=["txt"])
                    with one_thread(name.endswith("1 thread")):
                        timed(name, lambda: list(plan_mod.run_captions(plan, jobs=j)))
        for name, ts in times.items():
            print(f"  {name:26s} best {min(ts):.2f} s  ({len(files) / min(ts):,.0f} files/s)  runs "
                  + ", ".join(f"{t:.2f}" for t in ts))
        for what in ("convert",) + (() if plan_mod is None else ("caption",)):
            one, many = min(times[f"{what}, jobs=1"]), min(times[f"{what}, jobs={args.jobs}"])
            med = statistics.median(times[f"{what}, jobs=1"]) / statistics.median(times[f"{what}, jobs={args.jobs}"])
            print(f"{what}: jobs={args.jobs} is {one / many:.2f}x jobs=1 on the best rounds, {med:.2f}x on the "
                  f"medians (goal >= {GOAL}x on an idle machine)")
        if plan_mod is not None:
            core = times["caption, jobs=1, 1 thread"]
            many = times[f"caption, jobs={args.jobs}"]
            print(f"caption: jobs={args.jobs} is {min(core) / min(many):.2f}x one process on one core (1 thread) on the "
                  f"best rounds, {statistics.median(core) / statistics.median(many):.2f}x on the medians; one process "
                  f"on its default threads is {min(core) / min(times['caption, jobs=1']):.2f}x that")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
