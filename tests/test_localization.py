"""Localisation metrics and baselines against hand-computed cases (models/localization.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from m2t.models.localization import (action_word_indices, align, auc, energy_segments, equal_segments,
                                     key_stems, score_sequence, side_of, summarise, tiou)
from m2t.models.network import FWHM_C

WORDS = "a person walks forward then waves the right hand".split()


def test_tiou_and_auc_by_hand():
    assert tiou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert tiou((0, 1), (2, 3)) == 0.0 and tiou((1, 4), (1, 4)) == 1.0
    assert auc([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]) == pytest.approx(3 / 4)
    assert auc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)                   # ties count half
    assert auc([0.2, 0.9], [0, 1]) == 1.0 and auc([1.0], [1]) is None


def test_action_words_keys_sides_and_alignment():
    assert action_word_indices(WORDS) == [2, 5]                            # not 'forward' (root), not 'then'
    for caption, words in (("a person circles both arms backward", ["circles"]),   # a path word as a verb
                           ("a person walks in a circle", ["walks"]), ("a person runs clockwise", ["runs"])):
        w = caption.split()
        assert [w[i] for i in action_word_indices(w)] == words, caption
    assert {"walk", "wave", "rais"} <= key_stems(["a person walks forward", "someone raises the left hand and waves"])
    assert side_of("waves the right hand".split()) == "right"
    assert side_of("raises both hands".split()) == "both" and side_of("left and right".split()) is None
    assert align([{"walk"}, {"wave"}], ["walk", "wave"]) == [0, 1]
    assert align([{"walk"}, {"wave"}], ["wave"]) == [None, 0]
    assert align([{"walk"}, {"walk"}], ["walk", "walk"]) == [0, 1]       # repeated verbs, in order
    assert align([{"walk"}, {"wave"}, {"kick"}], ["kick", "walk", "wave"]) == [1, 2, None]


def test_energy_segmenter_cuts_at_the_quietest_moment():
    fps = 10
    e = np.ones(100) * 5.0
    e[48:53] = [2, 1, 0.5, 1, 2]                                            # pause at frame 50
    assert energy_segments(e, 2, fps) == [(0.0, 5.0), (5.0, 10.0)]
    assert energy_segments(e, 1, fps) == [(0.0, 10.0)]
    assert energy_segments(np.ones(100), 3, fps) == equal_segments(10.0, 3)  # no minima: equal parts


def _sequence():
    doc = {"actions": [{"start_s": 0.0, "end_s": 5.0, "side": None, "parts": ["root"],
                        "captions": ["a person walks forward"]},
                       {"start_s": 5.0, "end_s": 10.0, "side": "right", "parts": ["right_arm"],
                        "captions": ["someone waves the right hand"]}]}
    S, n = len(WORDS), 11
    centre, width = np.zeros(S), np.ones(S)
    centre[2], width[2] = 2.5, 2.5 / FWHM_C                                # span [0, 5]
    centre[5], width[5] = 8.0, 1.0 / FWHM_C                                # span [7, 9]
    window = np.ones((S, n))
    alpha = np.full((S, n, 6), 1 / 6)
    alpha[2] = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]                               # root
    alpha[5] = [0.1, 0.1, 0.1, 0.5, 0.1, 0.1]                               # right arm
    energy = np.ones(100) * 5.0
    energy[48:53] = [2, 1, 0.5, 1, 2]
    parts_e = np.zeros((100, 6))
    parts_e[:50, 0], parts_e[50:, 2] = 1.0, 1.0                             # root moves, then the left arm
    return score_sequence(doc, WORDS, window, alpha, centre, width, lambda k: float(k), 10.0, energy,
                          parts_e, 10.0)


def test_one_sequence_every_metric_and_baseline_by_hand():
    res = _sequence()
    assert [r.named for r in res] == [True, True]
    assert res[0].spans["model"] == pytest.approx((0.0, 5.0)) and res[1].spans["model"] == pytest.approx((7.0, 9.0))
    m = summarise([res], [0.9, 0.2, 0.8, 0.1], [True, False, True, False], predicted=3)
    model = m["model"]
    assert model["all_named"] == 1.0 and model["named"] == 1.0
    assert model["recall@0.3"] == 1.0 and model["recall@0.5"] == 0.5 and model["recall@0.7"] == 0.5
    assert model["mean_tiou"] == pytest.approx((1.0 + 0.4) / 2)
    assert model["onset_mae_s"] == pytest.approx(1.0) and model["offset_mae_s"] == pytest.approx(0.5)
    assert model["pointing"] == 1.0 and model["side_acc"] == 1.0 and model["part_acc"] == 1.0
    assert model["beta_auc"] == 1.0
    whole, centre, equal, energy = (m[k] for k in ("whole", "centre", "equal", "energy"))
    assert whole["mean_tiou"] == pytest.approx(0.5) and whole["recall@0.5"] == 1.0 and whole["recall@0.7"] == 0.0
    assert centre["mean_tiou"] == pytest.approx(1 / 3) and centre["pointing"] == 1.0   # centre 5.0 is in both
    assert equal["mean_tiou"] == pytest.approx(1.0) and equal["onset_mae_s"] == 0.0
    assert energy["mean_tiou"] == pytest.approx(1.0)
    assert energy["part_acc"] == pytest.approx(0.5)                         # root right, left arm wrong
    assert whole["part_acc"] is None and m["counts"] == {"sequences": 1, "actions": 2, "named": 2,
                                                          "with_side": 1, "with_parts": 2, "beta_tokens": 4,
                                                          "predicted": 3}


def test_unnamed_actions_count_as_misses():
    res = _sequence()
    res[1].named = False
    m = summarise([res, _sequence()])
    assert m["model"]["all_named"] == 0.5 and m["model"]["named"] == 0.75
    assert m["model"]["recall@0.7"] == pytest.approx(2 / 4)                 # 2 exact spans of 4 actions
    assert m["model"]["mean_tiou"] == pytest.approx((1 + 0 + 1 + 0.4) / 4)
    assert math.isclose(m["model"]["onset_mae_s"], (0 + 0 + 2) / 3)


def test_evaluate_localization_cli_on_composed_synthetic_data(tiny_model, tmp_path):
    import json

    from typer.testing import CliRunner

    from m2t.cli.app import app
    from m2t.models.compose import compose_dataset
    from m2t.models.synthetic import write_dataset
    src = write_dataset(tmp_path / "src", per_class=5, frames=(40, 80), seed=3)
    compose_dataset(src, tmp_path / "c", {"train": 0, "val": 0, "test": 6}, seed=0, max_actions=2)
    r = CliRunner().invoke(app, ["evaluate", str(tiny_model), "--dataset", str(tmp_path / "c"), "--localization",
                                 "-o", str(tmp_path / "e"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "e" / "localization.json").read_text())
    m = rep["metrics"]
    assert m["counts"]["sequences"] == 6 and m["counts"]["actions"] == 12
    preds = [json.loads(x)["prediction"] for x in (tmp_path / "e" / "localization_predictions.jsonl").read_text().splitlines()]
    from m2t.models.localization import action_word_indices
    assert m["counts"]["predicted"] == sum(len(action_word_indices(p.split())) for p in preds)
    for meth in ("model", "whole", "centre", "equal", "energy"):
        assert 0 <= m[meth]["mean_tiou"] <= 1 and m[meth]["named"] == m["model"]["named"]
    assert "recall@0.5" in r.output and "energy" in r.output
    lines = (tmp_path / "e" / "localization_predictions.jsonl").read_text().splitlines()
    assert len(lines) == 6 and "actions" in json.loads(lines[0])
    r = CliRunner().invoke(app, ["evaluate", str(tiny_model), "--dataset", str(tmp_path / "c"), "--localization",
                                 "--window", "2", "-o", str(tmp_path / "d"), "--device", "cpu"])   # caption's timeline
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "d" / "localization.json").read_text())["metrics"]
    per = [json.loads(x) for x in (tmp_path / "d" / "localization_predictions.jsonl").read_text().splitlines()]
    assert m["counts"]["actions"] == 12 and m["counts"]["predicted"] == sum(len(p["prediction"]) for p in per)
    assert m["model"]["beta_auc"] is None and all(isinstance(p["prediction"], list) for p in per)
    for p in per:                                      # the segments m2t caption writes, in time order, inside the clip
        assert all(0 <= a["onset_s"] <= a["offset_s"] and {"word", "text", "parts"} <= set(a) for a in p["prediction"])
        assert [a["onset_s"] for a in p["prediction"]] == sorted(a["onset_s"] for a in p["prediction"])
    import contextlib
    import io
    import runpy
    from pathlib import Path
    missed = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "missed_actions.py"))["main"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):                # the misses listed and counted
        missed([str(tmp_path / "d" / "localization_predictions.jsonl"), str(tmp_path / "c")])
    n_missed = 12 - m["counts"]["named"]
    assert out.getvalue().startswith(f"{n_missed} of 12 actions not named")
    assert sum(int(x.rsplit("|", 2)[1]) for x in out.getvalue().splitlines()[3:]) == n_missed
    r = CliRunner().invoke(app, ["evaluate", str(tiny_model), "--dataset", str(src), "--localization"])
    assert r.exit_code == 2 and "no composed sequences" in r.stderr
