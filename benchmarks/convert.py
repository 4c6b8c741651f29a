"""BVH reading speed: m2t against the `bvh` package 0.3, pybvh, np.loadtxt and bare float parsing.

    python benchmarks/convert.py [--data DIR] [--frames N] [--repeat 3] [--bvh03 xia|xia+cmu|none]
                                 [--also DIR]

Everything runs in one process on one set of files: the real BVH files under DIR (default
$M2T_DATA, else ../shared/data beside the repository) -- the CMU-131 files, the Xia files, the
misc-bvh files and 20 Bandai-Namco files (10 from each dataset, evenly spaced, gunzipped into a
temporary folder before any timing) -- plus one synthetic walk of N frames (default 20000) that
converters.synthetic writes to a temporary folder. Without DIR only synthetic files are used.
Nothing is copied into the repository.

Methods (each one starts from the file's path, so each pays for reading the file):
  m2t            converters.bvh.read: parse the header and MOTION block, forward kinematics to
                 global positions of every joint and End Site, unit detection, metres, float32.
  m2t parse (no FK)
                 converters.bvh.parse, the parse steps of read: read the bytes, split them,
                 parse_hierarchy, parse_motion_block (numbers -> (frames, channels) float64, with
                 its checks).
  np.loadtxt parse
                 read the bytes, find the line after `Frame Time:`, np.loadtxt on those bytes
                 (numpy's C parser with its default options). No header, no checks, no FK: the
                 floor that "m2t parse (no FK)" is compared with (goal: within 1.2x).
  bare parse     read the bytes, find the line after `Frame Time:`, and
                 np.array(block.split(), dtype=np.float64). No header, no checks, no FK.
  bvh 0.3 parse  Bvh(text): the package's tokenizer (values stay strings). No FK.
  bvh 0.3 parse + frame access
                 Bvh(text), then frame_joint_channels(frame, joint, channels) for every joint
                 of every frame, i.e. every channel value as a float. No FK. Very slow, so it
                 runs on a subset only (the Xia files by default) and the ratio against m2t is
                 taken on that same subset.
  pybvh read / read + FK
                 pybvh.read_bvh_file(path), then .node_positions() (its FK, joints and End
                 Sites). pybvh rejects position channels on non-root joints (all Bandai files);
                 such failures are counted, not timed.
  --also DIR     converters.bvh.read from another checkout (e.g. an older commit, unpacked with
                 `git archive COMMIT converters | tar -x -C DIR`), to measure a speed-up.

Timing: time.perf_counter; one warm-up pass per method (for bvh 0.3 frame access: on the
smallest subset file only), then --repeat rounds (default 3) in which each file is read by
each method in turn (the order turning from file to file and round to round); the best time of
each file is kept, and a method's time on a set is the
sum of its files' best times. Interleaving keeps the ratios fair when the machine's load
changes during the run (the numbers themselves still move with the load).
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # as the CLI: no spinning numpy threads

import numpy as np  # noqa: E402

from m2t.converters import bvh as m2t_bvh  # noqa: E402
from m2t.converters.synthetic import write_walk_bvh  # noqa: E402

try:
    import bvh as bvh03
except ImportError:          # pragma: no cover - bvh is a dependency of m2t
    bvh03 = None
try:
    import pybvh
except ImportError:
    pybvh = None


# ----------------------------------------------------------------------------------- methods
def run_m2t(path):
    return m2t_bvh.read(path).n_frames


def load_other_reader(root: Path):
    """converters.bvh from another checkout (e.g. `git archive <commit> converters`), imported
    under the package name `converters_other` so that it sits beside this one."""
    import importlib
    import importlib.util
    pkg = root / "converters"
    spec = importlib.util.spec_from_file_location("converters_other", pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["converters_other"] = mod
    spec.loader.exec_module(mod)
    return importlib.import_module("converters_other.bvh")


def run_m2t_parse(path):
    return m2t_bvh.parse(path)[1].shape[0]


def run_loadtxt(path):
    data = Path(path).read_bytes()
    start = data.index(b"\n", data.index(b"Frame Time:")) + 1
    return np.loadtxt(io.BytesIO(data[start:]), ndmin=2).shape[0]


def run_bare(path):
    data = Path(path).read_bytes()
    start = data.index(b"\n", data.index(b"Frame Time:")) + 1
    return np.array(data[start:].split(), dtype=np.float64).size      # values, not frames


def run_bvh03_parse(path):
    return bvh03.Bvh(Path(path).read_text(encoding="latin-1")).nframes


def run_bvh03_access(path):
    b = bvh03.Bvh(Path(path).read_text(encoding="latin-1"))
    joints = b.get_joints_names()
    channels = {j: b.joint_channels(j) for j in joints}
    for f in range(b.nframes):
        for j in joints:
            b.frame_joint_channels(f, j, channels[j])
    return b.nframes


def run_pybvh_read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pybvh.read_bvh_file(path).frame_count


def run_pybvh_fk(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = pybvh.read_bvh_file(path)
        return b.node_positions().shape[0]


# --------------------------------------------------------------------------------- the files
def collect_files(data: Path | None, frames: int, tmp: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    if data is not None:
        groups["cmu-131"] = sorted((data / "cmu-131").glob("*.bvh"))
        groups["xia"] = sorted((data / "xia").glob("*.bvh"))
        groups["misc-bvh"] = sorted((data / "misc-bvh").glob("*.bvh"))
        bandai = []
        for ds in ("dataset-1", "dataset-2"):
            gz = sorted((data / "bandai-namco" / ds / "data").glob("*.bvh.gz"))
            for src in gz[:: max(1, len(gz) // 10)][:10]:
                dest = tmp / src.name[:-3]
                dest.write_bytes(gzip.decompress(src.read_bytes()))
                bandai.append(dest)
        groups["bandai-namco"] = bandai
    else:
        short = []
        for i, order in enumerate(["ZXY", "XYZ", "YXZ", "ZYX", "YZX"]):
            p = tmp / f"walk_{order}_{300 + 60 * i}.bvh"
            write_walk_bvh(p, seconds=(300 + 60 * i) / 30.0, fps=30.0, order=order)
            short.append(p)
        groups["synthetic-short"] = short
    walk = tmp / f"walk_{frames}.bvh"
    write_walk_bvh(walk, seconds=frames / 30.0, fps=30.0)
    groups["synthetic-walk"] = [walk]
    return {g: fs for g, fs in groups.items() if fs}


# ------------------------------------------------------------------------------------ timing
def _error(e: Exception, path: Path) -> str:
    first = (str(e).splitlines() or [""])[0].replace(str(path), "<file>")
    return f"{type(e).__name__}: {first}"


def time_methods(methods: dict, files, repeat, warm_files=None):
    """Time every method on every file: one warm-up pass, then `repeat` rounds; within a round each
    file is read by each method in turn (interleaved, so a change in machine load hits all methods
    alike; the order turns from file to file and round to round, so the method that reads a
    file's bytes first gains no advantage). -> {method: ({path: best seconds}, {path: error})}; a method that fails on a file is
    not run on it again."""
    res = {name: ({}, {}) for name in methods}
    for name, fn in methods.items():                                   # warm-up pass
        for p in (files if warm_files is None else warm_files):
            try:
                fn(p)
            except Exception as e:                                     # noqa: BLE001
                res[name][1][p] = _error(e, p)
    names = list(methods)
    for r in range(repeat):
        for fi, p in enumerate(files):
            k = (r + fi) % len(names)                   # the order turns per file and round: no method
            for name in names[k:] + names[:k]:          # always reads the bytes first (cold) or last
                fn = methods[name]
                ok, failed = res[name]
                if p in failed:
                    continue
                try:
                    t0 = time.perf_counter()
                    fn(p)
                    dt = time.perf_counter() - t0
                except Exception as e:                                 # noqa: BLE001
                    failed[p] = _error(e, p)
                    ok.pop(p, None)
                    continue
                ok[p] = min(ok.get(p, float("inf")), dt)
    return res


def fmt_row(cells, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def print_table(title, rows):
    head = ("method", "files", "failed", "frames", "seconds", "frames/s")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print(f"\n{title}")
    print(fmt_row(head, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for r in rows:
        print(fmt_row(r, widths))


def summarise(name, ok, failed, files, nframes):
    use = [p for p in files if p in ok]
    fr = sum(nframes[p] for p in use)
    sec = sum(ok[p] for p in use)
    row = (name, len(use), sum(p in failed for p in files), fr, f"{sec:.3f}", f"{fr / sec:,.0f}" if sec else "-")
    return row, sec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_data = os.environ.get("M2T_DATA") or str(ROOT.parent / "shared" / "data")
    ap.add_argument("--data", default=default_data, help="folder with the real BVH files (default %(default)s)")
    ap.add_argument("--frames", type=int, default=20000, help="frames of the synthetic walk (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per file, best kept (default 3)")
    ap.add_argument("--also", metavar="DIR", help="also time converters.bvh.read from the checkout in DIR "
                    "(e.g. an older commit: git archive COMMIT converters | tar -x -C DIR), interleaved")
    ap.add_argument("--bvh03", choices=["xia", "xia+cmu", "none"], default="xia",
                    help="subset for bvh 0.3 frame access: xia (~1 minute), xia+cmu (~3 minutes), none (skip)")
    args = ap.parse_args(argv)
    env = f"M2T_DATA={shlex.quote(os.environ['M2T_DATA'])} " if os.environ.get("M2T_DATA") else ""
    rerun = f"cd {shlex.quote(os.getcwd())} && {env}{shlex.join([sys.executable, *sys.argv])}"
    t_start = time.perf_counter()

    data = Path(args.data)
    if not (data / "xia").is_dir() and not (data / "cmu-131").is_dir():
        print(f"no real BVH files under {data}: synthetic files only")
        data = None

    def ver(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    print(f"command: {rerun}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, bvh {ver('bvh')}, pybvh {ver('pybvh')}")
    if hasattr(os, "getloadavg"):
        print("load average at start (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))

    with tempfile.TemporaryDirectory(prefix="m2t-bench-") as tmpdir:
        groups = collect_files(data, args.frames, Path(tmpdir))
        files = [p for fs in groups.values() for p in fs]
        nframes = {p: m2t_bvh.read(p).n_frames for p in files}      # frame counts (untimed)
        print("files: " + ", ".join(f"{g} {len(fs)} ({sum(nframes[p] for p in fs)} frames)"
                                    for g, fs in groups.items()))

        # sanity (untimed): bare parsing finds frames x channels values in every file
        for p in files:
            h = m2t_bvh.parse_hierarchy(m2t_bvh.split_file(p.read_bytes(), p)[0], p)
            assert run_bare(p) == nframes[p] * h.n_channels, p

        methods = {"m2t read (parse + FK)": run_m2t, "m2t parse (no FK)": run_m2t_parse,
                   "np.loadtxt parse": run_loadtxt, "bare float parse": run_bare}
        other = "m2t read from --also DIR"
        if args.also:
            other_bvh = load_other_reader(Path(args.also))
            methods[other] = lambda p: other_bvh.read(p).n_frames
        if pybvh is not None:
            methods.update({"pybvh read": run_pybvh_read, "pybvh read + FK": run_pybvh_fk})
        if bvh03 is not None:
            methods["bvh 0.3 parse"] = run_bvh03_parse
        results = time_methods(methods, files, args.repeat)

        rows, secs = [], {}
        for name, (ok, failed) in results.items():
            row, secs[name] = summarise(name, ok, failed, files, nframes)
            rows.append(row)
        print_table(f"All files ({len(files)} files, {sum(nframes.values())} frames; "
                    f"best of {args.repeat} per file):", rows)
        group_of = {p: g for g, fs in groups.items() for p in fs}
        for name, (ok, failed) in results.items():
            by_msg: dict[str, list[Path]] = {}
            for p, err in failed.items():
                by_msg.setdefault(err, []).append(p)
            for err, ps in by_msg.items():
                gs = [group_of[p] for p in ps]
                where = ", ".join(f"{g} {gs.count(g)}" for g in dict.fromkeys(gs))
                print(f"  {name}: {len(ps)} file(s) failed ({where}): {err}")

        # m2t / bare parse, per group and overall, on the files both read
        m_ok, b_ok = results["m2t read (parse + FK)"][0], results["bare float parse"][0]
        readers = [("m2t", m_ok)] + ([("--also", results[other][0])] if args.also else [])
        for label, r_ok in readers:
            print(f"\n{label} time / bare-parse time" + (" (target <= 2.0):" if label == "m2t" else ":"))
            for g, fs in list(groups.items()) + [("all files", files)]:
                both = [p for p in fs if p in r_ok and p in b_ok]
                tm, tb = sum(r_ok[p] for p in both), sum(b_ok[p] for p in both)
                print(f"  {g:16s} {sum(nframes[p] for p in both):7d} frames  {label} {tm:8.3f} s  "
                      f"bare {tb:8.3f} s  ratio {tm / tb:.2f}")
        if args.also:
            o_ok = results[other][0]
            print(f"\nm2t speed / speed of the reader in {args.also}, per group:")
            for g, fs in list(groups.items()) + [("all files", files)]:
                both = [p for p in fs if p in m_ok and p in o_ok]
                tm, to = sum(m_ok[p] for p in both), sum(o_ok[p] for p in both)
                print(f"  {g:16s} m2t {tm:8.3f} s  --also {to:8.3f} s  speed-up {to / tm:.2f}x")

        mp_ok, l_ok = results["m2t parse (no FK)"][0], results["np.loadtxt parse"][0]
        print("\nm2t parse (no FK) time / np.loadtxt time on the same bytes (goal <= 1.2):")
        for g, fs in list(groups.items()) + [("all files", files)]:
            both = [p for p in fs if p in mp_ok and p in l_ok]
            tm, tl = sum(mp_ok[p] for p in both), sum(l_ok[p] for p in both)
            print(f"  {g:16s} {sum(nframes[p] for p in both):7d} frames  m2t parse {tm:8.3f} s  "
                  f"np.loadtxt {tl:8.3f} s  ratio {tm / tl:.2f}")
        # number parsing alone, on the MOTION blocks in memory: m2t's parse_motion_block (np.loadtxt)
        # against np.fromstring (what converters.bvh used before), interleaved, best of --repeat + 2
        blocks = []
        for p in files:
            hdr, fr, _, blk, ln = m2t_bvh.split_file(p.read_bytes(), p)
            blocks.append((p, blk, fr, m2t_bvh.parse_hierarchy(hdr, p).n_channels, ln))
        best = {"m2t parse_motion_block": 0.0, "np.fromstring": 0.0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for p, blk, fr, nc, ln in blocks:
                t = {k: float("inf") for k in best}
                for _ in range(args.repeat + 2):
                    t0 = time.perf_counter()
                    m2t_bvh.parse_motion_block(blk, fr, nc, p, ln)
                    t1 = time.perf_counter()
                    np.fromstring(blk, dtype=np.float64, sep=" ")
                    t2 = time.perf_counter()
                    t["m2t parse_motion_block"] = min(t["m2t parse_motion_block"], t1 - t0)
                    t["np.fromstring"] = min(t["np.fromstring"], t2 - t1)
                for k in best:
                    best[k] += t[k]
        print(f"\nnumbers only (MOTION blocks in memory, {len(blocks)} files): m2t parse_motion_block "
              f"{best['m2t parse_motion_block']:.3f} s, np.fromstring {best['np.fromstring']:.3f} s: "
              f"{best['np.fromstring'] / best['m2t parse_motion_block']:.2f}x faster than the np.fromstring parser")
        if pybvh is not None:
            p_ok = results["pybvh read + FK"][0]
            both = [p for p in files if p in m_ok and p in p_ok]
            tm, tp = sum(m_ok[p] for p in both), sum(p_ok[p] for p in both)
            print(f"\nm2t read + FK vs pybvh read + FK on the {len(both)} files both read (goal >= 3x): m2t {tm:.3f} s, "
                  f"pybvh {tp:.3f} s, m2t is {tp / tm:.2f}x faster")
            # the two compute the same thing: compare positions on one real file (file units)
            probe = next((p for p in both if p.suffix == ".bvh" and nframes[p] < 2000), None)
            if probe is not None:
                m = m2t_bvh.read(probe)
                scale = {"m": 1.0, "cm": 100.0, "mm": 1000.0, "in": 1 / 0.0254, "ft": 1 / 0.3048,
                         "asf": 0.45 / 0.0254}[m.meta["units"]]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = pybvh.read_bvh_file(probe).node_positions()
                err = np.abs(m.positions * scale - ref).max()
                print(f"  agreement on {probe.name}: max |m2t - pybvh| = {err:.2e} file units "
                      f"({m.meta['units']}; m2t stores float32 metres)")

        # bvh 0.3 frame access: subset only
        if bvh03 is not None and args.bvh03 != "none":
            if data is None:
                subset = groups["synthetic-short"]
                sub_name = "the 5 short synthetic walks"
            else:
                subset = list(groups.get("xia", []))
                if args.bvh03 == "xia+cmu":
                    subset += list(groups.get("cmu-131", []))
                sub_name = "the Xia files" + (" and the CMU-131 files" if args.bvh03 == "xia+cmu" else "")
            warm = [min(subset, key=lambda p: nframes[p])]
            acc = time_methods({"a": run_bvh03_access}, subset, args.repeat, warm_files=warm)["a"]
            rows2, secs2 = [], {}
            for name, res in [("m2t read (parse + FK)", results["m2t read (parse + FK)"]),
                              ("bare float parse", results["bare float parse"]),
                              ("bvh 0.3 parse", results["bvh 0.3 parse"]),
                              ("bvh 0.3 parse + frame access", acc)]:
                ok = {p: s for p, s in res[0].items() if p in subset}
                row, secs2[name] = summarise(name, ok, res[1], subset, nframes)
                rows2.append(row)
            print_table(f"Subset for bvh 0.3 frame access: {sub_name} ({len(subset)} files, "
                        f"{sum(nframes[p] for p in subset)} frames; best of {args.repeat} per file):", rows2)
            both = [p for p in subset if p in acc[0] and p in m_ok]
            tm, ta = sum(m_ok[p] for p in both), sum(acc[0][p] for p in both)
            tp = sum(results["bvh 0.3 parse"][0][p] for p in both)
            print(f"\nm2t speed / bvh 0.3 (parse + frame access) speed on the subset (target >= 50): "
                  f"{ta / tm:.0f}x")
            print(f"m2t speed / bvh 0.3 parse-only speed on the subset: {tp / tm:.1f}x")

    print(f"\ntotal benchmark time {time.perf_counter() - t_start:.0f} s")
    if hasattr(os, "getloadavg"):
        print("load average at end (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"re-run: {rerun}")


if __name__ == "__main__":
    main()
