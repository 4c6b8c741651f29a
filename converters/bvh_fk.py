"""Forward kinematics of BVH channels, one tree level at a time (converters/bvh.py calls it).

Layout: frames last. A joint's global rotation G is kept as its three columns, (3 columns,
3 rows, t frames), so that the columns of all joints of one tree level form one
(n, 3, 3, t) array. For each level (roots first):
  1. the parents' G and positions are gathered for every joint of the level (one fancy index
     each);
  2. positions: P = P_parent + G_parent @ offset, one batched product (offsets that come from
     position channels: per joint, from the channel columns);
  3. the joints that have children and rotation channels turn their copy of G_parent into
     their own G by right-multiplying it with one axis rotation per channel: R_a about axis a
     changes only the two columns (i, j) of the plane it turns,
        (G R_a)[:, i] = G[:, i] c + G[:, j] s,   (G R_a)[:, j] = G[:, j] c - G[:, i] s,
     in place, on all joints of the level that share a rotation order at once.
No local rotation matrix is formed, and joints without children get no G (their rotation
channels do not move any position). The sines and cosines of all the angles used are taken in
one call per block. Measured in docs/performance.md (BVH reading).
"""
from __future__ import annotations

import numpy as np

from .bvh_hierarchy import Hierarchy

FK_BLOCK = 2048          # frames per block: the arrays of a block stay in the core's cache
# the columns (i, j) an axis rotation mixes, as a slice: X (1, 2), Y (2, 0), Z (0, 1)
_PAIR = {"X": slice(1, 3), "Y": slice(2, None, -2), "Z": slice(0, 2)}


class _Level:
    """One tree level: its joints (rotating ones first, grouped by rotation order), where their
    parents sit in the previous level, their offsets, and the rotation groups."""
    __slots__ = ("joints", "parent_at", "offsets", "moving", "groups")

    def __init__(self, joints, parent_at, offsets, moving, groups):
        self.joints = joints          # (n,) joint indices
        self.parent_at = parent_at    # (n,) index of each parent within the previous level
        self.offsets = offsets        # (n, 1, 3) rest offsets
        self.moving = moving          # [(q, [column or None per axis])]: offsets from channels
        self.groups = groups          # [(q0, q1, order, first angle row)]


def plan_levels(h: Hierarchy) -> tuple[list[_Level], np.ndarray]:
    """-> (levels, angle columns): the columns of `values` whose sines and cosines the levels
    use, axis-major within each rotation group (row `first + m * n + q` is axis m of the q-th
    joint of a group of n)."""
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
    rot_cols: list[list[int]] = []
    orders: list[str] = []
    pos_cols: list[list | None] = []
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
        pos_cols.append(pc if pc != [None, None, None] else None)
    by_depth: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for j in range(J):
        by_depth[depth[j]].append(j)
    all_offsets = np.array([joint.offset for joint in h.joints], dtype=np.float64).reshape(J, 1, 3)
    angle_cols: list[int] = []
    levels: list[_Level] = []
    at = [0] * J                                             # position of each joint in its level
    for js in by_depth:
        turning = sorted((j for j in js if has_child[j] and orders[j]), key=orders.__getitem__)
        rest = [j for j in js if not (has_child[j] and orders[j])]
        js = turning + rest
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
        moving = [(q, pos_cols[j]) for q, j in enumerate(js) if pos_cols[j] is not None]
        js = np.array(js, dtype=np.intp)
        levels.append(_Level(js, parent_at, all_offsets[js], moving, groups))
    return levels, np.array(angle_cols, dtype=np.intp)


def positions_from_channels(h: Hierarchy, values: np.ndarray) -> np.ndarray:
    """(T, C) channel values (file units, degrees) -> (J, 3, T) global positions, file units."""
    T = values.shape[0]
    levels, angle_cols = plan_levels(h)
    out = np.empty((len(h.joints), 3, T))
    for a in range(0, T, FK_BLOCK):
        b = min(T, a + FK_BLOCK)
        _block(levels, angle_cols, values[a:b], out[:, :, a:b])
    return out


def _block(levels: list[_Level], angle_cols: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """FK of frames `v` (t, C) into `out` (J, 3, t)."""
    t = v.shape[0]
    sin_pm, cos = _sin_cos_degrees(v.T[angle_cols])         # (angles, 2, t), (angles, t)
    G = P = None
    for lv in levels:
        n = len(lv.joints)
        if G is None:                                       # roots: G = identity, P = offset
            G = np.zeros((n, 3, 3, t))
            for k in range(3):
                G[:, k, k] = 1.0
            P = np.broadcast_to(lv.offsets.reshape(n, 3, 1), (n, 3, t)).copy()
            for q, pc in lv.moving:
                for m in range(3):
                    if pc[m] is not None:
                        P[q, m] = v[:, pc[m]]
        else:
            Pp = P
            G = G[lv.parent_at]                              # (n, 3 columns, 3 rows, t): parents' G
            P = np.matmul(lv.offsets, G.reshape(n, 3, 3 * t)).reshape(n, 3, t)
            P += Pp[lv.parent_at]
            for q, pc in lv.moving:
                o = [lv.offsets[q, 0, m] if pc[m] is None else v[:, pc[m]] for m in range(3)]
                Gq = G[q]
                np.add(Pp[lv.parent_at[q]], Gq[0] * o[0] + Gq[1] * o[1] + Gq[2] * o[2], out=P[q])
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
