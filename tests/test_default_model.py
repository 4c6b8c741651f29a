"""The shipped default model: loads without pickle, fits the size budget, and the README's
first command captions the example walk sensibly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.models.captioning import default_model_dir

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
DEFAULT = default_model_dir()

pytestmark = pytest.mark.skipif(not (DEFAULT / "model.safetensors").exists(), reason="no default model shipped")


def test_default_model_files_and_size():
    files = {p.name: p.stat().st_size for p in DEFAULT.iterdir()}
    assert {"model.safetensors", "config.json", "MODEL_CARD.md"} <= set(files)
    assert sum(files.values()) < 20 * 2**20
    cfg = json.loads((DEFAULT / "config.json").read_text())
    assert cfg["model"]["skeleton"] == "t2m" and len(cfg["vocab"]) == cfg["model"]["vocab_size"]


def test_readme_first_command_captions_the_example_walk():
    r = runner.invoke(app, ["caption", str(REPO / "examples" / "walk.bvh")])
    assert r.exit_code == 0, r.output
    assert any(w.startswith("walk") for w in r.stdout.split())          # walks / walking
    said = (REPO / "README.md").read_text().split("It prints `", 1)[1].split("`", 1)[0]
    assert r.stdout.strip() == said, "the README quotes another caption than the shipped model gives"


def test_example_walk_json_has_times_and_parts():
    r = runner.invoke(app, ["caption", str(REPO / "examples" / "walk.bvh"), "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    walks = [t for t in doc["tokens"] if t["word"].startswith("walk")]
    assert walks and walks[0]["is_motion_word"]
    w = walks[0]
    assert 0 <= w["onset_s"] <= w["offset_s"] <= doc["duration_s"]
    assert w["parts"][0]["name"] in ("root", "left_leg", "right_leg")
