"""File helpers shared by the readers and writers: transparent gzip, atomic writes."""
from __future__ import annotations

import gzip
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import MotionFileError


def strip_gz(path) -> str:
    """'walk.bvh.gz' -> 'walk.bvh' (the name that tells the format)."""
    name = Path(path).name
    return name[:-3] if name.lower().endswith(".gz") else name


def format_suffix(path) -> str:
    """Lower-case extension without .gz: 'A.BVH.gz' -> '.bvh'."""
    return Path(strip_gz(path)).suffix.lower()


def read_bytes(path) -> bytes:
    """Whole file as bytes, gunzipped when the name ends in .gz; one-line errors."""
    p = Path(path)
    try:
        if p.name.lower().endswith(".gz"):
            with gzip.open(p, "rb") as f:
                return f.read()
        return p.read_bytes()
    except FileNotFoundError:
        raise MotionFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise MotionFileError(f"{p}: is a directory, not a motion file") from None
    except (gzip.BadGzipFile, EOFError, OSError) as e:
        raise MotionFileError(f"{p}: cannot read ({e.__class__.__name__}: {e})") from None


def read_text(path) -> str:
    """Whole file as text (latin-1 never fails; mocap headers are ASCII)."""
    return read_bytes(path).decode("latin-1")


@contextmanager
def atomic_path(dest):
    """Yield a temporary path beside `dest`; rename it onto `dest` only if the block succeeds.

    Nothing is left half-written: on any exception the temporary file is removed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(dest, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text)
