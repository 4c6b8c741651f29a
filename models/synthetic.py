"""Small procedural HumanML3D-format datasets for tests and benchmarks (nothing copied).

Each motion class moves different body parts of the reference SMPL rest skeleton, so a model
can learn to tell them apart and its attention can be checked against the part that moved.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from m2t.converters.skeletons import T2M

# class -> (caption with UPOS tags, moving joints description)
CLASSES = {
    "walk": ["a person walks forward", "someone walks straight ahead"],
    "wave_left": ["a person waves the left hand", "someone waves with the left hand"],
    "wave_right": ["a person waves the right hand", "someone waves with the right hand"],
    "kick_left": ["a person kicks with the left leg", "someone kicks the left leg forward"],
    "raise_both": ["a person raises both hands", "someone lifts both arms up"],
    "turn": ["a person turns around", "someone turns in a circle"],
}
_TAGS = {"a": "DET", "the": "DET", "person": "NOUN", "someone": "PRON", "walks": "VERB", "forward": "ADV",
         "straight": "ADV", "ahead": "ADV", "waves": "VERB", "left": "ADJ", "right": "ADJ", "hand": "NOUN",
         "with": "ADP", "kicks": "VERB", "leg": "NOUN", "raises": "VERB", "both": "DET", "hands": "NOUN",
         "lifts": "VERB", "arms": "NOUN", "up": "ADV", "turns": "VERB", "around": "ADV", "in": "ADP",
         "circle": "NOUN"}
J = {n: i for i, n in enumerate(T2M.joint_names)}


def make_motion(kind: str, n_frames: int, rng: np.random.Generator, fps: float = 20.0) -> np.ndarray:
    """(T, 22, 3) metres, Y up, facing +Z, for one class with random speed/amplitude/phase."""
    t = np.arange(n_frames) / fps
    p = np.repeat(T2M.rest[None], n_frames, 0).copy()
    # arms down from the T-pose
    for side, sx in (("left", 1), ("right", -1)):
        sh = p[:, J[f"{side}_shoulder"]]
        p[:, J[f"{side}_elbow"]] = sh + [sx * 0.05, -0.28, 0]
        p[:, J[f"{side}_wrist"]] = sh + [sx * 0.07, -0.52, 0.02]
    f = rng.uniform(0.7, 1.3)
    ph = rng.uniform(0, 2 * np.pi)
    s = np.sin(2 * np.pi * f * t + ph)
    if kind == "walk":
        p[..., 2] += rng.uniform(0.8, 1.4) * t[:, None]
        for side, sign in (("left", 1), ("right", -1)):
            for j, a in (("knee", 0.15), ("ankle", 0.3), ("foot", 0.35)):
                p[:, J[f"{side}_{j}"], 2] += sign * a * s
    elif kind in ("wave_left", "wave_right"):
        side = kind.split("_")[1]
        sx = 1 if side == "left" else -1
        sh = p[:, J[f"{side}_shoulder"]]
        p[:, J[f"{side}_elbow"]] = sh + [sx * 0.25, 0.05, 0.05]
        p[:, J[f"{side}_wrist"]] = p[:, J[f"{side}_elbow"]] + np.stack(
            [sx * 0.1 * s, 0.25 + 0 * s, 0.05 + 0 * s], -1)
    elif kind == "kick_left":
        k = np.clip(s, 0, None)[:, None]
        for j, a in (("knee", 0.25), ("ankle", 0.5), ("foot", 0.6)):
            p[:, J[f"left_{j}"]] += k * [0, a * 0.5, a]
    elif kind == "raise_both":
        up = (0.5 + 0.5 * s)[:, None]
        for side in ("left", "right"):
            sh = p[:, J[f"{side}_shoulder"]]
            p[:, J[f"{side}_elbow"]] = sh + up * [0, 0.56, 0] + (1 - up) * [0, -0.28, 0]
            p[:, J[f"{side}_wrist"]] = sh + up * [0, 1.04, 0] + (1 - up) * [0, -0.52, 0]
    elif kind == "turn":
        ang = rng.uniform(1.5, 3.0) * t
        c, si = np.cos(ang)[:, None], np.sin(ang)[:, None]
        x, z = p[..., 0].copy(), p[..., 2].copy()
        p[..., 0], p[..., 2] = c * x + si * z, -si * x + c * z
    else:
        raise ValueError(kind)
    return (p + rng.normal(0, 0.003, p.shape)).astype(np.float32)


def tagged(caption: str) -> str:
    return " ".join(f"{w}/{_TAGS.get(w, 'NOUN')}" for w in caption.split())


def write_dataset(root, per_class: int = 4, classes=None, seed: int = 0, frames=(40, 120),
                  splits=(0.6, 0.2, 0.2), captions_per_motion: int = 2) -> Path:
    """Write ROOT/new_joints, ROOT/texts and train/val/test splits; returns ROOT."""
    root = Path(root)
    (root / "new_joints").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = {"train": [], "val": [], "test": []}
    n = 0
    for kind in classes or CLASSES:
        for k in range(per_class):
            mid = f"{n:06d}"
            n += 1
            T = int(rng.integers(frames[0], frames[1] + 1))
            np.save(root / "new_joints" / f"{mid}.npy", make_motion(kind, T, rng))
            caps = CLASSES[kind][:captions_per_motion]
            (root / "texts" / f"{mid}.txt").write_text(
                "".join(f"{c}.#{tagged(c)}#0.0#0.0\n" for c in caps))
            r = k / max(per_class, 1)
            split = "train" if r < splits[0] else "val" if r < splits[0] + splits[1] else "test"
            ids[split].append(mid)
    for split, lst in ids.items():
        (root / f"{split}.txt").write_text("".join(i + "\n" for i in lst))
    return root
