"""Fit the synonym classes of action words (models/synonyms.py) on a dataset's training captions
(single-action clips only) and store them in a model directory's config.json, for models trained before `m2t train` stored
them itself (the shipped default model). Prints the classes; the weights and ONNX graphs are
untouched. It reads every caption of the split; `m2t train` fits on the clips its
--min-frames/--max-frames keep, so a retrain can find a slightly different table.

    python scripts/fit_synonyms.py models/weights/default DS [--split train] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from m2t.converters.fileio import write_text_atomic
from m2t.models import data as D
from m2t.models.modeldir import read_config
from m2t.models.synonyms import fit_captions


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("dataset")
    ap.add_argument("--split", default="train")
    ap.add_argument("--dry-run", action="store_true", help="print the classes, write nothing")
    args = ap.parse_args(argv)
    root, _ = D.resolve_dataset(args.dataset)
    clips = [D.read_captions(root, i) for i in D.read_split(root, args.split)]
    table = fit_captions(clips)
    classes: dict[str, list[str]] = {}
    for s, c in sorted(table.items()):
        classes.setdefault(c, []).append(s)
    print(f"{len(clips)} ids of {root} ({args.split}): {len(classes)} classes of action words")
    for c, members in sorted(classes.items()):
        print(f"  {c}: {', '.join(members)}")
    if args.dry_run:
        return
    cfg_path = Path(args.model) / "config.json"
    cfg = read_config(args.model)
    cfg["synonyms"] = table
    write_text_atomic(cfg_path, json.dumps(cfg, indent=1))
    print(f"wrote {cfg_path}")


if __name__ == "__main__":
    main()
