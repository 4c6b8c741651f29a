"""converters/bvh_fk.py: level-by-level FK against the per-joint reference (rotations.forward_kinematics)."""
import numpy as np

import m2t.converters.bvh_fk as bvh_fk
from m2t.converters.bvh_fk import _sin_cos_degrees, positions_from_channels
from m2t.converters.bvh_hierarchy import Hierarchy, Joint
from m2t.converters.rotations import E2R, forward_kinematics


def test_sin_cos_degrees_match_numpy_at_every_angle():
    a = np.concatenate([np.linspace(-720, 720, 14401), [180.0, -180.0, 90.0, 1e-300, 0.0, 3600.5]])
    sin_pm, cos = _sin_cos_degrees(a.reshape(1, -1).copy())
    r = np.deg2rad(a)
    assert np.abs(sin_pm[0, 0] - np.sin(r)).max() < 1e-15
    assert np.array_equal(sin_pm[0, 1], -sin_pm[0, 0])
    assert np.abs(cos[0] - np.cos(r)).max() < 1e-15


def test_levels_match_per_joint_fk_with_mixed_orders_roots_and_position_channels():
    rng = np.random.default_rng(0)
    # two roots; mixed rotation orders (3, 2 and 1 axes, a repeated axis); a non-root joint
    # with position channels for two axes only; a joint without rotation that has children
    spec = [  # name, parent, channels
        ("A", -1, ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]),
        ("B", 0, ["Yrotation", "Xrotation", "Zrotation"]),
        ("C", 1, ["Xposition", "Zposition", "Zrotation", "Xrotation"]),
        ("D", 2, []),
        ("E", 0, ["Xposition", "Yposition", "Zposition"]),
        ("F", 4, ["Zrotation", "Yrotation", "Zrotation"]),
        ("G", 5, ["Xrotation"]),
        ("H", -1, ["Zrotation", "Yrotation", "Xrotation"]),
        ("I", 7, []),
    ]
    joints = [Joint(n, p, rng.normal(size=3) * 10, ch, end_site=not ch) for n, p, ch in spec]
    h = Hierarchy(joints, sum(len(ch) for _, _, ch in spec))
    T = bvh_fk.FK_BLOCK + 37                               # two blocks (and, below, a short file)
    values = rng.uniform(-200, 200, size=(T, h.n_channels))
    got = positions_from_channels(h, values).transpose(2, 0, 1)

    J = len(joints)
    local = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    trans = np.full((T, J, 3), np.nan)
    col = 0
    for j, (_, _, ch) in enumerate(spec):
        rot = [c for c in ch if c.endswith("rotation")]
        cols = [col + k for k, c in enumerate(ch) if c.endswith("rotation")]
        for k, c in enumerate(ch):
            if c.endswith("position"):
                trans[:, j, "XYZ".index(c[0])] = values[:, col + k]
        if rot:
            local[:, j] = E2R(values[:, cols], "".join(c[0] for c in rot))
        col += len(ch)
    want = forward_kinematics(local, np.array([jt.offset for jt in joints]), h.parents, translations=trans)
    assert np.abs(got - want).max() < 1e-9
    short = positions_from_channels(h, values[:37]).transpose(2, 0, 1)    # joint by joint
    assert np.abs(short - want[:37]).max() < 1e-9
    for n in (1, bvh_fk.SHORT - 1, bvh_fk.SHORT):                       # one frame; both sides of SHORT
        got = positions_from_channels(h, values[:n]).transpose(2, 0, 1)
        assert got.shape == (n, J, 3) and np.abs(got - want[:n]).max() < 1e-9


def test_plan_is_cached_per_skeleton_not_per_offsets_and_the_cache_is_bounded():
    rng = np.random.default_rng(1)
    ch = ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]

    def chain(n, offsets):
        joints = [Joint(f"j{k}", k - 1, offsets[k], ch if k == 0 else ch[3:]) for k in range(n)]
        joints.append(Joint("end", n - 1, offsets[n], [], end_site=True))
        return Hierarchy(joints, 3 + 3 * n)

    a, b = chain(4, rng.normal(size=(5, 3))), chain(4, rng.normal(size=(5, 3)))
    assert bvh_fk._plan(a) is bvh_fk._plan(b)                        # same parents and channels
    values = rng.uniform(-180, 180, size=(50, a.n_channels))
    for h in (a, b):                                                  # offsets still per file
        local = np.stack([E2R(values[:, 3 + 3 * k: 6 + 3 * k], "ZXY") for k in range(4)]
                         + [np.broadcast_to(np.eye(3), (50, 3, 3))], axis=1)
        want = forward_kinematics(local, np.array([jt.offset for jt in h.joints]), h.parents,
                                  root_pos=values[:, None, :3])
        got = positions_from_channels(h, values).transpose(2, 0, 1)
        assert np.abs(got - want).max() < 1e-9
    for n in range(2, 2 + bvh_fk.PLAN_CACHE + 5):
        bvh_fk._plan(chain(n, rng.normal(size=(n + 1, 3))))
    assert len(bvh_fk._plans) <= bvh_fk.PLAN_CACHE
