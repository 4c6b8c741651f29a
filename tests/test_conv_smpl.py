"""SMPL-family npz reader: built-in FK, body-model path (on a fake model), errors, m2t npz.

Every file is synthetic, written by the test. The fake SMPL model (V = 6890: smplx picks extra
keypoints by vertex index) puts its joints exactly on the built-in rest skeleton, so the two paths
must agree; pickle is used only to *write* it (m2t reads it with a restricted unpickler), and
smplx, where installed, cross-checks m2t's body-model joints.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from m2t.converters import smpl
from m2t.converters.errors import ConfigError, MotionFileError
from m2t.converters.motion import Motion
from m2t.converters.rotations import axis_rotation
from m2t.converters.skeletons import T2M, T2M_JOINTS, T2M_PARENTS

REST = T2M.rest
NATIVE = REST - REST[0] + smpl.SMPL_REST_PELVIS        # (22, 3) rest joints in SMPL model coordinates
J = {n: i for i, n in enumerate(T2M_JOINTS)}


def write_amass(path, poses, trans, fps=120.0, gender="neutral", betas=None, **extra):
    """An AMASS-style SMPL-H npz: poses (T, 156), trans (T, 3)."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.shape[1] < 156:
        poses = np.concatenate([poses, np.zeros((len(poses), 156 - poses.shape[1]))], axis=1)
    arrays = dict(poses=poses, trans=np.asarray(trans, dtype=np.float64), gender=np.array(gender),
                  betas=np.zeros(16) if betas is None else np.asarray(betas, dtype=np.float64), **extra)
    if fps is not None:
        arrays["mocap_framerate"] = np.array(fps)
    np.savez(path, **arrays)
    return path


def zeros(T, width=156):
    return np.zeros((T, width)), np.zeros((T, 3))


# ----------------------------------------------------------------------------- built-in FK

def test_zero_pose_is_rest_skeleton(tmp_path):
    m = smpl.read(write_amass(tmp_path / "rest.npz", *zeros(2)))
    assert isinstance(m, Motion) and m.positions.shape == (2, 22, 3) and m.fps == 120.0
    assert m.joint_names == T2M_JOINTS and m.parents == T2M_PARENTS and m.skeleton == "smpl"
    assert m.up == "+z" and m.meta["model"] == "smplh" and m.meta["betas"] == 16
    assert "approximation" in m.meta and "shape" in m.meta["method"]
    # trans 0: the pelvis sits at SMPL's rest pelvis; the rest is the Y-up rest skeleton
    np.testing.assert_allclose(m.positions[0], NATIVE, atol=1e-6)
    np.testing.assert_allclose(m.positions[0] - m.positions[0, 0], REST - REST[0], atol=1e-6)


def test_root_orientation_x90_puts_head_up_z(tmp_path):
    poses, trans = zeros(1)
    poses[:, 0] = np.pi / 2                  # AMASS: +90 deg about X turns the Y-up body Z-up
    trans[:] = [1.0, 2.0, 0.9]
    m = smpl.read(write_amass(tmp_path / "up.npz", poses, trans))
    p = m.positions[0].astype(np.float64)
    np.testing.assert_allclose(p[0], trans[0] + smpl.SMPL_REST_PELVIS, atol=1e-6)   # pelvis not rotated
    head = p[J["head"]] - p[0]
    np.testing.assert_allclose(head, axis_rotation("X", np.pi / 2) @ (REST[J["head"]] - REST[0]), atol=1e-6)
    assert head[2] > 0.5 and abs(head[1]) < 0.05                     # head straight above, along +z
    assert p[J["left_wrist"], 0] > 0.6                               # left still on +x


def test_left_knee_bend_by_hand(tmp_path):
    poses, trans = zeros(1)
    poses[:, 3 * J["left_knee"]] = np.pi / 2     # 90 deg about the knee's X axis
    m = smpl.read(write_amass(tmp_path / "knee.npz", poses, trans))
    p = m.positions[0].astype(np.float64)
    dx, dy, dz = REST[J["left_ankle"]] - REST[J["left_knee"]]          # ~(-0.016, -0.398, -0.041)
    expected = NATIVE[J["left_knee"]] + np.array([dx, -dz, dy])          # Rx(90) (x, y, z) = (x, -z, y)
    np.testing.assert_allclose(p[J["left_ankle"]], expected, atol=1e-6)
    assert p[J["left_ankle"], 2] < NATIVE[J["left_knee"], 2] - 0.35      # shin swings backwards (-z)
    np.testing.assert_allclose(p[J["right_ankle"]], NATIVE[J["right_ankle"]], atol=1e-6)
    foot = p[J["left_ankle"]] + axis_rotation("X", np.pi / 2) @ (REST[J["left_foot"]] - REST[J["left_ankle"]])
    np.testing.assert_allclose(p[J["left_foot"]], foot, atol=1e-6)


def test_split_smplx_layout_and_fps_key(tmp_path):
    rng = np.random.default_rng(0)
    root, body, trans = rng.normal(0, 0.3, (4, 3)), rng.normal(0, 0.3, (4, 63)), rng.normal(0, 1, (4, 3))
    np.savez(tmp_path / "split.npz", root_orient=root, pose_body=body, pose_hand=np.zeros((4, 90)),
             trans=trans, mocap_frame_rate=np.array(30.0), gender=np.array(b"female"), betas=np.zeros(16))
    np.savez(tmp_path / "flat.npz", poses=np.concatenate([root, body, np.zeros((4, 99))], 1), trans=trans,
             mocap_frame_rate=np.array(30.0), gender=np.array("female"), surface_model_type=np.array("smplx"))
    a, b = smpl.read(tmp_path / "split.npz"), smpl.read(tmp_path / "flat.npz")
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
    assert a.fps == b.fps == 30.0 and a.meta["model"] == b.meta["model"] == "smplx"
    assert a.meta["gender"] == "female" and smpl.read(tmp_path / "split.npz", gender="male").meta["gender"] == "male"


def test_fps_option(tmp_path):
    f = write_amass(tmp_path / "nofps.npz", *zeros(3), fps=None)
    with pytest.raises(MotionFileError, match="no frame rate"):
        smpl.read(f)
    assert smpl.read(f, fps=60).fps == 60.0


# ----------------------------------------------------------------------------- smplx body model

@pytest.fixture(scope="session")
def fake_smpl_dir(tmp_path_factory):
    """A folder with a fake SMPL_NEUTRAL.pkl whose 24 joints sit on the built-in rest skeleton."""
    rng = np.random.default_rng(1)
    V = 6890
    hands = NATIVE[[20, 21]] + np.array([[0.08, 0.0, 0.0], [-0.08, 0.0, 0.0]])
    joints = np.concatenate([NATIVE, hands])                                  # (24, 3)
    v = rng.normal(0, 0.3, (V, 3)) + [0, -0.2, 0]
    reg = np.zeros((24, V))
    for j in range(24):                                                       # 4 vertices per joint, mean = joint
        d = rng.normal(0, 0.02, (4, 3))
        v[4 * j:4 * j + 4] = joints[j] + d - d.mean(0)
        reg[j, 4 * j:4 * j + 4] = 0.25
    w = rng.random((V, 24))
    shapedirs = np.zeros((V, 3, 10))
    shapedirs[:, 1, 0] = 0.01                   # beta 0 lifts the whole body 1 cm per unit
    parents = np.array([4294967295, *T2M_PARENTS[1:], 20, 21], dtype=np.int64)
    model = dict(v_template=v, J_regressor=reg, weights=w / w.sum(1, keepdims=True),
                 posedirs=rng.normal(0, 1e-3, (V, 3, 207)).astype(np.float32), shapedirs=shapedirs,
                 kintree_table=np.stack([parents, np.arange(24)]), f=rng.integers(0, V, (100, 3)))
    d = tmp_path_factory.mktemp("bodymodels")
    with open(d / "SMPL_NEUTRAL.pkl", "wb") as fh:
        pickle.dump(model, fh)
    return d


def random_take(T=40, seed=2):
    rng = np.random.default_rng(seed)
    poses = np.zeros((T, 72))
    poses[:, :66] = rng.normal(0, 0.5, (T, 66))
    poses[:, 66:] = rng.normal(0, 0.5, (T, 6))            # SMPL hand joints: must not move the 22
    return poses, rng.normal(0, 1, (T, 3))


def test_body_model_agrees_with_builtin(tmp_path, fake_smpl_dir):
    poses, trans = random_take(T=300)                      # more than one smplx batch
    np.savez(tmp_path / "take.npz", poses=poses, trans=trans, betas=np.zeros(10),
             mocap_framerate=np.array(60.0), gender=np.array("neutral"))
    exact = smpl.read(tmp_path / "take.npz", body_model_dir=fake_smpl_dir)
    approx = smpl.read(tmp_path / "take.npz")
    assert exact.meta["method"] == "body model file" and exact.meta["model"] == "smpl"
    assert "approximation" not in exact.meta and exact.up == approx.up == "+z"
    np.testing.assert_allclose(exact.positions, approx.positions, atol=1e-5)


def test_body_model_uses_betas(tmp_path, fake_smpl_dir):
    poses, trans = random_take(T=5, seed=3)
    np.savez(tmp_path / "tall.npz", poses=poses, trans=trans, betas=np.array([3.0] + [0.0] * 15),
             mocap_framerate=np.array(60.0))
    exact = smpl.read(tmp_path / "tall.npz", body_model_dir=fake_smpl_dir)
    approx = smpl.read(tmp_path / "tall.npz")
    assert exact.meta["betas"] == 16                          # 16 in the file, model uses its 10
    np.testing.assert_allclose(exact.positions - approx.positions, np.broadcast_to([0, 0.03, 0], (5, 22, 3)),
                               atol=1e-5)                     # rest joints moved; pelvis shift unrotated


def test_body_model_joints_equal_smplx(tmp_path, fake_smpl_dir):
    smplx = pytest.importorskip("smplx")
    torch = pytest.importorskip("torch")
    poses, trans = random_take(T=7, seed=5)
    betas = np.array([1.5, -0.5, 0.0, 0.2, 0, 0, 0, 0, 0, 0])
    np.savez(tmp_path / "t.npz", poses=poses, trans=trans, betas=betas, mocap_framerate=np.array(60.0))
    ours = smpl.read(tmp_path / "t.npz", body_model_dir=fake_smpl_dir).positions
    bm = smplx.SMPL(model_path=str(fake_smpl_dir / "SMPL_NEUTRAL.pkl"), num_betas=10, batch_size=7,
                    dtype=torch.float64)            # smplx unpickles our own test file here
    ref = bm(global_orient=torch.from_numpy(poses[:, :3]), body_pose=torch.from_numpy(poses[:, 3:]),
             betas=torch.from_numpy(np.tile(betas, (7, 1))), transl=torch.from_numpy(trans)).joints[:, :22]
    np.testing.assert_allclose(ours, ref.detach().numpy(), atol=1e-5)


def test_body_model_missing_file(tmp_path, fake_smpl_dir):
    poses, trans = random_take(T=2)
    np.savez(tmp_path / "f.npz", poses=poses, trans=trans, mocap_framerate=np.array(60.0),
             gender=np.array(b"female"))
    with pytest.raises(ConfigError, match=r"SMPL_FEMALE\.pkl") as e:
        smpl.read(tmp_path / "f.npz", body_model_dir=fake_smpl_dir)
    assert str(fake_smpl_dir) in str(e.value) and "\n" not in str(e.value)
    assert smpl.read(tmp_path / "f.npz", body_model_dir=fake_smpl_dir, gender="neutral").meta["gender"] == "neutral"
    h = write_amass(tmp_path / "h.npz", *zeros(2))
    with pytest.raises(ConfigError, match=r"SMPLH_NEUTRAL\.npz.*smplh/neutral/model\.npz"):
        smpl.read(h, body_model_dir=fake_smpl_dir)
    with pytest.raises(ConfigError, match="not found"):
        smpl.read(h, body_model_dir=tmp_path / "nowhere")


# ----------------------------------------------------------------------------- errors

def test_missing_poses(tmp_path):
    np.savez(tmp_path / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    with pytest.raises(MotionFileError, match=r"shape\.npz: missing key 'poses'.*keys: betas, gender"):
        smpl.read(tmp_path / "shape.npz")
    np.savez(tmp_path / "notrans.npz", poses=np.zeros((3, 72)), mocap_framerate=np.array(30.0))
    with pytest.raises(MotionFileError, match="missing key 'trans'"):
        smpl.read(tmp_path / "notrans.npz")


def test_nan_frame(tmp_path):
    poses, trans = zeros(6)
    poses[3, 10] = np.nan
    with pytest.raises(MotionFileError, match=r"nan\.npz, frame 3: 'poses' is not finite"):
        smpl.read(write_amass(tmp_path / "nan.npz", poses, trans))
    poses[3, 10] = 0
    trans[5, 1] = np.inf
    with pytest.raises(MotionFileError, match="frame 5: 'trans'"):
        smpl.read(write_amass(tmp_path / "inf.npz", poses, trans))


def test_not_an_npz(tmp_path):
    (tmp_path / "x.npz").write_text("poses,trans\n0,0\n")
    with pytest.raises(MotionFileError, match=r"x\.npz: not an npz file"):
        smpl.read(tmp_path / "x.npz")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    (tmp_path / "arr.npz").write_bytes((tmp_path / "arr.npy").read_bytes())
    with pytest.raises(MotionFileError, match=r"\.npy array"):
        smpl.read(tmp_path / "arr.npz")
    (tmp_path / "trunc.npz").write_bytes((write_amass(tmp_path / "ok.npz", *zeros(3))).read_bytes()[:200])
    with pytest.raises(MotionFileError, match=r"trunc\.npz"):
        smpl.read(tmp_path / "trunc.npz")
    with pytest.raises(MotionFileError, match="no such file"):
        smpl.read(tmp_path / "missing.npz")


def test_bad_shapes_and_zero_frames(tmp_path):
    with pytest.raises(MotionFileError, match="zero frames"):
        smpl.read(write_amass(tmp_path / "empty.npz", *zeros(0)))
    np.savez(tmp_path / "narrow.npz", poses=np.zeros((3, 30)), trans=np.zeros((3, 3)), mocap_framerate=30.0)
    with pytest.raises(MotionFileError, match="at least 66 values per frame"):
        smpl.read(tmp_path / "narrow.npz")
    np.savez(tmp_path / "short.npz", poses=np.zeros((3, 72)), trans=np.zeros((2, 3)), mocap_framerate=30.0)
    with pytest.raises(MotionFileError, match=r"'trans' must be \(3, 3\)"):
        smpl.read(tmp_path / "short.npz")
    np.savez(tmp_path / "obj.npz", poses=np.array([None, 1], dtype=object), trans=np.zeros((2, 3)))
    with pytest.raises(MotionFileError, match="does not unpickle"):
        smpl.read(tmp_path / "obj.npz")


def test_bad_options(tmp_path):
    f = write_amass(tmp_path / "a.npz", *zeros(2))
    with pytest.raises(ConfigError, match="gender"):
        smpl.read(f, gender="robot")
    with pytest.raises(ConfigError, match="model_type"):
        smpl.read(f, model_type="mano")


# ----------------------------------------------------------------------------- m2t's own npz

def test_m2t_npz_passes_through(tmp_path):
    from m2t.converters.api import save_motion
    rng = np.random.default_rng(4)
    pos = (REST[None] + rng.normal(0, 0.01, (5, 22, 3))).astype(np.float32)
    m = Motion(positions=pos, fps=20.0, joint_names=T2M_JOINTS, parents=T2M_PARENTS, skeleton="t2m",
               source="walk.bvh", up="+y", meta={"retarget": "identity"})
    save_motion(m, tmp_path / "walk", npy=False)
    back = smpl.read(tmp_path / "walk.npz")
    np.testing.assert_array_equal(back.positions, pos)
    assert back.fps == 20.0 and back.joint_names == T2M_JOINTS and back.parents == T2M_PARENTS
    assert back.skeleton == "t2m" and back.up == "+y"
    assert back.meta["retarget"] == "identity" and back.meta["converted_from"] == "walk.bvh"
    from m2t.converters import info
    d = info(tmp_path / "walk.npz")
    assert d["frames"] == 5 and d["joints"] == 22 and d["up"] == "+y" and d["mapping"] == "identity"


# ----------------------------------------------------------------------------- end to end

def amass_walk(T=120, fps=60.0):
    """A synthetic AMASS take: Z up, body facing and walking along world +y at 1.2 m/s, legs
    swinging in opposite phase, arms hanging slightly. Returns poses (T, 156), trans (T, 3)."""
    t = np.arange(T) / fps
    ph = 2 * np.pi * 1.0 * t
    # Rz(180) @ Rx(90): Y-up model -> Z-up world, model +Z (facing) -> world +y
    poses = np.zeros((T, 156))
    poses[:, :3] = [0.0, np.pi / np.sqrt(2), np.pi / np.sqrt(2)]        # axis (0, 1, 1)/sqrt2, 180 deg
    for hip, knee, sign in ((J["left_hip"], J["left_knee"], 1), (J["right_hip"], J["right_knee"], -1)):
        poses[:, 3 * hip] = -0.4 * sign * np.sin(ph)                      # swing forward/back about X
        poses[:, 3 * knee] = 0.3 * (1 + np.sin(ph + sign * np.pi / 2))    # knee bends backwards only
    poses[:, 3 * J["left_shoulder"] + 2] = -1.2                           # arms down from the T-pose
    poses[:, 3 * J["right_shoulder"] + 2] = 1.2
    trans = np.stack([np.full(T, 0.3), 2.0 + 1.2 * t, np.full(T, 0.95)], axis=1)
    return poses, trans


def test_amass_walk_load_motion(tmp_path):
    from m2t.converters import load_motion
    poses, trans = amass_walk()
    raw = smpl.read(write_amass(tmp_path / "walk.npz", poses, trans, fps=60.0))
    head_up = raw.positions[:, J["head"]] - raw.positions[:, 0]
    assert (head_up[:, 2] > 0.4).all()                                    # sanity: Z up in the file
    m = load_motion(tmp_path / "walk.npz")
    assert m.skeleton == "t2m" and m.joint_names == T2M_JOINTS and m.fps == 20.0
    assert m.n_frames == 40                                              # 2 s at 20 fps
    p = m.positions
    assert (p[:, J["head"], 1] > p[:, 0, 1] + 0.4).all()                 # Y up
    assert abs(p[:, [J[f] for f in ("left_foot", "right_foot", "left_ankle", "right_ankle")], 1].min()) < 1e-5
    np.testing.assert_allclose(p[0, 0, [0, 2]], 0, atol=1e-5)            # root XZ at the origin
    root = p[:, 0]
    assert root[-1, 2] > 2.0 and abs(root[-1, 0]) < 0.05                 # walked ~2.3 m along +Z
    assert p[0, J["left_wrist"], 0] > 0 > p[0, J["right_wrist"], 0]      # left on +X
