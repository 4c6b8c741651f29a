"""BVH reader and writer: FK against hand-computed rotations, round trips, odd files, errors."""
from __future__ import annotations

import gzip
import math
import time

import numpy as np
import pytest

from m2t.converters import MotionFileError, read_motion
from m2t.converters import bvh, bvh_hierarchy
from m2t.converters.synthetic import walk_rig, walk_values, write_walk_bvh

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def _rx(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_R = {"X": _rx, "Y": _ry, "Z": _rz}


def _chain_file(path, order, frames):
    """Root + 2 joints + End Site; every joint rotates with `order`. frames: list of 9 angles."""
    rot = [f"{a}rotation" for a in order]
    names = ["Root", "Mid", "Tip", "Tip_End"]
    parents = [-1, 0, 1, 2]
    offsets = np.array([[0, 0, 0], [0, 100, 0], [0, 0, 50], [30, 0, 0]], float)
    channels = [["Xposition", "Yposition", "Zposition"] + rot, rot, rot, []]
    values = [[10, 20, 30] + list(f) for f in frames]
    bvh.write(path, names, parents, offsets, channels, np.array(values, float), 1 / 30)
    return offsets


def _hand_fk(offsets, order, f):
    """Independent FK with the matrices written out above."""
    mats = []
    for j in range(3):
        a = dict(zip(order, f[3 * j: 3 * j + 3]))
        R = np.eye(3)
        for ax in order:
            R = R @ _R[ax](a[ax])
        mats.append(R)
    p0 = np.array([10.0, 20, 30])
    G0 = mats[0]
    p1 = p0 + G0 @ offsets[1]
    G1 = G0 @ mats[1]
    p2 = p1 + G1 @ offsets[2]
    G2 = G1 @ mats[2]
    p3 = p2 + G2 @ offsets[3]
    return np.stack([p0, p1, p2, p3]) / 100.0   # file in cm -> metres


@pytest.mark.parametrize("order", ORDERS)
def test_fk_matches_hand_computed_rotations(tmp_path, order):
    rng = np.random.default_rng(ORDERS.index(order))
    frames = [[0] * 9, [90, 0, 0, 0, 0, 0, 0, 0, 0], [0, 90, 0, 0, 0, 0, 0, 0, 0], [0, 0, 90, 0, 0, 0, 0, 0, 0]]
    frames += rng.uniform(-180, 180, size=(6, 9)).round(4).tolist()
    offsets = _chain_file(tmp_path / "c.bvh", order, frames)
    m = read_motion(tmp_path / "c.bvh", units="cm")
    assert m.joint_names == ("Root", "Mid", "Tip", "Tip_End")
    for t, f in enumerate(frames):
        np.testing.assert_allclose(m.positions[t], _hand_fk(offsets, order, f), atol=1e-5)


def test_single_axis_rotations_by_hand(tmp_path):
    # Rz(90) turns the Mid offset (0, 100, 0) into (-100, 0, 0); Rx(90) turns it into (0, 0, 100).
    _chain_file(tmp_path / "z.bvh", "ZXY", [[90, 0, 0] + [0] * 6, [0, 90, 0] + [0] * 6])
    m = read_motion(tmp_path / "z.bvh", units="cm")
    np.testing.assert_allclose(m.positions[0, 1], [0.1 - 1.0, 0.2, 0.3], atol=1e-6)
    np.testing.assert_allclose(m.positions[1, 1], [0.1, 0.2, 0.3 + 1.0], atol=1e-6)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX"])
def test_walk_round_trip_reproduces_positions(tmp_path, order):
    write_walk_bvh(tmp_path / "w.bvh", seconds=1.0, fps=30, order=order)
    m = read_motion(tmp_path / "w.bvh")
    assert m.meta["units"] == "cm" and m.n_frames == 30 and abs(m.fps - 30) < 1e-4
    names, parents, offsets, channels = walk_rig(order)
    vals = walk_values(1.0, 30, order=order)
    # rebuild positions joint by joint with the test's own matrices
    col, G, P = 0, {}, {}
    expected = np.zeros((30, len(names), 3))
    for j, (n, p) in enumerate(zip(names, parents)):
        nch = len(channels[j])
        v = vals[:, col: col + nch]
        col += nch
        for t in range(30):
            ang = dict(zip([c[0] for c in channels[j] if c.endswith("rotation")], v[t, -3:]))
            R = np.eye(3)
            for ax in order:
                R = R @ _R[ax](ang[ax])
            if p < 0:
                P[j, t], G[j, t] = v[t, :3], R
            else:
                P[j, t], G[j, t] = P[p, t] + G[p, t] @ offsets[j], G[p, t] @ R
            expected[t, j] = P[j, t] / 100
    got = np.stack([m.joint(n) for n in names], axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_six_channel_joints_positions_replace_offsets(tmp_path):
    names, parents = ["Root", "A", "B"], [-1, 0, 1]
    offsets = np.array([[0, 0, 0], [0, 10, 0], [0, 10, 0]], float)
    six = ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    channels = [six, six, six]
    vals = np.array([[0, 0, 0, 0, 0, 0, 5, 7, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]], float)
    bvh.write(tmp_path / "s.bvh", names, parents, offsets, channels, vals, 0.01)
    m = read_motion(tmp_path / "s.bvh", units="m")
    np.testing.assert_allclose(m.positions[0], [[0, 0, 0], [5, 7, 0], [5, 10, 0]], atol=1e-6)


def test_two_roots_end_sites_crlf_tabs_and_gzip(tmp_path):
    text = ("HIERARCHY\r\nROOT A\r\n{\r\n\tOFFSET 0 0 0\r\n\tCHANNELS 3 Xposition Yposition Zposition\r\n"
            "\tEnd Site\r\n\t{\r\n\t\tOFFSET 0 1 0\r\n\t}\r\n}\r\n"
            "ROOT B\r\n{\r\n\tOFFSET 0 0 0\r\n\tCHANNELS 4 Xposition Yposition Zposition Yrotation\r\n"
            "\tJOINT C\r\n\t{\r\n\t\tOFFSET 1 0 0\r\n\t\tCHANNELS 1 Zrotation\r\n"
            "\t\tEnd Site\r\n\t\t{\r\n\t\t\tOFFSET 1 0 0\r\n\t\t}\r\n\t}\r\n}\r\n"
            "MOTION\r\nFrames:\t2\r\nFrame Time:\t0.5\r\n"
            "0\t0\t0\t5\t0\t0\t90\t0\r\n1 1 1 5 0 0 0 90\r\n")
    with gzip.open(tmp_path / "two.bvh.gz", "wt", newline="") as f:
        f.write(text)
    m = read_motion(tmp_path / "two.bvh.gz", units="m")
    assert m.joint_names == ("A", "A_End", "B", "C", "C_End")
    assert m.parents == (-1, 0, -1, 2, 3)
    assert m.fps == 2.0
    # frame 0: B at (5,0,0) rotated 90 about Y -> C offset (1,0,0) becomes (0,0,-1)
    np.testing.assert_allclose(m.positions[0, 3], [5, 0, -1], atol=1e-6)
    # frame 1: C rotates 90 about Z -> its end site goes up
    np.testing.assert_allclose(m.positions[1, 4], [6, 1, 0], atol=1e-6)


def _good(tmp_path, name="g.bvh"):
    write_walk_bvh(tmp_path / name, seconds=0.5, fps=30)
    return (tmp_path / name).read_text()


@pytest.mark.parametrize("mutate, fragment", [
    (lambda s: s[: s.rindex("\n", 0, len(s) - 1) - 40], "file truncated?"),
    (lambda s: s.replace("Frames: 15", "Frames: 20"), "'Frames: 20' but the file has 15 data rows"),
    (lambda s: s.replace("Frames: 15", "Frames: 10"), "more data rows than 'Frames: 10'"),
    (lambda s: s.replace("Frames: 15", "Frames: 1000000000"), "'Frames: 1000000000' but the file has 15"),
    (lambda s: s.replace("Frames: 15", "Frames: 0"), "zero frames"),
    (lambda s: s[: s.index("MOTION")], "no MOTION section"),
    (lambda s: "hello world\n", "not a BVH file"),
    (lambda s: s.replace("Xrotation", "Wrotation", 1), "unknown channel 'Wrotation'"),
    (lambda s: s.replace("OFFSET", "OFFSET x", 1), "expected a number for OFFSET"),
    (lambda s: s.replace("JOINT LeftUpLeg", "JOINT Spine", 1), "used twice: Spine"),
    (lambda s: s[: s.index("MOTION")].rsplit("}", 3)[0] + "\nMOTION\nFrames: 1\nFrame Time: 0.1\n0\n",
     "file ends inside the HIERARCHY"),
    (lambda s: s.replace("Frame Time: 0.03333333", "Frame Time: 0"), "Frame Time must be positive"),
])
def test_malformed_files_give_one_line_errors(tmp_path, mutate, fragment):
    bad = tmp_path / "bad.bvh"
    bad.write_text(mutate(_good(tmp_path)))
    t0 = time.perf_counter()
    with pytest.raises(MotionFileError) as e:
        read_motion(bad)
    assert time.perf_counter() - t0 < 5, "must fail fast, never hang"
    msg = str(e.value)
    assert fragment in msg and str(bad) in msg and "\n" not in msg


def test_bad_number_and_nan_name_line_and_frame(tmp_path):
    lines = _good(tmp_path).splitlines()
    i = lines.index("Frame Time: 0.03333333") + 4          # data row of frame 3
    lines[i] = lines[i].replace("0.000000", "abc", 1)
    (tmp_path / "n.bvh").write_text("\n".join(lines) + "\n")
    with pytest.raises(MotionFileError, match=rf"n.bvh:{i + 1}, frame 3: not a number: 'abc'"):
        read_motion(tmp_path / "n.bvh")
    lines[i] = lines[i].replace("abc", "nan")
    (tmp_path / "n.bvh").write_text("\n".join(lines) + "\n")
    with pytest.raises(MotionFileError, match=rf"n.bvh:{i + 1}, frame 3: NaN"):
        read_motion(tmp_path / "n.bvh")


@pytest.mark.parametrize("unit, factor", [("m", 0.01), ("cm", 1.0), ("mm", 10.0), ("in", 1 / 2.54)])
def test_units_detected_from_body_height_and_flag_overrides(tmp_path, unit, factor):
    names, parents, offsets, channels = walk_rig()
    vals = walk_values(0.5, 30)
    pos_cols = [i for i, c in enumerate(c for ch in channels for c in ch) if c.endswith("position")]
    vals[:, pos_cols] *= factor
    bvh.write(tmp_path / "u.bvh", names, parents, offsets * factor, channels, vals, 1 / 30, precision=8)
    m = read_motion(tmp_path / "u.bvh")
    assert m.meta["units"] == unit
    ref = read_motion(tmp_path / "u.bvh", units=unit)
    np.testing.assert_allclose(m.positions, ref.positions)
    head = m.joint("Head")[:, 1] - m.joint("LeftToeBase")[:, 1]
    assert 1.3 < head.mean() < 1.7
    forced = read_motion(tmp_path / "u.bvh", units="m")
    np.testing.assert_allclose(forced.positions, m.positions / {"m": 1, "cm": .01, "mm": .001, "in": .0254}[unit],
                               rtol=1e-4, atol=1e-5)


def _same_hierarchy(a, b):
    return a.n_channels == b.n_channels and len(a.joints) == len(b.joints) and all(
        (x.name, x.parent, x.channels, x.end_site) == (y.name, y.parent, y.channels, y.end_site)
        and x.offset.dtype == y.offset.dtype and np.array_equal(x.offset, y.offset, equal_nan=True) for x, y in zip(a.joints, b.joints))


def test_fast_hierarchy_path_agrees_with_the_full_parser(tmp_path):
    """parse_hierarchy's fast path (no line numbers) takes well-formed headers, gives the full
    parser's hierarchy, and hands everything else to the full parser (so every error keeps its
    line): checked on written rigs, the two-root CRLF file and 3,000 seeded token mutations."""
    import random
    headers = []
    for order in ORDERS:
        write_walk_bvh(tmp_path / "w.bvh", seconds=0.2, order=order)
        headers.append(bvh.split_file((tmp_path / "w.bvh").read_bytes(), "w")[0])
    _chain_file(tmp_path / "c.bvh", "ZYX", [[0] * 9])
    headers.append(bvh.split_file((tmp_path / "c.bvh").read_bytes(), "c")[0])
    headers.append("HIERARCHY\r\nROOT A\r\n{\r\n\tOFFSET 0 0 0\r\n\tCHANNELS 3 xposition YPOSITION Zposition\r\n"
                   "\tEnd Site\r\n\t{\r\n\t\tOFFSET 0 1 0\r\n\t}\r\n}\r\nROOT B\r\n{\tOFFSET 1 2 3 CHANNELS 0\r\n}\r\n")
    for h in headers:
        fast = bvh_hierarchy._parse_hierarchy_fast(h)
        assert fast is not None and _same_hierarchy(fast, bvh_hierarchy._parse_hierarchy_full(h))
    odd = headers[-1].replace("ROOT B", "root B").replace("OFFSET 1 2 3 CHANNELS 0", "CHANNELS 0 OFFSET 1 2 3")
    for h in (odd, odd.replace("root B", "ROOT B")):                 # other spellings and layouts: full parser
        assert bvh_hierarchy._parse_hierarchy_fast(h) is None
        assert bvh.parse_hierarchy(h).names == ("A", "A_End", "B")
    rng = random.Random(11)
    words = ["{", "}", "JOINT", "End", "Site", "OFFSET", "CHANNELS", "3", "7", "Xrotation", "xposition", "1e3",
             "nan", "ROOT", "Hips", "Xrotatıon", "0"]
    taken = 0
    for _ in range(3000):
        toks = rng.choice(headers).split()
        for _ in range(rng.randint(1, 2)):
            k = rng.randrange(len(toks))
            op = rng.random()
            if op < 0.3:
                del toks[k]
            elif op < 0.7:
                toks.insert(k, rng.choice(words))
            else:
                toks[k] = rng.choice(words)
        text = "\n".join(toks)
        fast = bvh_hierarchy._parse_hierarchy_fast(text)
        if fast is None:
            continue
        taken += 1
        assert _same_hierarchy(fast, bvh_hierarchy._parse_hierarchy_full(text)), text
    assert taken > 50                                 # the mutations it accepts are checked too
