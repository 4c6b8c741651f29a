"""Forward kinematics of BVH channels, one tree level at a time (converters/bvh.py calls it).

Layout: frames last. A joint's global rotation G is kept as its three columns, (3 columns,
3 rows, t frames), so that the columns of all joints of one tree level form one
(n, 3, 3, t) array. For each level (roots first):
  1. the parents' G and positions are gathered for every joint of the level (one fancy index
     each);
  2. positions: P = P_parent + G_parent @ offset, one batched product (on a level where some
     joint has position channels, the level's offsets are first gathered per frame from the
     channel columns, OFFSET values elsewhere, and the product is one einsum);
  3. the joints that have children and rotation channels turn their copy of G_parent into
     their own G by right-multiplying it with one axis rotation per channel: R_a about axis a
     changes only the two columns (i, j) of the plane it turns,
        (G R_a)[:, i] = G[:, i] c + G[:, j] s,   (G R_a)[:, j] = G[:, j] c - G[:, i] s,
     in place, on all joints of the level that share a rotation order at once.
No local rotation matrix is formed, and joints without children get no G (their rotation
channels do not move any position). The sines and cosines of all the angles used are taken in
one call per block. The plan (levels, columns, rotation groups) depends only on the parents and
channels, not on the OFFSETs, so it is kept in a small cache (PLAN_CACHE entries): files of one
skeleton (a dataset's takes) plan once. Files under SHORT frames go joint by joint instead
(_joint_by_joint: fewer numpy calls when levels hold a few joints and frames are few). Measured in docs/performance.md (BVH reading).
"""
from __future__ import annotations

import threading

import numpy as np

from .bvh_hierarchy import Hierarchy
from .rotations import FK_CHUNK as FK_BLOCK, euler_entries, fk_columns  # frames per block: cache-sized

SHORT = 300              # files of fewer frames go joint by joint (_joint_by_joint): measured faster
# the columns (i, j) an axis rotation mixes, as a slice: X (1, 2), Y (2, 0), Z (0, 1)
_PAIR = {"X": slice(1, 3), "Y": slice(2, None, -2), "Z": slice(0, 2)}


PLAN_CACHE = 32          # skeletons whose plans are kept (first in, first out)
_plans_lock = threading.Lock()
_plans: dict[tuple, tuple] = {}          # skeleton -> (levels, angle columns, joint-by-joint plan)


class _Level:
    """One tree level: its joints (rotating joints with children first, grouped by rotation
    order, then the other joints with children, then the rest), where their parents sit among
    the previous level's joints with children, and where its position channels go."""
    __slots__ = ("joints", "parent_at", "n_child", "pos_at", "pos_cols", "groups")

    def __init__(self, joints, parent_at, n_child, pos_at, pos_cols, groups):
        self.joints = joints          # (n,) joint indices
        self.parent_at = parent_at    # (n,) index of each parent within the previous level
        self.n_child = n_child        # the first n_child joints have children (and get a G)
        self.pos_at = pos_at          # (k,) flat index 3 q + axis into the level's offsets, or None
        self.pos_cols = pos_cols      # (k,) the channel column that replaces each of them
        self.groups = groups          # [(q0, q1, order, first angle row)]


def _plan(h: Hierarchy) -> tuple:
    """-> (levels, angle columns, joint-by-joint plan), cached per parents and channels."""
    key = tuple((joint.parent, tuple(joint.channels)) for joint in h.joints)
    plan = _plans.get(key)
    if plan is None:
        plan = (*_plan_levels(h), _plan_joints(h))
        with _plans_lock:                    # library callers may read files on several threads
            while len(_plans) >= PLAN_CACHE:
                _plans.pop(next(iter(_plans)), None)
            _plans[key] = plan
    return plan


def _plan_levels(h: Hierarchy) -> tuple[list[_Level], np.ndarray]:
    """-> (levels, angle columns): the columns of `values` whose sines and cosines the levels
    use, axis-major within each rotation group (row `first + m * n + q` is axis m of the q-th
    joint of a group of n). Depends only on the parents and the channels."""
    parents = h.parents
    J = len(parents)
    has_child = [False] * J
    depth = [0] * J
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError("parents must come before their children")
        if p >= 0:
            has_child[p] = True
            depth[j] = depth[p] + 1
    rot_cols, orders, pos_cols = _channel_columns(h)
    by_depth: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for j in range(J):
        by_depth[depth[j]].append(j)
    angle_cols: list[int] = []
    levels: list[_Level] = []
    at = [0] * J                                             # position of each joint in its level
    for js in by_depth:
        turning = sorted((j for j in js if has_child[j] and orders[j]), key=orders.__getitem__)
        carrying = [j for j in js if has_child[j] and not orders[j]]
        js = turning + carrying + [j for j in js if not has_child[j]]
        groups = []
        q = 0
        while q < len(turning):
            order = orders[turning[q]]
            r = q
            while r < len(turning) and orders[turning[r]] == order:
                r += 1
            first = len(angle_cols)
            for m in range(len(order)):
                angle_cols.extend(rot_cols[j][m] for j in turning[q:r])
            groups.append((q, r, order, first))
            q = r
        for q, j in enumerate(js):
            at[j] = q
        parent_at = np.array([at[parents[j]] if parents[j] >= 0 else 0 for j in js], dtype=np.intp)
        flat = [(3 * q + m, c) for q, j in enumerate(js) for m, c in enumerate(pos_cols[j]) if c is not None]
        pos_at = np.array([f for f, _ in flat], dtype=np.intp) if flat else None
        pcols = np.array([c for _, c in flat], dtype=np.intp) if flat else None
        levels.append(_Level(np.array(js, dtype=np.intp), parent_at, len(turning) + len(carrying),
                             pos_at, pcols, groups))
    return levels, np.array(angle_cols, dtype=np.intp)


def positions_from_channels(h: Hierarchy, values: np.ndarray) -> np.ndarray:
    """(T, C) channel values (file units, degrees) -> (J, 3, T) global positions, file units."""
    T = values.shape[0]
    levels, angle_cols, joint_plan = _plan(h)
    offsets = np.array([joint.offset for joint in h.joints], dtype=np.float64).reshape(-1, 3)
    if T < SHORT and len(h.joints):
        return _joint_by_joint(h, joint_plan, offsets, values)
    out = np.empty((len(h.joints), 3, T))
    for a in range(0, T, FK_BLOCK):
        b = min(T, a + FK_BLOCK)
        _block(levels, angle_cols, offsets, values[a:b], out[:, :, a:b])
    return out


def _block(levels: list[_Level], angle_cols: np.ndarray, offsets: np.ndarray, v: np.ndarray,
           out: np.ndarray) -> None:
    """FK of frames `v` (t, C) into `out` (J, 3, t); `offsets` (J, 3)."""
    t = v.shape[0]
    vT = v.T
    sin_pm, cos = _sin_cos_degrees(vT[angle_cols])         # (angles, 2, t), (angles, t)
    G = P = None
    for lv in levels:
        n = len(lv.joints)
        off = offsets[lv.joints]                            # (n, 3)
        O = None                                            # per-frame offsets (n, 3, t)
        if lv.pos_at is not None:
            O = np.empty((n, 3, t))
            O[...] = off[:, :, None]
            O.reshape(3 * n, t)[lv.pos_at] = vT[lv.pos_cols]
        if G is None:                                       # roots: G = identity, P = offset
            P = O if O is not None else np.broadcast_to(off[:, :, None], (n, 3, t)).copy()
            G = np.zeros((lv.n_child, 3, 3, t))
            for k in range(3):
                G[:, k, k] = 1.0
        else:
            Gp = G[lv.parent_at]                            # (n, 3 columns, 3 rows, t): parents' G
            if O is None:
                Q = np.matmul(off[:, None, :], Gp.reshape(n, 3, 3 * t)).reshape(n, 3, t)
            else:
                Q = np.einsum("nkrt,nkt->nrt", Gp, O)
            Q += P[lv.parent_at]
            P = Q
            G = Gp[:lv.n_child]
        out[lv.joints] = P
        for q0, q1, order, first in lv.groups:
            k = q1 - q0
            X = G[q0:q1]
            tmp = np.empty((k, 2, 3, t))
            for m, axis in enumerate(order):
                rows = slice(first + m * k, first + (m + 1) * k)
                pair = X[:, _PAIR[axis]]                             # (k, 2, 3, t) view: columns i, j
                np.multiply(pair[:, ::-1], sin_pm[rows, :, None], out=tmp)   # (cj s, -ci s)
                pair *= cos[rows, None, None]
                pair += tmp


def _channel_columns(h: Hierarchy) -> tuple[list[list[int]], list[str], list[list]]:
    """Per joint: its rotation channels' columns, their axes in order ("ZXY"), and its position
    channels' column per axis (None where the OFFSET stays)."""
    rot_cols, orders, pos_cols = [], [], []
    col = 0
    for joint in h.joints:
        rc, order, pc = [], "", [None, None, None]
        for c in joint.channels:                 # "Xposition", "zrotation", ...: checked names
            axis = c[0].upper()
            if c[1] in "pP":
                pc["XYZ".index(axis)] = col
            else:
                rc.append(col)
                order += axis
            col += 1
        rot_cols.append(rc)
        orders.append(order)
        pos_cols.append(pc)
    return rot_cols, orders, pos_cols


def _plan_joints(h: Hierarchy) -> tuple[list, list]:
    """-> (rotation groups [(order, joints, (joints, axes) columns)], per joint its position
    columns (one per axis, None where the OFFSET stays) or None)."""
    groups: dict[str, tuple[list[int], list[list[int]]]] = {}
    rot_cols, orders, pos_cols = _channel_columns(h)
    for j, (rc, order) in enumerate(zip(rot_cols, orders)):
        if order:
            js, cols = groups.setdefault(order, ([], []))
            js.append(j)
            cols.append(rc)
    return ([(order, js, np.array(cols, dtype=np.intp)) for order, (js, cols) in groups.items()],
            [pc if pc != [None, None, None] else None for pc in pos_cols])


def _joint_by_joint(h: Hierarchy, plan: tuple, offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """FK of a short file (one block): local rotation matrices for all joints of one rotation
    order at once (sines and cosines from one tan), then one step per joint
    (rotations.fk_columns). Fewer numpy calls than one step per level when levels are small."""
    groups, pos_cols = plan
    v = np.ascontiguousarray(values.T)                      # (C, t)
    t = v.shape[1]
    J = len(pos_cols)
    local: list = [None] * J
    for order, js, rows in groups:
        k = len(order)
        sin_pm, cos = _sin_cos_degrees(v[rows].reshape(len(js) * k, t))
        s = sin_pm[:, 0].reshape(len(js), k, t)
        c = cos.reshape(len(js), k, t)
        M = euler_entries([c[:, n] for n in range(k)], [s[:, n] for n in range(k)], order)
        R = np.empty((len(js), 3, 3, t))
        for r in range(3):
            for q in range(3):
                R[:, r, q] = M[r][q]
        for g, j in enumerate(js):
            local[j] = R[g]
    off = [offsets[j] if pc is None else v[pc] if None not in pc
           else [offsets[j][m] if pc[m] is None else v[pc[m]] for m in range(3)]
           for j, pc in enumerate(pos_cols)]
    return fk_columns(local, off, h.parents, out=np.empty((J, 3, t)))


def _sin_cos_degrees(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angles (n, t) in degrees -> (sines and minus sines (n, 2, t), cosines (n, t)), from
    u = tan(a / 2): sin a = 2u / (1 + u^2), cos a = (1 - u^2) / (1 + u^2) = 2 / (1 + u^2) - 1.
    numpy's float64 tan is vectorised and its sin and cos are not, so one tan and a few
    arithmetic passes take about half the time of np.sin + np.cos; the results agree with them
    to ~2e-16 (absolute) at every angle, 180 degrees included (u is then ~1e16, never
    infinite). `a` (a fresh array) is overwritten."""
    u = np.multiply(a, np.pi / 360.0, out=a)
    np.tan(u, out=u)
    w = np.square(u)
    w += 1.0
    np.divide(2.0, w, out=w)            # 2 / (1 + u^2)
    sin_pm = np.empty((a.shape[0], 2, a.shape[1]))
    np.multiply(u, w, out=sin_pm[:, 0])
    np.negative(sin_pm[:, 0], out=sin_pm[:, 1])
    w -= 1.0                            # cos
    return sin_pm, w
