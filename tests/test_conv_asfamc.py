"""ASF/AMC reader: hand-computed FK on fixtures written by our own writer, one-line errors, and
every real CMU / HDM05 file (skipped when the shared data is absent)."""
from __future__ import annotations

import csv
import gzip
import time

import numpy as np
import pytest

from m2t.converters import MotionFileError, asfamc, read_motion
from conftest import need

# A small rig (raw units = metres with units="m"): a up from the root, b sideways off a with
# C = Rz(90) (so its rx turns about global y), c forward off b with dofs in the unusual order
# "ry rx", d like b but with its axis written in ZYX order, e with translation and length dofs.
BONES = [
    dict(name="a", parent="root", direction=(0, 1, 0), length=1.0, dof="rx ry rz"),
    dict(name="b", parent="a", direction=(1, 0, 0), length=2.0, axis=(0, 0, 90), dof="rx"),
    dict(name="c", parent="b", direction=(0, 0, 1), length=0.5, dof="ry rx"),
    dict(name="d", parent="a", direction=(1, 0, 0), length=1.0, axis=(90, 0, 0), order="ZYX", dof="rx"),
    dict(name="e", parent="root", direction=(0, 0, 1), length=1.0, dof="tx l"),
]
ROOT = (1.0, 2.0, 3.0)


def _frames():
    """(values per bone, expected end positions per frame {joint: (x, y, z)})."""
    z3 = (0.0, 0.0, 0.0)
    rows = [  # root rotation (rx, ry, rz), a, b rx, c (ry, rx), d rx, e (tx, l)
        ((0, 0, 0), z3, 0, (0, 0), 0, (0, 0)),
        ((90, 0, 0), z3, 0, (0, 0), 0, (0, 0)),
        ((0, 0, 0), z3, 90, (0, 0), 90, (0, 0)),
        ((90, 90, 0), z3, 0, (0, 0), 0, (0, 0)),   # X first, then Y: Ry(90) @ Rx(90)
        ((0, 0, 0), z3, 0, (90, 90), 0, (2, 0.5)),  # c: ry first, then rx
    ]
    r = np.array(ROOT)
    expect = [
        dict(a=(1, 3, 3), b=(3, 3, 3), c=(3, 3, 3.5), d=(2, 3, 3), e=(1, 2, 4)),
        dict(a=(1, 2, 4), b=(3, 2, 4), c=(3, 1.5, 4), d=(2, 2, 4), e=(1, 1, 3)),
        dict(a=(1, 3, 3), b=(1, 3, 1), c=(1.5, 3, 1), d=(1, 3, 2), e=(1, 2, 4)),
        dict(a=(2, 2, 3), b=(2, 2, 1), c=(2, 1.5, 1), d=(2, 2, 2), e=(1, 1, 3)),
        dict(a=(1, 3, 3), b=(3, 3, 3), c=(3.5, 3, 3), d=(2, 3, 3), e=(3, 2, 4.5)),
    ]
    vals = {"root": [list(r) + list(f[0]) for f in rows], "a": [f[1] for f in rows], "b": [[f[2]] for f in rows],
            "c": [f[3] for f in rows], "d": [[f[4]] for f in rows], "e": [f[5] for f in rows]}
    return vals, expect


@pytest.fixture
def rig(tmp_path):
    asfamc.write_asf(tmp_path / "rig.asf", BONES, name="testrig")
    vals, expect = _frames()
    asfamc.write_amc(tmp_path / "rig.amc", vals)
    return tmp_path, vals, expect


def test_round_trip_hand_computed(rig):
    d, _, expect = rig
    m = asfamc.read(d / "rig.amc", units="m")
    assert m.joint_names == ("root", "a", "b", "c", "d", "e")
    assert m.parents == (-1, 0, 1, 2, 1, 0)
    assert m.n_frames == 5 and m.fps == 120 and m.up == "+y" and m.skeleton == "asf:testrig"
    assert m.meta["fps_source"] == "default 120" and m.meta["asf"].endswith("rig.asf")
    for t, exp in enumerate(expect):
        np.testing.assert_allclose(m.joint("root")[t], ROOT, atol=1e-5)
        for name, xyz in exp.items():
            np.testing.assert_allclose(m.joint(name)[t], xyz, atol=1e-5, err_msg=f"frame {t} {name}")


def test_units_radians_gzip_and_fps(rig, tmp_path):
    d, vals, expect = rig
    asfamc.write_asf(d / "HDM_zz.asf.gz", BONES, length_scale=0.45)
    rad = {k: np.deg2rad(v) if k not in ("root", "e") else v for k, v in vals.items()}
    rad["root"] = np.concatenate([np.array(vals["root"])[:, :3], np.deg2rad(np.array(vals["root"])[:, 3:])], 1)
    asfamc.write_amc(d / "HDM_zz_walk_001_60.amc.gz", rad, angle="rad")
    m = asfamc.read(d / "HDM_zz_walk_001_60.amc.gz")  # finds HDM_zz.asf.gz, fps from the name
    assert m.fps == 60 and m.meta["fps_source"] == "file name" and m.meta["asf"].endswith("HDM_zz.asf.gz")
    assert m.meta["units"] == "asf"
    np.testing.assert_allclose(m.joint("c")[4], np.array(expect[4]["c"]) * 0.0254 / 0.45, atol=1e-5)
    cm = asfamc.read(d / "HDM_zz_walk_001_60.amc.gz", units="cm", fps=30)
    assert cm.fps == 30 and cm.meta["fps_source"] == "argument"
    np.testing.assert_allclose(cm.joint("b")[2], np.array(expect[2]["b"]) / 100, atol=1e-6)
    assert read_motion(d / "rig.amc", units="m").n_frames == 5  # through the READERS registry


def test_irregular_file_uses_slow_path(rig):
    """Comments, CRLF, tabs, bones in another order per frame, a bone left out (not fully specified)."""
    d, vals, expect = rig
    lines = ["# made by hand", ":DEGREES"]
    for t in range(5):
        lines.append(str(t + 1))
        names = list(vals) if t % 2 else list(vals)[::-1]
        lines += [f"{n}\t" + " ".join(str(float(x)) for x in np.ravel(vals[n][t])) + "  # c" for n in names
                  if not (t == 1 and n == "e")]
    (d / "odd.amc").write_bytes("\r\n".join(lines).encode())
    m = asfamc.read(d / "odd.amc", asf=d / "rig.asf", units="m")
    for t, exp in enumerate(expect):
        for name, xyz in exp.items():
            np.testing.assert_allclose(m.joint(name)[t], xyz, atol=1e-5, err_msg=f"frame {t} {name}")


def test_find_asf(tmp_path):
    asfamc.write_asf(tmp_path / "07-walk.asf", BONES)
    asfamc.write_asf(tmp_path / "07.asf", BONES)
    (tmp_path / "07_05-walk.amc").write_text("1\n")
    assert asfamc.find_asf(tmp_path / "07_05-walk.amc").name == "07-walk.asf"
    (tmp_path / "07_06.amc").write_text("1\n")
    assert asfamc.find_asf(tmp_path / "07_06.amc").name == "07.asf"
    (tmp_path / "x.amc").write_text("1\n")
    with pytest.raises(MotionFileError, match=r"x\.amc: cannot find its ASF.*pass --asf"):
        asfamc.read(tmp_path / "x.amc")
    sub = tmp_path / "one"
    sub.mkdir()
    asfamc.write_asf(sub / "whatever.asf", BONES)
    (sub / "take.amc").write_text("1\n")
    assert asfamc.find_asf(sub / "take.amc").name == "whatever.asf"


def _amc_text(vals, n=5):
    out = [":FULLY-SPECIFIED", ":DEGREES"]
    for t in range(n):
        out.append(str(t + 1))
        out += [f"{k} " + " ".join(str(float(x)) for x in np.ravel(v[t])) for k, v in vals.items()]
    return out


@pytest.mark.parametrize("edit, fragment", [
    (lambda L: L[:9] + ["zzz 1 2"] + L[9:], r"bad\.amc:10: unknown bone 'zzz'"),
    (lambda L: L[:4] + ["a 1 2"] + L[5:], r"bad\.amc:5: bone 'a' has 2 values, the ASF gives it 3"),
    (lambda L: L[:-2], r"bad\.amc:31: frame 5 is truncated: it lacks bone 'd'"),
    (lambda L: L[:-1] + ["e 1"], r"bad\.amc:37: bone 'e' has 1 values.*\(file truncated\?\)"),
    (lambda L: L + ["6"], r"bad\.amc:38: frame 6 is truncated: it lacks bone 'root'"),
    (lambda L: L[:10] + L[11:], r"bad\.amc:10: frame 2 lacks bone 'root'"),
    (lambda L: L[:2], r"bad\.amc: contains no frames"),
    (lambda L: L[:2] + ["1", "2"], r"bad\.amc: contains no frames"),
    (lambda L: L[:5] + ["b x"] + L[6:], r"bad\.amc:6: bone 'b': non-numeric value in 'x'"),
    (lambda L: L[:5] + ["b 1.2.3"] + L[6:], r"bad\.amc:6: bone 'b': non-numeric"),
    (lambda L: L + ["a 0 0 0"], r"bad\.amc:38: bone 'a' twice in frame 5"),
])
def test_amc_errors(rig, edit, fragment):
    d, vals, _ = rig
    (d / "bad.amc").write_text("\n".join(edit(_amc_text(vals))) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(MotionFileError, match=fragment) as e:
        asfamc.read(d / "bad.amc", asf=d / "rig.asf")
    assert "\n" not in str(e.value) and time.perf_counter() - t0 < 5


@pytest.mark.parametrize("edit, fragment", [
    (lambda s: s.replace("    b c\n", "    b c q\n"), r"bad\.asf:\d+: :hierarchy names unknown bone 'q'"),
    (lambda s: s.replace("    b c\n", ""), r"bad\.asf:\d+: bone 'c' is not in :hierarchy"),
    (lambda s: s.replace("length 2.0", "length two"), r"bad\.asf:\d+: bone 'b' length: non-numeric"),
    (lambda s: s.replace("dof rx\n", "dof rq\n", 1), r"bad\.asf:\d+: bone 'b': unknown dof 'rq'"),
    (lambda s: s.split(":bonedata")[0], r"bad\.asf: no :bonedata"),
])
def test_asf_errors(rig, edit, fragment):
    d, _, _ = rig
    (d / "bad.asf").write_text(edit((d / "rig.asf").read_text()))
    with pytest.raises(MotionFileError, match=fragment):
        asfamc.read(d / "rig.amc", asf=d / "bad.asf")


def test_missing_files(tmp_path):
    with pytest.raises(MotionFileError, match="nope.amc: no such file"):
        asfamc.read(tmp_path / "nope.amc")
    (tmp_path / "a.amc").write_text("1\n")
    with pytest.raises(MotionFileError, match="no.asf: no such file"):
        asfamc.read(tmp_path / "a.amc", asf=tmp_path / "no.asf")


# ------------------------------------------------------------------------------- real data

FEET = ["ltoes", "rtoes", "lfoot", "rfoot", "ltibia", "rtibia"]


def _check_body(m, lying=False):
    p = m.positions
    y = p[:, :, 1]
    J = list(m.joint_names)
    head = np.percentile(y[:, J.index("head")] - y.min(1), 90)  # standing height
    lowest_is_foot = np.isin(np.array(J)[y.argmin(1)], FEET).mean()
    if lying:
        assert 0.5 < head < 2.1 and lowest_is_foot > 0.1, (m.source, head, lowest_is_foot)
    else:
        assert 1.3 < head < 2.1, (m.source, head)
        assert lowest_is_foot > 0.7, (m.source, lowest_is_foot)
        gap = np.median(y[:, [J.index(n) for n in FEET]].min(1) - y.min(1))
        assert gap < 0.02, (m.source, gap)
        up = p[:, J.index("thorax")] - p[:, 0]
        assert np.percentile(up[:, 1] / np.linalg.norm(up, axis=1), 90) > 0.8, m.source  # upright spine


def test_hdm05_all(shared_data):
    root = need(shared_data / "hdm05")
    rows = list(csv.DictReader(open(need(root / "MANIFEST.csv"))))
    assert len(rows) >= 288
    t0, frames = time.perf_counter(), 0
    for r in rows:
        f = root / r["file"]
        m = asfamc.read(f if f.exists() else f.with_name(f.name + ".gz"))
        assert m.n_frames == int(r["frames"]) and m.fps == float(r["fps"]) == 120, r["file"]
        assert m.meta["asf"].endswith(r["asf"]) and m.n_joints == 31
        _check_body(m, lying=r["hdm05_class"] == "lieDownFloor")
        frames += m.n_frames
    dt = time.perf_counter() - t0
    assert dt < 60, f"{frames} frames took {dt:.1f} s"


def test_cmu_all(shared_data):
    root = need(shared_data / "cmu-amc")
    for r in csv.DictReader(open(need(root / "MANIFEST.csv"))):
        m = asfamc.read(root / r["file"].split("/")[-1])
        assert m.n_frames == int(r["frames"]) and m.fps == 120 and m.meta["fps_source"] == "default 120"
        assert m.meta["asf"].endswith(r["asf"])
        _check_body(m)


def test_cmu_walk_moves(shared_data):
    m = asfamc.read(need(shared_data / "cmu-amc" / "07_05-walk.amc"))
    root = m.joint("root")
    assert np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]]) > 2.0  # metres walked
    knee_gap = m.joint("lfemur")[:, 2] - m.joint("rfemur")[:, 2]
    assert knee_gap.max() - knee_gap.min() > 0.3  # legs swing


def test_load_motion_cmu_walk(shared_data):
    from m2t.converters import load_motion
    m = load_motion(need(shared_data / "cmu-amc" / "07_05-walk.amc"))
    assert m.skeleton == "t2m" and m.n_joints == 22 and m.meta.get("rig") == "cmu_asf"
    p = m.positions
    step = p[-1, 0] - p[0, 0]
    assert step[2] > 2.0 and abs(step[0]) < 0.3 * step[2]  # walks along +Z
    assert p[0, 20, 0] > 0 > p[0, 21, 0]  # left wrist on +X
    assert abs(p[:, :, 1].min()) < 1e-4 and 1.3 < p[0, 15, 1] < 2.0


def test_gz_asf_text_is_plain_gzip(tmp_path):
    asfamc.write_asf(tmp_path / "r.asf.gz", BONES)
    assert gzip.decompress((tmp_path / "r.asf.gz").read_bytes()).startswith(b":version")
