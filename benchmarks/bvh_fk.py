"""BVH forward kinematics alone: m2t's `converters.bvh.channels_to_positions` against the same
function of another checkout, on the channel values each file parses to (parsing not timed).

    git archive COMMIT converters | tar -x -C /tmp/old
    python benchmarks/bvh_fk.py --also /tmp/old [--data DIR] [--frames 20000] [--repeat 200]

Files: those of benchmarks/convert.py (CMU-131, Xia, misc-bvh, 20 Bandai-Namco files, a synthetic
walk of --frames frames). Per file: both functions on the same parsed values, interleaved, the
best of --repeat calls each (5 for files of 10,000 frames or more); prints per file and per group
the two times, their ratio (above 1: m2t faster) and the largest difference of the positions
relative to the largest coordinate.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from convert import ROOT, collect_files, load_other_reader   # noqa: I001 (benchmarks/ is the script's folder)

from m2t.converters import bvh as m2t_bvh


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--also", required=True, metavar="DIR", help="a checkout whose converters/ to compare with")
    ap.add_argument("--data", default=os.environ.get("M2T_DATA") or str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args(argv)
    other = load_other_reader(Path(args.also))
    data = Path(args.data)
    data = data if (data / "xia").is_dir() or (data / "cmu-131").is_dir() else None
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="m2t-fk-") as tmp:
        groups = collect_files(data, args.frames, Path(tmp))
        totals = {}
        for g, files in groups.items():
            tm = to = 0.0
            for p in files:
                try:
                    h, values, _ = m2t_bvh.parse(p)
                    ho, vo, _ = other.parse(p)
                except Exception as e:                               # noqa: BLE001
                    print(f"  {g:14s} {p.name}: skipped ({type(e).__name__})")
                    continue
                n = 5 if len(values) >= 10000 else args.repeat
                a = m2t_bvh.channels_to_positions(h, values)
                b = other.channels_to_positions(ho, vo)
                diff = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
                t_m = t_o = float("inf")
                for _ in range(n):                                   # interleaved
                    t_m = min(t_m, timed(lambda: m2t_bvh.channels_to_positions(h, values)))
                    t_o = min(t_o, timed(lambda: other.channels_to_positions(ho, vo)))
                tm, to = tm + t_m, to + t_o
                print(f"  {g:14s} {p.name:40s} {len(values):6d} frames  m2t {1e3 * t_m:8.3f} ms  "
                      f"--also {1e3 * t_o:8.3f} ms  {t_o / t_m:5.2f}x  max rel diff {diff:.1e}")
            if tm:
                totals[g] = (tm, to)
        print("\nper group (sum of best times): m2t / --also")
        for g, (tm, to) in totals.items():
            print(f"  {g:16s} m2t {1e3 * tm:9.3f} ms  --also {1e3 * to:9.3f} ms  {to / tm:5.2f}x")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"re-run: cd {ROOT} && python benchmarks/bvh_fk.py --also {args.also}")


if __name__ == "__main__":
    main()
