"""The one motion container every reader returns and every writer takes.

Glossary (shapes): T frames, J joints. Positions are metres, float32, global coordinates.
A reader returns a Motion on the *source* skeleton in the file's own axes (``up`` tells which
axis points up, when the format says so). :mod:`converters.retarget` moves it onto a canonical
skeleton and :mod:`converters.canonical` puts it in HumanML3D's frame (Y up, floor y=0, root XZ
at the origin and facing +Z at frame 0, dataset frame rate).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import limits
from .errors import MotionFileError


@dataclass(frozen=True)
class Motion:
    positions: np.ndarray            # (T, J, 3) float32, metres
    fps: float                       # frames per second of `positions`
    joint_names: tuple[str, ...]     # (J,)
    parents: tuple[int, ...] | None = None   # (J,), -1 at roots; None for marker sets
    skeleton: str = "source"         # "t2m", "kit", or a description of the source rig
    source: str = ""                 # origin file, for error messages
    up: str | None = None            # up axis of the source data ("+y", "+z", ...); None = detect
    meta: dict = field(default_factory=dict)  # format-specific facts shown by `m2t info`
    observed: np.ndarray | None = None        # (J,) bool: joints the file really measured (None = all);
                                              # the captioner masks body parts without data

    def __post_init__(self):
        p = np.asarray(self.positions)
        if p.ndim != 3 or p.shape[-1] != 3:
            raise MotionFileError(f"{self.source}: positions must be (frames, joints, 3), got {p.shape}")
        if p.shape[0] == 0:
            raise MotionFileError(f"{self.source}: the motion has zero frames")
        if p.shape[1] != len(self.joint_names):
            raise MotionFileError(
                f"{self.source}: {p.shape[1]} joints of data but {len(self.joint_names)} joint names")
        limits.check_rate(self.fps, "frame rate", self.source)
        limits.check_samples(p.shape[0], p.shape[1], self.source)
        bad = ~np.isfinite(p)
        if bad.any():
            t, j = np.argwhere(bad)[0][:2]
            raise MotionFileError(
                f"{self.source}, frame {t}, joint {self.joint_names[j]!r}: position is not finite (NaN or inf)")
        if p.dtype != np.float32:
            object.__setattr__(self, "positions", p.astype(np.float32))
        object.__setattr__(self, "joint_names", tuple(self.joint_names))
        if self.parents is not None:
            object.__setattr__(self, "parents", tuple(int(x) for x in self.parents))

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_joints(self) -> int:
        return int(self.positions.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    @property
    def velocities(self) -> np.ndarray:
        """(T, J, 3) metres per second; first differences, v[0] = 0 (as the captioner's encoder)."""
        return velocities(self.positions, self.fps)

    def joint(self, name: str) -> np.ndarray:
        """(T, 3) positions of one joint by name."""
        return self.positions[:, self.joint_names.index(name)]

    def with_(self, **changes) -> "Motion":
        """A copy with some fields replaced (the original is unchanged)."""
        return replace(self, **changes)


def velocities(positions: np.ndarray, fps: float) -> np.ndarray:
    """(T, J, 3) positions in metres -> (T, J, 3) m/s; v[0] = 0, v[t] = (p[t] - p[t-1]) * fps."""
    v = np.zeros_like(positions)
    v[1:] = (positions[1:] - positions[:-1]) * fps
    return v
