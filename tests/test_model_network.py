"""Network: shapes, masks, attention sums, no NaN at σ -> 0, gradients reach every parameter."""
from __future__ import annotations

import pytest
import torch

from m2t.models.config import CaptionerConfig, model_preset
from m2t.models.network import Captioner, count_parameters, gaussian_window


def _batch(B=3, T=40, J=22, L=9, V=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, J, 3, generator=g)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 25:] = False
    mask[2, 10:] = False
    y = torch.randint(4, V, (B, L), generator=g)
    return x, mask, y


@pytest.mark.parametrize("variant", [{}, {"part_pool": "sum"}, {"spatial_scoring": "per_part"},
                                     {"output_layer": "single"}])
def test_shapes_masks_and_sums(variant):
    m = Captioner(model_preset("tiny", vocab_size=30, **variant)).eval()
    x, mask, y = _batch()
    logits, att = m(x, mask, y)
    assert logits.shape == (3, 9, 30)
    assert att.alpha.shape == (3, 9, 40, 6) and att.window.shape == (3, 9, 40) and att.beta.shape == (3, 9)
    valid = mask[:, None, :].expand(-1, 9, -1)
    torch.testing.assert_close(att.alpha.sum(-1)[valid], torch.ones(int(valid.sum())))   # α sums to 1 over parts
    assert att.alpha[~valid].abs().max() == 0 and att.window[~valid].abs().max() == 0    # padded frames: no attention
    assert att.gamma[~valid].abs().max() == 0
    torch.testing.assert_close(att.gamma.sum(-1), torch.ones(3, 9))
    assert (att.window <= 1 + 1e-6).all() and ((att.beta > 0) & (att.beta < 1)).all()
    assert (att.centre[2] <= 9).all()                                                    # inside the 10 real frames


def test_padding_does_not_change_outputs():
    m = Captioner(model_preset("tiny", vocab_size=30)).eval()
    x, mask, y = _batch()
    short_x, short_mask = x[2:3, :10], mask[2:3, :10]
    l_full, a_full = m(x[2:3], mask[2:3], y[2:3])
    l_short, a_short = m(short_x, short_mask, y[2:3])
    torch.testing.assert_close(l_full, l_short, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a_full.alpha[..., :10, :], a_short.alpha, atol=1e-6, rtol=1e-5)


def test_parallel_and_stepwise_agree():
    m = Captioner(model_preset("tiny", vocab_size=30)).eval()
    x, mask, y = _batch()
    l1, a1 = m(x, mask, y)
    l2, a2 = m.forward_sequential(x, mask, y)
    torch.testing.assert_close(l1, l2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a1.window, a2.window, atol=1e-5, rtol=1e-5)


def test_no_nan_when_sigma_collapses():
    gamma = torch.zeros(1, 1, 8)
    gamma[..., 3] = 1.0                                   # all mass on one frame: σ = 0
    mask = torch.ones(1, 8, dtype=torch.bool)
    gamma.requires_grad_(True)
    window, m, s = gaussian_window(gamma, mask, 1e-3)
    assert torch.isfinite(window).all() and window[0, 0, 3] == 1 and window[0, 0, 2] < 1e-6
    window.sum().backward()
    assert torch.isfinite(gamma.grad).all()
    model = Captioner(model_preset("tiny", vocab_size=30))
    with torch.no_grad():                                 # force a one-hot temporal softmax
        model.temp_out.weight.mul_(1e4)
    x, mask, y = _batch(T=5)
    logits, att = model(x, mask, y)
    assert torch.isfinite(logits).all() and torch.isfinite(att.width).all()


def test_gradients_reach_every_parameter():
    m = Captioner(model_preset("tiny", vocab_size=30)).train()
    x, mask, y = _batch()
    logits, att = m(x, mask, y)
    loss = logits.logsumexp(-1).mean() + att.beta.mean() + att.alpha.pow(2).mean()
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().max() == 0]
    assert missing == []


def test_parameter_count_matches_official_model():
    # reference-notes §3.3: KIT 731,401 + 385 V including 16,512 unused parameters; m2t has no unused ones
    kit = Captioner(model_preset("kit", vocab_size=1000))
    assert count_parameters(kit) == 731_401 + 385 * 1000 - 16_512
    cfg = CaptionerConfig(vocab_size=10)
    assert cfg.hidden == 256 and cfg.part_pool == "mean"


@pytest.mark.parametrize("variant", [{}, {"spatial_scoring": "per_part"}])
def test_unobserved_parts_get_no_attention_and_do_not_matter(variant):
    """part_mask: the arms of a lower-body marker set get α = 0 at every step, and whatever the
    arm joints hold (missing markers) cannot change the caption's logits."""
    torch.manual_seed(0)
    m = Captioner(model_preset("tiny", vocab_size=30, **variant)).eval()
    x, mask, y = _batch()
    pm = torch.ones(3, 6)
    pm[:, 2:4] = 0                                        # left_arm, right_arm not observed
    logits, att = m(x, mask, y, pm)
    assert float(att.alpha[..., 2:4].abs().max().detach()) == 0.0
    real = mask[:, None, :, None].expand_as(att.alpha[..., :1])[..., 0]
    assert torch.allclose(att.alpha.sum(-1)[real], torch.ones(()), atol=1e-5)
    arms = [13, 16, 18, 20, 14, 17, 19, 21]
    x2 = x.clone()
    x2[:, :, arms] = torch.randn(3, x.shape[1], len(arms), 3) * 5
    logits2, _ = m(x2, mask, y, pm)
    assert torch.allclose(logits, logits2, atol=1e-5)
    logits3, _ = m(x2, mask, y)                           # without the mask the arms do matter
    assert not torch.allclose(logits, logits3, atol=1e-3)
