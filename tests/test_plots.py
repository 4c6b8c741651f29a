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


def test_a_timeline_take_gets_a_heatmap_of_its_actions(tmp_path, monkeypatch):
    """A take captioned as a timeline (no caption of the whole take, so no motion-word tokens)
    gets one panel of its actions' body-part shares over time, not an empty "no motion words" one."""
    import numpy as np
    from matplotlib.image import imread

    from m2t.models import writers
    from m2t.models.results import CaptionResult
    segs = [{"word": "walks", "onset_s": 0.0, "offset_s": 1.0, "parts": [{"name": "root", "score": 0.6},
                                                                         {"name": "left_leg", "score": 0.4}]},
            {"word": "waves", "onset_s": 1.5, "offset_s": 3.0, "parts": [{"name": "right_arm", "score": 0.9},
                                                                         {"name": "torso", "score": 0.1}]}]
    m = writers.timeline_matrix(segs, 3.0, 0.5)
    assert m.shape == (6, 6)
    assert m[0, :2].tolist() == [0.6, 0.6] and m[4, :2].tolist() == [0.4, 0.4] and m[:, 2].sum() == 0
    assert m[3, 3:].tolist() == [0.9] * 3 and m[1, 3:].tolist() == [0.1] * 3 and m[0, 3:].sum() == 0
    r = CaptionResult(source="take.bvh", text="a person walks, then waves the right hand", tokens=[], score=0.0,
                      duration_s=3.0, fps=20.0, frames=60, downsample=2, onset_rule="fwhm", beam=1,
                      skeleton="t2m", segments=segs)
    drawn, real = [], writers._timeline_panel
    monkeypatch.setattr(writers, "_timeline_panel", lambda fig, ax, res: drawn.append(res) or real(fig, ax, res))
    out = writers.write_heatmap(r, tmp_path / "take.png")
    assert drawn == [r] and imread(out).shape[:2] == (250, 1000) == writers.heatmap_size(0)[::-1]
