"""Training: overfitting a tiny set, resume == uninterrupted, checkpoints reload without pickle."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from m2t.models.checkpoint import load_bundle
from m2t.models.config import TrainConfig, model_preset
from m2t.models.synthetic import write_dataset
from m2t.models.training import train

REPO = Path(__file__).resolve().parents[1]


def _all_split(root: Path) -> Path:
    ids = sorted(p.stem for p in (root / "new_joints").glob("*.npy"))
    (root / "all.txt").write_text("".join(i + "\n" for i in ids))
    return root


def test_overfits_eight_captions(tmp_path):
    root = _all_split(write_dataset(tmp_path / "d", per_class=1, classes=["walk", "wave_left", "kick_left", "turn"],
                                    captions_per_motion=2, seed=3))
    tcfg = TrainConfig(epochs=300, batch_size=8, lr=3e-3, min_freq=1, min_frames=0, max_frames=1000,
                       train_split="all", val_split="all", seed=0, val_every=50)
    res = train(str(root), tmp_path / "m", model_preset("tiny", dropout=0.0), tcfg, device="cpu",
                log=lambda *a: None, max_steps=300)
    assert res.best_val_bleu4 >= 0.9, res.history[-1]
    lang = [h["loss_lang"] for h in res.history]
    assert lang[-1] < 0.2 * lang[0]


def _train(root, out, epochs, resume=False):
    tcfg = TrainConfig(epochs=epochs, batch_size=6, lr=2e-3, min_freq=1, min_frames=0, max_frames=1000, seed=7,
                       teacher_forcing=0.7)
    return train(str(root), out, model_preset("tiny"), tcfg, device="cpu", resume=resume, log=lambda *a: None)


def test_resume_gives_the_same_weights(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=3, seed=5)
    _train(root, tmp_path / "full", 4)
    _train(root, tmp_path / "part", 2)
    _train(root, tmp_path / "part", 4, resume=True)
    a = load_file(str(tmp_path / "full" / "last" / "state.safetensors"))
    b = load_file(str(tmp_path / "part" / "last" / "state.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        if k != "rng.torch":
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    ha = json.loads((tmp_path / "full" / "config.json").read_text())["history"]
    hb = json.loads((tmp_path / "part" / "config.json").read_text())["history"]
    assert [h["loss_lang"] for h in ha] == [h["loss_lang"] for h in hb]


def test_checkpoint_reloads_in_fresh_process_without_pickle(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=2, seed=9)
    tcfg = TrainConfig(epochs=2, batch_size=8, min_freq=1, min_frames=0, max_frames=1000)
    train(str(root), tmp_path / "m", model_preset("tiny"), tcfg, device="cpu", log=lambda *a: None)
    files = sorted(p.name for p in (tmp_path / "m").iterdir() if p.is_file())
    assert files == ["config.json", "model.safetensors"]
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert {"vocab", "normalization", "model", "dataset_fingerprint", "metrics", "m2t_version", "synonyms"} <= set(cfg)
    script = f"""
import pickle, torch, json, numpy as np
def boom(*a, **k): raise AssertionError("unpickling attempted")
setattr(pickle, "load", boom); setattr(pickle, "loads", boom); setattr(torch, "load", boom)
from m2t.models.checkpoint import load_bundle
from m2t.models.decoding import greedy
from m2t.models.features import motion_features
from m2t.models.batching import batch_features
b = load_bundle({str(tmp_path / 'm')!r})
j = np.load({str(root / 'new_joints' / '000000.npy')!r})
x, m = batch_features([motion_features(j, b.norm, b.downsample)], 'cpu')
print(json.dumps(greedy(b.model, x, m, 15)[0].ids))
"""
    outs = [subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert outs[0] == outs[1]
    b = load_bundle(tmp_path / "m")
    from m2t.models.decoding import greedy
    from m2t.models.features import motion_features
    from m2t.models.batching import batch_features
    x, m = batch_features([motion_features(np.load(root / "new_joints" / "000000.npy"), b.norm, b.downsample)], "cpu")
    assert json.loads(outs[0]) == greedy(b.model, x, m, 15)[0].ids


def test_missing_model_dir_is_a_clear_error(tmp_path):
    from m2t.models.errors import ModelDirError
    with pytest.raises(ModelDirError, match="model directory not found"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(ModelDirError, match=r"model.safetensors missing"):
        load_bundle(tmp_path / "half")


def test_part_dropout_masks_limbs_but_never_a_supervised_one():
    from m2t.models.training import DROPOUT_PATTERNS, part_dropout
    assert part_dropout(torch.zeros(4, 3, 6), 0.0, None) is None
    alpha = -torch.ones(64, 3, 6)
    alpha[:32, 1] = torch.tensor([0, 0, 1.0, 0, 0, 0])    # "waves the left hand": left arm supervised
    g = torch.Generator().manual_seed(0)
    pm = part_dropout(alpha, 1.0, g)
    assert pm.shape == (64, 6) and bool((pm[:, :2] == 1).all())        # root and torso always kept
    assert bool((pm[:32, 2] == 1).all())                                # the waving arm is never dropped
    dropped = [tuple(int(i) for i in torch.nonzero(r == 0)[:, 0]) for r in pm[32:]]
    assert all(d in DROPOUT_PATTERNS for d in dropped)                  # p = 1: every free sample drops a pattern


def test_train_only_moves_the_named_parameters_alone(tmp_path):
    """--train-only '^spat_' (fine-tuning where the spatial attention looks, the rest frozen):
    only the spatial attention's weights change; a pattern that matches nothing is one error."""
    from m2t.converters.errors import ConfigError
    root = write_dataset(tmp_path / "d", per_class=2, seed=5)
    base = tmp_path / "base"
    _train(root, base, 1)
    tcfg = TrainConfig(epochs=1, batch_size=6, lr=2e-3, min_freq=1, min_frames=0, max_frames=1000, seed=7,
                       train_only="^spat_")
    train(str(root), tmp_path / "ft", model_preset("tiny"), tcfg, device="cpu", log=lambda *a: None, init_from=base)
    a = load_bundle(base).model.state_dict()
    b = load_bundle(tmp_path / "ft").model.state_dict()
    moved = {k for k in a if not torch.equal(a[k], b[k])}
    assert moved and all(k.startswith("spat_") for k in moved), moved
    with pytest.raises(ConfigError, match="not a regular expression"):
        train(str(root), tmp_path / "bad", model_preset("tiny"), TrainConfig(epochs=1, min_frames=0, train_only="spat_("),
              device="cpu", log=lambda *a: None, init_from=base)
    with pytest.raises(ConfigError, match="matches no parameter"):
        train(str(root), tmp_path / "none", model_preset("tiny"), TrainConfig(epochs=1, min_frames=0, train_only="^nope"),
              device="cpu", log=lambda *a: None, init_from=base)
