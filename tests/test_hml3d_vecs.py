"""HumanML3D 263-d vectors both ways, checked on the shipped humanml3d-sample."""
from __future__ import annotations

import numpy as np
import pytest

from m2t.converters.hml3d_vecs import LAYOUT, joints_to_vecs, rot_y, vecs_to_joints

from conftest import need

ROOT_FREE_6D = [j for j in range(1, 22) if j not in (1, 2, 3, 13, 14)]   # not the first bone of a chain


def _pairs(shared_data):
    d = need(shared_data / "humanml3d-sample")
    files = sorted((d / "new_joints").glob("*.npy"))
    assert len(files) == 7
    return [(np.load(f), np.load(d / "new_joint_vecs" / f.name).astype(np.float64)) for f in files]


def test_vecs_to_joints_reproduces_new_joints(shared_data):
    for joints, vecs in _pairs(shared_data):
        np.testing.assert_allclose(vecs_to_joints(vecs), joints, atol=1e-5)


def test_joints_to_vecs_reproduces_every_component_given_the_last_frame(shared_data):
    """new_joints stops one frame short of what HumanML3D had (its vectors need the next frame);
    that frame is in the vectors' last row (local velocities). With it, every component of every
    row is reproduced."""
    for joints, vecs in _pairs(shared_data):
        theta = 2 * vecs[:-1, 0].sum()
        last = joints[-1].astype(np.float64) + vecs[-1, 193:259].reshape(22, 3) @ rot_y(-theta).T
        got = joints_to_vecs(np.concatenate([joints.astype(np.float64), last[None]]))
        assert got.shape == vecs.shape
        np.testing.assert_allclose(got, vecs, atol=1e-5)


def test_joints_to_vecs_from_new_joints_alone(shared_data):
    """Without that frame: the components that do not depend on the smoothed root direction match
    within 1e-4 on every row; the others are documented in docs/formats.md."""
    for joints, vecs in _pairs(shared_data):
        got = joints_to_vecs(joints).astype(np.float64)
        ref = vecs[:-1]
        assert got.shape == ref.shape
        for name in ("root_height", "foot_contacts"):
            a, b = LAYOUT[name]
            np.testing.assert_allclose(got[:, a:b], ref[:, a:b], atol=1e-4, err_msg=name)
        np.testing.assert_allclose(got[:, 4:67].reshape(-1, 21, 3)[..., 1], ref[:, 4:67].reshape(-1, 21, 3)[..., 1],
                                   atol=1e-4)
        r6 = lambda v: v[:, 67:193].reshape(-1, 21, 6)[:, [j - 1 for j in ROOT_FREE_6D]]   # noqa: E731
        np.testing.assert_allclose(r6(got), r6(ref), atol=1e-4)
        assert np.abs(got - ref).max() < 0.05            # the rest: within the root-smoothing effect


def test_round_trip_on_m2t_output():
    from pathlib import Path
    from m2t.converters import load_motion
    p = load_motion(Path(__file__).resolve().parents[1] / "examples" / "walk.bvh").positions
    v = joints_to_vecs(p)
    assert v.shape == (len(p) - 1, 263)
    np.testing.assert_allclose(vecs_to_joints(v), p[:-1], atol=1e-4)


def test_bad_shapes():
    from m2t.converters import MotionFileError
    with pytest.raises(MotionFileError, match=r"\(T, 22, 3\)"):
        joints_to_vecs(np.zeros((5, 21, 3)))
    with pytest.raises(MotionFileError, match="263"):
        vecs_to_joints(np.zeros((5, 250)))


def test_convert_formats_and_read_back(tmp_path):
    """--format hml3d-vecs / hml3d write HumanML3D arrays; every .npy m2t writes reads back."""
    from pathlib import Path
    from typer.testing import CliRunner
    from m2t.cli.app import app
    from m2t.converters import load_motion
    walk = Path(__file__).resolve().parents[1] / "examples" / "walk.bvh"
    run = CliRunner().invoke
    ref = load_motion(walk).positions
    r = run(app, ["convert", str(walk), "-o", str(tmp_path / "v"), "--format", "hml3d-vecs"])
    assert r.exit_code == 0, r.output
    v = np.load(tmp_path / "v" / "walk.npy")
    assert v.shape == (len(ref) - 1, 263) and v.dtype == np.float32
    r = run(app, ["convert", str(walk), "-o", str(tmp_path / "h"), "--format", "hml3d"])
    assert r.exit_code == 0, r.output
    j = np.load(tmp_path / "h" / "new_joints" / "walk.npy")
    np.testing.assert_allclose(np.load(tmp_path / "h" / "new_joint_vecs" / "walk.npy"), v, atol=1e-6)
    np.testing.assert_allclose(j, ref[:-1], atol=1e-4)
    r = run(app, ["convert", str(walk), "-o", str(tmp_path / "m")])
    for f in (tmp_path / "m" / "walk.npy", tmp_path / "v" / "walk.npy", tmp_path / "h" / "new_joints" / "walk.npy"):
        back = load_motion(f)
        n = min(len(back.positions), len(ref))
        np.testing.assert_allclose(back.positions[:n], ref[:n], atol=2e-3, err_msg=str(f))
    r = run(app, ["info", str(tmp_path / "v" / "walk.npy"), "--json"])
    assert r.exit_code == 0 and "263-d vectors" in r.stdout
    r = run(app, ["convert", str(walk), "-o", str(tmp_path / "k"), "--format", "hml3d", "--skeleton", "kit"])
    assert r.exit_code == 2 and "t2m" in r.output and not (tmp_path / "k").exists()


def test_npy_of_wrong_shape_is_one_line(tmp_path):
    from typer.testing import CliRunner
    from m2t.cli.app import app
    np.save(tmp_path / "x.npy", np.zeros((10, 7)))
    r = CliRunner().invoke(app, ["info", str(tmp_path / "x.npy")])
    assert r.exit_code == 2 and "neither HumanML3D joints" in r.output and "Traceback" not in r.output


def test_a_converted_folder_gives_one_motion_per_clip(tmp_path):
    from pathlib import Path
    from m2t.converters import convert
    from m2t.converters.api import collect_inputs
    walk = Path(__file__).resolve().parents[1] / "examples" / "walk.bvh"
    convert([walk], tmp_path / "o")
    np.save(tmp_path / "o" / "other.npy", np.load(tmp_path / "o" / "walk.npy"))
    assert [r.name for _, r in collect_inputs([tmp_path / "o"])] == ["other.npy", "walk.npz"]
    res = convert([tmp_path / "o"], tmp_path / "again")
    assert all(r.ok for r in res) and len(res) == 2
