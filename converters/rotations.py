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
    R = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(order):
        R = R @ axis_rotation(ax, angles[..., i])
    return R


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


def forward_kinematics(local_R: np.ndarray, offsets: np.ndarray, parents, root_pos: np.ndarray | None = None,
                       translations: np.ndarray | None = None) -> np.ndarray:
    """Global joint positions from local rotations.

    local_R (T, J, 3, 3) rotation of each joint relative to its parent; offsets (J, 3) rest offset of
    each joint from its parent (for roots: from the origin); parents (J,) with -1 at roots and
    parents[j] < j; root_pos (T, R, 3) per-frame position of each root, in root order (optional);
    translations (T, J, 3) optional per-frame local offsets that replace `offsets` (NaN entries
    fall back to `offsets`). Returns (T, J, 3) global positions in the offsets' units.
    """
    T, J = local_R.shape[:2]
    off = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (T, J, 3))
    if translations is not None:
        off = np.where(np.isnan(translations), off, translations)
    glob_R = np.empty((T, J, 3, 3))
    pos = np.empty((T, J, 3))
    r = 0
    for j, p in enumerate(parents):
        if p < 0:
            pos[:, j] = off[:, j] if root_pos is None else root_pos[:, r]
            glob_R[:, j] = local_R[:, j]
            r += 1
        else:
            if p >= j:
                raise ValueError("parents must come before their children")
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", glob_R[:, p], off[:, j])
            glob_R[:, j] = glob_R[:, p] @ local_R[:, j]
    return pos


def rotation_y(angle_rad: float) -> np.ndarray:
    """3x3 rotation about +Y (right-handed)."""
    return axis_rotation("Y", np.asarray(angle_rad))
