"""Issue 12, hostile files: one named regression per signature seen (each was a traceback, an
abort or a multi-gigabyte run). Fixtures come from m2t's own writers (hostile_seeds.py)."""
from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hostile_seeds import write_c3d_seed, write_cmu_pair, write_smpl_seed
from m2t import converters
from m2t.cli.app import app
from m2t.converters import ConfigError, MotionFileError, c3d, limits, smpl
from m2t.converters.synthetic import write_walk_bvh

runner = CliRunner()


def one_error(args, code=2) -> str:
    """Run `m2t ARGS`: exit `code`, exactly one stderr line `Error: ...`, no traceback."""
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "Traceback" not in r.output
    return lines[0]


def bvh(tmp_path, edit=None, name="walk.bvh") -> Path:
    p = tmp_path / name
    write_walk_bvh(p, seconds=0.5)
    if edit:
        p.write_text(edit(p.read_text()))
    return p


def limited(code: str, timeout=60) -> subprocess.CompletedProcess:
    """Run python code in a child with RLIMIT_AS = 2 GiB."""
    pre = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    return subprocess.run([sys.executable, "-c", pre + code], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


# ------------------------------------------------------------------------------------ BVH
def test_frame_time_1000_refused_fast_with_bounded_memory(tmp_path):
    p = bvh(tmp_path, lambda s: s.replace("Frame Time: 0.03333333", "Frame Time: 1000"))
    t0 = time.time()
    r = limited(f"from m2t import converters\ntry:\n    converters.load_motion({str(p)!r})\n"
                f"except converters.M2TError as e:\n    print(e)")
    assert r.returncode == 0 and "Frame Time 1000 s: frame rate 0.001 Hz is outside the supported 1-10,000 Hz" in r.stdout
    assert time.time() - t0 < 20
    one_error(["convert", p, "-o", tmp_path / "out"])
    assert not list((tmp_path / "out").glob("*.np*"))


def test_frame_time_1e300(tmp_path):
    p = bvh(tmp_path, lambda s: s.replace("Frame Time: 0.03333333", "Frame Time: 1e300"))
    assert "frame rate 1e-300 Hz is outside" in one_error(["convert", p, "-o", tmp_path / "o"])


def test_corrupt_gz_does_not_stop_the_folder(tmp_path):
    src = tmp_path / "lab"
    bvh(src, name="a.bvh")
    bvh(src, name="c.bvh")
    z = bytearray(gzip.compress(bvh(tmp_path, name="b.bvh").read_bytes()))
    z[len(z) // 2:len(z) // 2 + 8] = b"\xff" * 8
    (src / "b.bvh.gz").write_bytes(bytes(z))
    r = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert (tmp_path / "out" / "a.npy").exists() and (tmp_path / "out" / "c.npy").exists()
    assert "2 converted, 0 skipped, 1 failed" in r.stderr
    assert "b.bvh.gz: cannot read: corrupt gzip data" in r.stderr


def test_deep_nesting_is_not_a_recursion_error(tmp_path):
    chain = "".join(f"JOINT j{i}\n{{\nOFFSET 0 0 1\nCHANNELS 3 Zrotation Xrotation Yrotation\n" for i in range(5000))
    p = bvh(tmp_path, lambda s: s.replace("{", "{\n" + chain + "}\n" * 5000, 1))
    assert "joints nested more than 200 deep" in one_error(["convert", p, "-o", tmp_path / "o"])


@pytest.mark.parametrize("channels, fragment", [
    ("CHANNELS -3 Zrotation Xrotation Yrotation", "bad channel count '-3'"),
    ("CHANNELS 7 Zrotation Xrotation Yrotation", "bad channel count '7'"),
    ("CHANNELS 3 Zrotation Zrotation Yrotation", "channel listed twice"),
])
def test_channel_index_errors(tmp_path, channels, fragment):
    p = bvh(tmp_path, lambda s: s.replace("CHANNELS 3 Zrotation Xrotation Yrotation", channels, 1))
    assert fragment in one_error(["convert", p, "-o", tmp_path / "o"])


# ------------------------------------------------------------------------------------ AMC
@pytest.mark.parametrize("digit", ["\u0663", "\u00b2"])        # Arabic-Indic three, superscript two
def test_amc_unicode_frame_numbers(tmp_path, digit):
    amc, _ = write_cmu_pair(tmp_path)
    text = amc.read_text().replace("\n3\n", f"\n{digit}\n", 1)
    amc.write_bytes(text.encode("utf-8"))
    msg = one_error(["convert", amc, "-o", tmp_path / "o"])
    assert "cmu.amc:" in msg


def test_source_fps_and_fps_bounds(tmp_path):
    amc, _ = write_cmu_pair(tmp_path)
    assert "--source-fps: frame rate 0.001 Hz is outside" in one_error(
        ["convert", amc, "-o", tmp_path / "o", "--source-fps", "0.001"])
    assert "--fps: frame rate 1e+09 Hz is outside" in one_error(["convert", amc, "-o", tmp_path / "o", "--fps", "1e9"])
    hdm = tmp_path / "HDM_xx_walk_99999.amc"
    hdm.write_bytes(amc.read_bytes())
    with pytest.raises(MotionFileError, match="frame rate 99999 Hz is outside"):
        converters.read_motion(hdm, asf=tmp_path / "cmu.asf")


# ------------------------------------------------------------------------------------ C3D
def _set_rate_param(path: Path, value: float):
    import struct
    b = bytearray(path.read_bytes())
    i = b.find(b"RATE")
    assert b[i + 6] == 4
    struct.pack_into("<f", b, i + 8 + b[i + 7], value)
    path.write_bytes(bytes(b))


def test_c3d_rate_1e_minus_30(tmp_path):
    p = write_c3d_seed(tmp_path / "m.c3d")
    _set_rate_param(p, 1e-30)
    assert "POINT:RATE: frame rate 1e-30 Hz is outside the supported" in one_error(["convert", p, "-o", tmp_path / "o"])


def test_truncated_c3d_is_one_line(tmp_path):
    p = write_c3d_seed(tmp_path / "m.c3d")
    data = p.read_bytes()
    for cut in (len(data) - 700, 3 * 512 + 10, 600):
        (tmp_path / "t.c3d").write_bytes(data[:cut])
        assert "t.c3d: " in one_error(["convert", tmp_path / "t.c3d", "-o", tmp_path / "o"])


def test_ezc3d_abort_becomes_one_line(tmp_path, monkeypatch):
    """A SIGABRT inside ezc3d (as on some truncated files) kills only the isolated child."""
    p = write_c3d_seed(tmp_path / "m.c3d")
    monkeypatch.setattr(c3d.ezc3d, "c3d", lambda *a, **k: os.abort())
    with pytest.raises(MotionFileError, match=r"m\.c3d: ezc3d crashed on it \(SIGABRT\)"):
        c3d.read(p)
    code = ("import os, sys, ezc3d\nezc3d.c3d = lambda *a, **k: os.abort()\nfrom m2t.cli.app import main\n"
            f"sys.argv = ['m2t', 'convert', {str(p)!r}, '-o', {str(tmp_path / 'o')!r}]\nmain()")
    r = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"Error: {p}: ezc3d crashed on it (SIGABRT); the file is corrupt or truncated"], r.stderr


# ------------------------------------------------------------------------------- SMPL npz
def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, fragment", [
    (dict(poses=np.full((5, 156), "x")), "key 'poses' must be a numeric array"),
    (dict(trans=np.zeros((5, 3)).astype("S")), "key 'trans' must be a numeric array"),
    (dict(mocap_framerate=np.array("sixty")), "key 'mocap_framerate' must be a number"),
    (dict(mocap_framerate=np.array(b"60")), "key 'mocap_framerate' must be a number"),
    (dict(mocap_framerate=np.array([])), "key 'mocap_framerate' must be a number"),
    (dict(gender=np.array([{"x": 1}], dtype=object)), "holds pickled Python objects"),
    (dict(poses=np.full((5, 156), np.nan)), "is not finite"),
])
def test_npz_wrong_dtypes(tmp_path, change, fragment):
    base = dict(poses=np.zeros((5, 156)), trans=np.zeros((5, 3)), mocap_framerate=np.array(60.0))
    p = _npz(tmp_path / "a.npz", **{**base, **change})
    assert fragment in one_error(["convert", p, "-o", tmp_path / "o"])


@pytest.mark.parametrize("parents, fragment", [
    (np.array(["-1"] * 22), "key 'parents' must be 22 integer joint indices"),
    (np.full(22, np.nan), "key 'parents' must be 22 integer joint indices"),
    (np.arange(22) + 50, "key 'parents' must be 22 integer joint indices"),
])
def test_m2t_npz_bad_parents(tmp_path, parents, fragment):
    m = converters.load_motion(bvh(tmp_path))
    converters.save_motion(m, tmp_path / "x", npy=False)
    with np.load(tmp_path / "x.npz") as z:
        arrays = {k: z[k] for k in z.files}
    p = _npz(tmp_path / "y.npz", **{**arrays, "parents": parents})
    assert fragment in one_error(["convert", p, "-o", tmp_path / "o"])
    p = _npz(tmp_path / "z.npz", **{**arrays, "positions": arrays["positions"].astype(str)})
    assert "key 'positions' must be a numeric" in one_error(["convert", p, "-o", tmp_path / "o"])


def test_npz_zip_bomb_is_refused_before_allocating(tmp_path, monkeypatch):
    # a member whose header declares 1.2 GB with a few bytes of data
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 6, 156)})
    with zipfile.ZipFile(tmp_path / "h.npz", "w") as zf:
        zf.writestr("poses.npy", hdr.getvalue() + b"\0" * 64)
    r = limited(f"from m2t import converters\ntry:\n    converters.load_motion({str(tmp_path / 'h.npz')!r})\n"
                f"except converters.M2TError as e:\n    print(e)")
    assert "key 'poses' declares (1000000, 156) float64 = 1,248,000,000 bytes" in r.stdout, r.stdout + r.stderr
    # a real deflate bomb: 64 MiB of zeros in a ~64 KiB member, over a lowered limit
    monkeypatch.setattr(limits, "MAX_ARRAY_BYTES", 8 << 20)
    with zipfile.ZipFile(tmp_path / "b.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("poses.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (8 << 20, 1)})
            for _ in range(16):
                f.write(bytes(4 << 20))
        zf.writestr("trans.npy", b"")
    assert (tmp_path / "b.npz").stat().st_size < 1 << 20
    with pytest.raises(MotionFileError, match="unpacked, more than m2t's limit .*zip bomb"):
        converters.read_motion(tmp_path / "b.npz")


# ------------------------------------------------------------------------- body models
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pkl_body_model_never_runs(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    marker = tmp_path / "PWNED"
    (d / "SMPLH_MALE.pkl").write_bytes(pickle.dumps({"v_template": _Evil(marker)}))
    take = write_smpl_seed(tmp_path / "take.npz")
    msg = one_error(["convert", take, "-o", tmp_path / "o", "--body-model-dir", d])
    assert not marker.exists()
    assert "SMPLH_MALE.pkl: refuses to load posix.system" in msg and ".npz release" in msg and "pickle.load" not in msg
    (d / "SMPLH_MALE.pkl").unlink()
    np.savez(d / "SMPLH_MALE.npz", v_template=np.array([_Evil(marker)], dtype=object), shapedirs=np.zeros((1, 3, 1)),
             J_regressor=np.zeros((22, 1)), kintree_table=np.zeros((2, 22)))
    assert "holds pickled Python objects" in one_error(["convert", take, "-o", tmp_path / "o", "--body-model-dir", d])
    assert not marker.exists()


def test_pkl_body_model_with_sparse_and_chumpy_state(tmp_path, monkeypatch):
    """What real SMPL .pkl files hold (scipy csc J_regressor, chumpy shapedirs) is read as data,
    with stand-in modules registered only while the test pickles them."""
    import types
    from m2t.converters import bodymodel
    from m2t.converters.skeletons import T2M, T2M_PARENTS
    sp, ch = types.ModuleType("scipy.sparse._csc"), types.ModuleType("chumpy.ch")

    class csc_matrix:
        pass

    class Ch:
        pass
    csc_matrix.__module__, Ch.__module__ = sp.__name__, ch.__name__
    csc_matrix.__qualname__, Ch.__qualname__ = "csc_matrix", "Ch"
    sp.csc_matrix, ch.Ch = csc_matrix, Ch
    for name in ("scipy", "scipy.sparse", "chumpy"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, sp.__name__, sp)
    monkeypatch.setitem(sys.modules, ch.__name__, ch)
    V = 22
    reg = csc_matrix()
    reg.__dict__.update(data=np.ones(22), indices=np.arange(22), indptr=np.arange(23), _shape=(22, V))
    sd = Ch()
    sd.__dict__.update(x=np.zeros((V, 3, 10)))
    model = dict(v_template=T2M.rest.copy(), J_regressor=reg, shapedirs=sd,
                 kintree_table=np.stack([np.array([2 ** 32 - 1, *T2M_PARENTS[1:]]), np.arange(22)]))
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps(model, protocol=2))
    for name in ("scipy", "scipy.sparse", "chumpy", sp.__name__, ch.__name__):
        monkeypatch.delitem(sys.modules, name)          # m2t cannot use them: it never imports them
    bm = bodymodel.load(tmp_path / "SMPL_NEUTRAL.pkl")
    np.testing.assert_allclose(bodymodel.rest_joints(bm, "smpl", np.zeros(10)), T2M.rest)
    assert bm["parents"][0] == -1


def test_smpl_source_fps_option_bounds(tmp_path):
    take = write_smpl_seed(tmp_path / "take.npz")
    with pytest.raises(ConfigError, match="--source-fps: frame rate 0 Hz"):
        smpl.read(take, fps=0)


def test_names_with_line_breaks_still_give_one_line(tmp_path):
    """A C3D label or npz joint name holding a newline ends up in the 'cannot map' message."""
    m = converters.load_motion(bvh(tmp_path))
    converters.save_motion(m, tmp_path / "x", npy=False)
    with np.load(tmp_path / "x.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["joint_names"] = np.array([f"j{i}\nError: fake\r" for i in range(22)])
    arrays["parents"] = np.array([], dtype=np.int64)    # no hierarchy: structure matching cannot step in
    p = _npz(tmp_path / "n.npz", **arrays)
    msg = one_error(["convert", p, "-o", tmp_path / "o"])
    assert "cannot map onto t2m" in msg and "j0 Error: fake" in msg


def test_npz_member_that_is_not_an_array(tmp_path):
    """numpy's NpzFile hands such a member back as bytes ('bytes' object has no attribute 'dtype')."""
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as zf:
        zf.writestr("poses.npy", b"hello, not an array")
        zf.writestr("trans.npy", b"")
    assert "key 'poses': bad .npy header" in one_error(["convert", tmp_path / "raw.npz", "-o", tmp_path / "o"])


def test_a_bad_npy_says_why_in_full(tmp_path):
    """A .npy of Python objects, one that is not .npy at all and a cut one: one line each, the
    reason whole (numpy's own message was cut mid-word)."""
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "text.npy").write_text("{}\n")
    np.save(tmp_path / "cut.npy", np.zeros((10, 22, 3)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:100])
    assert one_error(["info", tmp_path / "obj.npy"]).endswith(
        "obj.npy: not a readable .npy array (it holds pickled Python objects, which m2t never loads)")
    assert one_error(["info", tmp_path / "text.npy"]).endswith("text.npy: not a readable .npy array (no .npy header)")
    assert "cut.npy: not a readable .npy array (EOF" in one_error(["info", tmp_path / "cut.npy"])


def test_a_huge_bvh_value_is_one_line_without_numpy_warnings(tmp_path):
    """1e300 in a channel overflows in FK; the one line names the frame and joint, and no numpy
    'overflow encountered' warning comes before it."""
    write_walk_bvh(tmp_path / "w.bvh", seconds=1.0)
    lines = (tmp_path / "w.bvh").read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("Frame Time")) + 5
    vals = lines[k].split()
    vals[1] = "1e300"
    lines[k] = " ".join(vals)
    (tmp_path / "huge.bvh").write_text("\n".join(lines) + "\n")
    assert one_error(["convert", tmp_path / "huge.bvh", "-o", tmp_path / "o"]).endswith(
        "huge.bvh, frame 4, joint 'Hips': position is not finite (NaN or inf)")
