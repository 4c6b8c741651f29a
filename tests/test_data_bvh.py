"""Every real BVH file under M2T_DATA converts, with sanity checks that can fail.

Checks on the canonical t2m result (20 fps, metres, Y up): standing height, feet on the floor,
left side on +X at frame 0, plausible joint speeds, and the direction of travel the label
promises (walk -> +Z, walk-back -> -Z, walk-left -> +X, walk-right -> -X).
"""
from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from m2t.converters import load_motion
from m2t.converters.skeletons import T2M

from conftest import need

LW, RW, LS, RS = (T2M.index(n) for n in ("left_wrist", "right_wrist", "left_shoulder", "right_shoulder"))
FEET = list(T2M.feet)


def check(m) -> list[str]:
    """Generic checks; returns the problems found (empty = plausible)."""
    p = m.positions
    bad = []
    head = np.percentile(p[:, T2M.head, 1], 90)       # head joint ~ 0.88 x stature
    if not 1.15 <= head <= 1.9:
        bad.append(f"head joint height {head:.2f} m: stature outside 1.3-2.1 m")
    foot = np.percentile(p[:, FEET, 1].min(axis=1), 10)
    if foot > 0.07:   # 131_02: one frame dips a toe 5 cm below the others, and that frame sets the floor
        bad.append(f"feet {foot:.3f} m above the floor")
    if not p[0, LS, 0] > p[0, RS, 0]:
        bad.append("left shoulder not on +X side at frame 0")
    v = m.velocities
    speed = np.percentile(np.linalg.norm(v, axis=-1), 99)                 # world speed
    limb = np.percentile(np.linalg.norm(v - v[:, :1], axis=-1), 99)       # relative to the pelvis
    if speed > 15 or limb > 10:
        bad.append(f"implausible joint speeds (p99 {speed:.1f} m/s, {limb:.1f} m/s relative to pelvis)")
    return bad


def travel(m) -> np.ndarray:
    return m.positions[-1, 0] - m.positions[0, 0]


EXPECTED_TRAVEL = {   # label -> (axis, sign): the root must move at least 0.5 m that way
    "walk": (2, 1), "run": (2, 1), "dash": (2, 1), "walk-back": (2, -1),
    "walk-left": (0, 1), "walk-right": (0, -1), "walk_s1": (2, 1),
}


def run_folder(files, label_of) -> None:
    problems, left_hand_plus_x = [], []
    for f in files:
        m = load_motion(f)
        assert m.positions.shape[1:] == (22, 3) and m.fps == 20.0
        bad = check(m)
        label = label_of(f)
        if label in EXPECTED_TRAVEL:
            axis, sign = EXPECTED_TRAVEL[label]
            d = travel(m)
            if not sign * d[axis] > 0.5:
                bad.append(f"{label}: root moved {d.round(2).tolist()}")
        left_hand_plus_x.append(m.positions[0, LW, 0] > 0 and m.positions[0, LW, 0] > m.positions[0, RW, 0])
        problems += [f"{f.name}: {b}" for b in bad]
    assert not problems, "\n".join(problems[:20])
    assert np.mean(left_hand_plus_x) >= 0.95, f"left hand on +X at frame 0 in only {np.mean(left_hand_plus_x):.0%}"


def _bandai_label(f) -> str:
    return re.match(r"dataset-\d_(.+?)_[a-z-]+_\d+\.bvh", f.name).group(1)


@pytest.mark.parametrize("ds, count", [("dataset-1", 174), ("dataset-2", 2517)])
def test_bandai(shared_data, ds, count):
    files = sorted(need(shared_data / "bandai-namco" / ds / "data").glob("*.bvh.gz"))
    assert len(files) == count
    run_folder(files, _bandai_label)


def test_xia(shared_data):
    d = need(shared_data / "xia")
    labels = {r["file"].split("/")[-1]: r["content"] for r in csv.DictReader(open(d / "MANIFEST.csv"))}
    files = sorted(d.glob("*.bvh"))
    assert len(files) == 9
    run_folder(files, lambda f: labels[f.name])


def test_cmu_131(shared_data):
    d = need(shared_data / "cmu-131")
    files = sorted(d.glob("*.bvh"))
    assert len(files) == 3
    run_folder(files, lambda f: "walk" if f.stem in ("131_01", "131_02") else "hop")


def test_misc_rigs(shared_data):
    d = need(shared_data / "misc-bvh")
    files = sorted(d.glob("*.bvh"))
    assert [f.name for f in files] == ["test_freebvh.bvh", "test_mocapbank.bvh"]
    run_folder(files, lambda f: "")
    rigs = {f.name: load_motion(f).meta["rig"] for f in files}
    assert rigs == {"test_freebvh.bvh": "mixamo", "test_mocapbank.bvh": "auto (biovision names)"}
