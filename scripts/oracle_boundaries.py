"""How much of the dense timeline's misses is cutting and how much is naming? Each composed
sequence's true actions are captioned on their own frames, exactly as `m2t caption` captions
the actions it finds (`models.dense.caption_actions`: same padding; no labelling windows, so each
action is named by its own caption's word, without the windows' votes), and
scored like `m2t evaluate --localization --window`.

    python scripts/oracle_boundaries.py --model models/weights/default --dataset DSC [--split val]
"""
from __future__ import annotations

import argparse
import json

import torch

from m2t.models import data as D
from m2t.models.checkpoint import load_bundle
from m2t.models.compose import read_segments
from m2t.models.dense import _torch_decode_fn, caption_actions
from m2t.models.localization import PredictedAction, kinematic_energy, part_energy, score_actions, summarise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.model)
    decode_fn = _torch_decode_fn(bundle, 1)
    root, _ = D.resolve_dataset(args.dataset)
    ids = [i for i in D.read_split(root, args.split) if (root / "segments" / f"{i}.json").is_file()]
    samples, _ = D.load_samples(root, ids)
    sequences = []
    for s in samples:
        doc = read_segments(root, s.id)
        fps, joints = float(doc["fps"]), s.joints / bundle.input_scale
        spans = [(a["start_s"], a["end_s"], "", 1.0) for a in doc["actions"]]
        acts = caption_actions(joints, fps, bundle, spans, [], decode_fn)
        preds = [PredictedAction(t.word, t.onset_s, t.offset_s, (t.onset_s + t.offset_s) / 2, t.parts[0][0], t.side)
                 for t in acts]
        sequences.append(score_actions(doc, preds, len(joints) / fps, kinematic_energy(joints, fps),
                                       part_energy(joints, bundle.cfg.skeleton), fps))
    m = summarise(sequences)["model"]
    print(json.dumps({"split": args.split, "sequences": len(sequences), "all_named": m["all_named"],
                      "named": m["named"], "side_acc": m["side_acc"], "part_acc": m["part_acc"]}, indent=1))


if __name__ == "__main__":
    main()
