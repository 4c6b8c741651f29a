"""Runs the fuzz cases of hostile_fuzz.py: a worker process (RLIMIT_AS, per-call time limit)
feeds each case to ``converters.load_motion`` and to ``m2t convert``; the parent restarts the
worker after a crash and charges the crash to the case that caused it.

    python tests/hostile_runner.py --cases 300 --seed 0       # figures for docs/formats.md
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hostile_fuzz import AS_LIMIT, CALL_LIMIT_S, FORMATS, make_cases  # noqa: E402

GOOD = ("accepted", "clean")


class _Timeout(BaseException):
    """Raised by SIGALRM; a BaseException so no `except Exception` guard can swallow it."""


def _alarm(signum, frame):
    raise _Timeout()


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def _timed(fn):
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CALL_LIMIT_S)
    t0 = time.perf_counter()
    try:
        return fn(), time.perf_counter() - t0
    except _Timeout:
        return ("hang", f"over {CALL_LIMIT_S} s"), time.perf_counter() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _api(case):
    import numpy as np
    from m2t import converters
    try:
        m = converters.load_motion(case["file"])
    except converters.M2TError as e:
        msg = str(e)
        return ("clean", msg) if msg and "\n" not in msg else ("multi-line", msg)
    except _Timeout:
        raise
    except BaseException as e:  # noqa: BLE001 - exactly what the fuzz suite looks for
        return "traceback", f"{e.__class__.__name__}: {str(e)[:300]}"
    ok = np.isfinite(m.positions).all() and m.positions.shape[1:] == (22, 3)
    return ("accepted", "") if ok else ("bad-output", str(m.positions.shape))


def _cli(case, runner, app):
    import numpy as np
    r = runner.invoke(app, ["convert", case["file"], "-o", case["out"]])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return "traceback", f"{r.exception.__class__.__name__}: {str(r.exception)[:300]}"
    err = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("Warning: ")]
    if "Traceback" in r.output:
        return "traceback", r.output[-300:]
    if r.exit_code == 0:
        outs = sorted(Path(case["out"]).glob("*.npy"))
        good = len(outs) == 1 and np.isfinite(np.load(outs[0])).all() and not err
        return ("accepted", "") if good else ("bad-output", r.output[-300:])
    if r.exit_code == 2 and len(err) == 1 and err[0].startswith("Error: "):
        return "clean", err[0]
    return "bad-cli", f"exit {r.exit_code}: {r.stderr[-300:]}"


def _caption(case, runner, app):
    r = runner.invoke(app, ["caption", case["file"]])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return "traceback", f"{r.exception.__class__.__name__}: {str(r.exception)[:300]}"
    err = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("Warning: ")]
    if "Traceback" in r.output:
        return "traceback", r.output[-300:]
    if r.exit_code == 0 and r.stdout.strip() and not err:
        return "accepted", ""
    if r.exit_code == 2 and len(err) == 1 and err[0].startswith("Error: "):
        return "clean", err[0]
    return "bad-cli", f"exit {r.exit_code}: {r.stderr[-300:]}"


def worker(cases_file, results_file, start):
    import warnings
    warnings.simplefilter("ignore")
    from typer.testing import CliRunner
    from m2t.cli.app import app
    from m2t.converters import isolate
    isolate.TIMEOUT_S = CALL_LIMIT_S - 5
    cases = json.loads(Path(cases_file).read_text())
    runner = CliRunner()
    with open(results_file, "a") as out:
        for i in range(start, len(cases)):
            out.write(json.dumps({"start": i}) + "\n")
            out.flush()
            (api, api_msg), api_s = _timed(lambda: _api(cases[i]))
            (cli, cli_msg), cli_s = _timed(lambda: _cli(cases[i], runner, app))
            rec = {"i": i, "fmt": cases[i]["fmt"], "file": cases[i]["file"], "api": api, "api_msg": api_msg,
                   "cli": cli, "cli_msg": cli_msg, "api_s": round(api_s, 3), "cli_s": round(cli_s, 3)}
            if os.environ.get("M2T_FUZZ_CAPTION"):        # also `m2t caption FILE` (the shipped model)
                (cap, cap_msg), cap_s = _timed(lambda: _caption(cases[i], runner, app))
                rec.update(caption=cap, caption_msg=cap_msg, caption_s=round(cap_s, 3))
            out.write(json.dumps(rec) + "\n")
            out.flush()


def run_fuzz(n_per_format: int, seed: int = 0, root: Path | None = None, formats=FORMATS,
             total_timeout_s: float = 3600) -> list[dict]:
    """Generate the cases and run them; one record per case (see worker)."""
    from hostile_seeds import seed_files
    root = Path(root or tempfile.mkdtemp(prefix="m2t-fuzz-"))
    seeds = seed_files(root / "seeds")
    cases = [c for f in formats for c in make_cases(root / "cases", seeds, f, n_per_format, seed)]
    (root / "cases.json").write_text(json.dumps(cases))
    res_file = root / "results.jsonl"
    res_file.write_text("")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONWARNINGS": "ignore"}
    start, deadline = 0, time.monotonic() + total_timeout_s
    while start < len(cases):
        p = subprocess.run([sys.executable, __file__, "--worker", str(root / "cases.json"), str(res_file), str(start)],
                           env=env, preexec_fn=_limit_memory, capture_output=True, text=True,
                           timeout=max(deadline - time.monotonic(), 1))
        recs = [json.loads(ln) for ln in res_file.read_text().splitlines() if ln.strip()]
        done = {r["i"] for r in recs if "i" in r}
        if p.returncode == 0 and len(done) == len(cases):
            break
        last = max((r["start"] for r in recs if "start" in r), default=start)
        if last not in done:            # the worker died on this case: a crash, not a clean error
            why = f"worker exit {p.returncode}: {p.stderr.strip().splitlines()[-1:] or ''}"
            with open(res_file, "a") as f:
                f.write(json.dumps({"i": last, "fmt": cases[last]["fmt"], "file": cases[last]["file"],
                                    "api": "crash", "api_msg": why, "cli": "crash", "cli_msg": why,
                                    "api_s": 0, "cli_s": 0}) + "\n")
        start = last + 1
    return [r for r in (json.loads(ln) for ln in res_file.read_text().splitlines() if ln.strip()) if "i" in r]


def ok(r) -> bool:
    return r["api"] in GOOD and r["cli"] in GOOD and r.get("caption", "clean") in GOOD


def summary(records) -> dict:
    out = {}
    for fmt in FORMATS:
        rs = [r for r in records if r["fmt"] == fmt]
        if not rs:
            continue
        bad = [r for r in rs if not ok(r)]
        out[fmt] = {"cases": len(rs), "clean_errors": sum(r["cli"] == "clean" for r in rs),
                    "accepted": sum(r["cli"] == "accepted" for r in rs), "failures": len(bad),
                    "max_s": max(max(r["api_s"], r["cli_s"], r.get("caption_s", 0)) for r in rs),
                    "captioned": sum(r.get("caption") == "accepted" for r in rs),
                    "outcomes": dict(Counter(f"{r['api']}/{r['cli']}" for r in rs))}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=3)
    ap.add_argument("--cases", type=int, default=int(os.environ.get("M2T_FUZZ_CASES", "300")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker[0], a.worker[1], int(a.worker[2]))
    t0 = time.time()
    recs = run_fuzz(a.cases, a.seed, a.keep)
    s = summary(recs)
    print("| format | cases | clean one-line errors | accepted (converted) | failures | slowest call (s) |")
    print("|---|---|---|---|---|---|")
    for fmt, d in s.items():
        print(f"| {fmt} | {d['cases']} | {d['clean_errors']} | {d['accepted']} | {d['failures']} | {d['max_s']:.2f} |")
    print(f"total {len(recs)} cases in {time.time() - t0:.0f} s")
    if os.environ.get("M2T_FUZZ_CAPTION"):
        print("captioned per format:", {f: d["captioned"] for f, d in s.items()})
    for r in recs:
        if not ok(r):
            print("FAIL", r["file"], r["api"], r["api_msg"][:200], "|", r["cli"], r["cli_msg"][:200], "|",
                  r.get("caption"), r.get("caption_msg", "")[:200])


if __name__ == "__main__":
    main()
