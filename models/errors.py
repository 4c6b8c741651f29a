"""Errors of the models layer: each is a one-line user error (an M2TError: the CLI prints it and
exits with code 2). Errors about input files and options come from `m2t.converters.errors`."""
from __future__ import annotations

from m2t.converters.errors import ConfigError, M2TError, MotionFileError  # noqa: F401 (one place to import from)


class ModelDirError(M2TError):
    """A model directory is missing, incomplete or malformed."""


class DatasetError(M2TError):
    """A dataset directory is missing, incomplete or malformed."""


class DeviceError(M2TError):
    """The requested device is not available here."""
