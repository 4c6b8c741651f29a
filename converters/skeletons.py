"""The two canonical skeletons: ``t2m`` (SMPL 22 joints, HumanML3D order) and ``kit`` (KIT-ML 21).

Facts from HumanML3D's ``paramUtil.py`` (joint order, kinematic chains, left/right) and the
SMPL joint names. Canonical axes: Y up, subject facing +Z, left side on +X.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]                 # -1 at the root; parents[j] < j
    chains: tuple[tuple[int, ...], ...]      # kinematic chains, for drawing
    mirror: tuple[int, ...]                  # index of each joint's left/right twin (itself on the midline)
    feet: tuple[int, ...]                    # joints that touch the floor
    face: tuple[int, int, int, int]          # right hip, left hip, right shoulder, left shoulder
    head: int
    fps: float                               # dataset frame rate of HumanML3D-style files
    npy_scale: float                         # metres -> units of the dataset's new_joints/*.npy
    rest: np.ndarray                         # (J, 3) reference rest pose, metres, T-pose, feet at y=0
    parts: tuple[tuple[int, ...], ...] = ()  # joints of each body part, in PART_NAMES order

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        return self.joint_names.index(name)


def _mirror_table(n: int, left: list[int], right: list[int]) -> tuple[int, ...]:
    m = list(range(n))
    for a, b in zip(left, right):
        m[a], m[b] = b, a
    return tuple(m)


T2M_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)
T2M_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
T2M_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))

# Approximate SMPL neutral joint locations for the mean shape (metres, T-pose, Y up, facing +Z,
# left on +X), shifted so the lowest foot joint is at y = 0. Used by the SMPL reader when no body
# model is given (shape ignored) and for the directions of the canonical body (converters/body.py).
_SMPL_REST = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0695, -0.3142, 0.0239], [-0.0677, -0.3147, 0.0214],
    [-0.0025, -0.1088, 0.0022], [0.1043, -0.6933, 0.0160], [-0.1056, -0.6960, 0.0114],
    [0.0026, 0.0246, 0.0020], [0.0888, -1.0911, -0.0250], [-0.0925, -1.0961, -0.0289],
    [0.0024, 0.0784, 0.0251], [0.1198, -1.1485, 0.0949], [-0.1192, -1.1526, 0.0988],
    [-0.0013, 0.2874, -0.0167], [0.0767, 0.1924, -0.0069], [-0.0776, 0.1919, -0.0111],
    [0.0053, 0.3517, 0.0412], [0.1991, 0.2381, -0.0187], [-0.1915, 0.2372, -0.0158],
    [0.4545, 0.2213, -0.0412], [-0.4511, 0.2213, -0.0399], [0.7209, 0.2340, -0.0463],
    [-0.7214, 0.2338, -0.0480],
])
SMPL_REST_PELVIS = _SMPL_REST[0].copy()   # pelvis in SMPL's own rest frame (SMPL adds it to `trans`)
_SMPL_REST = _SMPL_REST - np.array([0.0, _SMPL_REST[:, 1].min(), 0.0])

T2M = Skeleton(
    name="t2m", joint_names=T2M_JOINTS, parents=T2M_PARENTS, chains=T2M_CHAINS,
    mirror=_mirror_table(22, [1, 4, 7, 10, 13, 16, 18, 20], [2, 5, 8, 11, 14, 17, 19, 21]),
    feet=(7, 8, 10, 11), face=(2, 1, 17, 16), head=15, fps=20.0, npy_scale=1.0, rest=_SMPL_REST,
)

KIT_JOINTS = (
    "root", "BP", "BT", "BLN", "BUN", "LS", "LE", "LW", "RS", "RE", "RW",
    "LH", "LK", "LA", "LMrot", "LF", "RH", "RK", "RA", "RMrot", "RF",
)
KIT_PARENTS = (-1, 0, 1, 2, 3, 3, 5, 6, 3, 8, 9, 0, 11, 12, 13, 14, 0, 16, 17, 18, 19)
KIT_CHAINS = ((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10))

# KIT joints as fixed linear combinations of t2m joints: used to derive KIT from any rig that maps
# onto t2m, and for the KIT rest pose. {kit joint: {t2m joint: weight}}.
KIT_FROM_T2M = {
    "root": {"pelvis": 1.0}, "BP": {"spine1": 1.0}, "BT": {"spine3": 1.0}, "BLN": {"neck": 1.0},
    "BUN": {"head": 1.0},
    "LS": {"left_shoulder": 1.0}, "LE": {"left_elbow": 1.0}, "LW": {"left_wrist": 1.0},
    "RS": {"right_shoulder": 1.0}, "RE": {"right_elbow": 1.0}, "RW": {"right_wrist": 1.0},
    "LH": {"left_hip": 1.0}, "LK": {"left_knee": 1.0}, "LA": {"left_ankle": 1.0},
    "LMrot": {"left_ankle": 0.5, "left_foot": 0.5}, "LF": {"left_foot": 1.0},
    "RH": {"right_hip": 1.0}, "RK": {"right_knee": 1.0}, "RA": {"right_ankle": 1.0},
    "RMrot": {"right_ankle": 0.5, "right_foot": 0.5}, "RF": {"right_foot": 1.0},
}


def weight_matrix(mapping: dict, target_names, source_names) -> np.ndarray:
    """{target: {source: w}} -> (J_target, J_source) matrix; raises KeyError on unknown names."""
    W = np.zeros((len(target_names), len(source_names)))
    src = {n: i for i, n in enumerate(source_names)}
    for t, row in mapping.items():
        for s, w in row.items():
            W[target_names.index(t), src[s]] += w
    return W


KIT = Skeleton(
    name="kit", joint_names=KIT_JOINTS, parents=KIT_PARENTS, chains=KIT_CHAINS,
    mirror=_mirror_table(21, [5, 6, 7, 11, 12, 13, 14, 15], [8, 9, 10, 16, 17, 18, 19, 20]),
    feet=(13, 14, 15, 18, 19, 20), face=(16, 11, 8, 5), head=4, fps=12.5, npy_scale=1000.0,
    rest=weight_matrix(KIT_FROM_T2M, KIT_JOINTS, T2M_JOINTS) @ _SMPL_REST,
)

# The captioner's six body parts (the columns of the spatial attention α), in this order.
PART_NAMES = ("root", "torso", "left_arm", "right_arm", "left_leg", "right_leg")

# t2m: the official code's torso also repeats joint 0 ([0,3,6,9,12,15]); here the torso is the
# spine chain, neck and head, so the root part alone carries the global trajectory.
T2M = replace(T2M, parts=((0,), (3, 6, 9, 12, 15), (13, 16, 18, 20), (14, 17, 19, 21), (1, 4, 7, 10), (2, 5, 8, 11)))
KIT = replace(KIT, parts=((0,), (1, 2, 3, 4), (5, 6, 7), (8, 9, 10), (11, 12, 13, 14, 15), (16, 17, 18, 19, 20)))

SKELETONS = {"t2m": T2M, "kit": KIT}


def get_skeleton(name: str) -> Skeleton:
    from .errors import ConfigError
    try:
        return SKELETONS[name]
    except KeyError:
        raise ConfigError(f"unknown skeleton {name!r}; choose one of: {', '.join(SKELETONS)}") from None
