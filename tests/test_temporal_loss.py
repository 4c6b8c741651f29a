"""λ_temp: the window span must cover the action's frames (losses.temporal_loss) and reaches
training only when switched on and segment times are known."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from m2t.models.compose import compose_dataset
from m2t.models.config import TrainConfig, model_preset
from m2t.models.batching import collate
from m2t.models.data import action_targets, load_samples, make_items, read_split
from m2t.models.features import Normalizer
from m2t.models.losses import temporal_loss
from m2t.models.network import FWHM_C, Captioner
from m2t.models.supervision import caption_targets
from m2t.models.synthetic import write_dataset
from m2t.models.training import loss_terms
from m2t.models.vocab import Vocab


def _loss(m, s, a, b, T=100.0, slack=0.1):
    m = torch.tensor([[m]], requires_grad=True)
    s = torch.tensor([[s]], requires_grad=True)
    loss = temporal_loss(m, s, torch.tensor([[[a, b]]]), torch.tensor([[True]]), torch.tensor([T]), slack)
    loss.backward()
    return loss.item(), m.grad.item(), s.grad.item()


def test_zero_when_the_window_covers_the_action():
    # action frames 20..40: a window of span exactly [20, 40] and one overshooting by 1 frame (< τ = 2)
    assert _loss(30.0, 10.0 / FWHM_C, 20, 40)[0] == 0.0
    assert _loss(30.0, 11.0 / FWHM_C, 20, 40)[0] == 0.0


def test_hand_computed_value_and_gradient_directions():
    # span [10, 30] vs action [20, 40]: misses 10 frames at the end, overshoots the start by 10 - τ(2) = 8
    value, gm, gs = _loss(20.0, 10.0 / FWHM_C, 20, 40)
    assert value == pytest.approx((10 + 8) / 100)
    assert gm < 0 and gs == pytest.approx(0.0)          # descent moves the centre later, width unchanged
    value, gm, gs = _loss(30.0, 2.0 / FWHM_C, 20, 40)    # too narrow: span [28, 32]
    assert value == pytest.approx(16 / 100) and gs < 0 and gm == pytest.approx(0.0)   # descent widens
    value, gm, gs = _loss(30.0, 30.0 / FWHM_C, 20, 40)   # too wide: span [0, 60], overshoot 20 - 2 each end
    assert value == pytest.approx(36 / 100) and gs > 0 and gm == pytest.approx(0.0)   # descent narrows


def test_unsupervised_tokens_do_not_count_and_nothing_gives_zero():
    m = torch.tensor([[20.0, 90.0]])
    s = torch.tensor([[10.0 / FWHM_C, 1.0]])
    seg = torch.tensor([[[20.0, 40.0], [-1.0, -1.0]]])
    both = temporal_loss(m, s, seg, torch.tensor([[True, True]]), torch.tensor([100]))
    assert both.item() == pytest.approx(0.18)
    none = temporal_loss(m, s, -torch.ones(1, 2, 2), torch.tensor([[True, True]]), torch.tensor([100]))
    assert none.item() == 0.0


def test_action_targets_convert_source_frames_to_feature_frames():
    beta = np.array([0, 0, 1, 1, 1, 1], np.float32)                 # "a person walks forward then waves"
    frames = [(0, 40), (0, 40), (0, 40), (0, 40), None, (40, 100)]  # "then" belongs to no action
    seg = action_targets(frames, beta, downsample=2, n_feature_frames=50)
    assert seg.shape == (7, 2)
    np.testing.assert_allclose(seg[2], [0, 19])                     # source 0..39 -> feature 0..19 (clipped)
    np.testing.assert_allclose(seg[5], [19.5, 49])                  # source 40..99 -> (40-1)/2 .. (99-1)/2
    assert (seg[[0, 1, 4, 6]] == -1).all()


def test_off_by_default_and_reaches_the_loss_only_when_on(tmp_path):
    assert TrainConfig().lambda_temp == 0.0
    src = write_dataset(tmp_path / "src", per_class=3, frames=(40, 60))
    compose_dataset(src, tmp_path / "c", {"train": 4, "val": 0, "test": 0}, seed=0)
    samples, _ = load_samples(tmp_path / "c", read_split(tmp_path / "c", "train"))
    assert all(c.frames is not None for s in samples for c in s.captions)
    vocab = Vocab.build(c.tokens for s in samples for c in s.captions)
    norm = Normalizer.fit([s.joints for s in samples])
    items = make_items(samples, norm, vocab, 2, lambda t, p: caption_targets(t, p))
    assert all(it.seg is not None and (it.seg[:, 0] >= 0).any() for it in items)
    batch = collate(items[:4])
    torch.manual_seed(0)
    model = Captioner(model_preset("tiny", vocab_size=len(vocab)))
    _, off, _ = loss_terms(model, batch, TrainConfig(), None)
    assert "temp" not in off
    total_on, on, counts = loss_terms(model, batch, TrainConfig(lambda_temp=2.0), None)
    assert on["temp"] > 0 and counts["temp"] > 0
    torch.manual_seed(0)
    model.eval()
    t_off, _, _ = loss_terms(model, batch, TrainConfig(), None)
    t_on, m, _ = loss_terms(model, batch, TrainConfig(lambda_temp=2.0), None)
    assert (t_on - t_off).item() == pytest.approx(2.0 * m["temp"], rel=1e-5)
    total_on.backward()                                              # differentiable end to end
    assert model.temp_out.weight.grad is not None and model.temp_out.weight.grad.abs().sum() > 0
