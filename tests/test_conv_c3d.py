"""C3D reader: fixtures written with ezc3d itself (units, gaps, dropped markers, model outputs),
one-line errors for broken files (never a crash or a hang), every real vendor file, the marker-set
presets, and a synthetic Plug-in Gait capture taken end to end through load_motion."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import ezc3d
import numpy as np
import pytest

from m2t.converters import ConfigError, MotionFileError, SkeletonMatchError, c3d, load_motion, read_motion
from m2t.converters.canonical import canonicalize
from m2t.converters.errors import M2TError
from m2t.converters.motion import Motion
from m2t.converters.skeletons import T2M
from conftest import REPO, need

PRESETS = REPO / "converters" / "presets"


def write_c3d(path, labels, xyz, rate=100.0, units="mm", residuals=None, point_params=None):
    """xyz (T, N, 3) in `units` (NaN = missing); residuals (T, N) or None; extra POINT params."""
    xyz = np.asarray(xyz, dtype=np.float64)
    T, N, _ = xyz.shape
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    c["parameters"]["POINT"]["UNITS"]["value"] = [units] if units else []
    pts = np.ones((4, N, T))
    pts[:3] = xyz.transpose(2, 1, 0)
    c["data"]["points"] = pts
    if residuals is not None:
        c["data"]["meta_points"]["residuals"] = np.asarray(residuals, dtype=np.float64).T[None]
    for name, value in (point_params or {}).items():
        c.add_parameter("POINT", name, value)
    c.write(str(path))
    return Path(path)


def _traj(T=50, N=3):
    """(T, N, 3) mm: marker j moves along x at (j + 1) mm/frame from (100 j, 200 + j, 900)."""
    t = np.arange(T)[:, None]
    j = np.arange(N)[None, :]
    return np.stack([100.0 * j + (j + 1) * t, 200.0 + j + 0 * t, 900.0 + 0 * t * j], axis=-1)


def _read_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return c3d.read(path, **kw)


# ---------------------------------------------------------------- fixtures written with ezc3d

def test_mm_to_metres_labels_rate(tmp_path):
    xyz = _traj()
    f = write_c3d(tmp_path / "a.c3d", ["Sub:LASI", "RASI", "C7"], xyz, rate=120.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no gaps -> no warning
        m = c3d.read(f)
    assert m.joint_names == ("Sub:LASI", "RASI", "C7")   # namespace kept
    assert m.parents is None and m.up is None and m.fps == 120.0
    assert m.positions.dtype == np.float32 and m.positions.shape == (50, 3, 3)
    np.testing.assert_allclose(m.positions, xyz / 1000.0, atol=1e-5)
    assert m.meta["units"] == "mm" and m.meta["units_from"] == "POINT:UNITS"
    assert m.meta["markers"] == 3 and m.meta["gaps_filled"] == 0 and m.meta["analog_channels"] == 0
    json.dumps(m.meta)


@pytest.mark.parametrize("units, scale", [("m", 1.0), ("cm", 0.01), ("mm", 0.001)])
def test_point_units_honoured(tmp_path, units, scale):
    xyz = _traj() * 0.001 / scale                      # the same metres, in the file's units
    f = write_c3d(tmp_path / "u.c3d", ["a", "b", "c"], xyz, units=units)
    m = c3d.read(f)
    np.testing.assert_allclose(m.positions, xyz * scale, rtol=1e-6, atol=1e-6)
    assert m.meta["units"] == units


def test_units_override_and_missing_units(tmp_path):
    xyz = _traj()
    f = write_c3d(tmp_path / "m.c3d", ["a", "b", "c"], xyz / 1000.0, units="mm")  # file lies: metres
    with pytest.warns(UserWarning, match=r"m\.c3d: the markers span 0\.000[0-9]+ m in mm \(POINT:UNITS\); if"):
        c3d.read(f)
    m = c3d.read(f, units="m")
    np.testing.assert_allclose(m.positions, xyz / 1000.0, atol=1e-6)
    assert m.meta["units_from"] == "flag"
    f2 = write_c3d(tmp_path / "none.c3d", ["a", "b", "c"], xyz, units="")
    m2 = c3d.read(f2)
    assert m2.meta["units"] == "mm" and "assumed" in m2.meta["units_from"]
    np.testing.assert_allclose(m2.positions, xyz / 1000.0, atol=1e-5)
    with pytest.raises(ConfigError, match="unknown unit 'furlong'"):
        c3d.read(f, units="furlong")
    f3 = write_c3d(tmp_path / "odd.c3d", ["a", "b", "c"], xyz, units="parsec")
    with pytest.raises(MotionFileError, match=r"odd\.c3d: unknown POINT:UNITS 'parsec'"):
        c3d.read(f3)


def test_gaps_filled_by_interpolation_with_warning(tmp_path):
    xyz = _traj(T=20)
    resid = np.zeros((20, 3))
    resid[5:8, 0] = -1.0                # marker a: frames 5-7 flagged by the residual
    xyz[0:3, 1] = np.nan                # marker b: missing at the start -> held from frame 3
    xyz[10, 2] = np.nan                 # marker c: one NaN sample
    xyz[15, 2] = 0.0                    # ... and one exact (0, 0, 0) sample
    f = write_c3d(tmp_path / "gaps.c3d", ["a", "b", "c"], xyz, residuals=resid)
    with pytest.warns(UserWarning, match=r"gaps\.c3d: filled 8 missing marker samples in 3 markers by interpolation"):
        m = c3d.read(f)
    p = m.positions * 1000.0
    clean = _traj(T=20)
    np.testing.assert_allclose(p[5:8, 0], clean[5:8, 0], atol=1e-2)         # linear motion: exact
    np.testing.assert_allclose(p[0:3, 1], np.repeat(clean[3:4, 1], 3, 0), atol=1e-2)  # edge held
    np.testing.assert_allclose(p[[10, 15], 2], clean[[10, 15], 2], atol=1e-2)
    assert m.meta["gaps_filled"] == 8 and m.meta["gap_markers"] == 3 and m.meta["longest_gap_frames"] == 3


def test_fill_gaps_and_longest_run_units():
    xyz = np.zeros((5, 1, 3))
    xyz[:, 0, 0] = [np.nan, 1.0, np.nan, 3.0, np.nan]
    miss = np.isnan(xyz[..., 0])
    out = c3d.fill_gaps(xyz, miss)
    assert out[:, 0, 0].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert c3d.longest_run(np.array([[1, 0], [1, 1], [0, 1], [1, 1]], bool)) == 3


def test_empty_marker_dropped_and_empty_edges_cut(tmp_path):
    xyz = _traj(T=30, N=4)
    xyz[:, 2] = np.nan                  # marker c never seen
    xyz[:4] = np.nan                    # nothing seen in the first 4 frames
    xyz[-2:] = np.nan                   # ... nor in the last 2
    f = write_c3d(tmp_path / "drop.c3d", ["a", "b", "c", "d"], xyz)
    with pytest.warns(UserWarning) as rec:
        m = c3d.read(f)
    msgs = [str(w.message) for w in rec]
    assert msgs == [f"{f}: dropped 1 markers missing in every frame: c",
                    f"{f}: cut 4 leading and 2 trailing frames in which no marker was seen"]
    assert m.joint_names == ("a", "b", "d") and m.n_frames == 24
    assert m.meta["dropped_markers"] == ["c"] and m.meta["trimmed_frames"] == [4, 2]
    assert m.meta["first_frame"] == 4 and m.meta["gaps_filled"] == 0
    np.testing.assert_allclose(m.positions, _traj(T=30, N=4)[4:28][:, [0, 1, 3]] / 1000, atol=1e-5)


def test_all_markers_empty_is_an_error(tmp_path):
    xyz = np.full((10, 2, 3), np.nan)
    f = write_c3d(tmp_path / "void.c3d", ["a", "b"], xyz)
    with pytest.raises(MotionFileError, match=r"void\.c3d: every marker is missing in every frame"):
        c3d.read(f)


def test_model_outputs_are_not_markers(tmp_path):
    xyz = _traj(N=3)
    f = write_c3d(tmp_path / "pig.c3d", ["LASI", "LHipAngles", "LKneeMoment"], xyz,
                  point_params={"ANGLES": ["LHipAngles"], "MOMENTS": ["LKneeMoment"]})
    m = c3d.read(f)
    assert m.joint_names == ("LASI",) and m.meta["non_marker_points"] == 2
    f2 = write_c3d(tmp_path / "angles.c3d", ["LHipAngles"], xyz[:, :1], point_params={"ANGLES": ["LHipAngles"]})
    with pytest.raises(MotionFileError, match=r"angles\.c3d: no 3D marker points \(only model outputs: angles\)"):
        c3d.read(f2)


def test_gzip_and_read_motion(tmp_path):
    xyz = _traj()
    f = write_c3d(tmp_path / "walk.c3d", ["a", "b", "c"], xyz)
    gz = tmp_path / "walk.c3d.gz"
    gz.write_bytes(gzip.compress(f.read_bytes()))
    from m2t.converters import api
    api._TOLD.clear()                                  # said once per process: say it here
    with pytest.warns(UserWarning, match="--asf applies to .amc files; ignored"):
        m = read_motion(gz, units=None, asf="ignored")     # options other readers take are ignored (and said so)
    np.testing.assert_allclose(m.positions, xyz / 1000.0, atol=1e-5)
    assert m.source == str(gz)


# ---------------------------------------------------------------- broken files: one-line errors

def _valid(tmp_path) -> Path:
    return write_c3d(tmp_path / "ok.c3d", ["a", "b", "c"], _traj(T=400))


@pytest.mark.parametrize("make, fragment", [
    (lambda d, ok: np.random.default_rng(1).bytes(5000), "not a C3D file"),
    (lambda d, ok: b"", "empty file"),
    (lambda d, ok: b"this is text, not motion\n" * 40, "not a C3D file"),
    (lambda d, ok: ok[: len(ok) // 2], "truncated: the header announces 400 frames but the file holds only"),
    (lambda d, ok: ok[:700], "truncated: the file ends"),
])
def test_broken_files(tmp_path, make, fragment):
    ok = _valid(tmp_path).read_bytes()
    f = tmp_path / "bad.c3d"
    f.write_bytes(make(tmp_path, ok))
    with pytest.raises(MotionFileError) as e:
        c3d.read(f)
    msg = str(e.value)
    assert msg.startswith(str(f)) and fragment in msg and "\n" not in msg


def test_missing_file_and_bad_gzip(tmp_path):
    with pytest.raises(MotionFileError, match="no such file"):
        c3d.read(tmp_path / "nope.c3d")
    (tmp_path / "x.c3d.gz").write_bytes(b"not gzip at all")
    with pytest.raises(MotionFileError, match=r"x\.c3d\.gz: cannot read"):
        c3d.read(tmp_path / "x.c3d.gz")


def test_analog_only_file(tmp_path):
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["ANALOG"]["RATE"]["value"] = [1000]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("Fx", "Fy")
    c["data"]["points"] = np.zeros((4, 0, 10))
    c["data"]["analogs"] = np.ones((1, 2, 100))
    c.write(str(tmp_path / "fp.c3d"))
    with pytest.raises(MotionFileError, match=r"fp\.c3d: no 3D marker points \(analog/force-plate data only\)"):
        c3d.read(tmp_path / "fp.c3d")


def test_structure_check_catches_what_crashes_ezc3d(tmp_path):
    """Corruptions that make ezc3d 1.7 segfault or hang are refused before ezc3d sees them."""
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("a",)
    c["parameters"]["ANALOG"]["RATE"]["value"] = [200]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("Fz",)
    c["data"]["points"] = np.ones((4, 1, 10))
    c["data"]["analogs"] = np.ones((1, 1, 20))
    c.write(str(tmp_path / "ok.c3d"))
    data = bytearray((tmp_path / "ok.c3d").read_bytes())
    c3d.check_structure(bytes(data), "ok.c3d")
    renamed = bytearray(data)
    i = renamed.find(b"OFFSET")                    # ANALOG:OFFSET -> QFFSET (ezc3d segfaults)
    renamed[i] = ord("Q")
    with pytest.raises(MotionFileError, match="no ANALOG:OFFSET parameter"):
        c3d.check_structure(bytes(renamed), "r.c3d")
    huge = bytearray(data)
    i = huge.find(b"USED") + 4 + 2 + 1            # POINT:USED: pointer (2), type (1) -> ndims
    huge[i] = 153                                 # 153 dimensions read from the data (ezc3d crashes)
    with pytest.raises(MotionFileError, match="corrupt C3D parameter section"):
        c3d.check_structure(bytes(huge), "h.c3d")


def test_fuzzed_files_never_crash_or_hang(tmp_path):
    """Random byte flips in the header and parameter section, in a child process: every file
    either reads or gives a one-line MotionFileError; no segfault, traceback or hang."""
    _valid(tmp_path)
    code = f"""
import sys, warnings, numpy as np
from m2t.converters import c3d, MotionFileError
warnings.simplefilter("ignore")
src = open({str(tmp_path / "ok.c3d")!r}, "rb").read()
rng = np.random.default_rng(7)
for k in range(60):
    b = bytearray(src)
    for _ in range(int(rng.integers(1, 12))):
        b[int(rng.integers(0, min(len(b), 3 * 512)))] = int(rng.integers(0, 256))
    open({str(tmp_path / "f.c3d")!r}, "wb").write(b)
    try:
        c3d.read({str(tmp_path / "f.c3d")!r})
    except MotionFileError as e:
        assert "\\n" not in str(e)
print("done")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "done" in r.stdout, r.stderr[-2000:]


# ---------------------------------------------------------------- real vendor files

# expected outcome per file: None = reads, else a fragment of the MotionFileError
REAL = {
    "BTS.c3d": None, "FP_Type1.c3d": None, "FP_Type3.c3d": None, "Qualisys.c3d": None,
    "Vicon.c3d": None, "read_NOTworking2.c3d": None,
    "C3DRotationExample.c3d": "no 3D marker points (rotation data only)",
    "Kistler.c3d": "no 3D marker points (analog/force-plate data only)",
    "Optotrak.c3d": "truncated: the header announces 1149 frames but the file holds only 29",
}
MAPS = {"Qualisys.c3d": "qualisys_isb_full", "FP_Type1.c3d": "helen_hayes", "BTS.c3d": "helen_hayes_heel",
        "FP_Type3.c3d": "cast_ior", "read_NOTworking2.c3d": "plugin_gait_upper_asi"}   # partial ones: tests/test_c3d_sets.py


def _real_files(shared_data):
    d = need(shared_data / "c3d")
    files = sorted(p for p in d.iterdir() if p.name.lower().endswith((".c3d", ".c3d.gz")))
    assert files
    return files


def test_every_real_file_reads_or_fails_clearly(shared_data):
    for f in _real_files(shared_data):
        expected = REAL.get(f.name, "?")
        try:
            m = _read_quiet(f)
        except MotionFileError as e:
            assert str(e).startswith(str(f)) and "\n" not in str(e)
            assert expected is not None and (expected == "?" or expected in str(e)), (f.name, str(e))
            continue
        assert expected in (None, "?"), f"{f.name} read but should fail with {expected!r}"
        p = m.positions
        assert np.isfinite(p).all() and m.fps > 0 and m.n_joints == m.meta["markers"]
        spread = np.median((p.max(axis=1) - p.min(axis=1)).max(axis=-1))
        assert 0.1 < spread < 3.0, (f.name, spread)          # metres, one person (+ props)


def test_real_file_details(shared_data):
    d = need(shared_data / "c3d")
    vicon = _read_quiet(need(d / "Vicon.c3d"))
    assert "Daphnee:ASISr" in vicon.joint_names and vicon.meta["up_hint"] == "+z"
    assert vicon.meta["gaps_filled"] > 0 and vicon.meta["analog_channels"] == 38
    bts = _read_quiet(need(d / "BTS.c3d"))
    assert bts.meta["trimmed_frames"][0] == 239 and bts.meta["up_hint"] == "+y"
    assert _read_quiet(need(d / "FP_Type1.c3d")).meta["units"] == "m"
    nw = _read_quiet(need(d / "read_NOTworking2.c3d"))          # ezc3d 1.7 reads it fine
    assert nw.n_joints == 23 and nw.fps == 25.0 and nw.n_frames == 670
    q = need(d / "Qualisys.c3d")
    t0 = time.perf_counter()
    _read_quiet(q)
    assert time.perf_counter() - t0 < 2.0


def test_real_files_through_load_motion(shared_data):
    for f in _real_files(shared_data):
        if REAL.get(f.name, "?") not in (None, "?"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = load_motion(f)
        except M2TError as e:          # Vicon.c3d: two subjects, no --subject
            assert f.name not in MAPS and "subjects in the file" in str(e), str(e)
            continue
        assert m.meta["rig"] == MAPS.get(f.name), f.name
        p = m.positions
        assert m.joint_names == T2M.joint_names and abs(p[..., 1].min()) < 1e-5
        assert 1.0 < p[:, T2M.head, 1].mean() < 1.9                    # head height, metres
        assert p[0, T2M.index("left_hip"), 0] > p[0, T2M.index("right_hip"), 0]   # left on +X


# ---------------------------------------------------------------- presets

@pytest.mark.parametrize("name", ["plugin_gait_full", "plugin_gait_full_sacr", "qualisys_isb_full"])
def test_preset_files(name):
    d = json.loads((PRESETS / f"{name}.json").read_text())
    assert d["name"] == name and d["description"]
    assert set(d["t2m"]) == set(T2M.joint_names)
    for joint, v in d["t2m"].items():
        w = {v: 1.0} if isinstance(v, str) else v
        assert abs(sum(w.values()) - 1.0) < 1e-9 and min(w.values()) > 0, joint


# Plug-in Gait markers as offsets from SMPL joints in the canonical frame (metres; Y up, facing +Z,
# left +X): a simple anatomical model used to check the preset and the whole pipeline.
def _pig_markers(J: np.ndarray) -> dict:
    n = {k: J[T2M.index(k)] for k in T2M.joint_names}
    mk = {}
    for s, sg in (("L", 1.0), ("R", -1.0)):
        side = "left" if s == "L" else "right"
        hip, knee, ankle, foot = (n[f"{side}_{k}"] for k in ("hip", "knee", "ankle", "foot"))
        sh, el, wr = (n[f"{side}_{k}"] for k in ("shoulder", "elbow", "wrist"))
        mk[f"{s}ASI"] = np.array([hip[0] * 1.35, hip[1] + 0.08, hip[2] + 0.05])
        mk[f"{s}PSI"] = np.array([sg * 0.045, hip[1] + 0.10, hip[2] - 0.11])
        mk[f"{s}THI"] = (hip + knee) / 2 + [sg * 0.07, 0, 0]
        mk[f"{s}KNE"] = knee + [sg * 0.05, 0, 0]
        mk[f"{s}TIB"] = (knee + ankle) / 2 + [sg * 0.05, 0, 0]
        mk[f"{s}ANK"] = ankle + [sg * 0.035, 0, 0]
        mk[f"{s}HEE"] = ankle + [0, -0.04, -0.06]
        mk[f"{s}TOE"] = foot + [0, 0.02, 0]
        mk[f"{s}SHO"] = sh + [0, 0.04, 0]
        mk[f"{s}UPA"] = (sh + el) / 2 + [0, 0, -0.04]
        mk[f"{s}ELB"] = el + [0, 0, -0.035]
        mk[f"{s}FRM"] = (el + wr) / 2 + [0, 0, -0.03]
        mk[f"{s}WRA"] = wr + [0, 0, 0.03]
        mk[f"{s}WRB"] = wr + [0, 0, -0.03]
        mk[f"{s}FIN"] = wr + [sg * 0.08, 0, 0]
        mk[f"{s}FHD"] = n["head"] + [sg * 0.05, 0.09, 0.09]
        mk[f"{s}BHD"] = n["head"] + [sg * 0.05, 0.07, -0.07]
    mk["C7"] = n["neck"] + [0, 0.01, -0.07]
    mk["CLAV"] = n["neck"] + [0, -0.05, 0.08]
    mk["T10"] = n["spine2"] + [0, 0.03, -0.11]
    mk["STRN"] = n["spine2"] + [0, 0.03, 0.12]
    mk["RBAK"] = n["spine3"] + [-0.07, 0.05, -0.12]
    return mk


def _to_lab(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Canonical (x left, y up, z forward) -> lab Z up, walking along +X while turning slowly;
    p (J, 3) metres, t (T,) seconds -> (T, J, 3) millimetres."""
    lab = np.stack([p[:, 2], p[:, 0], p[:, 1]], axis=-1)          # forward -> X, left -> Y, up -> Z
    out = np.empty((len(t), len(p), 3))
    for i, ti in enumerate(t):
        a = 0.3 * ti
        R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        out[i] = lab @ R.T + [0.8 + 1.0 * ti, 0.3, 0.02 * np.sin(6 * ti)]
    return out * 1000.0


@pytest.mark.parametrize("sacr", [False, True])
def test_plugin_gait_end_to_end(tmp_path, sacr):
    t = np.arange(150) / 100.0
    joints = T2M.rest
    mk = _pig_markers(joints)
    if sacr:
        mk["SACR"] = (mk.pop("LPSI") + mk.pop("RPSI")) / 2
    labels = [f"Walker:{k}" for k in mk]                           # namespaced, as Vicon writes
    f = write_c3d(tmp_path / "pig.c3d", labels, _to_lab(np.stack(list(mk.values())), t), rate=100.0)
    m = load_motion(f, keep_proportions=True)        # marker placement against the true joints
    assert m.meta["rig"] == ("plugin_gait_full_sacr" if sacr else "plugin_gait_full")
    assert m.joint_names == T2M.joint_names and m.fps == 20.0 and m.n_frames == 30
    ref = canonicalize(Motion(_to_lab(joints, t) / 1000.0, 100.0, T2M.joint_names, T2M.parents,
                              skeleton="t2m"), up="+z", keep_proportions=True).positions
    err = np.linalg.norm(m.positions - ref, axis=-1).mean(axis=0)  # (22,) metres
    hips = [T2M.index("left_hip"), T2M.index("right_hip")]
    others = np.delete(err, hips)
    assert err[hips].max() < 0.12, err                             # ~8 cm high by design
    assert others.max() < 0.08 and np.median(others) < 0.05, dict(zip(T2M.joint_names, err.round(3)))
    p = m.positions
    assert p[0, T2M.index("left_hip"), 0] > p[0, T2M.index("right_hip"), 0]   # left on +X
    assert p[-1, 0, 2] > 1.0                                       # walked forward: +Z


def test_lower_body_plugin_gait_converts_with_unobserved_joints_flagged(tmp_path):
    mk = _pig_markers(T2M.rest)
    lower = {k: v for k, v in mk.items() if k[1:] in ("ASI", "PSI", "THI", "KNE", "TIB", "ANK", "HEE", "TOE")}
    f = write_c3d(tmp_path / "legs.c3d", list(lower), _to_lab(np.stack(list(lower.values())), np.arange(10) / 100))
    m = load_motion(f)
    assert m.meta["rig"] == "plugin_gait_lower" and "head" in m.meta["unobserved"]
    assert not m.observed[T2M.index("head")] and m.observed[T2M.index("left_knee")]
