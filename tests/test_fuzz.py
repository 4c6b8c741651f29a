"""Fuzz suite: seeded mutations of m2t's own writers' output, every format, through
converters.load_motion and `m2t convert`, in a worker under RLIMIT_AS = 2 GiB with a time limit
per call (hostile_fuzz.py, hostile_runner.py). Every case must convert or fail with one line.

Default budget: M2T_FUZZ_CASES=40 per format (~10 s); set M2T_FUZZ_CASES=300 (or more) locally,
and M2T_FUZZ_CAPTION=1 to send every case through `m2t caption` with the shipped model as well.
"""
from __future__ import annotations

import os

from hostile_runner import FORMATS, ok, run_fuzz, summary

CASES = int(os.environ.get("M2T_FUZZ_CASES", "40"))


def test_fuzz_every_format_api_and_cli(tmp_path):
    recs = run_fuzz(CASES, seed=int(os.environ.get("M2T_FUZZ_SEED", "0")), root=tmp_path, total_timeout_s=600)
    bad = [r for r in recs if not ok(r)]
    assert not bad, "\n".join(f"{r['file']}: api {r['api']} {r['api_msg'][:150]} | cli {r['cli']} {r['cli_msg'][:150]}"
                              for r in bad[:20])
    s = summary(recs)
    assert sorted(s) == sorted(FORMATS) and all(d["cases"] == CASES for d in s.values())
    for fmt, d in s.items():           # the mutations reach both outcomes: the suite can fail
        assert d["clean_errors"] > 0, (fmt, d)
    assert sum(d["accepted"] for d in s.values()) > 0
    assert all(r["api"] == r["cli"] for r in recs), "API and CLI disagree on some file"
