"""Shared fixtures. Real data is found through M2T_DATA (default ../shared/data) and tests that
need it skip when it is absent; every other fixture is written by the project's own writers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("M2T_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"real data not found at {d} (set M2T_DATA)")
    return d


def need(path: Path) -> Path:
    """Skip the calling test when one real-data file or folder is missing."""
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


def pytest_configure(config):
    # tiny test models run faster on one thread than with two threads' synchronisation
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny captioner trained on the synthetic dataset (~6 s on one CPU thread); its directory."""
    from m2t.models.config import TrainConfig, model_preset
    from m2t.models.synthetic import write_dataset
    from m2t.models.training import train
    base = tmp_path_factory.mktemp("tiny_model")
    root = write_dataset(base / "data", per_class=5)
    train(str(root), base / "model", model_preset("tiny", dropout=0.0),
          TrainConfig(epochs=40, batch_size=8, lr=3e-3, min_freq=1, min_frames=0, max_frames=1000, val_every=10),
          device="cpu", log=lambda *a: None)
    return base / "model"
