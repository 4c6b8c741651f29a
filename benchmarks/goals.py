"""Every goal of issue 11 in one run: runs the benchmark scripts one after the other and prints
their goal lines together (the full output of each goes to --log DIR).

    python benchmarks/goals.py [--log /tmp/m2t-goals] [--quick]

Scripts: cold_start.py (cold `m2t caption` <= 0.5 s), decode.py --sizes kit --threads 2
(>= 1,000 captions/s and >= 15x the authors' greedy), convert.py --bvh03 none (>= 3x pybvh,
within 1.2x of np.loadtxt), folders.py (>= 1.7x with 2 jobs). --quick uses fewer runs and
clips (about 2 minutes instead of about 6; the numbers are then rougher). Each script prints
its own command, machine and load average; docs/performance.md explains the numbers.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEYS = ("goal", "summary", "  kit ", "m2t read + FK vs pybvh", "all files", "jobs=", "load average", "command:")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", default="/tmp/m2t-goals", help="folder for each script's full output")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    q = args.quick
    runs = [("cold_start.py", ["--runs", "3" if q else "8"]),
            ("decode.py", ["--sizes", "kit", "--threads", "2"] + (["--repeat", "2", "--beam-clips", "1"] if q else [])),
            ("convert.py", ["--bvh03", "none"] + (["--repeat", "2"] if q else [])),
            ("folders.py", ["--repeat", "2" if q else "5"])]
    log = Path(args.log)
    log.mkdir(parents=True, exist_ok=True)
    env = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1", **os.environ}   # as the CLI
    t0 = time.perf_counter()
    for script, extra in runs:
        p = subprocess.run([sys.executable, str(HERE / script), *extra], capture_output=True, text=True,
                           env=env, cwd=HERE.parent)
        (log / f"{script[:-3]}.txt").write_text(p.stdout + p.stderr)
        print(f"\n== {script} {' '.join(extra)} (exit {p.returncode}; full output {log / script[:-3]}.txt)")
        for line in p.stdout.splitlines():
            if any(k in line for k in KEYS) and "ms/caption" not in line:
                print("  " + line.strip())
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
