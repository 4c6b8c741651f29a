"""Fit the in-domain score of a model (models/confidence.py) and measure how well it separates
held-out in-vocabulary clips from clips whose action is absent from training.

    python scripts/confidence_eval.py --model MODEL --dataset DS --ood-split ood [--dev-classes A,B] [--save]
    python scripts/confidence_eval.py --model models/weights/default --dataset DS --ood-split none --max-bank 2000 --save

DS's train/val splits calibrate, its test split gives the in-vocabulary clips, the split file
`<ood-split>.txt` lists the out-of-domain clips (`--ood-split none`: calibrate only). Prints AUROC of the combined score and of each
signal alone, and the share of clips flagged low-confidence in each group. With --dev-classes
(substrings of clip ids), those out-of-domain clips form a development group on which the way
of combining the signals is chosen, and the rest a test group: AUROC of each combination on
both. --save writes the calibration beside the model (confidence.json, confidence.safetensors).
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from m2t.models import data as D
from m2t.models.checkpoint import load_bundle
from m2t.models.confidence import SIGNALS, action_features, clip_scores, fit
from m2t.models.localization import auc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--ood-split", default="ood")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--dev-classes", default=None)
    ap.add_argument("--max-bank", type=int, default=6000, help="training action words kept in the bank (2000 for a shipped model: 3 MB)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.model)
    cal = fit(bundle, args.dataset, max_bank=args.max_bank)
    root, _ = D.resolve_dataset(args.dataset)
    res = {"calibration": cal.meta, "threshold": cal.threshold}
    groups = {}
    if args.ood_split == "none":                  # calibrate only: the share of in-vocabulary test clips flagged
        samples, _ = D.load_samples(root, D.read_split(root, "test"))
        scores, _ = clip_scores(cal, action_features(bundle, samples))
        res["in_vocabulary_test"] = {"clips": len(samples), "flagged": float(np.mean(scores < cal.threshold))}
        print(json.dumps(res, indent=1))
        if args.save:
            cal.save(args.model)
        return
    for name, split in (("in_vocabulary_test", "test"), ("out_of_domain", args.ood_split)):
        samples, _ = D.load_samples(root, D.read_split(root, split))
        groups[name] = clip_scores(cal, action_features(bundle, samples))
        res[name] = {"clips": len(samples), "flagged": float(np.mean(groups[name][0] < cal.threshold))}
    (si, pi), (so, po) = groups["in_vocabulary_test"], groups["out_of_domain"]
    labels = [True] * len(si) + [False] * len(so)
    res["auroc"] = auc(np.concatenate([si, so]), labels)
    res["auroc_by_signal"] = {n: auc(np.concatenate([pi[:, j], po[:, j]]), labels) for j, n in enumerate(SIGNALS)}
    if args.dev_classes:
        dev_keys = args.dev_classes.split(",")
        ids = D.read_split(root, args.ood_split)
        samples, _ = D.load_samples(root, ids)
        _, parts = clip_scores(cal, action_features(bundle, samples))
        is_dev = np.array([any(k in s.id for k in dev_keys) for s in samples])
        combos = {"min (m2t)": lambda p: p.min(1), "mean": lambda p: p.mean(1), "dist only": lambda p: p[:, 2],
                  "(prob + beta + 2 dist) / 4": lambda p: (p[:, 0] + p[:, 1] + 2 * p[:, 2]) / 4}
        res["combinations"] = {}
        for name, f in combos.items():
            row = {}
            for grp, sel in (("dev", is_dev), ("test", ~is_dev)):
                row[f"auroc_{grp}"] = auc(np.concatenate([f(pi), f(parts[sel])]), [True] * len(pi) + [False] * int(sel.sum()))
                row[f"{grp}_clips"] = int(sel.sum())
            res["combinations"][name] = row
    print(json.dumps(res, indent=1))
    if args.save:
        cal.save(args.model)


if __name__ == "__main__":
    main()
