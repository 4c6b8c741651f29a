"""One encoder pass per batch for a calibrated model: decoding hands back the encoder output it ran
(`Decoded.parts`) for the in-domain score, on both backends, with the scores of a separate
encoder pass (what captioning did before)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from m2t.models import captioning as C
from m2t.models.captioning import caption_files, default_model_dir, load_model
from m2t.models.confidence import for_model
from m2t.models.writers import caption_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT = default_model_dir()
pytestmark = pytest.mark.skipif(not (DEFAULT / "confidence.json").exists(), reason="no calibrated default model")


@pytest.fixture(scope="module")
def walks(tmp_path_factory) -> list[Path]:
    """The example walk (dense), three short synthetic walks (one caption each) and an 8 s one (dense)."""
    from m2t.converters.synthetic import write_walk_bvh
    d = tmp_path_factory.mktemp("walks")
    paths = [REPO / "examples" / "walk.bvh"]
    for s in (1.5, 2.2, 3.4, 8.0):
        write_walk_bvh(d / f"walk{s}.bvh", seconds=s)
        paths.append(d / f"walk{s}.bvh")
    return paths


def _count_encoder(monkeypatch, backend: str) -> list[int]:
    """Patch the backend's encoder to record the clips of every call."""
    calls: list[int] = []
    if backend == "onnx":
        from m2t.models.ort_decoding import OrtCaptioner as cls
    else:
        from m2t.models.network import Captioner as cls
    orig = cls.encode

    def encode(self, x, *a, **k):
        calls.append(int(x.shape[0]))
        return orig(self, x, *a, **k)
    monkeypatch.setattr(cls, "encode", encode)
    return calls


def _old_way(bundle, items, beam=1):
    """What captioning did before: decode, then a second encoder pass over the batch for the parts."""
    from m2t.models.features import pad_features
    decs = C._decode(bundle, items, beam, C._max_len(bundle), None)
    pm = np.stack([p for _, p in items])
    pm = None if pm.all() else pm
    if C.OnnxBundle is not None and isinstance(bundle, C.OnnxBundle):
        x, mask = pad_features([f for f, _ in items])
        parts = bundle.runner.encode(x, mask, pm)["parts"]
    else:
        import torch
        from m2t.models.batching import batch_features
        x, mask = batch_features([f for f, _ in items], "cpu")
        with torch.no_grad():
            parts = bundle.model.encode(x, mask).parts.numpy()
    return decs, parts


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_encoder_runs_once_per_clip_when_calibrated(walks, backend, monkeypatch):
    bundle = load_model(backend=backend)
    assert for_model(bundle) is not None
    calls = _count_encoder(monkeypatch, backend)
    short = walks[1:4]                                                 # 1.5-3.4 s, one caption each: one batch
    out = caption_files(short, bundle, batch_size=16, dense_after_s=4.0)
    assert all(fc.ok for fc in out) and all(s["in_domain"] is not None for fc in out for s in fc.result.segments)
    assert sum(calls) == len(short)                                    # every clip encoded once
    calls.clear()
    dense = [fc.result for fc in caption_files(walks, bundle, batch_size=16)]   # + windows and actions
    with_scores = list(calls)
    assert len(with_scores) > 3 and all(s["in_domain"] is not None for r in dense for s in r.segments)
    calls.clear()
    monkeypatch.setattr(C, "_calibrated", lambda b: False)              # no scores: decoding alone
    plain = [fc.result for fc in caption_files(walks, bundle, batch_size=16)]
    assert all(s["in_domain"] is None for r in plain for s in r.segments)
    assert with_scores == calls                                        # the scores cost no encoder pass


@pytest.mark.parametrize("backend", ["onnx", "torch"])
@pytest.mark.parametrize("beam", [1, 2])
def test_in_domain_scores_equal_a_separate_encoder_pass(walks, backend, beam):
    bundle = load_model(backend=backend)
    short = walks[1:4]                                               # one caption each (dense_after_s 4)
    new = [fc.result for fc in caption_files(short, bundle, beam=beam, batch_size=16, dense_after_s=4.0)]
    ms = [C._as_motion(p, bundle, {}) for p in short]
    items = [(C._features(m, bundle), C._part_mask(m, bundle, [])) for m in ms]
    decs, parts = _old_way(bundle, items, beam)
    for r, m, dec, p in zip(new, ms, decs, parts):
        assert dec.parts is None
        old = C.build_result(dec, bundle, r.source, m.n_frames, m.fps, "fwhm", beam, r.warnings, p)
        assert [s["in_domain"] for s in old.segments] == [s["in_domain"] for s in r.segments]
        assert caption_json(old) == caption_json(r)


@pytest.mark.parametrize("beam", [1, 2])
def test_onnx_parts_of_chunks_equal_one_encoder_pass_over_the_batch(beam):
    """Decoding splits a batch into chunks cut to their longest clip (one after another here, on
    one thread); each clip's parts are bit for bit those of one encoder pass over the whole
    padded batch."""
    from m2t.models import ort_decoding as O
    from m2t.models.onnx_model import load_onnx_bundle
    runner = load_onnx_bundle(DEFAULT, "cpu", threads=1).runner
    rng = np.random.default_rng(0)
    B, T = O.CHUNK + 30, 50
    x = rng.normal(size=(B, T, 22, 3)).astype(np.float32)
    n = rng.integers(3, T + 1, B)
    mask = np.arange(T)[None] < n[:, None]
    whole = runner.encode(x, mask)["parts"]
    for chunk in (O.CHUNK, 7):
        decs = O.decode(runner, x, mask, beam, 6, with_parts=True) if chunk == O.CHUNK else \
            O.beam_search(runner, x, mask, beam, 6, chunk=chunk, workers=False, with_parts=True)
        assert all(d.parts.shape == (k, 6, whole.shape[-1]) for d, k in zip(decs, n))
        assert all(np.array_equal(d.parts, whole[b, :k]) for b, (d, k) in enumerate(zip(decs, n)))


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_parts_with_a_part_mask_equal_a_separate_masked_encoder_pass(walks, backend):
    """A clip with unobserved arms: the parts decoding hands back are the masked encoder output."""
    bundle = load_model(backend=backend)
    m = C._as_motion(walks[2], bundle, {})
    pm = np.ones(6, np.float32)
    pm[2:4] = 0                                                        # left_arm, right_arm unobserved
    items = [(C._features(m, bundle), pm), (C._features(m, bundle), np.ones(6, np.float32))]
    decs = C._decode(bundle, items, 1, C._max_len(bundle), None, with_parts=True)
    if backend == "onnx":
        from m2t.models.features import pad_features
        x, mask = pad_features([f for f, _ in items])
        parts = bundle.runner.encode(x, mask, np.stack([p for _, p in items]))["parts"]
    else:
        import torch
        from m2t.models.batching import batch_features
        x, mask = batch_features([f for f, _ in items], "cpu")
        with torch.no_grad():
            parts = bundle.model.encode(x, mask, part_mask=torch.from_numpy(np.stack([p for _, p in items]))).parts.numpy()
    assert not decs[0].parts[:, 2:4].any() and decs[1].parts[:, 2:4].any()
    for d, p in zip(decs, parts):
        assert np.abs(d.parts - p[:len(d.parts)]).max() < 1e-5     # torch decodes tanh in sigmoid form


def test_jobs_workers_give_the_same_in_domain_scores(walks):
    bundle = load_model(backend="onnx")
    one = [fc.result for fc in caption_files(walks, bundle, batch_size=16)]
    two = [fc.result for fc in caption_files(walks, bundle, batch_size=16, jobs=2)]
    assert all(s["in_domain"] is not None for r in two for s in r.segments)
    assert [caption_json(a) for a in one] == [caption_json(b) for b in two]


def test_timeline_scores_are_the_in_domain_scores_of_caption_segments(tmp_path):
    from m2t.converters.motion import Motion
    from m2t.converters.skeletons import get_skeleton
    from m2t.models.captioning import caption_motion
    from m2t.models.compose import compose_dataset
    from m2t.models.confidence import timeline_scores
    from m2t.models.data import load_samples, read_split
    from m2t.models.synthetic import write_dataset
    src = write_dataset(tmp_path / "src", per_class=5, frames=(60, 100), seed=5)
    compose_dataset(src, tmp_path / "c", {"train": 0, "val": 0, "test": 2}, seed=0, max_actions=3)
    bundle = load_model(backend="torch")
    scores = timeline_scores(bundle, tmp_path / "c", "test")
    samples, _ = load_samples(tmp_path / "c", read_split(tmp_path / "c", "test"))
    names = get_skeleton("t2m").joint_names
    want = [a["in_domain"] for s in samples
            for a in caption_motion(Motion(s.joints, 20.0, names, skeleton="t2m"), bundle, dense_after_s=0.0).segments]
    assert len(scores) == len(want) > 0 and np.allclose(scores, want) and ((0 <= scores) & (scores <= 1)).all()
