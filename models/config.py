"""Hyperparameters of the captioner and of training, as plain dataclasses saved to JSON.

Presets follow the official code (reference-notes §3, §5): KIT H=D=128, E=64; HumanML3D
H=D=256, E=128. Where the paper and the official code differ, the default is the code's (it
produced the published numbers) and the paper's variant is a switch (docs/model.md).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

from m2t.converters.errors import ConfigError


@dataclass
class CaptionerConfig:
    skeleton: str = "t2m"            # "t2m" (22 joints) or "kit" (21 joints): fixes the body parts
    vocab_size: int = 0              # set from the vocabulary
    hidden: int = 256                # H: part feature size (pos H/2 + vel H/2), LSTM hidden size
    proj: int = 256                  # D: encoder MLP width and attention / projection width
    emb: int = 128                   # E: word embedding size
    dropout: float = 0.5             # on the word-embedding paths (as the official code)
    part_pool: str = "mean"          # Eq. 8 over parts: "mean" (code) or "sum" (paper)
    spatial_scoring: str = "concat"  # Eq. 5: "concat" (code: logits from all parts) or "per_part" (paper)
    output_layer: str = "mix"        # Eq. 10: "mix" (code: W_out tanh(W_mix x)) or "single" (paper: W_f x)
    sigma_min: float = 1e-3          # floor of the Gaussian width σ_t, in frames (no NaN at σ -> 0)

    def __post_init__(self):
        choices = {"skeleton": ("t2m", "kit"), "part_pool": ("mean", "sum"),
                   "spatial_scoring": ("concat", "per_part"), "output_layer": ("mix", "single")}
        for k, allowed in choices.items():
            if getattr(self, k) not in allowed:
                raise ConfigError(f"{k} must be one of {', '.join(allowed)}, got {getattr(self, k)!r}")
        if self.hidden % 2:
            raise ConfigError(f"hidden must be even (positions and velocities get H/2 each), got {self.hidden}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CaptionerConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


PRESETS = {
    "kit": dict(skeleton="kit", hidden=128, proj=128, emb=64),
    "hml3d": dict(skeleton="t2m", hidden=256, proj=256, emb=128),
    "tiny": dict(hidden=32, proj=32, emb=16),   # tests and quick experiments
}


@dataclass
class TrainConfig:
    epochs: int = 70
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 1e-5
    grad_clip: float = 1.0
    teacher_forcing: float = 1.0     # probability of feeding the ground-truth token (1 = full teacher forcing)
    lambda_spat: float = 2.0         # λ_spat (Eq. 14)
    lambda_adapt: float = 3.0        # λ_adapt (Eq. 14)
    lambda_temp: float = 0.0         # λ_temp (m2t extension, off: windows cover known action frames)
    temp_slack: float = 0.1          # λ_temp tolerance: overshoot allowed per end, × action length
    seed: int = 1234
    min_freq: int = 3                # vocabulary: rarer train tokens map to <unk>
    min_frames: int = 40             # raw frames (HML3D: 40-200 at 20 fps)
    max_frames: int = 200
    max_caption_tokens: int = 20     # incl. <sos>/<eos>, training only
    downsample: int = 2              # keep frames 1, 3, 5, ... (offset s // 2)
    mirror: bool = False             # add left/right mirrored samples (when the dataset has no M files)
    val_every: int = 1               # validate (and maybe select) every N epochs and at the last one
    keep_epochs: bool = False        # also save every epoch's model to OUT/epochs/NNN
    max_decode_len: int = 30
    side_aware: bool = True          # α targets restricted to the named side ("left hand")
    extended_words: bool = True      # m2t's extra motion-word lists on top of the paper's Table 5
    part_dropout: float = 0.0        # m2t: mask limbs of this share of samples (partial marker sets)
    train_split: str = "train"
    val_split: str = "val"
    train_only: str | None = None    # regex over parameter names: only these train (e.g. "^spat_"), the rest frozen

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        """Raise ConfigError naming the option (as its `m2t train` flag) for a value training cannot
        use, before any data is read (`--epochs 0` "wrote" a model that did not exist; `--batch-size 0`
        ended in a ValueError after loading the data)."""
        rules = (("epochs", self.epochs >= 1, ">= 1"), ("batch_size", self.batch_size >= 1, ">= 1"),
                 ("lr", self.lr > 0, "> 0"), ("weight_decay", self.weight_decay >= 0, ">= 0"),
                 ("min_freq", self.min_freq >= 1, ">= 1"), ("val_every", self.val_every >= 1, ">= 1"),
                 ("min_frames", self.min_frames >= 0, ">= 0"),
                 ("max_frames", self.max_frames >= max(self.min_frames, 1), f">= --min-frames ({self.min_frames}) and >= 1"),
                 ("teacher_forcing", 0 <= self.teacher_forcing <= 1, "in [0, 1]"),
                 ("part_dropout", 0 <= self.part_dropout <= 1, "in [0, 1]"),
                 ("lambda_spat", self.lambda_spat >= 0, ">= 0"), ("lambda_adapt", self.lambda_adapt >= 0, ">= 0"),
                 ("lambda_temp", self.lambda_temp >= 0, ">= 0"), ("temp_slack", self.temp_slack >= 0, ">= 0"))
        for name, ok, rule in rules:
            if not ok:
                raise ConfigError(f"--{name.replace('_', '-')} must be {rule}, got {getattr(self, name)}")
        if self.train_only is not None:
            try:
                re.compile(self.train_only)
            except re.error as e:
                raise ConfigError(f"--train-only {self.train_only!r}: not a regular expression ({e})") from None

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


TRAIN_PRESETS = {
    "kit": dict(epochs=200, batch_size=64, weight_decay=1e-4, min_frames=0, max_frames=100000,
                max_caption_tokens=1000, lambda_spat=2.0, lambda_adapt=3.0),
    "hml3d": dict(epochs=70, batch_size=128, weight_decay=1e-5, lambda_spat=0.0, lambda_adapt=3.0),
}


def model_preset(name: str, **overrides) -> CaptionerConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return CaptionerConfig(**{**PRESETS[name], **overrides})
