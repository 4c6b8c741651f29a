"""Which actions does the timeline miss, and what does it say instead? Reads the per-sequence
file of `m2t evaluate --localization --window W -o OUT` and lists, for every true action that was
not named, its reference action stems (from its captions) and the word of the predicted action
that overlaps it most ("(nothing)" when none does; "(named another action)" when that word names
one of the reference stems but was aligned to a neighbouring action), grouped and counted.

    m2t evaluate models/weights/default --dataset DSC --localization --window 2 -o OUT
    python scripts/missed_actions.py OUT/localization_predictions.jsonl DSC [--top 15]
"""
from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from m2t.models.compose import read_segments
from m2t.models.localization import key_stems
from m2t.models.supervision import stem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("predictions")
    ap.add_argument("dataset")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    root = Path(args.dataset)
    pairs, total, missed = collections.Counter(), 0, 0
    for line in Path(args.predictions).read_text().splitlines():
        p = json.loads(line)
        doc = read_segments(root, p["id"])
        for a, r in zip(doc["actions"], p["actions"]):
            total += 1
            if r["named"]:
                continue
            missed += 1
            over = [(min(s["offset_s"], a["end_s"]) - max(s["onset_s"], a["start_s"]), s) for s in p["prediction"]]
            o, s = max(over, key=lambda x: x[0]) if over else (0.0, None)
            keys = key_stems(a["captions"])
            if s is None or o <= 0:
                said = "(nothing)"
            elif stem(s["word"]) in keys:
                said = f"{s['word']} (named another action)"
            else:
                said = s["word"]
            pairs[("/".join(sorted(keys)), said)] += 1
    print(f"{missed} of {total} actions not named")
    print("| action verbs (reference stems) | said instead | count |\n|---|---|---|")
    for (k, w), n in pairs.most_common(args.top):
        print(f"| {k} | {w} | {n} |")


if __name__ == "__main__":
    main()
