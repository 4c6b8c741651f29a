"""In-domain score (models/confidence.py): percentiles, nearest-neighbour distance, calibration."""
from __future__ import annotations

import numpy as np
import pytest

from m2t.models.confidence import Calibration, action_features, clip_scores, fit


def _cal():
    bank = np.eye(3, dtype=np.float32)                       # three unit features
    val = {"prob": np.array([0.2, 0.4, 0.6, 0.8]), "beta": np.array([0.5, 0.9]), "dist": np.array([0.0, 0.5])}
    return Calibration(bank, val, 0.3, {})


def test_signals_and_score_by_hand():
    cal = _cal()
    f = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    sig = cal.signals(f, [0.5, 0.9], [0.95, 0.1])
    # k = min(5, 3) = 3 neighbours: mean similarity of [1,0,0] to the bank = 1/3, of 0 = 0
    np.testing.assert_allclose(sig[:, 2], [1 - 1 / 3, 1.0])
    # prob 0.5 is above 2 of 4 val values -> 0.5; beta 0.95 above both -> 1; dist 0.667 above both -> 1 - 1 = 0
    np.testing.assert_allclose(cal.score(sig[:1]), [min(0.5, 1.0, 0.0)])
    # prob 0.9 -> 1, beta 0.95 -> 1, dist 0 -> 1 - 1/2 (one of two val distances is <= 0): min 0.5
    np.testing.assert_allclose(cal.score(cal.signals(f[:1], [0.9], [0.95]) * [1, 1, 0]), [0.5])
    assert cal.percentile("dist", 0.0) == 0.5 and cal.percentile("prob", 0.9) == 1.0


def test_clip_scores_take_the_weakest_action_and_no_action_is_zero():
    cal = _cal()
    acts = [("walks", 0.9, 0.95, np.array([1.0, 0, 0])), ("waves", 0.1, 0.2, np.array([0, 1.0, 0]))]
    s, parts = clip_scores(cal, [acts, []])
    assert s[1] == 0.0 and s[0] == pytest.approx(cal.score(cal.signals(np.stack([acts[1][3]]), [0.1], [0.2]))[0])
    assert parts.shape == (2, 3)


def test_fit_save_load_on_the_tiny_model(tiny_model, tmp_path):
    from m2t.models.checkpoint import load_bundle
    from m2t.models.synthetic import write_dataset
    root = write_dataset(tmp_path / "d", per_class=5)
    bundle = load_bundle(tiny_model)
    cal = fit(bundle, str(root))
    assert cal.bank.shape[1] == 6 * bundle.cfg.hidden and 0 <= cal.threshold <= 1
    assert all(np.all(np.diff(v) >= 0) for v in cal.val.values())
    cal.save(tmp_path)
    again = Calibration.load(tmp_path)
    np.testing.assert_allclose(again.bank, cal.bank, atol=1e-3)          # stored as float16
    assert again.threshold == pytest.approx(cal.threshold)
    assert all(np.array_equal(again.val[k], cal.val[k]) for k in cal.val)   # exact: ties must survive
    from m2t.models import data as D
    samples, _ = D.load_samples(root, D.read_split(root, "test"))
    s, _ = clip_scores(cal, action_features(bundle, samples))
    assert len(s) == len(samples) and ((0 <= s) & (s <= 1)).all()


def test_calibrated_model_flags_actions_in_json_and_srt(tiny_model, tmp_path):
    import json
    import shutil

    from typer.testing import CliRunner

    from m2t.cli.app import app
    from m2t.converters.synthetic import write_walk_bvh
    from m2t.models.checkpoint import load_bundle
    from m2t.models.synthetic import write_dataset
    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    cal = fit(load_bundle(model), str(write_dataset(tmp_path / "d", per_class=5)))
    cal.threshold = 1.01                                        # flag everything: the flag must show
    cal.save(model)
    write_walk_bvh(tmp_path / "walk.bvh", seconds=3.0)
    r = CliRunner().invoke(app, ["caption", str(tmp_path / "walk.bvh"), "--model", str(model), "-f", "json",
                                 "-f", "srt", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "o" / "walk.json").read_text())
    assert d["segments"] and all(0 <= s["in_domain"] <= 1 and s["low_confidence"] is True for s in d["segments"])
    assert (tmp_path / "o" / "walk.srt").read_text().count("[low confidence]") == len(d["segments"])
    assert CliRunner().invoke(app, ["export", str(model)]).exit_code == 0      # the ONNX path scores the same
    r = CliRunner().invoke(app, ["caption", str(tmp_path / "walk.bvh"), "--model", str(model), "-f", "json",
                                 "--backend", "onnx"])
    onnx = json.loads(r.stdout)["segments"]
    assert [s["low_confidence"] for s in onnx] == [True] * len(d["segments"])
    np.testing.assert_allclose([s["in_domain"] for s in onnx], [s["in_domain"] for s in d["segments"]], atol=2e-3)
    r = CliRunner().invoke(app, ["caption", str(tmp_path / "walk.bvh"), "--model", str(tiny_model), "-f", "json"])
    assert all(s["in_domain"] is None and s["low_confidence"] is None for s in json.loads(r.stdout)["segments"])
