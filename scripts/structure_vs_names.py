"""How well the structural rig matcher (names ignored) agrees with name matching on real files.

    python scripts/structure_vs_names.py [$M2T_DATA]

For one file of each real rig in the shared data, joints are renamed J000, J001, ... and matched by
structure alone; a canonical joint agrees when structure picks the joint the names picked, or one
within 2 cm of it (median over frames; e.g. a coincident hip joint). Prints per file and in total.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

from m2t.converters import read_motion
from m2t.converters.retarget import mapping_detail
from m2t.converters.rig_match import structure

FILES = ["cmu-131/131_01.bvh", "xia/angry_13_000.bvh", "misc-bvh/test_freebvh.bvh", "misc-bvh/test_mocapbank.bvh",
         "cmu-amc/07_05-walk.amc"]


def main(root: Path) -> None:
    files = [root / f for f in FILES]
    for sub in ("bandai-namco/dataset-1", "bandai-namco/dataset-2", "hdm05"):
        found = sorted((root / sub).rglob("*.bvh*")) + sorted((root / sub).rglob("*.amc*"))
        files += found[:1]
    agree = total = 0
    for f in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = read_motion(f)
        names = {k: next(iter(v)) for k, v in mapping_detail(m)["mapping"].items() if len(v) == 1}
        anon = m.with_(joint_names=tuple(f"J{i:03d}" for i in range(m.n_joints)))
        got, _, problems = structure(anon)
        pos = m.positions
        ok = 0
        keys = [k for k in names if not k.startswith("spine")]
        for k in keys:
            if k in got:
                a, b = m.joint_names.index(names[k]), got[k]
                ok += a == b or float(np.median(np.linalg.norm(pos[:, a] - pos[:, b], axis=-1))) < 0.02
        agree, total = agree + ok, total + len(keys)
        print(f"{f.relative_to(root)}: {ok}/{len(keys)}" + (f" ({problems[0]})" if problems else ""))
    print(f"total: {agree}/{total} canonical joints agree")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("M2T_DATA", "../shared/data")))
