"""`m2t evaluate --plots`: the paper's figures over a split (models/plots.py)."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.models.compose import compose_dataset
from m2t.models.plots import Trace, beta_by_stem, kde, max_part_attention
from m2t.models.synthetic import write_dataset


def test_kde_integrates_to_one_and_peaks_at_the_data():
    grid = np.linspace(-1, 2, 3001)
    d = kde([0.2, 0.25, 0.3], grid)
    assert np.trapezoid(d, grid) == pytest.approx(1.0, abs=1e-3)
    assert abs(grid[d.argmax()] - 0.25) < 0.01


def test_beta_groups_and_max_part_attention_by_hand():
    window = np.array([[1.0, 0.5], [0.2, 1.0]])
    alpha = np.zeros((2, 2, 6))
    alpha[0, :, 2] = [0.8, 0.4]                     # "waves": left arm, max over time = 1.0*0.8
    alpha[0, :, 3] = [0.2, 0.6]                     # right arm: max(0.2, 0.5*0.6=0.3) = 0.3
    t = Trace("x", ["waves", "the"], np.array([1.0, 0.0]), np.array([0.9, 0.1]), window, alpha,
              np.array([0.05, 0.15]), 0.2, None)
    mot, non = beta_by_stem([t])
    assert mot == {"wave": [pytest.approx(0.9)]} and non == {"the": [pytest.approx(0.1)]}
    m = max_part_attention([t])["wave"]
    np.testing.assert_allclose(m[0], [0, 0, 0.8, 0.3, 0, 0])


def test_evaluate_plots_writes_labelled_pngs(tiny_model, tmp_path):
    src = write_dataset(tmp_path / "src", per_class=5, frames=(40, 80), seed=2)
    compose_dataset(src, tmp_path / "c", {"train": 0, "val": 0, "test": 3}, seed=0, max_actions=2, with_singles=True)
    r = CliRunner().invoke(app, ["evaluate", str(tiny_model), "--dataset", str(tmp_path / "c"),
                                 "--plots", str(tmp_path / "p"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    pngs = sorted(p.name for p in (tmp_path / "p").glob("*.png"))
    assert "beta_density.png" in pngs and any(p.startswith("parts_") for p in pngs)
    assert any(p.startswith("windows_cmp_test_") for p in pngs) and any(p.startswith("attention_") for p in pngs)
    assert all((tmp_path / "p" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
