"""User-facing errors of the converters.

Every message is one line that names the file and the problem (and, where it helps, the place:
line, frame or joint). Libraries raise these; only the CLI prints them and exits with code 2.
"""
from __future__ import annotations


class M2TError(Exception):
    """Base class of every error a user can cause (bad file, bad flag, missing model dir).

    The message is kept to one line: line breaks that come from file contents (a marker label
    or joint name holding a newline) become spaces."""

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], str):
            args = (_one_line(args[0]),)
        super().__init__(*args)


class MotionFileError(M2TError):
    """A motion file cannot be read: missing, truncated, malformed, NaN, zero frames."""


class UnsupportedFormatError(M2TError):
    """The file extension names no format m2t reads."""


class SkeletonMatchError(M2TError):
    """Source joints cannot be mapped onto the canonical skeleton."""


class ConfigError(M2TError):
    """A bad option value or a bad mapping / preset file."""


def _one_line(text: str) -> str:
    lines = text.splitlines()
    return " ".join(lines) if len(lines) > 1 else text


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


def line_error(path, line: int | None, msg: str) -> MotionFileError:
    """`<path>:<line>: <msg>` (or `<path>: <msg>` without a line) for a text-format reader."""
    return MotionFileError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")


def file_error(path, exc: BaseException) -> str:
    """The one-line message for any exception raised while reading or converting `path`.

    An M2TError already names the file; anything else (a reader bug, MemoryError, RecursionError,
    an OSError while writing) becomes ``<path>: unexpected <Type>: <first line>``, so a folder
    run can list it and go on. Used by converters.convert, dataset building and captioning."""
    if isinstance(exc, M2TError):
        return " ".join(str(exc).split()) or f"{path}: {exc.__class__.__name__}"
    if isinstance(exc, MemoryError):
        return f"{path}: out of memory reading it (file too large or corrupt)"
    if isinstance(exc, RecursionError):
        return f"{path}: structure nested too deeply"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{path}: {exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{path}: unexpected {exc.__class__.__name__}" + (f": {first}" if first else "")


def plain_warnings() -> None:
    """Show warnings as one line, `Warning: <message>` on stderr, as the m2t command does: the
    initializer of worker processes (`--jobs`), whose warnings otherwise print as
    `path/to/module.py:89: UserWarning: ...`."""
    import sys
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"Warning: {message}", file=sys.stderr, flush=True)
    warnings.showwarning = show

