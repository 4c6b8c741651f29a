"""Count bind-pose lead-in detections on real takes (false alarms: none of them has a bind pose).

    python scripts/lead_in_survey.py [$M2T_DATA]

250 BVH/AMC files drawn at random (seed 0) from the shared data, plus every CMU-131 and Xia BVH.
"""
from __future__ import annotations

import os
import random
import sys
import warnings
from pathlib import Path

from m2t.converters import load_motion


def main(root: Path) -> None:
    pool = sorted(map(str, root.rglob("*.bvh*"))) + sorted(map(str, root.rglob("*.amc*")))
    random.seed(0)
    files = random.sample(pool, 250) + sorted(map(str, (root / "cmu-131").glob("*.bvh"))) \
        + sorted(map(str, (root / "xia").glob("*.bvh")))
    fired = 0
    for f in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = load_motion(f)
        if m.meta.get("lead_in_frames"):
            fired += 1
            print(f, m.meta["lead_in_frames"])
    print(f"{len(files)} takes, lead-in dropped in {fired}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("M2T_DATA", "../shared/data")))
