"""ONNX export + ONNX Runtime decoding: whole decoding loops give the torch decoder's tokens and
trace (1e-4), greedy and beam, for both skeletons and all model variants; stale graphs refused."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")

from m2t.models import ort_decoding as O  # noqa: E402
from m2t.models.checkpoint import Bundle, load_bundle, save_bundle  # noqa: E402
from m2t.models.config import model_preset  # noqa: E402
from m2t.models.decoding import _beam, decode  # noqa: E402
from m2t.models.errors import DeviceError  # noqa: E402
from m2t.models.export import export_dir, export_model  # noqa: E402
from m2t.models.features import Normalizer  # noqa: E402
from m2t.models.modeldir import ONNX_FILES, onnx_status  # noqa: E402
from m2t.models.network import Captioner  # noqa: E402
from m2t.models.vocab import EOS_ID, Vocab  # noqa: E402

TRACE = ("alpha", "window", "gamma", "centre", "width", "beta", "logprobs")


def _model(skeleton="t2m", **kw):
    """A random tiny captioner whose greedy captions end at different steps on _inputs(): sharper
    attention and context weights make the words depend on the motion; the <eos> bias is raised
    step by step until the captions of one batch have more than two lengths."""
    J = 21 if skeleton == "kit" else 22
    x, mask = _inputs(J)
    for seed in range(5):
        torch.manual_seed(seed)
        m = Captioner(model_preset("tiny", vocab_size=40, skeleton=skeleton, **kw)).eval()
        with torch.no_grad():
            for layer in (m.ctx, m.spat_out, m.temp_out):
                layer.weight.mul_(8)
            m.out.bias[EOS_ID] -= 1.0
            for _ in range(80):
                m.out.bias[EOS_ID] += 0.025
                if len({len(d.ids) for d in decode(m, x, mask, 1, 15)}) > 2:
                    return m
    raise AssertionError("no seed gave captions of varied length")


def _inputs(J, B=9, T=33, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, J, 3, generator=g)
    mask = torch.ones(B, T, dtype=torch.bool)
    for b in range(B):
        mask[b, T - 3 * b:] = False                      # clips of different lengths
    return x * mask[..., None, None], mask


def _assert_same(torch_out, ort_out):
    assert [d.ids for d in torch_out] == [d.ids for d in ort_out]
    for a, b in zip(torch_out, ort_out):
        assert abs(a.score - b.score) < 1e-4
        for k in TRACE:
            va, vb = getattr(a, k), getattr(b, k)
            assert va.shape == vb.shape, k
            np.testing.assert_allclose(va, vb, atol=1e-4, rtol=0, err_msg=k)


@pytest.mark.parametrize("skeleton,variant", [("t2m", {}), ("kit", {}),
                                              ("t2m", dict(spatial_scoring="per_part", part_pool="sum",
                                                           output_layer="single"))])
def test_whole_loops_match_torch(tmp_path, skeleton, variant):
    m = _model(skeleton, **variant)
    export_model(m, tmp_path, weights_sha256="-")
    runner = O.OrtCaptioner(tmp_path, device="cpu", threads=1)
    x, mask = _inputs(21 if skeleton == "kit" else 22)
    part_mask = torch.ones(x.shape[0], 6)
    part_mask[2, 3] = part_mask[4, 1:3] = 0.0                   # unobserved body parts (α = 0 there)
    lengths = set()
    for beam in (1, 2, 3):
        for pm in (None, part_mask):
            t_out = decode(m, x, mask, beam, 15, pm)
            o_out = O.decode(runner, x.numpy(), mask.numpy(), beam, 15, None if pm is None else pm.numpy())
            _assert_same(t_out, o_out)
            lengths |= {len(d.ids) for d in t_out}
    _assert_same(_beam(m, x, mask, 1, 15), O._beam(runner, x.numpy(), mask.numpy(), 1, 15))   # K = 1 beam code
    assert len(lengths) > 2                              # the loops really ended at different steps


def test_batch_size_and_frame_count_are_dynamic(tmp_path):
    m = _model()
    export_model(m, tmp_path, weights_sha256="-")
    runner = O.OrtCaptioner(tmp_path, device="cpu", threads=1)
    for B, T in ((1, 5), (40, 120)):
        x, mask = _inputs(22, B=B, T=T, seed=B)
        ref = decode(m, x, mask, 1, 12)
        _assert_same(ref, O.decode(runner, x.numpy(), mask.numpy(), 1, 12))
        _assert_same(ref, O.greedy(runner, x.numpy(), mask.numpy(), 12, chunk=7))   # chunks cut to their frames


def test_chunks_on_worker_threads_match_torch(tmp_path):
    """Several threads: equal chunks decoded concurrently on single-threaded sessions, greedy
    and beam; the same captions as torch on the whole batch."""
    m = _model()
    export_model(m, tmp_path, weights_sha256="-")
    runner = O.OrtCaptioner(tmp_path, device="cpu", threads=2)
    x, mask = _inputs(22, B=21, T=40, seed=3)
    for beam in (1, 2):
        ref = decode(m, x, mask, beam, 12)
        for chunk in (O.CHUNK, 4, None):
            _assert_same(ref, O.beam_search(runner, x.numpy(), mask.numpy(), beam, 12, chunk=chunk))
    assert runner.single_threaded() is not runner and runner.single_threaded().threads == 1


def test_small_batches_skip_intra_op_threads(tmp_path, monkeypatch):
    """A batch left whole (at most CHUNK clips) runs on the single-threaded sessions of a
    several-thread runner, greedy and beam, with the same captions as torch; with workers=False
    the runner's own sessions are used as asked."""
    m = _model()
    export_model(m, tmp_path, weights_sha256="-")
    runner = O.OrtCaptioner(tmp_path, device="cpu", threads=2)
    calls = []
    for sess in (runner.encoder, runner.decoder):
        monkeypatch.setattr(sess, "run", lambda *a, _run=sess.run, **k: calls.append(1) or _run(*a, **k))
    x, mask = _inputs(22, B=15, T=50, seed=5)
    for beam in (1, 2):
        _assert_same(decode(m, x, mask, beam, 12), O.beam_search(runner, x.numpy(), mask.numpy(), beam, 12))
    assert not calls
    O.greedy(runner, x.numpy(), mask.numpy(), 12, chunk=None, workers=False)
    assert calls


def _bundle_dir(tmp_path, m):
    save_bundle(tmp_path, Bundle(m, Vocab([f"w{i}" for i in range(36)]),
                                 Normalizer(np.zeros(3, np.float32), np.ones(3, np.float32)), 2, 1.0))
    return tmp_path


def test_stale_or_missing_graphs_are_refused(tmp_path):
    d = _bundle_dir(tmp_path, _model())
    assert "no ONNX export" in onnx_status(d)
    export_dir(d)
    assert onnx_status(d) is None
    save_bundle(d, load_bundle(d))                       # new weights: old graphs are removed
    assert not any((d / f).exists() for f in ONNX_FILES)
    export_dir(d)
    shutil.copy(d / "model.safetensors", d / "keep")
    with torch.no_grad():
        m = load_bundle(d).model
        m.out.bias += 1
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(d / "model.safetensors"))
    assert "other weights" in onnx_status(d)


def test_cuda_is_never_claimed_without_a_gpu():
    if O.cuda_usable():
        pytest.skip("a GPU is usable here")
    with pytest.raises(DeviceError, match="--device cuda"):
        O.OrtCaptioner("unused", device="cuda")
