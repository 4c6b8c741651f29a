"""Pure rotation maths and forward kinematics, vectorised over frames (numpy only).

Glossary: E Euler angles (..., 3) in degrees with an order string such as "ZXY"; R rotation
matrices (..., 3, 3); A axis-angle vectors (..., 3) in radians; p positions (..., 3).
Conventions: matrices act on column vectors; an Euler order "ZXY" means R = Rz @ Rx @ Ry, the
BVH convention (channels listed left to right, intrinsic rotations). ASF/AMC order strings list
rotations in the order they are applied (extrinsic), so ASF "XYZ" is R = Rz @ Ry @ Rx, i.e.
``E2R(angles[..., ::-1], order[::-1])`` (see converters/asfamc.py).
"""
from __future__ import annotations

import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


def axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Rotation matrices about one coordinate axis. angle_rad (...,) -> (..., 3, 3)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    o, z = np.ones_like(c), np.zeros_like(c)
    if axis == "X":
        rows = ((o, z, z), (z, c, -s), (z, s, c))
    elif axis == "Y":
        rows = ((c, z, s), (z, o, z), (-s, z, c))
    elif axis == "Z":
        rows = ((c, -s, z), (s, c, z), (z, z, o))
    else:
        raise ValueError(f"unknown axis {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def E2R(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Euler angles (..., k) in degrees, order of k axes (e.g. "ZXY") -> R (..., 3, 3) = R_1 @ ... @ R_k."""
    angles = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    order = order.upper()
    if len(order) != angles.shape[-1]:
        raise ValueError(f"order {order!r} does not match {angles.shape[-1]} angles")
    c, s = np.cos(angles), np.sin(angles)
    M = euler_entries([c[..., n] for n in range(len(order))], [s[..., n] for n in range(len(order))], order)
    R = np.empty(angles.shape[:-1] + (3, 3))
    for r in range(3):
        for k in range(3):
            R[..., r, k] = M[r][k]
    return R


# Rotation about axis a mixes the two other coordinates (i, j): R_a[i, i] = R_a[j, j] = c,
# R_a[i, j] = -s, R_a[j, i] = s (X: (y, z), Y: (z, x), Z: (x, y)).
_PLANE = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}


def _is_const(x, v: float) -> bool:
    return type(x) is float and x == v


def _mul(a, b):
    if _is_const(a, 0.0):
        return 0.0
    return b if _is_const(a, 1.0) else a * b


def _add(a, b):
    if _is_const(a, 0.0):
        return b
    return a if _is_const(b, 0.0) else a + b


def _sub(a, b):
    if _is_const(b, 0.0):
        return a
    return -b if _is_const(a, 0.0) else a - b


def euler_entries(c, s, order: str) -> list[list]:
    """The nine entries of R = R_1 @ ... @ R_k as a nested 3x3 list, from c[n], s[n], the cosine
    and sine of angle n (arrays of one shape). Entries that stay exactly 0 or 1 are Python floats.

    Same arithmetic as the matrix products without the terms that are multiplied by an exact 0:
    right-multiplying M by R_a changes only columns i and j of M:
    (M @ R_a)[:, i] = M[:, i] c + M[:, j] s and (M @ R_a)[:, j] = M[:, j] c - M[:, i] s.
    """
    M = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    for n, ax in enumerate(order):
        if ax not in _PLANE:
            raise ValueError(f"unknown axis {ax!r}")
        i, j = _PLANE[ax]
        for row in M:
            a, b = row[i], row[j]
            row[i] = _add(_mul(a, c[n]), _mul(b, s[n]))
            row[j] = _sub(_mul(b, c[n]), _mul(a, s[n]))
    return M


def A2R(axis_angle: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) radians -> R (..., 3, 3) (Rodrigues), exact at angle 0."""
    a = np.asarray(axis_angle, dtype=np.float64)
    theta = np.linalg.norm(a, axis=-1, keepdims=True)
    k = a / np.where(theta > 1e-12, theta, 1.0)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    z = np.zeros_like(kx)
    K = np.stack([np.stack([z, -kz, ky], -1), np.stack([kz, z, -kx], -1), np.stack([-ky, kx, z], -1)], -2)
    th = theta[..., None]
    return np.eye(3) + np.sin(th) * K + (1.0 - np.cos(th)) * (K @ K)


FK_CHUNK = 2048   # frames per block in the column-layout FK: keeps the working set in cache


def forward_kinematics(local_R: np.ndarray, offsets: np.ndarray, parents, root_pos: np.ndarray | None = None,
                       translations: np.ndarray | None = None) -> np.ndarray:
    """Global joint positions from local rotations.

    local_R (T, J, 3, 3) rotation of each joint relative to its parent; offsets (J, 3) rest offset of
    each joint from its parent (for roots: from the origin); parents (J,) with -1 at roots and
    parents[j] < j; root_pos (T, R, 3) per-frame position of each root, in root order (optional);
    translations (T, J, 3) optional per-frame local offsets that replace `offsets` (NaN entries
    fall back to `offsets`). Returns (T, J, 3) global positions in the offsets' units.
    """
    local_R = np.asarray(local_R, dtype=np.float64)
    T, J = local_R.shape[:2]
    offsets = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (J, 3))
    roots = [j for j, p in enumerate(parents) if p < 0]
    pos = np.empty((T, J, 3))
    for a in range(0, max(T, 1), FK_CHUNK):              # T = 0 still checks `parents`
        b = min(T, a + FK_CHUNK)
        local = np.ascontiguousarray(local_R[a:b].transpose(1, 2, 3, 0))          # (J, 3, 3, t)
        if translations is not None:
            tr = translations[a:b]
            off = list(np.where(np.isnan(tr), offsets, tr).transpose(1, 2, 0))    # J x (3, t)
        else:
            off = list(offsets)                                                    # J x (3,)
        if root_pos is not None:
            for r, j in enumerate(roots):
                off[j] = root_pos[a:b, r].T
        pos[a:b] = fk_columns(list(local), off, parents).transpose(2, 0, 1)
    return pos


def fk_columns(local, offsets, parents, out: np.ndarray | None = None) -> np.ndarray:
    """Forward kinematics in column layout (frames last), the engine of forward_kinematics.

    local: per joint a (3, 3, t) rotation relative to the parent, or None for the identity;
    offsets: per joint its local offset: a (3,) array (the same every frame), a (3, t) array, or
    three items, each a number or a (t,) array; for roots the position. Returns (J, 3, t) global positions
    (written into `out` when given, e.g. a slice of a longer (J, 3, T) array).
    Global rotations are formed only for joints that have children.
    """
    J = len(parents)
    t = next((x.shape[-1] for x in local if x is not None), None)
    if t is None:
        t = next((np.shape(v)[-1] for o in offsets for v in o if np.ndim(v)), 1)
    has_child = [False] * J
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError("parents must come before their children")
        if p >= 0:
            has_child[p] = True
    P = np.empty((J, 3, t)) if out is None else out
    G = [None] * J                       # global rotations (3, 3, t); None = identity
    for j, p in enumerate(parents):
        o, L = offsets[j], local[j]
        if p < 0:
            for m in range(3):
                P[j, m] = o[m]
            G[j] = L
            continue
        Gp = G[p]
        if Gp is None:
            for m in range(3):
                np.add(P[p, m], o[m], out=P[j, m])
        elif isinstance(o, np.ndarray) and o.shape == (3,):
            np.add(P[p], np.matmul(o, Gp), out=P[j])            # Gp @ o for every frame
        elif isinstance(o, np.ndarray) and o.shape == (3, t):
            np.add(P[p], np.einsum("imt,mt->it", Gp, o), out=P[j])
        else:
            acc = Gp[:, 0] * o[0]
            acc += Gp[:, 1] * o[1]
            acc += Gp[:, 2] * o[2]
            np.add(P[p], acc, out=P[j])
        if has_child[j]:
            G[j] = Gp if L is None else L if Gp is None else matmul_columns(Gp, L)
    return P


def matmul_columns(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B for (3, 3, t) stacks of matrices in column layout (frames last)."""
    return np.einsum("imt,mkt->ikt", A, B)


def rotation_y(angle_rad: float) -> np.ndarray:
    """3x3 rotation about +Y (right-handed)."""
    return axis_rotation("Y", np.asarray(angle_rad))
