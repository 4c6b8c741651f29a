"""The dense retrain recipe: fine-tuning from a trained model on composed data with λ_temp."""
from __future__ import annotations

import json
import runpy
import sys

from m2t.models.checkpoint import load_bundle
from m2t.models.compose import compose_dataset
from m2t.models.synthetic import write_dataset
from conftest import REPO


def test_recipe_script_fine_tunes_with_lambda_temp_and_keeps_every_epoch(tiny_model, tmp_path, monkeypatch):
    src = write_dataset(tmp_path / "src", per_class=5, frames=(40, 80), seed=1)
    compose_dataset(src, tmp_path / "c", {"train": 6, "val": 2, "test": 0}, seed=0, max_actions=2,
                    with_singles=True)
    out = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["train_default_model.py", str(tmp_path / "c"), str(out), "--epochs", "2",
                                      "--init-from", str(tiny_model), "--batch-size", "8", "--threads", "1"])
    runpy.run_path(str(REPO / "scripts" / "train_default_model.py"), run_name="__main__")
    base, tuned = load_bundle(tiny_model), load_bundle(out)
    assert tuned.vocab.itos == base.vocab.itos and tuned.cfg.hidden == base.cfg.hidden
    assert (out / "epochs" / "000" / "config.json").is_file() and (out / "epochs" / "001" / "config.json").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["lambda_temp"] == 1.0 and cfg["data_counts"]["init_from"] == str(tiny_model)
    assert all(h["loss_temp"] > 0 for h in cfg["history"])
