"""Canonicalisation: Y up, floor 0, root XZ at origin, facing +Z with left on +X, resampling."""
from __future__ import annotations

import numpy as np
import pytest

from m2t.converters import Motion
from m2t.converters.canonical import canonicalize, detect_up, make_bones_uniform, resample
from m2t.converters.rotations import axis_rotation
from m2t.converters.skeletons import KIT, T2M


def _t2m_walk(T=40, fps=30.0, heading_deg=0.0, up="+y", offset=(3.0, 0.2, -1.0)):
    """Rest pose walking along its own forward direction, then turned and moved in space."""
    p = np.repeat(T2M.rest[None], T, axis=0).copy()
    p[..., 2] += np.arange(T)[:, None] / fps * 1.0                  # 1 m/s forward (+Z)
    p = p @ axis_rotation("Y", np.radians(heading_deg)).T + np.array(offset)
    if up == "+z":
        p = p @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]).T      # (x, y, z) -> (x, -z, y): Y-up to Z-up
    return Motion(p.astype(np.float32), fps, T2M.joint_names, T2M.parents, skeleton="t2m", source="w")


@pytest.mark.parametrize("heading", [0, 37, 90, 180, -120])
@pytest.mark.parametrize("up", ["+y", "+z"])
def test_canonical_frame(heading, up):
    m = canonicalize(_t2m_walk(heading_deg=heading, up=up))
    p = m.positions
    assert m.fps == 20.0 and m.n_frames == 27            # 39 intervals at 30 fps -> 26 at 20 fps
    assert m.meta["canonical"]["up_from"] == up
    assert abs(p[..., 1].min()) < 1e-6                   # floor at 0
    np.testing.assert_allclose(p[0, 0, [0, 2]], 0, atol=1e-6)
    assert p[0, T2M.index("left_hip"), 0] > 0 and p[0, T2M.index("left_wrist"), 0] > 0.5
    d = p[-1, 0] - p[0, 0]
    assert d[2] > 1.2 and abs(d[0]) < 0.05               # walks along +Z
    head = p[:, T2M.head, 1]
    assert 1.3 < head.mean() < 1.7


def test_detect_up_and_flag():
    m = _t2m_walk(up="+z")
    assert detect_up(m.positions, T2M) == "+z"
    flipped = canonicalize(m, up="+z")
    np.testing.assert_allclose(flipped.positions, canonicalize(m).positions, atol=1e-6)


def test_resample_linear_and_exact_at_same_rate():
    x = np.arange(10, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    np.testing.assert_allclose(resample(x, 30, 30), x)
    y = resample(x, 30, 20)
    assert y.shape[0] == 7
    np.testing.assert_allclose(y[:, 0, 0], np.arange(7) * 1.5)


def test_canonical_body_sets_hml3d_lengths():
    from m2t.converters.body import HML3D_BONE_LENGTHS
    m = _t2m_walk()
    scaled = m.with_(positions=m.positions * 1.3)
    p = make_bones_uniform(scaled.positions.astype(float), T2M)
    for j, par in enumerate(T2M.parents):
        if par >= 0:
            got = np.linalg.norm(p[:, j] - p[:, par], axis=-1)
            np.testing.assert_allclose(got, HML3D_BONE_LENGTHS[T2M.joint_names[j]], atol=1e-6)


def test_canonical_body_matches_hml3d_sample(shared_data):
    """The stored lengths are the ones every HumanML3D new_joints file has."""
    from m2t.converters.body import bone_lengths, target_lengths
    from conftest import need
    for f in sorted(need(shared_data / "humanml3d-sample" / "new_joints").glob("*.npy")):
        got = bone_lengths(np.load(f).astype(float), T2M.parents)[:, 1:]
        np.testing.assert_allclose(got, np.broadcast_to(target_lengths(T2M)[1:], got.shape), atol=2e-5)


@pytest.mark.parametrize("skeleton", ["t2m", "kit"])
def test_body_size_does_not_change_the_canonical_motion(skeleton):
    from m2t.converters.retarget import retarget
    m = _t2m_walk(T=60)
    rng = np.random.default_rng(0)
    wobble = m.positions + rng.normal(0, 0.01, m.positions.shape).astype(np.float32)
    ref = canonicalize(retarget(m.with_(positions=wobble), skeleton)).positions
    for k in (0.8, 0.9, 1.1, 1.25):
        got = canonicalize(retarget(m.with_(positions=wobble * k), skeleton)).positions
        np.testing.assert_allclose(got, ref, atol=2e-6)
    kept = canonicalize(retarget(m.with_(positions=wobble * 1.25), skeleton), keep_proportions=True).positions
    assert np.abs(kept - ref).max() > 0.05


def test_kit_rate_and_mm_npy(tmp_path):
    from m2t.converters import save_motion
    from m2t.converters.retarget import retarget
    k = canonicalize(retarget(_t2m_walk(), "kit"))
    assert k.fps == 12.5 and k.joint_names == KIT.joint_names
    assert k.positions[0, KIT.index("LS"), 0] > 0         # left shoulder on +X
    npy, npz = save_motion(k, tmp_path / "k")
    np.testing.assert_allclose(np.load(npy), k.positions * 1000, rtol=1e-6)   # KIT new_joints are in mm
    d = np.load(npz)
    assert str(d["units"]) == "m" and d["velocities"].shape == k.positions.shape
    np.testing.assert_allclose(d["velocities"][1:], np.diff(k.positions, axis=0) * 12.5, rtol=1e-4, atol=1e-5)
