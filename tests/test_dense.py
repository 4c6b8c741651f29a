"""Dense timelines: window planning, merging of overlapping windows, long takes."""
from __future__ import annotations

import numpy as np
import pytest

from m2t.converters.errors import ConfigError
from m2t.models.dense import Window, merge, plan_windows
from m2t.models.localization import PredictedAction


def test_plan_windows_cover_the_take_and_end_at_its_end():
    assert plan_windows(50, 20.0, 4.0, 2.0) == [(0, 50)]                  # shorter than a window: one
    plan = plan_windows(200, 20.0, 4.0, 2.0)                                # 10 s, 4 s windows every 2 s
    assert plan == [(0, 80), (40, 120), (80, 160), (120, 200)]
    plan = plan_windows(210, 20.0, 4.0, 2.0)
    assert plan[-1] == (130, 210) and plan[-2] == (120, 200)               # last window flush with the end
    with pytest.raises(ConfigError):
        plan_windows(100, 20.0, 2.0, 4.0)


def _act(word, on, off, conf=0.9, side=None, part="root", idx=2):
    parts = [(part, 0.5)] + [(p, 0.1) for p in ("root", "torso", "left_arm", "right_arm", "left_leg", "right_leg")
                             if p != part]
    return PredictedAction(word, on, off, (on + off) / 2, part, side, idx, conf, parts)


def test_merge_joins_the_same_action_seen_by_overlapping_windows():
    w1 = Window(0, 4, "a person walks forward", [_act("walks", 0.5, 3.5)])
    w2 = Window(2, 6, "a person walks forward then waves the right hand",
                [_act("walks", 2.0, 4.0, 0.8), _act("waves", 4.2, 5.8, 0.7, "right", "right_arm", 5)])
    w3 = Window(4, 8, "someone waves the right hand", [_act("waves", 4.4, 7.5, 0.9, "right", "right_arm", 1)])
    tl = merge([w1, w2, w3], 8.0)
    assert [t.word for t in tl] == ["walks", "waves"]
    walk, wave = tl
    assert walk.windows == 2 and wave.windows == 2
    # weights: w1's walk centre 2.0 at the take start side -> distance to its right edge 2 / 2 = 1;
    # w2's walk centre 3.0 -> min(1, 3) / 2 = 0.5
    assert walk.onset_s == pytest.approx((1 * 0.5 + 0.5 * 2.0) / 1.5)
    assert walk.offset_s == pytest.approx((1 * 3.5 + 0.5 * 4.0) / 1.5)
    assert wave.side == "right" and wave.parts[0][0] == "right_arm" and wave.text == "waves the right hand"
    assert 0 < wave.confidence <= 1 and abs(sum(s for _, s in wave.parts) - 1) < 1e-9


def test_different_verbs_and_far_apart_repeats_stay_separate():
    w1 = Window(0, 4, "a person walks", [_act("walks", 0.0, 1.5)])
    w2 = Window(6, 10, "a person walks", [_act("walks", 8.0, 9.5)])
    w3 = Window(0, 10, "a person kicks", [_act("kicks", 0.5, 1.0)])
    tl = merge([w1, w2, w3], 10.0)
    assert [t.word for t in tl] == ["walks", "kicks", "walks"]


def test_dense_timeline_on_a_long_take(tiny_model):
    from m2t.models.checkpoint import load_bundle
    from m2t.models.dense import dense_timeline
    from m2t.models.synthetic import make_motion
    rng = np.random.default_rng(0)
    joints = np.concatenate([make_motion(k, 100, rng) for k in ("walk", "wave_left", "kick_left") * 4])  # 60 s
    bundle = load_bundle(tiny_model)
    timeline, windows = dense_timeline(joints, 20.0, bundle, 4.0, 2.0)
    assert len(windows) == len(plan_windows(len(joints), 20.0, 4.0, 2.0)) == 29
    assert timeline and all(0 <= t.onset_s <= t.offset_s <= 60.0 for t in timeline)
    assert [t.onset_s for t in timeline] == sorted(t.onset_s for t in timeline)


def test_caption_and_segment_cli_on_a_long_recording(tiny_model, tmp_path):
    import json

    from typer.testing import CliRunner

    from m2t.cli.app import app
    from m2t.converters.synthetic import write_walk_bvh
    from m2t.models.schemas import CAPTION_SCHEMA, SEGMENTS_SCHEMA
    from schema_check import validate
    src = tmp_path / "long.bvh"
    write_walk_bvh(src, seconds=14.0)
    run = CliRunner()
    r = run.invoke(app, ["caption", str(src), "--model", str(tiny_model), "-f", "json", "-f", "srt",
                         "-o", str(tmp_path / "o"), "--window", "4", "--hop", "2"])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "o" / "long.json").read_text())
    validate(d, CAPTION_SCHEMA)
    assert d["windowing"] == {"window_s": 4.0, "hop_s": 2.0, "windows": 6} and d["tokens"] == []
    assert d["segments"] and all(0 <= s["onset_s"] <= s["offset_s"] <= d["duration_s"] for s in d["segments"])
    srt = (tmp_path / "o" / "long.srt").read_text()
    assert srt.count(" --> ") == 1 + len(d["segments"])
    r = run.invoke(app, ["segment", str(src), "--model", str(tiny_model), "-f", "json", "--window", "4", "--hop", "2"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validate(doc, SEGMENTS_SCHEMA)
    assert doc["segments"] == d["segments"]
    r = run.invoke(app, ["caption", str(src), "--model", str(tiny_model), "--window", "2", "--hop", "3"])
    assert r.exit_code == 2 and "--hop" in r.stderr
    short = tmp_path / "short.bvh"                                     # a short and a long file, worker processes
    write_walk_bvh(short, seconds=3.0)
    r = run.invoke(app, ["caption", str(src), str(short), "--model", str(tiny_model), "-f", "json", "-o",
                         str(tmp_path / "j"), "--window", "4", "--hop", "2", "--jobs", "2", "--backend", "torch"])
    assert r.exit_code == 0, r.output
    long_doc = json.loads((tmp_path / "j" / "long.json").read_text())
    short_doc = json.loads((tmp_path / "j" / "short.json").read_text())
    assert long_doc["segments"] == d["segments"] and long_doc["windowing"]["windows"] == 6
    assert short_doc["windowing"] is None and short_doc["tokens"]
