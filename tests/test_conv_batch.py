"""Folders in parallel and on clusters: --jobs (processes), --shard i/N, the resumable manifest."""
from __future__ import annotations

import os

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters import convert
from m2t.converters.batch import Manifest, parse_shard, select_shard
from m2t.converters.errors import ConfigError
from m2t.converters.synthetic import write_walk_bvh


def _corpus(tmp_path, n=5):
    src = tmp_path / "src"
    for i in range(n):
        write_walk_bvh(src / f"w{i}.bvh", seconds=0.5 + 0.1 * i, order=["ZXY", "XYZ"][i % 2])
    (src / "bad.bvh").write_text("HIERARCHY\nROOT x {\n")
    return src


def test_shards_are_deterministic_and_cover_everything_once():
    items = list(range(11))
    shards = [select_shard(items, f"{i}/3") for i in range(3)]
    assert sorted(x for s in shards for x in s) == items
    assert shards[1] == select_shard(items, "1/3") == [1, 4, 7, 10]
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)


def test_jobs_give_the_same_files_as_one_process(tmp_path):
    src = _corpus(tmp_path)
    one = convert([src], tmp_path / "a")
    two = convert([src], tmp_path / "b", jobs=2)
    assert [r.source for r in one] == [r.source for r in two]            # input order kept
    assert [r.ok for r in two] == [False] + [True] * 5                   # bad.bvh sorts first
    for r in one[1:]:
        name = r.source.stem + ".npy"
        assert np.array_equal(np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name))


def test_resume_skips_done_files_and_redoes_changed_ones(tmp_path):
    src, out = _corpus(tmp_path), tmp_path / "out"
    first = convert([src], out, shard="0/2")
    assert [r.source.name for r in first] == ["bad.bvh", "w1.bvh", "w3.bvh"]
    convert([src], out, shard="1/2", jobs=2)
    again = convert([src], out, resume=True)
    assert [r.skipped for r in again] == [False] + [True] * 5            # the failed file is retried
    os.utime(src / "w2.bvh", ns=(1, 1))                                  # changed source
    (out / "w4.npz").unlink()                                            # missing output
    third = convert([src], out, resume=True)
    assert {r.source.name for r in third if not r.skipped} == {"bad.bvh", "w2.bvh", "w4.bvh"}
    assert len(Manifest(out).done) == 5


def test_resume_redoes_files_done_with_other_settings(tmp_path):
    """--resume skipped every file after a run of another --format or option (nothing of the
    requested format was written)."""
    src, out = _corpus(tmp_path, 3), tmp_path / "out"
    convert([src], out, fmt="hml3d")
    again = convert([src], out, resume=True)                             # the default format now
    assert all(not r.skipped for r in again[1:]) and all(r.ok for r in again[1:])
    assert all((out / f"w{i}.npy").exists() for i in range(3))
    assert all(r.skipped for r in convert([src], out, resume=True)[1:])
    assert not any(r.skipped for r in convert([src], out, resume=True, keep_proportions=True)[1:])
    assert all(r.skipped for r in convert([src], out, resume=True, fmt="hml3d")[1:])    # each format remembered
    jm = tmp_path / "map.json"
    jm.write_text("{}")
    convert([src], out, joint_map=jm)
    assert all(r.skipped for r in convert([src], out, resume=True, joint_map=str(jm.resolve()))[1:])  # same file
    os.utime(jm, ns=(1, 1))                                              # an edited joint map: done again
    assert not any(r.skipped for r in convert([src], out, resume=True, joint_map=jm)[1:])
    r = convert([src], out, resume=True, overwrite=False, keep_proportions=False, up="+y")[1]
    assert r.skipped and r.note == "output exists (use --overwrite)"


def test_manifest_survives_a_cut_line(tmp_path):
    src, out = _corpus(tmp_path, 2), tmp_path / "out"
    convert([src], out)
    with open(out / ".m2t-done-0of1.jsonl", "a") as f:
        f.write('{"rel": "w0.bv')                                        # killed mid-write
    assert {rel for rel, _ in Manifest(out).done} == {"w0.bvh", "w1.bvh"}


def test_cli_jobs_shard_resume(tmp_path):
    src = _corpus(tmp_path, 3)
    run = CliRunner().invoke
    r = run(app, ["convert", str(src), "-o", str(tmp_path / "o"), "--jobs", "2", "--shard", "0/2"])
    assert r.exit_code == 1 and "Error:" in r.output and "w1.bvh ->" in r.output   # bad.bvh, w1.bvh
    r = run(app, ["convert", str(src), "-o", str(tmp_path / "o"), "--resume"])
    assert "w1.bvh" not in r.stdout and "w2.bvh ->" in r.output      # a resumed corpus: no line per file done
    assert "2 converted, 1 skipped (1 done before: --resume), 1 failed" in r.stderr
    for args in (["--jobs", "0"], ["--shard", "2/2"]):
        r = run(app, ["convert", str(src), "-o", str(tmp_path / "o"), *args])
        assert r.exit_code == 2 and r.output.count("Error:") == 1 and "Traceback" not in r.output
