"""Attended-part accuracy of `m2t evaluate --localization` predictions against truth recomputed
with the current word lists (a composed dataset stores each action's parts as the word lists
gave them when it was composed; locomotion verbs point at the legs since December 2026).

    python scripts/part_rescore.py DSC val EVAL_DIR [EVAL_DIR ...]

EVAL_DIR: the -o folder of `m2t evaluate MODEL --dataset DSC --split val --localization --window 2`.
Prints the accuracy over actions with a truth, and split into actions whose label is a
locomotion (walk, run, jog, sneak, dash, jump, hop, skip, shuffle, stagger, limp) and the others.
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from m2t.models.compose import action_truth
from m2t.models.data import tokenize
from m2t.models.supervision import tag

LOCOMOTION = ("walk", "run", "jog", "sneak", "dash", "jump", "hop", "skip", "shuffle", "stagger", "limp")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3:
        sys.exit(__doc__)
    dataset, split, evals = Path(argv[0]), argv[1], argv[2:]
    truth = {}
    for f in sorted((dataset / "segments").glob(f"*_{split}_*.json")):
        d = json.loads(f.read_text())
        for a in d["actions"]:
            t = tokenize(a["captions"][0])
            truth[(d["id"], a["index"])] = (action_truth(t, tag(t))[0], a["label"])
    for ev in evals:
        c = collections.Counter()
        for line in open(Path(ev) / "localization_predictions.jsonl"):
            d = json.loads(line)
            for i, a in enumerate(d["actions"]):
                parts, label = truth[(d["id"], i)]
                if a["part_pred"] is None or not parts:
                    continue
                kind = "loco" if any(w in label.lower() for w in LOCOMOTION) else "other"
                for k in ("all", kind):
                    c[k + "_n"] += 1
                    c[k + "_ok"] += a["part_pred"] in parts
        print(f"{ev}: part accuracy {c['all_ok'] / max(c['all_n'], 1):.3f} of {c['all_n']}; locomotion labels "
              f"{c['loco_ok'] / max(c['loco_n'], 1):.3f} of {c['loco_n']}, others {c['other_ok'] / max(c['other_n'], 1):.3f} "
              f"of {c['other_n']}")


if __name__ == "__main__":
    main()
