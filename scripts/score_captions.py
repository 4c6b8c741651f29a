"""Score the `segments` of caption JSON files that `m2t caption` wrote for the takes of a composed
split (one `<id>.json` per `new_joints/<id>.npy`) like `m2t evaluate --localization --window`
does, so the path a user takes (files read, canonicalised and captioned by the CLI) is measured
too, not only the in-memory joints the evaluation reads.

    m2t caption DSC/new_joints -f json -o CAPS      # or a folder of a composed dataset's takes
    python scripts/score_captions.py CAPS DSC
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from m2t.models.compose import read_segments
from m2t.models.localization import kinematic_energy, part_energy, score_actions, segment_actions, summarise

KEYS = ("all_named", "named", "recall@0.5", "recall@0.7", "mean_tiou", "onset_mae_s", "side_acc", "part_acc")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captions", help="folder of <id>.json written by m2t caption -f json")
    ap.add_argument("dataset", help="the composed dataset the takes come from")
    args = ap.parse_args(argv)
    root = Path(args.dataset)
    sequences, predicted = [], 0
    for path in sorted(Path(args.captions).glob("*.json")):
        if not (root / "segments" / path.name).is_file():
            continue
        doc, cap = read_segments(root, path.stem), json.loads(path.read_text())
        fps = float(doc["fps"])
        joints = np.load(root / "new_joints" / f"{path.stem}.npy")
        preds = segment_actions(cap["segments"])
        predicted += len(preds)
        sequences.append(score_actions(doc, preds, len(joints) / fps, kinematic_energy(joints, fps),
                                       part_energy(joints, cap.get("skeleton") or "t2m"), fps))
    m = summarise(sequences, predicted=predicted)
    print(json.dumps({"sequences": len(sequences), "actions": m["counts"]["actions"], "predicted": predicted,
                      **{k: m["model"][k] for k in KEYS}}, indent=1))


if __name__ == "__main__":
    main()
