"""`m2t dataset compose`: multi-action sequences with exact boundaries from a single-action dataset.

From a HumanML3D-format dataset (e.g. the output of `m2t dataset build`), each composed
sequence chains 2-4 real labelled clips **of the same split** (test takes never reach the
composed train split), all on the source's canonical skeleton:

- **clip choice**: per split, a label is drawn with probability ∝ sqrt(its clip count) (rare
  labels are seen more often than in the source, without repeating their few clips all the
  time), then a clip of that label uniformly (the label
  is `manifest.csv`'s, with the side of its first caption so mirrored clips count apart; without
  a manifest, the first caption); two neighbouring clips never share a label; clips outside
  [`min_clip_frames`, `max_clip_frames`] are skipped.
- **transition**: clip B is turned about the vertical axis so that its facing at its first
  frames equals A's facing at the start of the overlap, and moved on the floor so that its root
  starts where A's root is then (height untouched): root position and facing are continuous.
  The last `n` frames of A and the first `n` frames of B are then cross-faded with smoothstep
  weights (`n` = `blend_s`·fps, at most a third of either clip).
- **ground truth**: action i spans [start_s, end_s); a boundary is the middle of its cross-fade,
  so the actions tile [0, duration]. Body parts and side come from the action's caption:
  parts = the α-target columns of its first dictionary motion word (`supervision.caption_targets`),
  side = left / right / both when the caption names exactly that, else null.
- **captions**: "<first action caption>, then <next without its subject>, then ...": one
  paraphrase per action drawn at random, `captions_per_sequence` captions per sequence.

Output (HumanML3D layout plus ground truth), ids `cmp_<split>_<n>`:
  OUT/new_joints/<id>.npy             (T, J, 3) float32, the source's units and frame rate
  OUT/texts/<id>.txt                  composed captions, `caption#word/TAG ...#0.0#0.0`
  OUT/segments/<id>.txt               per action, each paraphrase of its clip: `caption#tags#start#end`
  OUT/segments/<id>.json              schema "m2t.composed/1" (docs/evaluation.md)
  OUT/train.txt val.txt test.txt, OUT/compose.json (options, counts)
With `with_singles`, the source clips are copied too and listed in their own split; with
`crops`, train and val also get clips cut from the composed sequences as dense captioning sees
a take (`crops_of`: every action with up to 0.5 s of its neighbours, and short windows).
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from m2t.converters.api import check_out_dir
from m2t.converters.canonical import facing_angle, facing_angles
from m2t.converters.fileio import write_text_atomic
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from .data import (MIRROR_WORDS, DatasetError, load_samples, prune_samples, read_split, resolve_dataset,
                   skeleton_of)
from .supervision import caption_targets
from .tagging import tag
from .vocab import tokenize

SCHEMA = "m2t.composed/1"
SPLITS = ("train", "val", "test")
CONNECTORS = (", then", " and then")
_SIDE_WORDS = ("left", "right")


@dataclass
class Clip:
    id: str
    joints: np.ndarray           # (T, J, 3)
    captions: list               # [(text, tokens, pos)]
    label: str


# ---------------------------------------------------------------------------------- geometry
def facing_yaw(joints: np.ndarray, skel, frames: slice = slice(None)) -> float:
    """Heading (radians from +Z towards +X) of the mean pose over `frames`, by the canonical
    rule `converters.canonical.facing_angle` (forward = up × (hips + shoulders, right - left)).
    `skel`: the Skeleton."""
    return facing_angle(joints[frames].mean(0), skel)


def turn_and_place(joints: np.ndarray, yaw, root_xz, root_idx: int = 0) -> np.ndarray:
    """Rotate about the vertical axis through the first frame's root by `yaw` (radians, +Z
    towards +X), then move that root onto `root_xz` (x, z); heights unchanged. A stack of clips
    (W, T, J, 3) takes one yaw (W,) and one root_xz (W, 2) per clip (or one for all)."""
    p = joints.astype(np.float64)                               # a copy
    per = p.shape[:-3] + (1, 1)                                 # per clip, broadcast over (T, J)
    pivot = p[..., 0, root_idx, :]
    yaw, root_xz = np.asarray(yaw, np.float64), np.asarray(root_xz, np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    if yaw.ndim:
        c, s = c.reshape(per), s.reshape(per)
    x, z = p[..., 0] - pivot[..., 0, None, None], p[..., 2] - pivot[..., 2, None, None]
    rx, rz = root_xz[..., 0], root_xz[..., 1]
    if root_xz.ndim > 1:
        rx, rz = rx.reshape(per), rz.reshape(per)
    p[..., 0], p[..., 2] = c * x + s * z + rx, -s * x + c * z + rz
    return p


def place_at_origin(joints: np.ndarray, skel) -> np.ndarray:
    """A clip as training clips are: root on the origin, facing +Z over its first 3 frames (only
    moved when the facing is undefined, e.g. hips and shoulders on one vertical line). A stack
    of equal-length clips (W, T, J, 3) is placed clip by clip, in one pass (dense captioning's
    windows), with the same numbers as one at a time."""
    yaw = -facing_angles(joints[..., :3, :, :].mean(-3), skel)
    yaw = np.where(np.isnan(yaw), 0.0, yaw)
    return turn_and_place(joints, yaw, np.zeros(2)).astype(np.float32)


def blend_frames(n_a: int, n_b: int, blend: int) -> int:
    return max(0, min(blend, n_a // 3, n_b // 3))


def chain(clips: list[np.ndarray], skel, blend: int) -> tuple[np.ndarray, list[float]]:
    """Join clips with facing/root continuity and cross-fades -> (joints (T, J, 3) float32,
    boundaries in frames (fractional: the middle of each cross-fade), one per junction)."""
    first = clips[0]
    out = turn_and_place(first, -facing_yaw(first, skel, slice(0, 3)), np.zeros(2))   # start at origin, facing +Z
    bounds = []
    for b in clips[1:]:
        n = blend_frames(len(out), len(b), blend)
        anchor = len(out) - n                                  # first overlapping frame of A
        target = facing_yaw(out, skel, slice(anchor, anchor + 3))
        nb = turn_and_place(b, target - facing_yaw(b, skel, slice(0, 3)), out[anchor, 0, [0, 2]])
        if n:
            w = (np.arange(1, n + 1) / (n + 1))
            w = (w * w * (3 - 2 * w))[:, None, None]           # smoothstep
            out[anchor:] = (1 - w) * out[anchor:] + w * nb[:n]
        out = np.concatenate([out, nb[n:]], 0)
        bounds.append(anchor + (n - 1) / 2.0 if n else float(anchor))
    return out.astype(np.float32), bounds


# ---------------------------------------------------------------------------------- captions
_SUBJECTS = {"person", "someone", "somebody", "man", "woman", "human", "he", "she", "they", "figure", "guy",
             "individual", "thug", "child", "people", "character"}


def subject_end(tokens: list[str], pos: list[str]) -> int:
    """Index just after the subject: after a subject noun among the first 5 tokens ("an elderly
    person"), else at the first verb/auxiliary when everything before it is a noun phrase
    (determiners, adjectives, nouns, pronouns), else 0 (nothing is dropped)."""
    for i, t in enumerate(tokens[:5]):
        if t in _SUBJECTS:
            return i + 1
    for i, p in enumerate(pos):
        if p in ("VERB", "AUX") or p.startswith(("VB", "MD")):
            ok = i > 0 and all(q in ("DET", "ADJ", "NOUN", "PRON", "PROPN", "ADV", "NUM") or q.startswith(("DT", "JJ", "NN", "PRP"))
                               for q in pos[:i])
            return i if ok else 0
    return 0


def action_truth(tokens: list[str], pos: list[str]) -> tuple[list[str], str | None]:
    """(body parts, side) of one action caption: the α-target columns of its first dictionary
    motion word (none -> []), and 'both' / 'left' / 'right' when the caption names exactly that."""
    _, alpha = caption_targets(tokens, pos)
    parts = []
    for row in alpha:
        if (row >= 0).all():
            parts = [PART_NAMES[i] for i in np.flatnonzero(row > 0)]
            break
    side = "both" if "both" in tokens else None
    if side is None:
        named = {t for t in tokens if t in _SIDE_WORDS}
        side = named.pop() if len(named) == 1 else None
    return parts, side


def compose_caption(chosen: list[tuple[str, list, list]], connectors: list[str]) -> tuple[str, list[list[int]]]:
    """Captions of the actions -> composed text and, per action, its token span [first, last + 1)
    in `tokenize(text)` (the subject of actions after the first is dropped; connectors belong to none)."""
    pieces, spans, n = [], [], 0
    for i, (text, toks, pos) in enumerate(chosen):
        cut = subject_end(toks, pos) if i else 0
        words = toks[cut:]
        if i:
            conn = connectors[i - 1]
            pieces.append(conn)
            n += len(tokenize(conn))
        pieces.append((" " if i else "") + " ".join(words))
        spans.append([n, n + len(words)])
        n += len(words)
    text = "".join(pieces)
    assert len(tokenize(text)) == n, text
    return text, spans


def tagged_line(text: str, start: float = 0.0, end: float = 0.0) -> str:
    toks = tokenize(text)
    return f"{text}#{' '.join(f'{w}/{t}' for w, t in zip(toks, tag(toks)))}#{start:.3f}#{end:.3f}\n"


# ---------------------------------------------------------------------------------- the dataset
def _labels(root: Path) -> dict:
    f = root / "manifest.csv"
    if not f.is_file():
        return {}
    import csv
    return {r["id"]: r.get("label", "") for r in csv.DictReader(open(f, newline=""))}


def load_clips(root: Path, split: str, labels: dict, min_frames: int, max_frames: int) -> list[Clip]:
    samples, _ = load_samples(root, read_split(root, split))
    out = []
    for s in samples:
        if not min_frames <= s.joints.shape[0] <= max_frames:
            continue
        caps = [(c.text, c.tokens, c.pos or tag(c.tokens)) for c in s.captions]
        mirrored = s.id.startswith("M") and s.id[1:] in labels
        label = labels.get(s.id[1:] if mirrored else s.id) or caps[0][0]
        if mirrored:
            label = re.sub(r"[A-Za-z]+", lambda m: MIRROR_WORDS.get(m.group(0), m.group(0)), label)
        side = action_truth(caps[0][1], caps[0][2])[1]
        out.append(Clip(s.id, s.joints, caps, f"{label}|{side}"))
    return out


def pick_clips(clips: list[Clip], k: int, rng: np.random.Generator) -> list[Clip]:
    by = {}
    for c in clips:
        by.setdefault(c.label, []).append(c)
    labels = sorted(by)
    chosen = []
    for _ in range(k):
        allowed = [lab for lab in labels if not chosen or lab != chosen[-1].label] or labels
        w = np.sqrt([len(by[lab]) for lab in allowed])
        lab = allowed[int(rng.choice(len(allowed), p=w / w.sum()))]
        chosen.append(by[lab][int(rng.integers(len(by[lab])))])
    return chosen


def compose_one(clips: list[Clip], rng: np.random.Generator, fps: float, skel, blend: int,
                n_captions: int) -> tuple[np.ndarray, dict]:
    joints, bounds = chain([c.joints for c in clips], skel, blend)
    edges = [0.0] + [b / fps for b in bounds] + [len(joints) / fps]
    actions = []
    for i, c in enumerate(clips):
        parts, side = action_truth(c.captions[0][1], c.captions[0][2])
        actions.append({"index": i, "source_id": c.id, "label": c.label.split("|")[0],
                        "start_s": round(edges[i], 4), "end_s": round(edges[i + 1], 4),
                        "parts": parts, "side": side, "captions": [t for t, _, _ in c.captions]})
    caps = []
    for _ in range(n_captions):
        chosen = [c.captions[int(rng.integers(len(c.captions)))] for c in clips]
        conns = [CONNECTORS[int(rng.integers(len(CONNECTORS)))] for _ in clips[1:]]
        text, spans = compose_caption(chosen, conns)
        if all(text != c["text"] for c in caps):
            caps.append({"text": text, "spans": spans})
    doc = {"schema": SCHEMA, "fps": fps, "frames": int(len(joints)), "duration_s": round(len(joints) / fps, 4),
           "actions": actions, "captions": caps}
    return joints, doc


CROP_PAD_S = (0.0, 0.5)          # an action crop takes this much (uniform) of each neighbour
CROP_WINDOW_S = (1.5, 3.0)       # window crops: length (uniform)
CROP_MAJORITY = 0.6              # a window crop is kept when one action covers this share of it


def crops_of(joints: np.ndarray, doc: dict, rng: np.random.Generator, fps: float, skel,
             windows: int) -> list[tuple[str, np.ndarray, list]]:
    """Training clips cut from one composed sequence the way dense captioning looks at a take
    (models/dense.py): each action with a little of its neighbours, and `windows` short windows
    captioned by the action covering most of them -> [(id suffix, joints at the origin, captions)]."""
    T, out = len(joints), []
    for a in doc["actions"]:
        s = max(0, int(round((a["start_s"] - rng.uniform(*CROP_PAD_S)) * fps)))
        e = min(T, int(round((a["end_s"] + rng.uniform(*CROP_PAD_S)) * fps)))
        out.append((f"a{a['index']}", joints[s:e], a["captions"]))
    for k in range(windows):
        n = int(round(rng.uniform(*CROP_WINDOW_S) * fps))
        if n >= T:
            continue
        s = int(rng.integers(0, T - n + 1))
        cover = [min((s + n) / fps, a["end_s"]) - max(s / fps, a["start_s"]) for a in doc["actions"]]
        best = int(np.argmax(cover))
        if cover[best] >= CROP_MAJORITY * n / fps:
            out.append((f"w{k}", joints[s:s + n], doc["actions"][best]["captions"]))
    return [(sfx, place_at_origin(j, skel), caps) for sfx, j, caps in out]


def check_options(source, out_dir, min_actions: int = 2, max_actions: int = 4, blend_s: float = 0.3,
                  captions_per_sequence: int = 3, min_clip_frames: int = 20, max_clip_frames: int = 300,
                  sequences: dict | int | None = None, crops: int = 0) -> None:
    """DatasetError (one line naming the `m2t dataset compose` flag) for options `compose_dataset`
    cannot honour."""
    if not (2 <= min_actions <= max_actions):
        raise DatasetError(f"--min-actions / --max-actions: need 2 <= min ({min_actions}) <= max ({max_actions})")
    counts = sequences if isinstance(sequences, dict) else {"train": sequences} if sequences is not None else {}
    rules = [(f"--{k}", n, n >= 0, ">= 0") for k, n in counts.items()]
    rules += [("--blend", blend_s, blend_s >= 0, ">= 0"), ("--captions", captions_per_sequence, captions_per_sequence >= 1, ">= 1"),
              ("--min-clip-frames", min_clip_frames, min_clip_frames >= 1, ">= 1"),
              ("--max-clip-frames", max_clip_frames, max_clip_frames >= min_clip_frames, f">= --min-clip-frames ({min_clip_frames})"),
              ("--crops", crops, crops >= 0, ">= 0")]
    for flag, value, ok, rule in rules:
        if not ok:
            raise DatasetError(f"{flag} must be {rule}, got {value}")
    if not (Path(source) / "new_joints").is_dir():
        raise DatasetError(f"{source}: not a HumanML3D-format dataset (no new_joints/ folder)")
    if Path(source).resolve() == Path(out_dir).resolve():
        raise DatasetError(f"{out_dir}: the output folder must differ from the source dataset")
    check_out_dir(out_dir)


def compose_dataset(source, out_dir, sequences: dict | int = 500, seed: int = 0, min_actions: int = 2,
                    max_actions: int = 4, blend_s: float = 0.3, captions_per_sequence: int = 3,
                    min_clip_frames: int = 20, max_clip_frames: int = 300, with_singles: bool = False,
                    crops: int = 0, progress=None) -> dict:
    """Write a composed dataset; `sequences` per split ({"train": n, ...}, or one n for train
    with a tenth of it, at least 1, for val and test). With `crops` > 0, the train and val
    sequences also give `crops_of` clips (every action, `crops` windows each), ids
    `<sequence id>_a<i>` / `_w<k>`. Returns the counts written to compose.json."""
    src, out = Path(source), Path(out_dir)
    check_options(src, out, min_actions, max_actions, blend_s, captions_per_sequence, min_clip_frames, max_clip_frames,
                  sequences, crops)
    if isinstance(sequences, int):
        sequences = {"train": sequences, "val": max(1, sequences // 10), "test": max(1, sequences // 10)}
    labels = _labels(src)
    recompose = (out / "compose.json").is_file()      # an earlier compose's samples go (prune_samples)
    for d in ("new_joints", "texts", "segments"):
        (out / d).mkdir(parents=True, exist_ok=True)
    ids, counts, skel, total = {}, {}, None, sum(sequences.get(s, 0) for s in SPLITS)
    done = 0
    for si, split in enumerate(SPLITS):
        n = sequences.get(split, 0)
        clips = load_clips(src, split, labels, min_clip_frames, max_clip_frames) if n or with_singles else []
        if n and len({c.label for c in clips}) < 2:
            raise DatasetError(f"{src}: split {split!r} has fewer than 2 labels with clips of "
                               f"{min_clip_frames}-{max_clip_frames} frames; cannot compose")
        if clips and skel is None:
            skel = get_skeleton(skeleton_of(clips[:1]))
        rng = np.random.default_rng([seed, si])
        crop_rng = np.random.default_rng([seed, si, 1])          # crops never change the sequences
        ids[split], n_crops = [], 0
        for k in range(n):
            chosen = pick_clips(clips, int(rng.integers(min_actions, max_actions + 1)), rng)
            joints, doc = compose_one(chosen, rng, skel.fps, skel, int(round(blend_s * skel.fps)),
                                      captions_per_sequence)
            cid = f"cmp_{split}_{k:05d}"
            doc = {"id": cid, "split": split, **doc}
            _write_sequence(out, cid, joints, doc)
            ids[split].append(cid)
            if crops and split != "test":
                for sfx, cj, caps in crops_of(joints, doc, crop_rng, skel.fps, skel, crops):
                    _write_clip(out, f"{cid}_{sfx}", cj, caps)
                    ids[split].append(f"{cid}_{sfx}")
                    n_crops += 1
            done += 1
            if progress:
                progress(done, total, cid)
        if with_singles:
            for c in clips:
                shutil.copyfile(src / "new_joints" / f"{c.id}.npy", out / "new_joints" / f"{c.id}.npy")
                shutil.copyfile(src / "texts" / f"{c.id}.txt", out / "texts" / f"{c.id}.txt")
                ids[split].append(c.id)
        counts[split] = {"sequences": n, "singles": len(clips) if with_singles else 0, "source_clips": len(clips),
                         "crops": n_crops}
    for split in SPLITS:
        write_text_atomic(out / f"{split}.txt", "".join(i + "\n" for i in ids.get(split, [])))
    if recompose:
        prune_samples(out, [i for lst in ids.values() for i in lst])
    info = {"source": str(src), "seed": seed, "actions": [min_actions, max_actions], "blend_s": blend_s,
            "captions_per_sequence": captions_per_sequence, "clip_frames": [min_clip_frames, max_clip_frames],
            "with_singles": with_singles, "crops": crops, "skeleton": skel.name if skel else None, "counts": counts}
    write_text_atomic(out / "compose.json", json.dumps(info, indent=1))
    return info


def _write_sequence(out: Path, cid: str, joints: np.ndarray, doc: dict) -> None:
    with open(out / "new_joints" / f"{cid}.npy", "wb") as f:
        np.save(f, joints)
    write_text_atomic(out / "texts" / f"{cid}.txt", "".join(tagged_line(c["text"]) for c in doc["captions"]))
    write_text_atomic(out / "segments" / f"{cid}.txt", "".join(
        tagged_line(t, a["start_s"], a["end_s"]) for a in doc["actions"] for t in a["captions"]))
    write_text_atomic(out / "segments" / f"{cid}.json", json.dumps(doc, indent=1))


def _write_clip(out: Path, cid: str, joints: np.ndarray, captions: list) -> None:
    with open(out / "new_joints" / f"{cid}.npy", "wb") as f:
        np.save(f, joints)
    write_text_atomic(out / "texts" / f"{cid}.txt", "".join(tagged_line(c) for c in captions))


def read_segments(root, sid: str) -> dict | None:
    """The segments document of a composed sequence, or None for a clip without one."""
    f = Path(root) / "segments" / f"{sid}.json"
    return json.loads(f.read_text()) if f.is_file() else None


def composed_ids(dataset, split: str) -> tuple[Path, list[str]]:
    """(dataset root, ids of `split` that are composed sequences); DatasetError when there are none."""
    root, _ = resolve_dataset(str(dataset))
    ids = [i for i in read_split(root, split) if (root / "segments" / f"{i}.json").is_file()]
    if not ids:
        raise DatasetError(f"{root}: split {split!r} has no composed sequences (segments/<id>.json); "
                           f"make them with `m2t dataset compose`")
    return root, ids
