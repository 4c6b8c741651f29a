"""`--no-style`: the performer's style phrases leave the caption, every other word keeps its
timing, attention and body parts (models/styles.py)."""
from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.models.schemas import CAPTION_SCHEMA
from schema_check import validate
from m2t.converters.synthetic import write_walk_bvh
from m2t.models.results import CaptionResult, Token
from m2t.models.styles import strip_text, style_edits, without_style

runner = CliRunner()


def test_phrases_and_subjects():
    assert strip_text("a person walks forward in a feminine way") == "a person walks forward"
    assert strip_text("an elderly person waves the right hand happily, then walks like an old person") == \
        "a person waves the right hand, then walks"
    assert strip_text("a thug kicks with a strut") == "a person kicks"
    assert strip_text("a person walks in a circle") == "a person walks in a circle"     # not a style
    words = "an old person walks sadly".split()
    assert style_edits(words) == {0: "a", 1: None, 2: "person", 4: None}


def _result(words):
    n = len(words)
    toks = [Token(i, w, 0.5, 0.9, w == "walks", onset_s=0.0 if w == "walks" else None) for i, w in enumerate(words)]
    return CaptionResult(source="x", text=" ".join(words), tokens=toks, score=-0.1, duration_s=1.0, fps=20.0,
                         frames=20, downsample=2, onset_rule="fwhm", beam=1, skeleton="t2m",
                         window=np.arange(n * 3, dtype=np.float32).reshape(n, 3),
                         alpha=np.arange(n * 3 * 6, dtype=np.float32).reshape(n, 3, 6))


def test_tokens_keep_their_rows_of_attention():
    r = _result("a young person walks forward happily".split())
    out = without_style(r)
    assert out.text == "a person walks forward" and [t.index for t in out.tokens] == [0, 1, 2, 3]
    np.testing.assert_array_equal(out.window, r.window[[0, 2, 3, 4]])
    np.testing.assert_array_equal(out.alpha, r.alpha[[0, 2, 3, 4]])
    assert out.tokens[2].word == "walks" and out.tokens[2].onset_s == 0.0
    assert r.text.endswith("happily")                                   # the original is left as it was


def test_timeline_actions_and_text():
    r = _result([])
    r.segments = [{"index": 0, "word": "walks", "text": "an old person walks forward wearily"},
                  {"index": 1, "word": "waves", "text": "a person waves the left hand like a thug"}]
    out = without_style(r)
    assert [s["text"] for s in out.segments] == ["a person walks forward", "a person waves the left hand"]
    assert out.text == "a person walks forward, then waves the left hand"


def test_cli_no_style_keeps_schema_and_parts(tmp_path):
    walk = tmp_path / "walk.bvh"
    write_walk_bvh(walk, seconds=3.0)
    with_style = json.loads(runner.invoke(app, ["caption", str(walk), "-f", "json"]).stdout)
    r = runner.invoke(app, ["caption", str(walk), "-f", "json", "--no-style"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validate(doc, CAPTION_SCHEMA)
    assert strip_text(with_style["text"]) == doc["text"]
    assert len(doc["tokens"]) < len(with_style["tokens"]), "the shipped model styles this walk; a test of nothing"
    kept = {t["word"]: t for t in doc["tokens"] if t["is_motion_word"]}
    for t in with_style["tokens"]:
        if t["word"] in kept and t["is_motion_word"]:
            assert kept[t["word"]]["parts"] == t["parts"] and kept[t["word"]]["onset_s"] == t["onset_s"]
    seg = runner.invoke(app, ["segment", str(walk), "-f", "json", "--no-style"])
    assert seg.exit_code == 0 and json.loads(seg.stdout)["text"] == doc["text"]


def test_view_no_style(tmp_path):
    walk = tmp_path / "walk.bvh"
    write_walk_bvh(walk, seconds=3.0)
    for flag, styled in (("--style", True), ("--no-style", False)):
        r = runner.invoke(app, ["view", str(walk), flag, "-o", str(tmp_path / f"{flag}.html")])
        assert r.exit_code == 0, r.output
        page = (tmp_path / f"{flag}.html").read_text()
        assert ("in a feminine way" in page) == styled
