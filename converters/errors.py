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
    """One line for a file that failed, whatever was raised: the last-resort guard of every
    per-file loop (converters.convert, dataset build, captioning), so one bad file never stops a
    folder run. An M2TError's own message (it already names the file; folded to one line);
    MemoryError, RecursionError and OSError get a plain reason; anything else (a reader bug)
    becomes ``<path>: cannot read (<Type>: <message>)``."""
    if isinstance(exc, M2TError):
        return " ".join(str(exc).split()) or f"{path}: {type(exc).__name__}"
    if isinstance(exc, MemoryError):
        return f"{path}: out of memory reading it (file too large or corrupt)"
    if isinstance(exc, RecursionError):
        return f"{path}: structure nested too deeply"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{path}: {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    msg = " ".join(str(exc).split())[:200]
    return f"{path}: cannot read ({type(exc).__name__}{': ' + msg if msg else ''})"
