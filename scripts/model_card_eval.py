"""Held-out accuracy figures for a model trained on `m2t dataset build` output (MODEL_CARD.md).

    python scripts/model_card_eval.py --model models/weights/default --dataset DATASET_DIR [--split test]
        [--onnx DIR]

Decoding is greedy on the torch model, or with --onnx DIR on ONNX Runtime with the graphs in DIR
(a model folder: encoder.onnx and decoder_step.onnx, e.g. quantised copies; the vocabulary and
normalisation still come from --model), to compare graph variants on the same clips.

Prints and writes (--out JSON) figures that do not depend on wording:
- content accuracy: the caption names the labelled action (keyword stems per label, below);
- side accuracy: for labels naming a side (left / right / both), the caption's side word matches
  (mirrored clips M<id> have the opposite side);
- attention side: for those clips, the body part with the most attention (Γ-weighted α) at the
  action word is the labelled arm;
plus BLEU/ROUGE-L/CIDEr with the m2t protocol.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from m2t.converters.skeletons import PART_NAMES
from m2t.models import data as D
from m2t.models.checkpoint import load_bundle
from m2t.models.decoding import greedy
from m2t.models.features import motion_features
from m2t.models.metrics import score_all
from m2t.models.protocols import prepare
from m2t.models.batching import batch_features

# label -> (regex that the caption must match to name the action, side or None)
ACTIONS = {
    "walk": (r"\bwalk", None), "run": (r"\b(run|jog)", None), "dash": (r"\b(sprint|dash|run)", None),
    "walk-back": (r"\b(walk|step)\w*\b.*\bbackwards?\b", None),
    "walk-left": (r"\b(walk|move)\w*\b.*\bleft\b", "left"), "walk-right": (r"\b(walk|move)\w*\b.*\bright\b", "right"),
    "walk-turn-left": (r"\bturn\w*\b.*\bleft\b", "left"), "walk-turn-right": (r"\bturn\w*\b.*\bright\b", "right"),
    "wave-both-hands": (r"\bwav", "both"), "wave-left-hand": (r"\bwav", "left"), "wave-right-hand": (r"\bwav", "right"),
    "raise-up-both-hands": (r"\b(rais|lift)", "both"), "raise-up-left-hand": (r"\b(rais|lift)", "left"),
    "raise-up-right-hand": (r"\b(rais|lift)", "right"),
    "bow": (r"\b(bow|bend)", None), "punch": (r"\bpunch", None), "kick": (r"\bkick", None),
    "bye": (r"\bwav", None), "byebye": (r"\bwav", None), "dance-long": (r"\bdanc", None), "dance-short": (r"\bdanc", None),
    "slash": (r"\b(slash|sword)", None), "call": (r"\b(call|beckon|wav)", None), "guide": (r"\b(guide|point|show)", None),
    "respond": (r"\b(respond|answer|react)", None),
}
ACTION_WORD = re.compile(r"^(wav|rais|lift)")


def side_of(text: str) -> str | None:
    t = f" {text} "
    if " both " in t:
        return "both"
    left, right = " left " in t, " right " in t
    return "left" if left and not right else "right" if right and not left else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", default=None)
    ap.add_argument("--onnx", default=None, metavar="DIR", help="decode with the ONNX graphs in DIR")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    bundle = load_bundle(args.model)
    root = Path(args.dataset)
    labels = {r["id"]: r for r in csv.DictReader(open(root / "manifest.csv"))}
    samples, _ = D.load_samples(root, D.read_split(root, args.split))
    preds, traces = [], []
    if args.onnx:
        from m2t.models.ort_decoding import OrtCaptioner, greedy as ort_greedy
        runner = OrtCaptioner(args.onnx, "cpu")
    for i in range(0, len(samples), 128):
        chunk = samples[i:i + 128]
        x, mask = batch_features([motion_features(s.joints, bundle.norm, bundle.downsample) for s in chunk], "cpu")
        decs = ort_greedy(runner, x.numpy(), mask.numpy(), 30) if args.onnx else greedy(bundle.model, x, mask, 30)
        for dec in decs:
            preds.append(bundle.vocab.decode(dec.ids))
            traces.append(dec)
    flip = {"left": "right", "right": "left", "both": "both"}
    per = defaultdict(lambda: [0, 0])
    content, side, attn = [], [], []
    side_by = defaultdict(list)
    by_source = defaultdict(lambda: {"content": [], "side": []})
    for s, p, dec in zip(samples, preds, traces):
        base = s.id[1:] if s.id.startswith("M") and s.id[1:] in labels else s.id
        lab = labels.get(base, {}).get("label", "")
        if lab not in ACTIONS:
            continue
        pattern, want = ACTIONS[lab]
        if want and s.id != base:
            want = flip[want]
        if want and s.id != base:
            pattern = pattern.replace("left", "@").replace("right", "left").replace("@", "right")
        text = " ".join(p)
        ok = re.search(pattern, text) is not None
        content.append(ok)
        src = base.split("_", 1)[0]
        by_source[src]["content"].append(ok)
        per[lab][0] += ok
        per[lab][1] += 1
        if want:
            side.append(side_of(text) == want)
            side_by["both" if want == "both" else "left_or_right"].append(side[-1])
            by_source[src]["side"].append(side[-1])
            if want in ("left", "right") and lab.startswith(("wave", "raise")):
                idx = [k for k, w in enumerate(p) if ACTION_WORD.match(w)]
                if idx:
                    k = idx[0]
                    g, a = dec.window[k], dec.alpha[k]
                    score = (g[:, None] * a).sum(0) / max(g.sum(), 1e-9)
                    attn.append(PART_NAMES[int(np.argmax(score))] == f"{want}_arm")
    refs = [[c.tokens for c in s.captions] for s in samples]
    prep = prepare("m2t", preds, refs)
    res = {"split": args.split, "motions": len(samples), "labelled": len(content),
           "content_accuracy": float(np.mean(content)) if content else None,
           "side_accuracy": float(np.mean(side)) if side else None, "side_clips": len(side),
           "side_accuracy_by_kind": {k: {"accuracy": round(float(np.mean(v)), 3), "clips": len(v)}
                                     for k, v in sorted(side_by.items())},
           "attention_side_accuracy": float(np.mean(attn)) if attn else None, "attention_clips": len(attn),
           "metrics": score_all(prep.hyps, prep.refs),
           "by_source": {k: {m: (round(float(np.mean(v[m])), 3) if v[m] else None) for m in ("content", "side")}
                         | {"clips": len(v["content"]), "side_clips": len(v["side"])}
                         for k, v in sorted(by_source.items())},
           "per_label_content": {k: round(v[0] / v[1], 3) for k, v in sorted(per.items())}}
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
