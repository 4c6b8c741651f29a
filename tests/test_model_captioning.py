"""models.captioning: onset/offset rules, body-part scores, times, batching, motion-word flags."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from m2t.converters.errors import ConfigError, MotionFileError
from m2t.converters.motion import Motion
from m2t.converters.synthetic import write_walk_bvh
from m2t.models.captioning import caption_files, caption_motion, load_model
from m2t.models.results import FWHM_C, feature_time, part_scores, segments, word_span
from m2t.models.schemas import CAPTION_SCHEMA
from m2t.models.writers import srt_cues
from m2t.models.config import model_preset
from m2t.models.decoding import beam_search, greedy
from m2t.models.network import Captioner
from m2t.models.supervision import caption_targets
from schema_check import validate


@pytest.fixture(scope="module")
def bundle(tiny_model):
    return load_model(tiny_model, "cpu")


@pytest.fixture(scope="module")
def walks(tmp_path_factory):
    d = tmp_path_factory.mktemp("walks")
    paths = []
    for i, sec in enumerate((1.0, 3.0, 2.2)):
        write_walk_bvh(d / f"w{i}.bvh", seconds=sec, fps=30.0 + 10 * i)
        paths.append(d / f"w{i}.bvh")
    return paths


def _window(n, m, s):
    k = np.arange(n)
    return np.exp(-(k - m) ** 2 / (2 * s ** 2)).astype(np.float32)


def test_fwhm_rule_is_half_maximum_and_clipped():
    w = _window(40, 20.3, 4.0)
    a, b = word_span(w, 20.3, 4.0, "fwhm")
    assert (a, b) == pytest.approx((20.3 - FWHM_C * 4.0, 20.3 + FWHM_C * 4.0))
    assert np.exp(-(FWHM_C * 4.0) ** 2 / 32) == pytest.approx(0.5)
    assert word_span(_window(40, 2.0, 5.0), 2.0, 5.0, "fwhm") == pytest.approx((0.0, 2.0 + FWHM_C * 5.0))
    assert word_span(_window(10, 8.0, 5.0), 8.0, 5.0, "fwhm")[1] == 9.0


def test_gamma95_rule_and_its_fallback():
    w = _window(40, 20.0, 6.0)
    a, b = word_span(w, 20.0, 6.0, "gamma95")
    inside = np.flatnonzero(w > 0.95)
    assert (a, b) == (inside[0], inside[-1]) and a < 20 < b
    narrow = _window(40, 12.5, 0.3)                     # no frame above 0.95: the maximum's frame
    assert narrow.max() < 0.95
    assert word_span(narrow, 12.5, 0.3, "gamma95") == (12.0, 12.0)
    with pytest.raises(ConfigError):
        word_span(w, 20.0, 6.0, "peak")


def test_part_scores_are_the_window_weighted_alpha():
    rng = np.random.default_rng(0)
    alpha = rng.dirichlet(np.ones(6), size=30).astype(np.float32)
    w = _window(30, 10, 3)
    got = dict(part_scores(w, alpha))
    want = (w[:, None] * alpha).sum(0) / w.sum()
    names = ("root", "torso", "left_arm", "right_arm", "left_leg", "right_leg")
    assert [got[n] for n in names] == pytest.approx(list(want), abs=1e-6)
    ranked = [s for _, s in part_scores(w, alpha)]
    assert ranked == sorted(ranked, reverse=True) and sum(ranked) == pytest.approx(1.0)


def test_feature_times():
    assert feature_time(0, 20.0, 2) == pytest.approx(0.05)
    assert feature_time(3, 20.0, 2) == pytest.approx(0.35)
    assert feature_time(2.5, 12.5, 2) == pytest.approx(6 / 12.5)


def test_decoded_logprobs_give_the_score():
    torch.manual_seed(0)
    m = Captioner(model_preset("tiny", vocab_size=30)).eval()
    x, mask = torch.randn(3, 20, 22, 3), torch.ones(3, 20, dtype=torch.bool)
    for dec in (greedy(m, x, mask, 8), beam_search(m, x, mask, 3, 8)):
        for d in dec:
            assert d.logprobs.shape == d.beta.shape and (d.logprobs <= 0).all()
            assert float(d.logprobs.mean()) == pytest.approx(d.score, abs=1e-5)


def test_batched_files_equal_one_by_one(bundle, walks):
    batch = caption_files(walks, bundle, batch_size=3)
    assert all(fc.ok for fc in batch)
    for fc, p in zip(batch, walks):
        alone = caption_motion(p, bundle)
        assert fc.result.text == alone.text and fc.result.source == str(p)
        for a, b in zip(fc.result.tokens, alone.tokens):
            assert a.word == b.word and a.beta == pytest.approx(b.beta, abs=1e-5)
            assert (a.onset_s is None) == (b.onset_s is None)
            if a.onset_s is not None:
                assert (a.onset_s, a.offset_s) == pytest.approx((b.onset_s, b.offset_s), abs=1e-4)
        assert fc.result.window.shape[1] == len(fc.result.frame_times) == (fc.result.frames - 1) // 2 + 1


def test_bad_files_are_collected_not_raised(bundle, walks, tmp_path):
    (tmp_path / "x.bvh").write_text("nonsense")
    out = caption_files([walks[0], tmp_path / "x.bvh", walks[1]], bundle, batch_size=2)
    assert [fc.ok for fc in out] == [True, False, True]
    assert "x.bvh" in out[1].error and out[1].result is None


def test_result_fields(bundle, walks):
    r = caption_motion(walks[1], bundle)
    validate(r.to_dict(), CAPTION_SCHEMA)
    assert r.fps == 20.0 and r.duration_s == pytest.approx(3.0) and r.frames == 60
    words = r.words
    flags, _ = caption_targets(words)
    assert [t.is_motion_word for t in r.tokens] == [bool(f == 1) for f in flags]   # lexical, in context
    for t in r.tokens:
        assert 0 < t.confidence <= 1 and 0 <= t.beta <= 1
        if t.is_motion_word:
            assert t.width_s == pytest.approx(t.width_frames * 2 / 20)
            assert t.centre_s == pytest.approx((1 + 2 * t.centre_frame) / 20)
            assert r.attention_map(t.index).shape == (6, 30)
        else:
            assert t.onset_s is None and t.parts is None
    segs = segments(r)
    assert [s["word"] for s in segs] == [t.word for t in r.motion_words]
    assert all(isinstance(s["parts"][0], tuple) and s["onset_s"] <= s["offset_s"] for s in segs)


def test_motion_input_and_its_checks(bundle):
    rest = np.zeros((40, 22, 3), np.float32)
    rest[:, :, 1] = np.linspace(0, 1.7, 22)
    names = tuple(f"j{i}" for i in range(22))
    r = caption_motion(Motion(rest, 20.0, names, skeleton="t2m", source="mem"), bundle, beam=2)
    assert r.source == "mem" and r.frames == 40 and r.beam == 2
    with pytest.raises(ConfigError, match="the model expects 't2m'"):
        caption_motion(Motion(rest[:, :21], 12.5, names[:21], skeleton="kit"), bundle)
    with pytest.raises(MotionFileError, match="too short"):
        caption_motion(Motion(rest[:1], 20.0, names, skeleton="t2m"), bundle)
    with pytest.raises(ConfigError, match="--beam"):
        caption_motion(Motion(rest, 20.0, names, skeleton="t2m"), bundle, beam=0)
    long = Motion(np.repeat(rest, 30, 0), 20.0, names, skeleton="t2m")       # 60 s
    one = caption_motion(long, bundle, dense_after_s=100.0)                  # one caption over it all
    assert any("trained on clips of at most" in w for w in one.warnings) and one.windowing is None
    dense = caption_motion(long, bundle)       # windows of 0.75 s (120), 1 s (119), 1.5 s (118), 2 s (117) every 0.5 s
    assert dense.windowing == {"window_s": 2.0, "hop_s": 0.5, "windows": 474, "lengths_s": [0.75, 1.0, 1.5, 2.0]}
    assert dense.tokens == [] and any("474 windows of 0.75, 1, 1.5, 2 s" in w for w in dense.warnings)
    with pytest.raises(ConfigError, match="--hop"):
        caption_motion(long, bundle, window_s=4.0, hop_s=5.0)
    with pytest.raises(ConfigError, match="--dense-after"):
        caption_motion(long, bundle, dense_after_s=-1.0)


def test_srt_widens_point_cues_inside_the_clip(bundle, walks):
    r = caption_motion(walks[0], bundle)
    assert r.segments
    t = r.segments[0]
    for onset in (0.0, 0.5, r.duration_s):               # zero-length action spans, incl. at both ends
        t["onset_s"] = t["offset_s"] = onset
        cues = srt_cues(r)
        dur = round(r.duration_s * 1000)
        assert all(0 <= a < b <= dur for a, b, _ in cues)
        assert [a for a, _, _ in cues] == sorted(a for a, _, _ in cues)


def test_unobserved_arms_are_masked_and_reported(bundle, tmp_path):
    """A canonical clip whose arm joints were not measured: the caption says so in its warnings and
    no motion word attends to an arm."""
    import dataclasses
    from m2t.converters import load_motion
    src = tmp_path / "walk.bvh"
    write_walk_bvh(src, seconds=3.0)
    m = load_motion(src)
    obs = np.ones(22, bool)
    obs[[13, 16, 18, 20, 14, 17, 19, 21]] = False
    r = caption_motion(dataclasses.replace(m, observed=obs), bundle)
    assert any("not observed" in w and "left arm, right arm" in w for w in r.warnings)
    assert float(np.abs(r.alpha[..., 2:4]).max()) == 0.0
    for t in r.motion_words:
        assert dict(t.parts)["left_arm"] == 0.0 and dict(t.parts)["right_arm"] == 0.0
    full = caption_motion(m, bundle)
    assert not any("not observed" in w for w in full.warnings)


def test_output_times_are_seconds_of_the_source_file(bundle, tmp_path):
    """A clip whose frame 0 is 2.39 s into its file (C3D leading empty frames, a trimmed start):
    JSON, segments and SRT times move by exactly that offset; the viewer's clip times do not."""
    import dataclasses
    from m2t.converters import load_motion
    from m2t.models.results import segments_document
    from m2t.models.writers import srt_cues
    src = tmp_path / "walk.bvh"
    write_walk_bvh(src, seconds=3.0)
    m = load_motion(src)
    base = caption_motion(m, bundle)
    moved = caption_motion(dataclasses.replace(m, time_offset_s=2.39), bundle)
    a, b = base.to_dict(attention=True), moved.to_dict(attention=True)
    assert a["time_offset_s"] == 0.0 and b["time_offset_s"] == 2.39
    assert b["frame_times_s"][0] == pytest.approx(a["frame_times_s"][0] + 2.39, abs=1e-3)
    for ta, tb in zip(a["tokens"], b["tokens"]):
        for k in ("centre_s", "onset_s", "offset_s"):
            assert (ta[k] is None and tb[k] is None) or tb[k] == pytest.approx(ta[k] + 2.39, abs=1e-3)
    for sa, sb in zip(segments_document(base)["segments"], segments_document(moved)["segments"]):
        assert sb["onset_s"] == pytest.approx(sa["onset_s"] + 2.39, abs=1e-3)
    assert [c[0] + 2390 for c in srt_cues(base)] == [c[0] for c in srt_cues(moved)]
    assert moved.to_dict(attention=True, clip_times=True)["frame_times_s"] == a["frame_times_s"]
    validate(b, CAPTION_SCHEMA)
