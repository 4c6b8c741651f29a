"""File helpers shared by the readers and writers: transparent gzip (size-capped), atomic
writes whose temporary ``.part`` files a killed run leaves behind are removed by the next write."""
from __future__ import annotations

import gzip
import os
import socket
import tempfile
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

from . import limits
from .errors import MotionFileError

STALE_PART_S = 3600          # a .part file of another host / unknown writer is stale after an hour


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
    cap = limits.MAX_FILE_BYTES
    try:
        if p.name.lower().endswith(".gz"):
            with gzip.open(p, "rb") as f:
                data = f.read(cap + 1)
            if len(data) > cap:
                raise MotionFileError(f"{p}: decompresses to more than m2t's limit of {cap:,} bytes")
            return data
        limits.check_bytes(p.stat().st_size, p, "the file")
        return p.read_bytes()
    except FileNotFoundError:
        raise MotionFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise MotionFileError(f"{p}: is a directory, not a motion file") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise MotionFileError(f"{p}: cannot read: corrupt gzip data ({e.__class__.__name__}: {e})") from None
    except OSError as e:
        raise MotionFileError(f"{p}: cannot read ({e.__class__.__name__}: {e.strerror or e})") from None


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
    remove_stale_parts(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{_owner()}.", suffix=".part", dir=dest.parent)
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


def _owner() -> str:
    """'<host>-<pid>': who writes a .part file, so a later run can tell a dead writer's leftovers."""
    host = "".join(c for c in socket.gethostname() if c.isalnum())[:32] or "host"
    return f"{host}-{os.getpid()}"


def remove_stale_parts(dest) -> list[Path]:
    """Remove ``.<dest name>.*.part`` files left beside `dest` by killed runs: those written on
    this host by a process that no longer exists, and any other one older than STALE_PART_S.
    A live writer's file is kept. Returns the removed paths."""
    dest = Path(dest)
    host = _owner().rsplit("-", 1)[0]
    removed = []
    try:
        cands = list(dest.parent.glob(f".{_glob_escape(dest.name)}.*.part"))
    except OSError:
        return removed
    for p in cands:
        owner = p.name[len(dest.name) + 2:].split(".", 1)[0]
        h, _, pid = owner.rpartition("-")
        try:
            if h == host and pid.isdigit():
                stale = int(pid) != os.getpid() and not _alive(int(pid))
            else:
                stale = time.time() - p.stat().st_mtime > STALE_PART_S
            if stale:
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(dest, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text)
