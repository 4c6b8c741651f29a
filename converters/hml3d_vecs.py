"""HumanML3D's 263-d motion vectors (`new_joint_vecs`), both ways, for the t2m skeleton (22 joints).

Reimplemented from the published description of HumanML3D's `motion_representation` step and
checked against `humanml3d-sample` (docs/formats.md, "HumanML3D vectors", has the measured
agreement). For T canonical frames (Y up, 20 fps, metres) the vectors have T - 1 rows (velocities
need the next frame); each row t is::

    [0]        root angular velocity about Y between frames t and t+1, as HALF the angle (radians;
               the arcsine of the relative rotation quaternion's y part, as HumanML3D stores it)
    [1:3]      root linear velocity (x, z) from t to t+1, in the root frame of t+1
    [3]        root height y at t
    [4:67]     joints 1..21 at t relative to the root's ground point, in the root frame of t ("ric")
    [67:193]   joints 1..21: 6D rotation (first two columns of the local rotation matrix) from the
               inverse kinematics of the positions
    [193:259]  joints 0..21 velocities from t to t+1, in the root frame of t
    [259:263]  foot contacts (left ankle, left foot, right ankle, right foot): squared displacement
               from t to t+1 below 0.002 m^2

The root frame turns the body's forward direction onto +Z. As HumanML3D computes it: forward =
up x ((l_hip - r_hip) + (r_shoulder - l_shoulder)) (the hip and shoulder terms point to opposite
sides, so this is HumanML3D's own, asymmetry-driven direction), Gaussian-smoothed over time
(sigma 20 frames, edges repeated), and the root frame of frame 0 is the identity.
"""
from __future__ import annotations

import numpy as np

from .errors import MotionFileError

N_JOINTS = 22
DIM = 263
FEET_THRESHOLD = 0.002
FOOT_L, FOOT_R = (7, 10), (8, 11)
SMOOTH_SIGMA = 20.0
# HumanML3D's t2m_raw_offsets (paramUtil.py): the rest direction of the bone ending at each joint
RAW_OFFSETS = np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0],
                        [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0],
                        [-1, 0, 0], [0, 0, 1], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
                        [0, -1, 0]], dtype=np.float64)
CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))
LAYOUT = {"root_angular_velocity": (0, 1), "root_linear_velocity": (1, 3), "root_height": (3, 4),
          "ric_positions": (4, 67), "rotations_6d": (67, 193), "local_velocities": (193, 259),
          "foot_contacts": (259, 263)}


def rot_y(theta: np.ndarray) -> np.ndarray:
    """(...,) angles -> (..., 3, 3) right-handed rotations about +Y."""
    c, s = np.cos(theta), np.sin(theta)
    R = np.zeros(np.shape(theta) + (3, 3))
    R[..., 0, 0], R[..., 0, 2], R[..., 1, 1], R[..., 2, 0], R[..., 2, 2] = c, s, 1.0, -s, c
    return R


def gaussian_smooth(x: np.ndarray, sigma: float = SMOOTH_SIGMA, truncate: float = 4.0) -> np.ndarray:
    """Gaussian filter along axis 0, edges repeated (the 'nearest' boundary)."""
    r = int(truncate * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    xp = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)], 0)
    return np.stack([np.convolve(xp[:, i], k, mode="valid") for i in range(x.shape[1])], axis=1)


def root_angles(positions: np.ndarray) -> np.ndarray:
    """(T, 22, 3) -> (T,) angle about Y of each frame's root frame (the rotation turning the
    smoothed forward direction onto +Z); 0 at frame 0."""
    across = (positions[:, 1] - positions[:, 2]) + (positions[:, 17] - positions[:, 16])
    across = across / np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-12)
    fwd = gaussian_smooth(np.cross([0.0, 1.0, 0.0], across))
    theta = -np.arctan2(fwd[:, 0], fwd[:, 2])
    theta[0] = 0.0
    return theta


def _between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Minimal rotations taking unit vectors u (..., 3) onto v (..., 3) -> (..., 3, 3)."""
    axis = np.cross(u, v)
    c = (u * v).sum(-1)
    K = np.zeros(axis.shape + (3,))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 0] = -axis[..., 2], axis[..., 1], axis[..., 2]
    K[..., 1, 2], K[..., 2, 0], K[..., 2, 1] = -axis[..., 0], -axis[..., 1], axis[..., 0]
    f = 1.0 / np.maximum(1.0 + c, 1e-12)
    return np.eye(3) + K + (K @ K) * f[..., None, None]


def local_rotations(positions: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Inverse kinematics as HumanML3D does it: each bone's global rotation is the minimal
    rotation from its rest direction (RAW_OFFSETS) onto its direction; the first bone of every
    chain is relative to the root frame. -> (T, 22, 3, 3) local rotations (joint 0: root frame)."""
    T = positions.shape[0]
    root = rot_y(theta)                                 # the root rotation: smoothed forward -> +Z
    out = np.zeros((T, N_JOINTS, 3, 3))
    out[:, 0] = root
    for chain in CHAINS:
        G = root
        for a, b in zip(chain[:-1], chain[1:]):
            v = positions[:, b] - positions[:, a]
            v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
            Gb = _between(np.broadcast_to(RAW_OFFSETS[b], v.shape), v)
            out[:, b] = np.swapaxes(G, -1, -2) @ Gb
            G = Gb
    return out


def joints_to_vecs(positions: np.ndarray) -> np.ndarray:
    """(T, 22, 3) canonical positions (HumanML3D new_joints) -> (T - 1, 263) vectors."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (N_JOINTS, 3):
        raise MotionFileError(f"263-d vectors need t2m joints (T, 22, 3), got {p.shape}")
    if p.shape[0] < 2:
        raise MotionFileError("263-d vectors need at least 2 frames (velocities use the next frame)")
    T = p.shape[0]
    theta = root_angles(p)
    R = rot_y(theta)                                                   # world -> root frame
    rel = p.copy()
    rel[..., 0] -= p[:, :1, 0]
    rel[..., 2] -= p[:, :1, 2]
    ric = np.einsum("tij,tkj->tki", R, rel)[:, 1:]                    # (T, 21, 3)
    rot = local_rotations(p, theta)
    rot6 = np.concatenate([rot[..., :, 0], rot[..., :, 1]], axis=-1)[:, 1:]   # (T, 21, 6)
    d = p[1:] - p[:-1]
    root_v = np.einsum("tij,tj->ti", R[1:], d[:, 0])[:, [0, 2]]
    local_v = np.einsum("tij,tkj->tki", R[:-1], d)
    contact = ((d ** 2).sum(-1) < FEET_THRESHOLD).astype(np.float64)
    out = np.concatenate([
        ((theta[1:] - theta[:-1] + np.pi) % (2 * np.pi) - np.pi)[:, None] / 2, root_v, p[:-1, 0, 1:2],
        ric[:-1].reshape(T - 1, -1), rot6[:-1].reshape(T - 1, -1), local_v.reshape(T - 1, -1),
        contact[:, list(FOOT_L)], contact[:, list(FOOT_R)]], axis=1)
    return out.astype(np.float32)


def vecs_to_joints(vecs: np.ndarray) -> np.ndarray:
    """(T, 263) vectors -> (T, 22, 3) positions (HumanML3D's recovery from the root data and the
    ric positions; rotations, local velocities and contacts are not used)."""
    v = np.asarray(vecs, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != DIM:
        raise MotionFileError(f"expected HumanML3D vectors (T, 263), got {v.shape}")
    T = v.shape[0]
    theta = np.zeros(T)
    theta[1:] = 2 * np.cumsum(v[:-1, 0])
    Rinv = rot_y(-theta)
    step = np.zeros((T, 3))
    step[1:, [0, 2]] = v[:-1, 1:3]
    root = np.cumsum(np.einsum("tij,tj->ti", Rinv, step), axis=0)
    root[:, 1] = v[:, 3]
    joints = np.einsum("tij,tkj->tki", Rinv, v[:, 4:67].reshape(T, 21, 3))
    joints[..., 0] += root[:, None, 0]
    joints[..., 2] += root[:, None, 2]
    return np.concatenate([root[:, None], joints], axis=1).astype(np.float32)
