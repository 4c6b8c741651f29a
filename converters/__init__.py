"""m2t converters: motion-capture files -> HumanML3D joint format (numpy only at import time).

Library API (what ``m2t convert`` / ``m2t info`` call):

- :func:`read_motion` - a file on its own skeleton, in metres (raw, before retargeting)
- :func:`load_motion` - a file on a canonical skeleton (``t2m`` or ``kit``), canonicalised
- :func:`save_motion` - write HumanML3D-style ``.npy`` and an ``.npz`` with metadata
- :func:`convert` - files or folders in, files out, errors collected per file
- :func:`info` - what a file holds (format, frames, fps, joints, detected rig, units)
"""
from __future__ import annotations

from .errors import (ConfigError, M2TError, MotionFileError, SkeletonMatchError,  # noqa: F401
                     UnsupportedFormatError)
from .motion import Motion  # noqa: F401
from .api import convert, info, load_motion, read_motion, save_motion, READERS, ConvertResult  # noqa: F401
