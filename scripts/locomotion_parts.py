"""Which body parts a model names for walking and running on real takes: the top part of every
timeline action whose word is a locomotion verb, over the walk/run/dash takes of the shared data.

    python scripts/locomotion_parts.py [--model DIR] [--data DIR] [--per-content 12]

Takes: Bandai-Namco datasets 1 and 2 files whose content is walk*, run or dash (the first
--per-content of each content, sorted), the Xia clips and CMU 131_01; each captioned as
`m2t caption` does (timeline for takes over 2 s). Prints, per model, the share of locomotion
actions whose top part is the legs (either leg), the root, the torso or an arm, and the mean
attention shares of the two legs and of the root.
"""
from __future__ import annotations

import argparse
import os
import re
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from m2t.models.captioning import caption_files, load_model  # noqa: E402
from m2t.models.supervision import stem  # noqa: E402

LOCOMOTION = {stem(w) for w in ("walk", "run", "jog", "sprint", "dash", "stride", "stroll", "limp", "march")}
ROOT = Path(__file__).resolve().parents[1]


def takes(data: Path, per_content: int) -> list[Path]:
    groups = defaultdict(list)
    for ds in ("dataset-1", "dataset-2"):
        for p in sorted((data / "bandai-namco" / ds / "data").glob("*.bvh*")):
            m = re.match(r"dataset-\d_(walk[a-z-]*|run|dash)_", p.name)
            if m:
                groups[(ds, m.group(1))].append(p)
    out = [p for g in groups.values() for p in g[:per_content]]
    return out + sorted((data / "xia").glob("*.bvh")) + [data / "cmu-131" / "131_01.bvh"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="model folder (repeat to compare) [default: the shipped one]")
    ap.add_argument("--data", default=os.environ.get("M2T_DATA") or str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--per-content", type=int, default=12)
    args = ap.parse_args(argv)
    files = [p for p in takes(Path(args.data), args.per_content) if p.exists()]
    print(f"{len(files)} takes")
    for model in args.model or [None]:
        bundle = load_model(model)
        top, legs, root, n = Counter(), 0.0, 0.0, 0
        for fc in caption_files(files, bundle):
            if not fc.ok:
                continue
            for s in fc.result.segments:
                if stem(s["word"]) not in LOCOMOTION or not s["parts"]:
                    continue
                name = s["parts"][0]["name"]
                top["legs" if name.endswith("_leg") else "arms" if name.endswith("_arm") else name] += 1
                legs += sum(p["score"] for p in s["parts"] if p["name"].endswith("_leg"))
                root += sum(p["score"] for p in s["parts"] if p["name"] == "root")
                n += 1
        shares = ", ".join(f"{k} {v / max(n, 1):.2f}" for k, v in top.most_common())
        print(f"{model or 'shipped model'}: {n} locomotion actions; top part: {shares}; "
              f"mean attention on the legs {legs / max(n, 1):.2f}, on the root {root / max(n, 1):.2f}")


if __name__ == "__main__":
    main()
