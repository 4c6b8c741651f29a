"""User-facing errors of the converters.

Every message is one line that names the file and the problem (and, where it helps, the place:
line, frame or joint). Libraries raise these; only the CLI prints them and exits with code 2.
"""
from __future__ import annotations


class M2TError(Exception):
    """Base class of every error a user can cause (bad file, bad flag, missing model dir)."""


class MotionFileError(M2TError):
    """A motion file cannot be read: missing, truncated, malformed, NaN, zero frames."""


class UnsupportedFormatError(M2TError):
    """The file extension names no format m2t reads."""


class SkeletonMatchError(M2TError):
    """Source joints cannot be mapped onto the canonical skeleton."""


class ConfigError(M2TError):
    """A bad option value or a bad mapping / preset file."""


def where(path, line: int | None = None, frame: int | None = None, joint: str | None = None) -> str:
    """Format `file[:line N][, frame N][, joint J]` for error messages."""
    s = str(path)
    if line is not None:
        s += f":{line}"
    if frame is not None:
        s += f", frame {frame}"
    if joint is not None:
        s += f", joint {joint!r}"
    return s


def file_error(path, exc: BaseException) -> str:
    """One line for a file that failed, whatever was raised: an M2TError's own message (it already
    names the file), else `<path>: cannot read (<Type>: <message>)`. The last-resort guard of
    every per-file loop, so that one bad file never stops a folder run."""
    if isinstance(exc, M2TError):
        return str(exc).splitlines()[0] if str(exc) else f"{path}: {type(exc).__name__}"
    msg = " ".join(str(exc).split())[:200]
    return f"{path}: cannot read ({type(exc).__name__}{': ' + msg if msg else ''})"
