"""`m2t convert`: outputs, folders, bad files, exit codes, nothing half-written."""
from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from m2t.converters.synthetic import write_walk_bvh
from m2t.cli.app import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_convert_one_file(tmp_path):
    write_walk_bvh(tmp_path / "walk.bvh", seconds=1.0)
    r = invoke("convert", tmp_path / "walk.bvh", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    pos = np.load(tmp_path / "out" / "walk.npy")
    assert pos.shape == (20, 22, 3) and pos.dtype == np.float32
    d = np.load(tmp_path / "out" / "walk.npz")
    assert d["velocities"].shape == pos.shape and float(d["fps"]) == 20.0
    meta = json.loads(str(d["meta"]))
    assert meta["rig"] == "mixamo" and meta["canonical"]["up_from"] == "+y"


def test_convert_folder_recursive_goes_past_bad_files(tmp_path):
    src = tmp_path / "lab"
    write_walk_bvh(src / "a.bvh", seconds=0.5)
    write_walk_bvh(src / "sub" / "b.bvh", seconds=0.5)
    text = (src / "a.bvh").read_text()
    (src / "sub" / "broken.bvh").write_text(text[: len(text) // 2])
    (src / "notes.txt").write_text("not motion")
    r = invoke("convert", src, "-r", "-o", tmp_path / "out", "--skeleton", "kit")
    assert r.exit_code == 1
    assert (tmp_path / "out" / "a.npy").exists() and (tmp_path / "out" / "sub" / "b.npy").exists()
    assert np.load(tmp_path / "out" / "a.npy").shape[1:] == (21, 3)
    assert "2 converted, 0 skipped, 1 failed" in r.stderr
    assert "broken.bvh" in r.stderr and "Traceback" not in r.output
    leftovers = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert sorted(leftovers) == [".m2t-done-0of1.jsonl", "a.npy", "a.npz", "b.npy", "b.npz"]   # nothing half-written


def test_folder_without_recursive_ignores_subfolders(tmp_path):
    write_walk_bvh(tmp_path / "lab" / "sub" / "b.bvh", seconds=0.5)
    r = invoke("convert", tmp_path / "lab", "-o", tmp_path / "out")
    assert r.exit_code == 2 and "use --recursive" in r.stderr


def test_skip_existing_without_overwrite(tmp_path):
    write_walk_bvh(tmp_path / "w.bvh", seconds=0.5)
    assert invoke("convert", tmp_path / "w.bvh", "-o", tmp_path / "o").exit_code == 0
    before = (tmp_path / "o" / "w.npy").stat().st_mtime_ns
    r = invoke("convert", tmp_path / "w.bvh", "-o", tmp_path / "o", "--no-overwrite")
    assert r.exit_code == 0 and "skipped, output exists" in r.stdout
    assert (tmp_path / "o" / "w.npy").stat().st_mtime_ns == before


def test_options_fps_units_up(tmp_path):
    write_walk_bvh(tmp_path / "w.bvh", seconds=1.0)
    r = invoke("convert", tmp_path / "w.bvh", "-o", tmp_path / "o", "--fps", "10", "--units", "cm", "--up", "+y")
    assert r.exit_code == 0, r.output
    assert np.load(tmp_path / "o" / "w.npy").shape[0] == 10
