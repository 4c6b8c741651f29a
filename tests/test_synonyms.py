"""Synonym classes of action words (models/synonyms.py) and their use by the dense timeline."""
from __future__ import annotations

import json

import numpy as np
import pytest

from m2t.models.data import Caption
from m2t.models.dense import Window, caption_actions, label_frames, label_of, voted_word
from m2t.models.localization import PredictedAction
from m2t.models.synonyms import MIN_CAPTIONS, check, fit, fit_captions


def _clips(*paraphrase_sets, copies=MIN_CAPTIONS):
    return [[c.split() for c in caps] for caps in paraphrase_sets for _ in range(copies)]


def test_words_said_instead_of_each_other_are_one_class():
    clips = _clips(["a person runs forward", "someone jogs forward", "a person runs forward"],
                   ["a person walks and turns left", "a person walks forward and turns left",
                    "someone walks then turns left"],
                   ["a person turns around", "someone turns left"])
    table = fit(clips)
    assert table == {"jog": "run", "run": "run"}             # named by the more frequent stem
    # walks and turns are said together: two actions, never one class, however often


def test_rare_words_and_words_said_together_are_not_merged():
    rare = _clips(["a person runs forward", "someone jogs forward"], copies=MIN_CAPTIONS - 1)
    assert fit(rare) == {}
    both = _clips(["a person runs forward", "someone jogs forward"]) + [["a person runs then jogs".split()]]
    assert fit(both) == {}


def test_a_class_never_holds_two_words_said_together():
    # "puts" is said instead of "bends" and instead of "places", but "bends down and places" says both
    clips = _clips(["a person puts it down", "someone bends down"],
                   ["a person puts it down", "someone places it"],
                   ["a person bends down and places it", "someone bends down and places it"])
    assert fit(clips) == {"bend": "bend", "put": "bend"}     # put joins bend first; place then never


def test_composed_sequences_do_not_count():
    single = [Caption("x", "a person runs".split()), Caption("y", "someone jogs".split())]
    composed = [Caption("z", "a person runs then jogs".split(), frames=[None] * 5)]
    assert fit_captions([single] * MIN_CAPTIONS) == {"jog": "run", "run": "run"}
    assert fit_captions([single] * MIN_CAPTIONS + [composed]) == {"jog": "run", "run": "run"}   # composed ignored


def test_config_synonyms_are_checked(tmp_path):
    from m2t.models.errors import ModelDirError
    assert check({"jog": "run"}, "c.json") == {"jog": "run"}
    from m2t.models.synonyms import MAX_ENTRIES
    too_many = {"a" * (1 + k // 26) + chr(97 + k % 26): "run" for k in range(MAX_ENTRIES + 1)}
    for bad in (["jog"], {"jog": 3}, {"x" * 100: "run"}, {"jog": "run|left"}, {"jog": "walk#backward"}, {"": "run"},
                too_many):
        with pytest.raises(ModelDirError, match="c.json: 'synonyms'"):
            check(bad, "c.json")


def test_a_bad_synonyms_table_in_config_json_is_one_line_error(tiny_model, tmp_path):
    import shutil

    from m2t.models.errors import ModelDirError
    from m2t.models.modeldir import read_config
    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["synonyms"] = {"jog": ["run"]}
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelDirError, match="'synonyms'"):
        read_config(d)


def _act(word, on, off, side=None):
    parts = [("root", 0.5)] + [(p, 0.1) for p in ("torso", "left_arm", "right_arm", "left_leg", "right_leg")]
    return PredictedAction(word, on, off, (on + off) / 2, "root", side, 2, 0.9, parts)


def test_synonyms_vote_for_one_label():
    # seven windows over 0-4 s: two say "runs", two "jogs", three "walks"
    wins = [Window(0, 4, "", [_act(w, 0, 4)]) for w in ("runs", "jogs", "runs", "jogs", "walks", "walks", "walks")]
    classes = {"run": "run", "jog": "run"}
    assert label_of(_act("jogs", 0, 1), classes) == "run" and label_of(_act("jogs", 0, 1)) == "jog"
    assert [r[2] for r in label_frames(wins, 4.0, step=0.1, min_action_s=0.5)] == ["walk"]      # 3/7 beats 2/7
    (run,) = label_frames(wins, 4.0, step=0.1, min_action_s=0.5, classes=classes)               # 4/7 beats 3/7
    assert run[2] == "run" and run[3] == pytest.approx(4 / 7)


def test_voted_word():
    assert voted_word(["runs", "jogs", "runs"], "jogs") == "runs"
    assert voted_word(["runs", "jogs"], "jogs") == "jogs"                # its own word when tied
    assert voted_word([], "jogs") == "jogs"
    assert voted_word(["walking", "walks", "walks", "moves", "moves"], "walked") == "walked"   # by stem: walk 3
    assert voted_word(["walking", "walks", "walks", "moves", "moves"], "moves") == "walks"    # its most said form
    assert voted_word(["walks"], None) == "walks" and voted_word([], None) is None


def test_every_fitted_table_passes_the_config_check():
    clips = _clips(["a person spins 360 degrees", "someone turns 360"], ["a person don't walk", "someone strolls"])
    assert check(fit(clips), "c.json") == fit(clips)


def test_an_action_is_named_by_the_word_most_windows_said_for_its_class(tiny_model):
    from m2t.models.checkpoint import load_bundle
    from m2t.models.decoded import Decoded
    from m2t.models.synthetic import make_motion
    bundle = load_bundle(tiny_model)
    words = "a person walks".split()
    k, n = len(words), 8

    def decode_fn(feats):
        return [Decoded([bundle.vocab.stoi[w] for w in words], -0.1, np.full(k, 0.5), np.full((k, n, 6), 1 / 6),
                        np.full((k, n), 1 / n), np.full((k, n), 1 / n), np.full(k, 4.0), np.full(k, 2.0),
                        np.log(np.full(k, 0.9))) for _ in feats]
    joints = make_motion("walk", 80, np.random.default_rng(0))
    wins = [Window(s, s + 2, "", [_act(w, s, s + 2)]) for s, w in ((0, "moves"), (1, "moves"), (2, "walks"))]
    classes = {"walk": "walk", "move": "walk"}
    (a,) = caption_actions(joints, 20.0, bundle, [(0.0, 4.0, "walk", 1.0)], wins, decode_fn, classes=classes)
    assert (a.word, a.text, a.label) == ("moves", "a person walks", "walk")   # the windows' word, its own caption
    assert a.parts[0] == ("root", pytest.approx((1 / 6 + 3 * 0.5) / 4))       # parts: mean of its caption's and theirs
    (a,) = caption_actions(joints, 20.0, bundle, [(0.0, 4.0, "walk", 1.0)], wins, decode_fn)
    assert a.word == "walks"                                   # without classes "moves" is another label


def test_mean_parts_ranks_the_mean_score_of_each_part():
    from m2t.models.dense import mean_parts
    assert mean_parts([]) == []
    a = [("left_arm", 0.6), ("root", 0.4)]
    b = [("right_arm", 0.5), ("left_arm", 0.3), ("root", 0.2)]
    out = mean_parts([a, b])
    assert [p for p, _ in out[:3]] == ["left_arm", "root", "right_arm"]
    assert dict(out)["left_arm"] == pytest.approx(0.45) and sum(s for _, s in out) == pytest.approx(1.0)
    assert mean_parts([a])[:2] == a
