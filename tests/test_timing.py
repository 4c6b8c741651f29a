"""Frame rate and time: --source-fps for every format, --start/--end, bind-pose lead-in, manifests,
and times in seconds of the source file (C3D leading empty frames included)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters import ConfigError, bvh, info, load_motion, read_motion
from m2t.converters.synthetic import write_walk_bvh

from conftest import REPO

runner = CliRunner()


def test_source_fps_works_for_bvh(tmp_path):
    write_walk_bvh(tmp_path / "w.bvh", seconds=2.0, fps=25)            # header says 25 fps
    raw = read_motion(tmp_path / "w.bvh", source_fps=100)
    assert raw.fps == 100 and "--source-fps" in raw.meta["fps_from"]
    m = load_motion(tmp_path / "w.bvh", source_fps=100)
    assert abs(m.n_frames / m.fps - 50 / 100) < 0.06                   # 50 frames at 100 fps = 0.5 s
    r = runner.invoke(app, ["info", str(tmp_path / "w.bvh"), "--source-fps", "100", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["fps"] == 100
    with pytest.raises(ConfigError, match="outside the supported"):
        read_motion(tmp_path / "w.bvh", source_fps=-3)


def test_start_end_in_source_seconds(tmp_path):
    write_walk_bvh(tmp_path / "w.bvh", seconds=4.0, fps=30)
    m = load_motion(tmp_path / "w.bvh", start=1.0, end=2.5)
    assert m.time_offset_s == pytest.approx(1.0) and m.meta["trimmed_s"] == [1.0, 2.5]
    assert m.n_frames == 31                                             # 1.5 s at 20 fps + 1
    with pytest.raises(ConfigError, match=r"w.bvh: --start 9 is outside the motion \(0.000-3.967 s\)"):
        load_motion(tmp_path / "w.bvh", start=9.0)
    with pytest.raises(ConfigError, match=r"w.bvh: --end -1: times are seconds of the source file, never negative"):
        load_motion(tmp_path / "w.bvh", end=-1.0)
    with pytest.raises(ConfigError, match="--start -2 / --end 1: times are seconds"):
        load_motion(tmp_path / "w.bvh", start=-2.0, end=1.0)
    assert load_motion(tmp_path / "w.bvh", start="1.0", end="2.5").n_frames == 31      # library callers' strings
    with pytest.raises(ConfigError, match="must be numbers"):
        load_motion(tmp_path / "w.bvh", start="soon")
    r = runner.invoke(app, ["convert", str(tmp_path / "w.bvh"), "-o", str(tmp_path / "o"), "--start", "3", "--end", "1"])
    assert r.exit_code == 2 and "end must come after the start" in r.output
    with pytest.warns(UserWarning, match=r"--end 9 is past the end of the motion \(3.967 s\); kept 3.000-3.967 s"):
        m = load_motion(tmp_path / "w.bvh", start=3.0, end=9.0)              # said, not silently clamped
    assert m.meta["warnings"] and m.meta["trimmed_s"] == [3.0, 3.9667]


def _with_bind_pose(src, dest, lead=3):
    """The example walk with `lead` frames of a T-pose at the origin in front of it."""
    header, frames, dt, block, line = bvh.split_file(src.read_bytes(), src)
    h = bvh.parse_hierarchy(header, src)
    values = bvh.parse_motion_block(block, frames, h.n_channels, src, line)
    bind = np.zeros((lead, values.shape[1]))
    bind[:, 1] = h.joints[0].offset[1]                                 # root at standing height, at x = z = 0
    names = [j.name for j in h.joints]
    col = 0
    for j in h.joints:                                                  # arms out: T-pose
        for c in j.channels:
            if j.name in ("LeftArm", "RightArm") and c == "Zrotation":
                bind[:, col] = 80 if j.name == "LeftArm" else -80
            col += 1
    values = values.copy()
    values[:, 0] += 150.0                                               # the take starts 1.5 m from the origin
    bvh.write(dest, names, h.parents, [j.offset for j in h.joints],
              [j.channels if not j.end_site else [] for j in h.joints], np.concatenate([bind, values]), dt)
    return dest


def test_bind_pose_lead_in_is_dropped_with_a_warning(tmp_path):
    walk = REPO / "examples" / "walk.bvh"
    f = _with_bind_pose(walk, tmp_path / "bind.bvh")
    with pytest.warns(UserWarning, match="dropped 3 lead-in frame"):
        m = load_motion(f)
    ref = load_motion(walk)
    assert m.time_offset_s == pytest.approx(3 / 30, abs=1e-6) and m.meta["lead_in_frames"] == 3
    np.testing.assert_allclose(m.positions[:, 0], ref.positions[:, 0], atol=1e-3)   # origin/facing from the walk
    assert any("lead-in" in w for w in m.meta["warnings"])
    d = info(f)
    assert d["lead_in_frames"] == 3 and any("lead-in" in w for w in d["warnings"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = load_motion(f, keep_lead_in=True)
    assert kept.time_offset_s == 0.0
    assert load_motion(walk).meta.get("lead_in_frames") is None          # no false alarm


def test_c3d_leading_empty_frames_keep_source_time(tmp_path):
    ezc3d = pytest.importorskip("ezc3d")  # noqa: F841
    from test_conv_c3d import write_c3d
    t = np.arange(60)
    xyz = np.stack([100.0 + t * 5, 200.0 + 0 * t, 900 + 0 * t], axis=-1)[:, None].repeat(3, axis=1)
    xyz[:, 1, 0] += 300
    xyz[:, 2, 2] += 400
    xyz[:12] = np.nan                                                   # 12 empty leading frames
    f = write_c3d(tmp_path / "pad.c3d", ["a", "b", "c"], xyz, rate=120.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = read_motion(f)
        slow = read_motion(f, source_fps=60)
    assert m.n_frames == 48 and m.time_offset_s == pytest.approx(12 / 120)
    assert slow.time_offset_s == pytest.approx(12 / 60)


def test_manifest_sets_fps_and_trim_per_file(tmp_path):
    d = tmp_path / "takes"
    d.mkdir()
    write_walk_bvh(d / "a.bvh", seconds=3.0, fps=30)
    write_walk_bvh(d / "b.bvh", seconds=3.0, fps=30)
    (d / "takes.csv").write_text("path,fps,start,end,subject\na.bvh,60,0.5,,\nb.bvh,,,1.0,\n")
    r = runner.invoke(app, ["convert", str(d), "-o", str(tmp_path / "o"), "--manifest", str(d / "takes.csv")])
    assert r.exit_code == 0, r.output
    a, b = (np.load(tmp_path / "o" / f"{n}.npz") for n in ("a", "b"))
    assert float(a["time_offset_s"]) == pytest.approx(0.5)
    assert a["positions"].shape[0] == 20                                # 90 frames at 60 fps = 1.48 s after 0.5 s
    assert b["positions"].shape[0] == 21 and float(b["time_offset_s"]) == 0.0
    (d / "bad.csv").write_text("path,speed\na.bvh,3\n")
    r = runner.invoke(app, ["convert", str(d), "-o", str(tmp_path / "p"), "--manifest", str(d / "bad.csv")])
    assert r.exit_code == 2 and "unknown: speed" in r.output


def test_caption_json_carries_the_lead_in_warning(tmp_path, tiny_model):
    f = _with_bind_pose(REPO / "examples" / "walk.bvh", tmp_path / "bind.bvh")
    r = runner.invoke(app, ["caption", str(f), "--model", str(tiny_model), "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert any("dropped 3 lead-in frame" in w and not w.startswith(str(f)) for w in doc["warnings"])
