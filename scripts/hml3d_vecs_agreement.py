"""Measure how m2t's 263-d vectors agree with HumanML3D's, per component, on humanml3d-sample.

    python scripts/hml3d_vecs_agreement.py [$M2T_DATA/humanml3d-sample]

Prints, over all files and rows: vectors -> joints against new_joints; joints -> vectors from
new_joints alone against new_joint_vecs[:-1]; and the same with the frame that new_joints lacks
(recovered from the vectors' last row), against all rows.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from m2t.converters.hml3d_vecs import LAYOUT, joints_to_vecs, rot_y, vecs_to_joints

ROOT_FREE_6D = [j - 1 for j in range(1, 22) if j not in (1, 2, 3, 13, 14)]


def main(root: Path) -> None:
    rows, v2j, alone, full = 0, 0.0, {}, {}
    within = [0, 0]
    for f in sorted((root / "new_joints").glob("*.npy")):
        joints = np.load(f).astype(np.float64)
        vecs = np.load(root / "new_joint_vecs" / f.name).astype(np.float64)
        v2j = max(v2j, float(np.abs(vecs_to_joints(vecs) - joints).max()))
        got = joints_to_vecs(joints).astype(np.float64)
        err = np.abs(got - vecs[:-1])
        within[0] += int((err.max(axis=1) < 1e-4).sum())
        within[1] += len(err)
        last = joints[-1] + vecs[-1, 193:259].reshape(22, 3) @ rot_y(-2 * vecs[:-1, 0].sum()).T
        err_full = np.abs(joints_to_vecs(np.concatenate([joints, last[None]])) - vecs)
        for name, (a, b) in LAYOUT.items():
            alone[name] = max(alone.get(name, 0.0), float(err[:, a:b].max()))
            full[name] = max(full.get(name, 0.0), float(err_full[:, a:b].max()))
        r6 = err[:, 67:193].reshape(len(err), 21, 6)
        alone["rotations_6d (bones not first in a chain)"] = max(
            alone.get("rotations_6d (bones not first in a chain)", 0.0), float(r6[:, ROOT_FREE_6D].max()))
        ric = err[:, 4:67].reshape(len(err), 21, 3)
        alone["ric_positions (y)"] = max(alone.get("ric_positions (y)", 0.0), float(ric[..., 1].max()))
        rows += len(vecs)
    print(f"vectors -> joints: max |error| {v2j:.1e} m over {rows} frames")
    print(f"joints -> vectors from new_joints alone: rows with every component within 1e-4: {within[0]}/{within[1]}")
    print("component | max |error| from new_joints alone | with the missing frame")
    for name in alone:
        print(f"{name} | {alone[name]:.1e} | {full.get(name, float('nan')):.1e}")


if __name__ == "__main__":
    default = Path(os.environ.get("M2T_DATA", "../shared/data")) / "humanml3d-sample"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
