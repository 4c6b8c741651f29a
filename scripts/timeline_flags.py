"""How often are the actions of `m2t caption`'s dense timeline flagged low-confidence on
in-domain composed takes? The share of timeline actions whose in-domain score
(models/confidence.py) is below the model's calibrated threshold, per split, and the quantile the
threshold sits at among them.

    python scripts/timeline_flags.py --model models/weights/default --dataset DSC [--splits val,test]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from m2t.models.checkpoint import load_bundle
from m2t.models.confidence import Calibration, timeline_scores


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True, help="composed dataset (m2t dataset compose)")
    ap.add_argument("--splits", default="val,test")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cal = Calibration.load(args.model)
    if cal is None:
        raise SystemExit(f"{args.model}: no confidence.json (make one with scripts/confidence_eval.py --save)")
    bundle = load_bundle(args.model)
    for split in args.splits.split(","):
        sc = timeline_scores(bundle, args.dataset, split)
        print(f"{split}: {len(sc)} timeline actions, {np.mean(sc < cal.threshold):.1%} flagged "
              f"(threshold {cal.threshold:.4f}, the {cal.meta.get('quantile', '?')} quantile of whole-clip validation scores)")


if __name__ == "__main__":
    main()
