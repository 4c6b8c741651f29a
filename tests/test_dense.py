"""Dense timelines: window planning, frame votes, Viterbi labelling, joining, long takes."""
from __future__ import annotations

import numpy as np
import pytest

from m2t.converters.errors import ConfigError
from m2t.models.dense import (TimelineAction, Window, join_neighbours, label_frames, label_of, plan_scales,
                              plan_windows, sentence_side, timeline_text, viterbi_runs, vote_shares)
from m2t.models.localization import SIDE_WORDS, PredictedAction


def test_plan_windows_cover_the_take_and_end_at_its_end():
    assert plan_windows(50, 20.0, 4.0, 2.0) == [(0, 50)]                  # shorter than a window: one
    plan = plan_windows(200, 20.0, 4.0, 2.0)                                # 10 s, 4 s windows every 2 s
    assert plan == [(0, 80), (40, 120), (80, 160), (120, 200)]
    plan = plan_windows(210, 20.0, 4.0, 2.0)
    assert plan[-1] == (130, 210) and plan[-2] == (120, 200)               # last window flush with the end
    with pytest.raises(ConfigError):
        plan_windows(100, 20.0, 2.0, 4.0)


def test_plan_scales_adds_the_shorter_windows():
    plan = plan_scales(200, 20.0, 4.0, 2.0)       # SCALES 0.375, 0.5, 0.75, 1: 1.5, 2, 3 and 4 s windows
    assert plan == [(0, 30), (30, 60), (60, 90), (90, 120), (120, 150), (150, 180), (170, 200),   # 1.5 s every 1.5 s
                    (0, 40), (40, 80), (80, 120), (120, 160), (160, 200),                        # 2 s every 2 s
                    (0, 60), (40, 100), (80, 140), (120, 180), (140, 200),                       # 3 s every 2 s
                    (0, 80), (40, 120), (80, 160), (120, 200)]
    assert plan_scales(30, 20.0, 4.0, 2.0) == [(0, 30)]     # one window of the whole clip, not four equal ones
    assert plan_scales(40, 20.0, 4.0, 2.0) == [(0, 30), (10, 40), (0, 40)]


def test_windows_too_short_for_two_feature_frames_are_a_config_error(tiny_model, tmp_path):
    from typer.testing import CliRunner

    from m2t.cli.app import app
    from m2t.converters.synthetic import write_walk_bvh
    from m2t.models.dense import check_window_frames
    check_window_frames(0.54, 20.0, 2)                      # 0.54 s x 0.375 = 0.2025 s = 4 frames = 2 feature frames
    with pytest.raises(ConfigError, match="use --window 0.54 or more"):
        check_window_frames(0.4, 20.0, 2)
    src = tmp_path / "w.bvh"
    write_walk_bvh(src, seconds=6.0)
    r = CliRunner().invoke(app, ["caption", str(src), "--model", str(tiny_model), "--window", "0.05", "--hop", "0.05"])
    assert r.exit_code == 2 and "--window 0.05" in r.output and "Traceback" not in r.output


def test_labels_carry_side_and_direction():
    from m2t.models.localization import trace_actions
    words = "a person walks backwards then walks forward and turns left".split()
    n, k = 10, len(words)
    acts = trace_actions(words, np.full((k, n), 0.1), np.full((k, n, 6), 1 / 6), np.full(k, 5.0), np.full(k, 2.0),
                         float)
    assert [label_of(a) for a in acts if a.word not in SIDE_WORDS] == ["walk#backward", "walk", "turn|left"]
    words = "a person waves the right hand back and forth".split()        # "back" here is no direction
    k = len(words)
    acts = trace_actions(words, np.full((k, n), 0.1), np.full((k, n, 6), 1 / 6), np.full(k, 5.0), np.full(k, 2.0),
                         float)
    assert [label_of(a) for a in acts if a.word not in SIDE_WORDS] == ["wave|right"]
    words = "a person walks forward and turns left then raises the right hand".split()
    assert [sentence_side(words, i) for i in (2, 5, 9)] == ["left", "left", "right"]
    assert sentence_side("a person walks then waves the left hand".split(), 2) is None


def _act(word, on, off, conf=0.9, side=None, part="root", idx=2):
    parts = [(part, 0.5)] + [(p, 0.1) for p in ("root", "torso", "left_arm", "right_arm", "left_leg", "right_leg")
                             if p != part]
    return PredictedAction(word, on, off, (on + off) / 2, part, side, idx, conf, parts)


def test_votes_split_a_window_between_its_actions_by_their_gaussian_windows():
    # one 4 s window "walks then waves": walk centred at 1 s (half span 1), wave at 3 s (half span 0.5)
    w = Window(0, 4, "a person walks then waves the right hand",
               [_act("walks", 0.0, 2.0), _act("waves", 2.5, 3.5, side="right"), _act("right", 3.0, 3.2)])
    labels, shares = vote_shares([w], 4.0, step=0.5)           # frame centres 0.25, 0.75, ..., 3.75
    assert labels == ["walk", "wave|right"]                      # side words never vote; the side joins the label
    # frame at 2.25: distance to walk 1.25 / 1 = 1.25, to wave 0.75 / 0.5 = 1.5 -> walk
    assert shares.tolist() == [[1, 1, 1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1, 1]]
    w2 = Window(2, 4, "someone waves", [_act("waves", 2.0, 4.0, side="right")])   # a second window: shares
    _, shares = vote_shares([w, w2], 4.0, step=0.5)
    assert shares[1].tolist() == [0, 0, 0, 0, 0.5, 1, 1, 1] and shares[0][4] == 0.5


def test_viterbi_pays_for_each_change_of_label():
    scores = np.array([[1, 1, 0, 1, 1], [0, 0, 0.6, 0, 0]], float)
    assert viterbi_runs(scores, 0.5) == [(0, 0, 5)]              # one dip: switching twice costs 1.0 > 0.6
    assert viterbi_runs(scores, 0.2) == [(0, 0, 2), (1, 2, 3), (0, 3, 5)]
    assert viterbi_runs(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]), 0.5) == [(0, 0, 2), (1, 2, 4)]


def test_label_frames_turns_windows_into_a_tiling_of_actions():
    wins = [Window(s, s + 2, "", [_act("walks", s, s + 2)]) for s in (0, 1, 2)] + \
           [Window(s, s + 2, "", [_act("waves", s, s + 2, side="left")]) for s in (4, 5, 6)]
    runs = label_frames(wins, 8.0, step=0.1, min_action_s=0.5)
    assert [r[2] for r in runs] == ["walk", "wave|left"]
    (a0, a1, _, s0), (b0, b1, _, s1) = runs
    assert a0 == 0 and a1 == pytest.approx(4.0) and b0 == pytest.approx(4.0) and b1 == pytest.approx(8.0)
    assert s0 == s1 == 1.0


def test_neighbours_with_one_label_are_joined():
    a = TimelineAction("walks", "a person walks", 0.0, 2.0, [("root", 1.0)], None, 0.8, 3)
    b = TimelineAction("walking", "a person is walking forward", 2.1, 6.0, [("root", 1.0)], None, 0.6, 5)
    c = TimelineAction("waves", "a person waves the left hand", 6.0, 8.0, [("left_arm", 1.0)], "left", 0.9, 4)
    d = TimelineAction("waves", "a person waves the right hand", 8.0, 9.0, [("right_arm", 1.0)], "right", 0.9, 2)
    out = join_neighbours([a, b, c, d])
    assert [t.label for t in out] == ["walk", "wave|left", "wave|right"]
    assert (out[0].onset_s, out[0].offset_s, out[0].text, out[0].windows) == (0.0, 6.0, b.text, 5)
    assert out[0].confidence == pytest.approx((0.8 * 2 + 0.6 * 3.9) / 5.9)
    assert timeline_text(out) == ("a person is walking forward, then waves the left hand, then waves the right hand")
    e = TimelineAction("turns", "a person walks forward and turns left", 9.0, 10.0, [("root", 1.0)], "left", 0.7, 2)
    f = TimelineAction("walks", "a person walks forward and turns left", 10.0, 12.0, [("root", 1.0)], "left", 0.5, 2)
    out = join_neighbours([d, e, f])                        # e, f: two labels, one caption of their frames
    assert [t.label for t in out] == ["wave|right", "walk|left"] and (out[1].onset_s, out[1].offset_s) == (9.0, 12.0)
    g, h = (TimelineAction(w, "", on, on + 1, [("root", 1.0)], None, 0.5, 1) for w, on in (("jumps", 12), ("kicks", 13)))
    assert len(join_neighbours([g, h])) == 2                # empty captions are not one caption


def test_an_action_is_named_by_the_word_of_its_caption_with_its_label(tiny_model):
    from m2t.models.checkpoint import load_bundle
    from m2t.models.decoded import Decoded
    from m2t.models.dense import caption_actions
    from m2t.models.synthetic import make_motion
    bundle = load_bundle(tiny_model)
    words = "a person walks waves the left hand".split()      # the synthetic vocabulary has no "then"
    assert all(w in bundle.vocab.stoi for w in words)
    k, n = len(words), 8
    probs = np.array([0.9, 0.9, 0.4, 0.8, 0.9, 0.9, 0.9])     # "waves" more probable than "walks"

    def decode_fn(feats):
        return [Decoded([bundle.vocab.stoi[w] for w in words], -0.1, np.full(k, 0.5), np.full((k, n, 6), 1 / 6),
                        np.full((k, n), 1 / n), np.full((k, n), 1 / n), np.full(k, 4.0), np.full(k, 2.0), np.log(probs))
                for _ in feats]
    joints = make_motion("walk", 80, np.random.default_rng(0))
    acts = caption_actions(joints, 20.0, bundle, [(0.0, 2.0, "walk", 1.0), (2.0, 4.0, "jump", 1.0)], [], decode_fn)
    assert [a.word for a in acts] == ["walks", "waves"]     # the label's word; else the most probable one
    assert [a.side for a in acts] == ["left", "left"]       # "walks" names no side: the caption's side


def test_dense_timeline_on_a_long_take(tiny_model):
    from m2t.models.checkpoint import load_bundle
    from m2t.models.dense import dense_timeline
    from m2t.models.synthetic import make_motion
    rng = np.random.default_rng(0)
    joints = np.concatenate([make_motion(k, 100, rng) for k in ("walk", "wave_left", "kick_left") * 4])  # 60 s
    bundle = load_bundle(tiny_model)
    timeline, windows = dense_timeline(joints, 20.0, bundle, 4.0, 2.0)
    assert len(windows) == len(plan_scales(len(joints), 20.0, 4.0, 2.0)) == 40 + 30 + 30 + 29   # 1.5, 2, 3, 4 s
    assert timeline and all(0 <= t.onset_s < t.offset_s <= 60.0 for t in timeline)
    assert all(a.offset_s <= b.onset_s for a, b in zip(timeline, timeline[1:]))     # in order, never overlapping
    assert all(a.label != b.label or b.onset_s - a.offset_s >= 0.3 for a, b in zip(timeline, timeline[1:]))


def test_caption_and_segment_cli_on_a_long_recording(tiny_model, tmp_path):
    import json

    from typer.testing import CliRunner

    from m2t.cli.app import app
    from m2t.converters.synthetic import write_walk_bvh
    from m2t.models.schemas import CAPTION_SCHEMA, SEGMENTS_SCHEMA
    from schema_check import validate
    src = tmp_path / "long.bvh"
    write_walk_bvh(src, seconds=52.0)                   # longer than the tiny model's training clips (50 s)
    run = CliRunner()
    r = run.invoke(app, ["caption", str(src), "--model", str(tiny_model), "-f", "json", "-f", "srt",
                         "-o", str(tmp_path / "o"), "--window", "4", "--hop", "2"])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "o" / "long.json").read_text())
    validate(d, CAPTION_SCHEMA)
    n_windows = len(plan_scales(d["frames"], d["fps"], 4.0, 2.0))
    assert d["windowing"] == {"window_s": 4.0, "hop_s": 2.0, "windows": n_windows, "lengths_s": [1.5, 2.0, 3.0, 4.0]}
    assert d["tokens"] == []
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
    assert long_doc["segments"] == d["segments"] and long_doc["windowing"]["windows"] == n_windows
    assert short_doc["windowing"] is None and short_doc["tokens"]
    walk = tmp_path / "walk14.bvh"                       # 14 s, one action found, within the training length:
    write_walk_bvh(walk, seconds=14.0)                   # the one caption of the whole clip, with its tokens
    r = run.invoke(app, ["caption", str(walk), "--model", str(tiny_model), "-f", "json", "--window", "4", "--hop", "2"])
    one = json.loads(r.stdout)
    assert r.exit_code == 0 and one["windowing"] is None and one["tokens"] and len(one["segments"]) >= 1


def test_a_take_lifted_by_one_glitched_frame_is_lowered_before_captioning(tiny_model):
    from m2t.converters.motion import Motion
    from m2t.converters.skeletons import get_skeleton
    from m2t.models.captioning import caption_motion
    from m2t.models.checkpoint import load_bundle
    from m2t.models.dense import floor_height
    from m2t.models.synthetic import make_motion
    rng = np.random.default_rng(1)
    joints = np.concatenate([make_motion(k, 100, rng) for k in ("walk", "wave_left", "kick_left") * 2])  # 30 s
    joints[..., 1] -= joints[..., 1].min()
    assert floor_height(joints, 20.0) < 0.05
    lifted = joints + np.array([0, 0.3, 0], np.float32)
    lifted[200, 7, 1] = 0.0                                    # one frame's ankle on the "floor": canonicalisation's min
    bundle = load_bundle(tiny_model)
    names = get_skeleton(bundle.cfg.skeleton).joint_names
    fixed = caption_motion(Motion(lifted, 20.0, names, skeleton=bundle.cfg.skeleton), bundle)
    lift = floor_height(lifted, 20.0)
    assert lift == pytest.approx(0.3, abs=0.05)
    low = caption_motion(Motion(lifted - np.array([0, lift, 0], np.float32), 20.0, names, skeleton=bundle.cfg.skeleton),
                         bundle)                          # what the fixed take is captioned as
    assert any("lowered by 0.30 m" in w for w in fixed.warnings) and not any("lowered" in w for w in low.warnings)
    assert fixed.segments == low.segments


def test_takes_of_a_batch_share_decoder_calls_with_the_results_of_each_alone(tiny_model):
    """drive_many pools the decode requests of several takes (a failing take fails alone) and gives
    each take what `drive` gives it alone, in fewer, larger decoder calls."""
    from m2t.models.checkpoint import load_bundle
    from m2t.models.decode_steps import drive, drive_many
    from m2t.models.dense import _torch_decode_fn, timeline_steps
    from m2t.models.synthetic import make_motion
    rng = np.random.default_rng(1)
    bundle = load_bundle(tiny_model)
    takes = [np.concatenate([make_motion(k, 60, rng) for k in kinds])
             for kinds in (("walk", "wave_left"), ("kick_left",), ("walk", "kick_left", "wave_left"))]
    one = _torch_decode_fn(bundle, 1)
    calls = {"alone": [], "pooled": []}

    def alone(feats):
        calls["alone"].append(len(feats))
        return one(feats)

    def pooled(items):
        calls["pooled"].append(len(items))
        return one([f for _, f in items])
    ref = [drive(timeline_steps(j, 20.0, bundle, 2.0, 1.0, 4), alone) for j in takes]
    steps = {i: timeline_steps(j, 20.0, bundle, 2.0, 1.0, 4) for i, j in enumerate(takes)}

    def failing():                                         # a take whose steps fail after one request
        req = next(timeline_steps(takes[0], 20.0, bundle, 2.0, 1.0, 4))
        bad.append(len(req[1]))
        yield req
        raise ValueError("a bad take")
    bad: list = []
    steps["bad"] = failing()
    got = drive_many(steps, pooled)
    assert str(got.pop("bad")) == "a bad take"
    for i, (timeline, windows) in enumerate(ref):
        t2, w2 = got[i]
        assert [w.text for w in w2] == [w.text for w in windows]
        assert [(t.word, t.onset_s, t.offset_s, t.text) for t in t2] == [(t.word, t.onset_s, t.offset_s, t.text)
                                                                          for t in timeline]
    assert sum(calls["pooled"]) == sum(calls["alone"]) + bad[0] and len(calls["pooled"]) < len(calls["alone"])

    def poisoned(items):                                   # take 1's clips make any call they are in fail
        if any(k == 1 for k, _ in items):
            raise RuntimeError("take 1 breaks the decoder")
        return one([f for _, f in items])
    steps = {i: timeline_steps(j, 20.0, bundle, 2.0, 1.0, 4) for i, j in enumerate(takes)}
    got = drive_many(steps, poisoned)                      # the shared call fails; the others are retried alone
    assert str(got[1]) == "take 1 breaks the decoder"
    assert [[w.text for w in got[i][1]] for i in (0, 2)] == [[w.text for w in ref[i][1]] for i in (0, 2)]


def test_windows_are_placed_as_a_stack_with_the_numbers_of_one_at_a_time(tmp_path):
    """take_windows._window_features places and normalises all windows of one length in one pass; the
    bytes are those of placing each window alone (a window whose facing is undefined included)."""
    from types import SimpleNamespace

    from m2t.converters.api import load_motion
    from m2t.converters.skeletons import get_skeleton
    from m2t.converters.synthetic import write_walk_bvh
    from m2t.models import take_windows
    from m2t.models.features import Normalizer
    skel = get_skeleton("t2m")
    write_walk_bvh(tmp_path / "walk.bvh", seconds=10.0)
    m = load_motion(tmp_path / "walk.bvh", skeleton="t2m")
    assert m.fps == 20.0
    joints = m.positions.copy()
    r_hip, l_hip, r_sh, l_sh = skel.face
    joints[100:103, [l_hip, l_sh]] = joints[100:103, [r_hip, r_sh]]       # facing undefined at 5 s
    bundle = SimpleNamespace(input_scale=1.25, downsample=2,
                             norm=Normalizer(np.array([0.1, 0.9, -0.2], np.float32), np.array([0.5, 0.4, 0.6], np.float32)))
    plan = plan_scales(len(joints), 20.0, 2.0, 0.25)
    assert (100, 140) in plan and len({e - s for s, e in plan}) > 2
    stacked = take_windows._window_features(joints, plan, bundle, skel)
    for (s, e), got in zip(plan, stacked):
        alone = take_windows._features(joints[s:e], bundle, skel)
        assert got.dtype == alone.dtype and got.shape == alone.shape and got.tobytes() == alone.tobytes(), (s, e)


def test_one_action_captioned_whole_keeps_the_windows_span():
    """A steady walk: every window says 'walks', so the take gets one caption of all of it; the
    action's span is where the windows voted (the whole take), not the caption word's window Γ
    (about half of a walk of several seconds)."""
    from m2t.models.captioning import _voted_span
    from m2t.models.results import CaptionResult
    seg = {"index": 0, "word": "walks", "text": "walks forward", "onset_s": 0.05, "offset_s": 3.93, "windows": 1}
    r = CaptionResult(source="w.bvh", text="a person walks forward", tokens=[], score=0.0, duration_s=6.5, fps=20.0,
                      frames=130, downsample=2, onset_rule="fwhm", beam=1, skeleton="t2m", segments=[dict(seg)])
    act = TimelineAction("walks", "a person walks forward", 0.0, 6.5, [("root", 1.0)], None, 0.9, 25)
    assert _voted_span(r, [act]).segments[0] == {**seg, "onset_s": 0.0, "offset_s": 6.5, "windows": 25}
    two = [dict(seg), {**seg, "index": 1, "word": "turns"}]
    r.segments = [dict(s) for s in two]
    assert _voted_span(r, [act]).segments == two                 # the caption names two actions: its own spans
    r.segments = [dict(seg)]
    assert _voted_span(r, []).segments == [seg]
    jumps = TimelineAction("jumps", "a person jumps", 0.0, 6.5, [("root", 1.0)], None, 0.9, 25)
    assert _voted_span(r, [jumps]).segments == [seg]             # another action: the caption's own span


def test_a_way_to_go_is_also_a_direction():
    """"walks to the left" said side=left and no direction (the review: laterality and direction in
    one field); `side` stays the side word of the clause (what composed truth and the timeline's
    scores use), `direction` tells a way to go."""
    walk = TimelineAction("walks", "a person walks to the left", 0.0, 2.0, [("left_leg", 1.0)], "left", 0.8, 3)
    wave = TimelineAction("waves", "a person waves the left hand", 2.0, 3.0, [("left_arm", 1.0)], "left", 0.8, 3)
    both = TimelineAction("waves", "a person waves both hands", 3.0, 4.0, [("left_arm", 1.0)], "both", 0.8, 3)
    back = TimelineAction("walks", "a person walks backward", 4.0, 5.0, [("left_leg", 1.0)], None, 0.8, 3,
                          direction="backward")
    got = [(a.to_dict()["side"], a.to_dict()["direction"]) for a in (walk, wave, both, back)]
    assert got == [("left", "left"), ("left", None), ("both", None), (None, "backward")]
    for text, word, way in (("a person turns to the left and raises the left hand", "turns", True),
                            ("a person turns to the left and raises the left hand", "raises", False),
                            ("a person kicks with the left", "kicks", False), ("a person hops on the right", "hops", False),
                            ("a person turns right", "turns", True), ("a person moves leftwards", "moves", True),
                            ("a person steps to his right", "steps", True)):
        side = "right" if "right" in text else "left"
        a = TimelineAction(word, text, 0.0, 1.0, [("root", 1.0)], side, 0.8, 1)
        assert (a.to_dict()["direction"] == side) == way, (text, word)
    assert walk.label == "walk|left"                     # the label (the timeline's votes) is unchanged


def test_way_verbs_are_porter_stems():
    from nltk.stem import PorterStemmer
    from m2t.models.dense import WAY_VERBS
    words = ("turn", "walk", "step", "sidestep", "move", "run", "jog", "go", "head", "veer", "spin", "pivot", "rotate",
             "circle", "hop", "jump", "sneak", "stride", "limp", "skip", "shuffle", "slide", "crawl", "dash", "sprint")
    assert WAY_VERBS == {PorterStemmer().stem(w) for w in words}
