"""Reading untrusted ``.npz`` archives: every member's ``.npy`` header (dtype, shape) is checked
before its data is allocated, pickled objects are refused, and a zip bomb (a small member that
declares gigabytes) is one error line instead of an allocation of gigabytes.

Used by the SMPL reader (motion files) and the body-model loader (``converters.bodymodel``).
"""
from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import numpy.lib.format as npformat

from . import limits
from .errors import MotionFileError

_MAGIC = b"\x93NUMPY"


class SafeNpz:
    """A read-only view of an npz archive: ``files`` (member names without ``.npy``), ``[key]``.

    Errors are ``error_cls`` (MotionFileError by default) naming ``label`` and the key."""

    def __init__(self, raw: bytes, label, error_cls=MotionFileError):
        self.label, self.error = label, error_cls
        if raw[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
            what = "a .npy array" if raw[:6] == _MAGIC else "not a zip archive"
            raise error_cls(f"{label}: not an npz file ({what})")
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(raw))
            infos = self.zip.infolist()
        except Exception as e:  # BadZipFile, ValueError, NotImplementedError, ...
            raise error_cls(f"{label}: cannot open npz ({e.__class__.__name__}: {_first(e)})") from None
        self.members = {}
        for info in infos:
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            self.members.setdefault(key, info)
        self.files = list(self.members)

    def __contains__(self, key) -> bool:
        return key in self.members

    def header(self, key) -> tuple[np.dtype, tuple, bool]:
        """(dtype, shape, fortran_order) from the member's .npy header, checked against the
        limits and against the member's own size; nothing else is read."""
        info = self._info(key)
        with self.zip.open(info) as f:
            return self._check_header(key, info, f)

    def __getitem__(self, key) -> np.ndarray:
        info = self._info(key)
        try:
            with self.zip.open(info) as f:
                dtype, shape, fortran = self._check_header(key, info, f)
                count = math.prod(shape)
                data = _read_exact(f, count * dtype.itemsize)
        except self.error:
            raise
        except Exception as e:  # BadZipFile (CRC), zlib.error, EOFError, ...
            raise self.error(f"{self.label}: cannot read key {key!r} ({e.__class__.__name__}: {_first(e)})") from None
        if len(data) != count * dtype.itemsize:
            raise self.error(f"{self.label}: key {key!r} is truncated ({len(data):,} of "
                             f"{count * dtype.itemsize:,} bytes)")
        a = np.frombuffer(data, dtype=dtype, count=count)
        return (a.reshape(shape[::-1]).T if fortran else a.reshape(shape)).copy()

    def _info(self, key) -> zipfile.ZipInfo:
        if key not in self.members:
            raise self.error(f"{self.label}: missing key {key!r}")
        return self.members[key]

    def _check_header(self, key, info, f):
        where = f"{self.label}: key {key!r}"
        if info.file_size > limits.MAX_ARRAY_BYTES + 65536:
            raise self.error(f"{where} is {info.file_size:,} bytes unpacked, more than m2t's limit of "
                             f"{limits.MAX_ARRAY_BYTES:,} (a zip bomb?)")
        try:
            if f.read(6) != _MAGIC:
                raise ValueError("not a .npy array")
            version = tuple(f.read(2))
            shape, fortran, dtype = _read_header(f, version)
        except Exception as e:
            raise self.error(f"{where}: bad .npy header ({e.__class__.__name__}: {_first(e)})") from None
        if dtype.hasobject:
            raise self.error(f"{where} holds pickled Python objects; m2t does not unpickle data files")
        if not all(isinstance(n, int) and n >= 0 for n in shape) or dtype.itemsize == 0:
            raise self.error(f"{where}: bad shape or dtype {shape} {dtype}")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > limits.MAX_ARRAY_BYTES:
            raise self.error(f"{where} declares {shape} {dtype} = {nbytes:,} bytes, more than m2t's "
                             f"limit of {limits.MAX_ARRAY_BYTES:,}")
        if nbytes > info.file_size:
            raise self.error(f"{where} declares {nbytes:,} bytes of data but holds {info.file_size:,} "
                             f"(corrupt or truncated)")
        return dtype, tuple(shape), fortran


def open_npz(path, raw: bytes | None = None, error_cls=MotionFileError) -> SafeNpz:
    """SafeNpz of a file (``raw``: its bytes when already read, e.g. gunzipped)."""
    if raw is None:
        from .fileio import read_bytes
        raw = read_bytes(path)
    return SafeNpz(raw, Path(path) if not isinstance(path, Path) else path, error_cls)


def _read_header(f, version):
    reader = getattr(npformat, "_read_array_header", None)
    if reader is not None:
        return reader(f, version)
    if version == (1, 0):
        return npformat.read_array_header_1_0(f)
    return npformat.read_array_header_2_0(f)


def _read_exact(f, n: int) -> bytes:
    chunks, left = [], n
    while left > 0:
        b = f.read(min(left, 1 << 24))
        if not b:
            break
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def _first(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:200]
