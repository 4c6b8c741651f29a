"""HumanML3D-format datasets: reading, filtering, mirroring (numpy only: `dataset build` and dataset
readers never import torch; padded torch batches are in models/batching.py).

Layout (HumanML3D; KIT-ML in the same layout with 21 joints):
  ROOT/new_joints/<id>.npy   (T, J, 3) float32 joint positions (J = 22 t2m metres, 21 KIT mm)
  ROOT/texts/<id>.txt        one caption per line: ``caption#word/POS word/POS ...#start#end``
  ROOT/train.txt val.txt test.txt   one id per line
Sub-segment times (#start#end) are ignored: every caption describes the whole motion (as the
reference). Statistics and vocabulary come from the train split only (models/training.py).
Composed sequences (`m2t dataset compose`) also have ROOT/segments/<id>.json: each caption's
tokens then carry their action's frames (`Caption.frames`), the targets of λ_temp.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from m2t.converters.skeletons import get_skeleton

from .errors import DatasetError
from .features import Normalizer, motion_features
from .tagging import align_hml3d_tags, parse_hml3d_tags
from .vocab import Vocab, tokenize




DATASET_ENV = {"hml3d": ("M2T_HML3D_DIR", "dataset/HumanML3D"), "kit": ("M2T_KIT_DIR", "dataset/KIT-ML")}
MIRROR_WORDS = {"left": "right", "right": "left", "clockwise": "counterclockwise",
                "counterclockwise": "clockwise", "anticlockwise": "clockwise", "leftward": "rightward",
                "rightward": "leftward", "leftwards": "rightwards", "rightwards": "leftwards"}


@dataclass
class Caption:
    text: str
    tokens: list[str]
    pos: list[str] | None = None       # UPOS per token when the dataset's tags align with `tokens`
    lemmas: list[str] | None = None    # the dataset's own token field (HumanML3D: lemmas), when present
    frames: list | None = None         # per token (start, end) source frames of its action, or None


@dataclass
class Sample:
    id: str
    joints: np.ndarray                 # (T, J, 3) dataset units
    captions: list[Caption] = field(default_factory=list)


def resolve_dataset(name_or_dir: str) -> tuple[Path, str | None]:
    """'hml3d' | 'kit' | a directory -> (root, preset name or None)."""
    if name_or_dir in DATASET_ENV:
        env, default = DATASET_ENV[name_or_dir]
        root = Path(os.environ.get(env, default))
        if not root.is_dir():
            raise DatasetError(f"{root}: {name_or_dir} dataset not found; set {env} to its folder "
                               f"(with new_joints/, texts/, train.txt) or pass the folder itself")
        return root, name_or_dir
    root = Path(name_or_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder (expected 'hml3d', 'kit' or a HumanML3D-format folder)")
    return root, None


def parse_caption_line(line: str) -> Caption | None:
    """'a man kicks.#a/DET man/NOUN kick/VERB#0.0#0.0' -> Caption (tags kept when they align)."""
    parts = line.rstrip("\n").split("#")
    text = parts[0].strip()
    if not text:
        return None
    tokens = tokenize(text)
    pos = lemmas = None
    if len(parts) > 1 and parts[1].strip():
        try:
            words, tags = parse_hml3d_tags(parts[1])
            pos = align_hml3d_tags(tokens, words, tags)
            lemmas = [w for w in words if tokenize(w)] or None      # punctuation items dropped
        except ValueError:
            pos = None
    return Caption(text, tokens, pos, lemmas)


def read_split(root, split: str) -> list[str]:
    root = Path(root)
    f = root / f"{split}.txt"
    if not f.is_file():
        raise DatasetError(f"{f}: split file not found (have: "
                           f"{', '.join(sorted(p.stem for p in root.glob('*.txt'))) or 'none'})")
    return [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]


def load_samples(root: Path, ids, joints_dir: str = "new_joints") -> tuple[list[Sample], int]:
    """Samples that have both joints and captions -> (samples, number of ids skipped)."""
    out, skipped = [], 0
    for i in ids:
        jf, tf = root / joints_dir / f"{i}.npy", root / "texts" / f"{i}.txt"
        if not (jf.is_file() and tf.is_file()):
            skipped += 1
            continue
        try:
            joints = np.load(jf, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DatasetError(f"{jf}: cannot load ({e})") from None
        if joints.ndim != 3 or joints.shape[-1] != 3 or not np.isfinite(joints).all():
            raise DatasetError(f"{jf}: expected finite (frames, joints, 3) positions, got shape {joints.shape}")
        caps = read_captions(root, i)
        if caps:
            out.append(Sample(i, joints.astype(np.float32), caps))
        else:
            skipped += 1
    return out, skipped


def read_captions(root: Path, i: str) -> list[Caption]:
    """The captions of one id (texts/<id>.txt), with their action frames when it is a composed
    sequence (segments/<id>.json); [] when it has no text file."""
    tf = root / "texts" / f"{i}.txt"
    if not tf.is_file():
        return []
    caps = [c for c in (parse_caption_line(ln) for ln in tf.read_text(encoding="utf-8").splitlines()) if c]
    attach_action_frames(caps, root / "segments" / f"{i}.json")
    return caps


def attach_action_frames(captions: list[Caption], segments_json: Path) -> None:
    """Give each caption listed in a composed sequence's segments JSON its per-token action
    frames (source frames, [start, end)); tokens between actions (connectors) get None."""
    if not segments_json.is_file():
        return
    doc = json.loads(segments_json.read_text())
    fps, acts = float(doc["fps"]), doc["actions"]
    spans = {c["text"]: c["spans"] for c in doc.get("captions", [])}
    for c in captions:
        sp = spans.get(c.text)
        if sp is None or len(sp) != len(acts):
            continue
        frames = [None] * len(c.tokens)
        for (a, b), act in zip(sp, acts):
            for k in range(a, min(b, len(frames))):
                frames[k] = (act["start_s"] * fps, act["end_s"] * fps)
        c.frames = frames


def skeleton_of(samples) -> str:
    joints = {s.joints.shape[1] for s in samples}
    if joints == {22}:
        return "t2m"
    if joints == {21}:
        return "kit"
    raise DatasetError(f"motions have {sorted(joints)} joints; expected 22 (t2m) or 21 (kit)")


def mirror_sample(s: Sample, skeleton: str) -> Sample:
    """Left/right mirror: negate x, swap left and right joints, swap side words in captions."""
    skel = get_skeleton(skeleton)
    j = s.joints[:, list(skel.mirror)].copy()
    j[..., 0] *= -1
    caps = []
    for c in s.captions:
        toks = [MIRROR_WORDS.get(t, t) for t in c.tokens]
        lem = None if c.lemmas is None else [MIRROR_WORDS.get(t, t) for t in c.lemmas]
        caps.append(Caption(" ".join(toks), toks, c.pos, lem, c.frames))
    return Sample("M" + s.id, j, caps)


def fingerprint(samples) -> str:
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s.id):
        h.update(f"{s.id}:{s.joints.shape[0]}:{'|'.join(c.text for c in s.captions)}\n".encode())
    return h.hexdigest()[:16]


@dataclass
class Item:
    """One (motion, caption) training pair, preprocessed."""
    x: np.ndarray          # (T', J, 3) features
    ids: np.ndarray        # (L + 2,) <sos> w1..wL <eos>
    beta: np.ndarray       # (L + 1,) β target per predicted token (w1..wL, <eos>), -1 = unsupervised
    alpha: np.ndarray      # (L + 1, 6) α target, -1 = unsupervised
    sample: int            # index of the motion in the sample list
    seg: np.ndarray | None = None   # (L + 1, 2) action [first, last] feature frame per motion word, -1 = none


def make_items(samples, norm: Normalizer, vocab: Vocab, downsample: int, targets_fn,
               max_caption_tokens: int | None = None) -> list[Item]:
    """Flatten (motion, caption) pairs. targets_fn(tokens, pos) -> (β (L,), α (L, 6))."""
    items = []
    for si, s in enumerate(samples):
        x = motion_features(s.joints, norm, downsample)
        for c in s.captions:
            ids = np.array(vocab.encode(c.tokens), dtype=np.int64)
            if max_caption_tokens and len(ids) > max_caption_tokens:
                continue
            if len(ids) < 3:
                continue
            b, a = targets_fn(c.tokens, c.pos)
            beta = np.concatenate([b, [-1.0]]).astype(np.float32)           # <eos>: unsupervised
            alpha = np.concatenate([a, -np.ones((1, 6))]).astype(np.float32)
            seg = action_targets(c.frames, b, downsample, x.shape[0]) if c.frames else None
            items.append(Item(x, ids, beta, alpha, si, seg))
    return items


def action_targets(frames: list, beta: np.ndarray, downsample: int, n_feature_frames: int) -> np.ndarray:
    """(L + 1, 2) [first, last] feature frame of the action of every motion word (β target 1)
    that lies in an action; -1 elsewhere (and at <eos>). Source frame f is feature frame
    (f - downsample//2) / downsample; an action [start, end) covers source frames start..end-1."""
    seg = -np.ones((len(beta) + 1, 2), np.float32)
    off = downsample // 2
    for i, (fr, b) in enumerate(zip(frames, beta)):
        if fr is None or b != 1:
            continue
        lo = np.clip((fr[0] - off) / downsample, 0, n_feature_frames - 1)
        hi = np.clip((fr[1] - 1 - off) / downsample, 0, n_feature_frames - 1)
        seg[i] = (lo, max(lo, hi))
    return seg


def prune_samples(root, keep) -> int:
    """Delete the samples of a dataset folder that are not in `keep` (ids): `new_joints/<id>.npy`,
    `texts/<id>.txt`, `segments/<id>.json|txt`. `m2t dataset build` / `compose` call it when they
    write into a folder an earlier build or compose wrote, so it holds only what this run wrote.
    Returns the number of files deleted."""
    root, keep, n = Path(root), set(keep), 0
    for sub, exts in (("new_joints", (".npy",)), ("texts", (".txt",)), ("segments", (".json", ".txt"))):
        d = root / sub
        for f in d.iterdir() if d.is_dir() else []:
            if f.suffix in exts and f.stem not in keep and f.is_file():
                f.unlink()
                n += 1
    return n
