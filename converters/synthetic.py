"""Procedural motions written with m2t's own writers: test fixtures and the README's example.

`walk_rig()` is a 22-joint humanoid BVH rig in centimetres (Y up, facing +Z, left on +X, T-pose
rest built from the reference SMPL skeleton) with ZXY rotation channels; `walk_values()` makes
a straight walk along +Z. Nothing here is copied from any dataset.
"""
from __future__ import annotations

import numpy as np

from .skeletons import T2M

# BVH joint name for each t2m joint (Mixamo-style names without prefix)
RIG_NAMES = (
    "Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot",
    "RightFoot", "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder",
    "Head", "LeftArm", "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand",
)
ROT = ["Zrotation", "Xrotation", "Yrotation"]


def walk_rig(order: str = "ZXY"):
    """-> (names, parents, offsets (J, 3) cm, channels per joint). The root has 6 channels."""
    rot = [f"{a}rotation" for a in order]
    mirrored = T2M.rest[list(T2M.mirror)] * [-1.0, 1.0, 1.0]
    rest = 0.5 * (T2M.rest + mirrored) * 100.0           # left/right symmetric, so it faces exactly +Z
    offsets = np.array([rest[j] - rest[p] if p >= 0 else rest[j] for j, p in enumerate(T2M.parents)])
    channels = [["Xposition", "Yposition", "Zposition"] + rot if p < 0 else list(rot) for p in T2M.parents]
    return list(RIG_NAMES), list(T2M.parents), offsets, channels


def walk_values(seconds: float = 3.0, fps: float = 30.0, speed_m_s: float = 1.2, step_hz: float = 0.9,
                order: str = "ZXY") -> np.ndarray:
    """(T, C) channel values (cm, degrees) of a straight walk along +Z, arms hanging and swinging."""
    names, parents, offsets, channels = walk_rig(order)
    T = int(round(seconds * fps))
    t = np.arange(T) / fps
    ph = 2 * np.pi * step_hz * t
    ang = {n: np.zeros((T, 3)) for n in names}          # X, Y, Z angles in degrees
    ang["LeftUpLeg"][:, 0] = -25 * np.sin(ph)            # negative X swings the leg forward
    ang["RightUpLeg"][:, 0] = 25 * np.sin(ph)
    ang["LeftLeg"][:, 0] = 35 * np.clip(np.sin(ph + 1.2), 0, None)
    ang["RightLeg"][:, 0] = 35 * np.clip(-np.sin(ph + 1.2), 0, None)
    ang["LeftArm"][:, 2] = -75                           # arms down from the T-pose
    ang["RightArm"][:, 2] = 75
    ang["LeftArm"][:, 0] = 20 * np.sin(ph)               # swing opposite to the same-side leg
    ang["RightArm"][:, 0] = -20 * np.sin(ph)
    ang["LeftForeArm"][:, 0] = -15
    ang["RightForeArm"][:, 0] = -15
    root = np.stack([np.zeros(T), offsets[0, 1] - 2.0 + 2.0 * np.abs(np.cos(ph)), speed_m_s * 100 * t], -1)
    cols = []
    for j, n in enumerate(names):
        for c in channels[j]:
            axis = "XYZ".index(c[0])
            cols.append(root[:, axis] if c.endswith("position") else ang[n][:, axis])
    return np.stack(cols, -1)


def write_walk_bvh(path, seconds: float = 3.0, fps: float = 30.0, order: str = "ZXY") -> None:
    """Write the procedural walk as a BVH file (centimetres, `fps` frames per second)."""
    from .bvh import write
    names, parents, offsets, channels = walk_rig(order)
    write(path, names, parents, offsets, channels, walk_values(seconds, fps, order=order), 1.0 / fps)
