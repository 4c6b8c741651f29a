"""Cold start of `m2t caption FILE`: wall time of whole fresh processes, ONNX path against torch.

    python benchmarks/cold_start.py [--runs 10] [--file examples/walk.bvh]

Each run is a new process started from the shell's point of view (`subprocess.run` of the `m2t`
script of this environment), so it pays for Python start-up, imports, model loading, reading and
converting the file, decoding and printing: what a user waits for. The backends alternate run by
run (load changes hit both alike); min and median are printed. A warm-up run of each writes the
bytecode caches, as any first start does on a user's machine (PYTHONDONTWRITEBYTECODE, set in some
sandboxes, is dropped for the runs unless --no-bytecode-cache: with it every start compiles m2t's
modules from source, ~85 ms here). Goal: <= 0.5 s on the ONNX path
(the default for the shipped model). Also timed: `python -c "import torch"` and
`python -c "import onnxruntime"`, the floors of each path.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 0.5


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="runs per command (default %(default)s)")
    ap.add_argument("--file", default=str(ROOT / "examples" / "walk.bvh"))
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE from the environment (by default it is dropped for the runs: "
                         "a user's Python caches compiled modules, pip compiles installed ones)")
    args = ap.parse_args(argv)
    m2t = shutil.which("m2t") or str(Path(sys.executable).with_name("m2t"))
    cmds = {"m2t caption (auto = onnx)": [m2t, "caption", args.file],
            "m2t caption --backend torch": [m2t, "caption", args.file, "--backend", "torch"],
            "python -c 'import onnxruntime'": [sys.executable, "-c", "import onnxruntime"],
            "python -c 'import torch'": [sys.executable, "-c", "import torch"]}
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load average {os.getloadavg()[0]:.2f}")
    env = dict(os.environ)
    if not args.no_bytecode_cache:                # as a user's Python: .pyc files written on first use
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    print(f"bytecode caches: {'off (PYTHONDONTWRITEBYTECODE=1: every run compiles m2t from source)' if env.get('PYTHONDONTWRITEBYTECODE') else 'on (written by the warm-up run, as on any second start)'}")
    outs, times = {}, {k: [] for k in cmds}
    for k, c in cmds.items():                                      # warm the file and bytecode caches once
        outs[k] = subprocess.run(c, capture_output=True, text=True, cwd=ROOT, env=env).stdout.strip()
    for _ in range(args.runs):
        for k, c in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(c, capture_output=True, text=True, cwd=ROOT, check=True, env=env)
            times[k].append(time.perf_counter() - t0)
    for k, ts in times.items():
        print(f"  {k:32s} min {min(ts):.3f} s  median {statistics.median(ts):.3f} s  ({args.runs} runs)")
    same = outs["m2t caption (auto = onnx)"] == outs["m2t caption --backend torch"]
    print(f"caption: {outs['m2t caption (auto = onnx)']!r}; the torch path prints the same: {same}")
    med = statistics.median(times["m2t caption (auto = onnx)"])
    print(f"goal: cold `m2t caption` <= {GOAL_S} s: median {med:.3f} s ({'met' if med <= GOAL_S else 'NOT met'}); "
          f"torch path median {statistics.median(times['m2t caption --backend torch']):.3f} s; "
          f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
