"""Dense captioning's window features: every window placed and normalised alone (as before commit
e37ffe3) against a take's windows of one length as one stack (`take_windows._window_features`), same
process, same windows; also checks that the bytes are the same.

    python benchmarks/window_features.py [--data DIR] [--files 40] [--repeat 5]

Takes: the first --files Bandai-Namco dataset-1 files of DIR (default $M2T_DATA, else
../shared/data beside the repository) and a synthetic 60 s walk, converted as `m2t caption`
converts them (shipped model's skeleton), windows of the default `--window`/`--hop`.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as the CLI

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from m2t.converters.api import load_motion  # noqa: E402
from m2t.converters.skeletons import get_skeleton  # noqa: E402
from m2t.converters.synthetic import write_walk_bvh  # noqa: E402
from m2t.models import take_windows  # noqa: E402
from m2t.models.captioning import load_model  # noqa: E402
from m2t.models.results import HOP_S, WINDOW_S  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("M2T_DATA") or str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"command: cd {shlex.quote(os.getcwd())} && {shlex.join([sys.executable, *sys.argv])}")
    bundle = load_model(None)
    skel = get_skeleton(bundle.cfg.skeleton)
    with tempfile.TemporaryDirectory() as tmp:
        walk = Path(tmp) / "walk60.bvh"
        write_walk_bvh(walk, seconds=60.0)
        paths = sorted((Path(args.data) / "bandai-namco" / "dataset-1" / "data").glob("*.bvh*"))[:args.files]
        takes = []
        for p in [walk, *paths]:
            m = load_motion(p, skeleton=bundle.cfg.skeleton)
            takes.append((m.positions, take_windows.plan_scales(len(m.positions), m.fps, WINDOW_S, HOP_S)))
    n = sum(len(plan) for _, plan in takes)
    best, outs = {"alone": float("inf"), "stacked": float("inf")}, {}
    for _ in range(args.repeat):
        for name in best:
            t0 = time.perf_counter()
            outs[name] = [[take_windows._features(j[s:e], bundle, skel) for s, e in plan] if name == "alone"
                          else take_windows._window_features(j, plan, bundle, skel) for j, plan in takes]
            best[name] = min(best[name], time.perf_counter() - t0)
    same = all(a.tobytes() == b.tobytes() for ra, rb in zip(outs["alone"], outs["stacked"]) for a, b in zip(ra, rb))
    print(f"{len(takes)} takes, {n:,} windows; best of {args.repeat}: one window at a time {best['alone']:.3f} s, "
          f"stacked {best['stacked']:.3f} s: {best['alone'] / best['stacked']:.2f}x; same bytes: {same}")


if __name__ == "__main__":
    main()
