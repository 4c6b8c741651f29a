"""C3D reader (through ezc3d): one "joint" per 3-D marker, in metres, gaps filled.

A C3D file holds labelled 3-D points (markers, sometimes also model outputs), analog channels
and force plates. Only the markers are read: the returned Motion has one joint per marker
(``joint_names`` = POINT:LABELS with any ``Subject:`` prefix kept, ``parents`` None), positions
(T, N, 3) in metres scaled from POINT:UNITS (mm, cm, m) unless ``units`` overrides it, ``fps`` =
POINT:RATE. Marker sets become t2m joints in :mod:`converters.retarget` through the presets in
``converters/presets/*.json``.

Missing samples (residual < 0, NaN, or exactly (0, 0, 0)) are filled by linear interpolation in
time per marker, holding the nearest valid value at the edges; a marker missing in every frame
is dropped, and frames at the start or end in which no marker at all was seen are cut. Points
that POINT:ANGLES / FORCES / MOMENTS / POWERS / SCALARS / REACTIONS list are model outputs (not
positions) and are left out.

ezc3d can crash or hang on some corrupted parameter sections, so the header and the parameter
section are checked here first (:func:`check_structure`); what fails anywhere is one
MotionFileError line naming the file.
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import ezc3d  # noqa: F401 (converters.c3d.ezc3d: the library c3d_ezc3d calls)
import numpy as np

from . import limits
from .errors import ConfigError, MotionFileError
from .fileio import read_bytes
from .c3d_ezc3d import ezc3d_load as _ezc3d_load
from .motion import Motion
from .units import UNITS, body_extent

# Vicon-style POINT parameters that list the labels of points which are not positions
NON_MARKER_LISTS = ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS", "REACTIONS")
_FILE_UNITS = {"mm": "mm", "millimeter": "mm", "millimeters": "mm", "millimetre": "mm",
               "millimetres": "mm", "cm": "cm", "centimeter": "cm", "centimeters": "cm",
               "centimetre": "cm", "centimetres": "cm", "m": "m", "meter": "m", "meters": "m",
               "metre": "m", "metres": "m"}
_PROCESSORS = {84: "<", 85: "<", 86: ">"}        # Intel, DEC (little-endian integers), MIPS
_TYPE_SIZES = {-1: 1, 1: 1, 2: 2, 4: 4}         # parameter data types: char, byte, int16, float
_PARAM_END_MAX = 2 * 255 * 512                 # parameter section: starts by block 255, <= 255 blocks


def read(path, units: str | None = None) -> Motion:
    """Read the markers of a C3D (or .c3d.gz) file.

    units: "mm", "cm", "m" (any of :data:`converters.units.UNITS`) to override POINT:UNITS.
    Returns a Motion: positions (T, N, 3) float32 metres in the file's own axes (``up`` None;
    ``meta["up_hint"]`` from POINT:Y_SCREEN when present), fps = POINT:RATE.
    """
    path = Path(path)
    data, size = _head(path)
    header = check_structure(data, path)
    _check_length(header, [-1.0] if header["float_data"] else [1.0], size, path)
    limits.check_samples(max(header["frames"], 0), header["points"], path)
    c = _ezc3d_load(path, data)
    params = c["parameters"]
    point = params.get("POINT", {})
    raw = np.asarray(c["data"]["points"], dtype=np.float64)            # (4, N, T)
    n_all = raw.shape[1] if raw.ndim == 3 else 0
    analog = _value(params.get("ANALOG", {}), "USED")
    n_analog = int(_num(analog[0], 0)) if len(analog) else 0
    if n_all == 0:
        what = "rotation data only" if params.get("ROTATION", {}).get("LABELS", {}).get("value") \
            else "analog/force-plate data only"
        raise MotionFileError(f"{path}: no 3D marker points ({what})")

    hdr = c["header"]["points"]
    if raw.shape[2] == 0:
        raise MotionFileError(f"{path}: the file has zero frames")

    fps = _rate(point, hdr, path)
    unit, scale, units_from = _units(point, units, path)
    labels = _labels(point, n_all)
    resid = np.asarray(c["data"]["meta_points"]["residuals"], dtype=np.float64)
    xyz = raw[:3].transpose(2, 1, 0)                                    # (T, N, 3) file units
    missing = ~np.isfinite(xyz).all(axis=-1) | (xyz == 0).all(axis=-1)
    if resid.shape == (1, n_all, raw.shape[2]):
        missing |= resid[0].T < 0

    non_markers = {_text(s).lower() for k in NON_MARKER_LISTS for s in _value(point, k)} - {""}
    keep_marker = np.array([lab.lower() not in non_markers for lab in labels])
    if not keep_marker.any():
        raise MotionFileError(f"{path}: no 3D marker points (only model outputs: "
                              f"{', '.join(k.lower() for k in NON_MARKER_LISTS if _value(point, k))})")
    empty = missing.all(axis=0)
    dropped = [lab for lab, k, e in zip(labels, keep_marker, empty) if k and e]
    keep = keep_marker & ~empty
    if not keep.any():
        raise MotionFileError(f"{path}: every marker is missing in every frame "
                              f"({int(keep_marker.sum())} markers, {raw.shape[2]} frames)")
    xyz, missing = xyz[:, keep], missing[:, keep]
    labels = [lab for lab, k in zip(labels, keep) if k]

    seen = np.flatnonzero(~missing.all(axis=1))                         # frames with any marker
    lead, trail = int(seen[0]), int(missing.shape[0] - 1 - seen[-1])
    xyz, missing = xyz[lead:len(xyz) - trail], missing[lead:len(missing) - trail]
    filled = fill_gaps(xyz, missing)
    n_gap, n_gap_markers = int(missing.sum()), int(missing.any(axis=0).sum())
    if dropped:
        warnings.warn(f"{path}: dropped {len(dropped)} markers missing in every frame: "
                      f"{', '.join(dropped)}", stacklevel=2)
    if lead or trail:
        warnings.warn(f"{path}: cut {lead} leading and {trail} trailing frames in which no marker "
                      f"was seen", stacklevel=2)
    if n_gap:
        warnings.warn(f"{path}: filled {n_gap} missing marker samples in {n_gap_markers} markers "
                      f"by interpolation", stacklevel=2)

    extent = body_extent(filled * scale)
    if len(labels) > 1 and not 0.05 < extent < 5.0:
        warnings.warn(f"{path}: the markers span {extent:.3g} m in {unit} ({units_from}); "
                      f"if that is wrong, give the units (--units mm, cm or m)", stacklevel=2)

    meta = {"units": unit, "units_from": units_from, "markers": len(labels),
            "gaps_filled": n_gap, "gap_markers": n_gap_markers,
            "longest_gap_frames": longest_run(missing), "analog_channels": n_analog,
            "first_frame": int(hdr["first_frame"]) + lead}
    if dropped:
        meta["dropped_markers"] = dropped
    if lead or trail:
        meta["trimmed_frames"] = [lead, trail]
    if not keep_marker.all():
        meta["non_marker_points"] = int((~keep_marker).sum())
    up = _up_hint(point)
    if up:
        meta["up_hint"] = up
    return Motion(positions=(filled * scale).astype(np.float32), fps=fps, joint_names=tuple(labels),
                  parents=None, skeleton="c3d markers", source=str(path), up=None, meta=meta)


def fill_gaps(xyz: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Linear interpolation in time over missing samples, per marker; before the first and after
    the last valid sample the nearest valid value is held. xyz (T, N, 3), missing (T, N) bool;
    every marker needs at least one valid sample. Returns a new (T, N, 3) array."""
    out = np.array(xyz, dtype=np.float64)
    t = np.arange(out.shape[0])
    for j in np.flatnonzero(missing.any(axis=0)):
        ok = ~missing[:, j]
        for k in range(3):
            out[:, j, k] = np.interp(t, t[ok], out[ok, j, k])
    return out


def longest_run(missing: np.ndarray) -> int:
    """Longest run of consecutive True values down axis 0 of a (T, N) bool array."""
    best = 0
    for col in np.asarray(missing, dtype=bool).T:
        if col.any():
            d = np.diff(np.concatenate([[0], col.astype(np.int8), [0]]))
            best = max(best, int((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).max()))
    return best


def check_structure(data: bytes, path) -> dict:
    """Raise MotionFileError unless `data` has a C3D header and a parameter section whose
    records all lie inside it (bounds of names, dimensions, data and descriptions).
    Returns the header words needed to check the data length (see :func:`_check_length`)."""
    n = len(data)
    if n == 0:
        raise MotionFileError(f"{path}: empty file")
    if n < 512 or data[1] != 0x50:
        raise MotionFileError(f"{path}: not a C3D file (no C3D header: the second byte must be 0x50)")
    base = (data[0] - 1) * 512
    if data[0] < 2:
        raise MotionFileError(f"{path}: corrupt C3D header (parameter section at block {data[0]})")
    if base + 4 > n:
        raise MotionFileError(f"{path}: truncated: the file ends before its parameter section")
    n_blocks, proc = data[base + 2], data[base + 3]
    if proc not in _PROCESSORS:
        raise MotionFileError(f"{path}: corrupt C3D parameter section (unknown processor type {proc})")
    end = base + 512 * n_blocks if n_blocks else n
    if end > n:
        raise MotionFileError(f"{path}: truncated: the file ends inside its parameter section")
    endian = _PROCESSORS[proc]
    groups: dict[int, bytes] = {}                  # group id -> NAME
    params: dict[tuple[int, bytes], tuple] = {}    # (group id, NAME) -> (type, dims, data offset)
    pos = base + 4

    def corrupt(what: str) -> MotionFileError:
        return MotionFileError(f"{path}: corrupt C3D parameter section ({what} at byte {pos})")

    while pos + 2 <= end:
        n_char, gid = struct.unpack_from("bb", data, pos)
        if n_char == 0:
            break
        head = pos + 2 + abs(n_char)
        if gid == 0 or head + 2 > end:
            raise corrupt("bad record")
        name = data[pos + 2:head].upper()
        off = struct.unpack_from(endian + "h", data, head)[0]
        nxt = head + off if off else end
        if off < 0 or nxt > end:
            raise corrupt("record pointer outside the section")
        body = head + 2
        if gid > 0:                                   # parameter: type, dims, data
            if body + 2 > nxt or struct.unpack_from("b", data, body)[0] not in _TYPE_SIZES:
                raise corrupt("bad parameter type")
            kind, nd = struct.unpack_from("bB", data, body)
            dims = tuple(data[body + 2:body + 2 + nd])
            if body + 2 + nd > nxt:
                raise corrupt("parameter dimensions overrun")
            params[(gid, name)] = (kind, dims, body + 2 + nd)
            body += 2 + nd + _TYPE_SIZES[kind] * int(np.prod(dims, dtype=np.int64))
        else:
            groups[-gid] = name
        # ezc3d wants the description to end exactly where the next record starts
        if body + 1 > nxt or body + 1 + data[body] > nxt or (off and body + 1 + data[body] != nxt):
            raise corrupt("record size disagrees with its pointer")
        if not off:
            break
        pos = nxt
    orphans = {g for g, _ in params} - set(groups)
    if orphans:
        raise MotionFileError(f"{path}: corrupt C3D parameter section (parameters of undefined "
                              f"group ids {sorted(orphans)})")
    ids = {name: g for g, name in groups.items()}
    points, analogs, first, last = struct.unpack_from(endian + "HHHH", data, 2)
    data_start = struct.unpack_from(endian + "H", data, 16)[0]
    if analogs:  # ezc3d crashes on analog data without these
        for name in (b"SCALE", b"OFFSET"):
            if (ids.get(b"ANALOG"), name) not in params:
                raise MotionFileError(f"{path}: corrupt C3D parameter section (analog data but "
                                      f"no ANALOG:{name.decode()} parameter)")
    announced = [last - first + 1]  # some writers leave a stale header count: trust the smaller
    frames = params.get((ids.get(b"POINT"), b"FRAMES"))
    if frames and frames[0] == 2 and np.prod(frames[1]) >= 1:
        announced.append(struct.unpack_from(endian + "H", data, frames[2])[0])
    scale = params.get((ids.get(b"POINT"), b"SCALE"))
    float_data = struct.unpack_from(endian + "f", data, 12)[0] < 0     # header word 7: POINT:SCALE
    if scale and scale[0] == 4 and np.prod(scale[1]) >= 1:
        float_data = struct.unpack_from(endian + "f", data, scale[2])[0] < 0
    return {"points": points, "analogs": analogs, "frames": min(announced), "data_start": data_start,
            "float_data": bool(float_data)}


def _check_length(header: dict, scale, size: int, path) -> None:
    """Truncated data section -> MotionFileError (ezc3d silently returns the frames it found).
    A frame is 4 words per point plus the analog samples; words are floats when POINT:SCALE < 0."""
    word = 4 if (len(scale) and float(scale[0]) < 0) else 2
    frame_bytes = (4 * header["points"] + header["analogs"]) * word
    expected = header["frames"]
    start = (header["data_start"] - 1) * 512
    if frame_bytes <= 0 or expected <= 0 or header["data_start"] < 1:
        return
    held = max(size - start, 0) // frame_bytes
    if held < expected:
        raise MotionFileError(f"{path}: truncated: the header announces {expected} frames "
                              f"but the file holds only {held}")


def _head(path: Path) -> tuple[bytes, int]:
    """(bytes holding at least the header and the parameter section, file size). A plain file is
    read only up to the largest possible end of its parameter section; a .gz one in full."""
    if path.name.lower().endswith(".gz"):
        data = read_bytes(path)
        return data, len(data)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            limits.check_bytes(size, path, "the file")
            return f.read(_PARAM_END_MAX), size
    except FileNotFoundError:
        raise MotionFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MotionFileError(f"{path}: is a directory, not a motion file") from None
    except OSError as e:
        raise MotionFileError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None


def _value(group: dict, name: str) -> list:
    v = group.get(name, {}).get("value", []) if isinstance(group.get(name), dict) else []
    if v is None:
        return []
    try:
        return list(np.ravel(np.asarray(v, dtype=object)))
    except ValueError:               # ragged nesting from a corrupt parameter
        return []


def _num(v, default: float) -> float:
    """A parameter entry as a float; `default` when it is not a number (a corrupt type)."""
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return default


def _text(s) -> str:
    """A parameter string, stripped; bytes that were not UTF-8 (ezc3d hands them over as lone
    surrogates, which cannot be printed) are read as Latin-1 instead."""
    s = str(s)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "surrogateescape").decode("latin-1")
    return s.strip()


def _labels(point: dict, n: int) -> list[str]:
    """POINT:LABELS (+ LABELS2, LABELS3, ... for >255 points) padded to n; unique, non-empty."""
    labels = [_text(s) for s in _value(point, "LABELS")]
    k = 2
    while len(labels) < n and f"LABELS{k}" in point:
        labels += [_text(s) for s in _value(point, f"LABELS{k}")]
        k += 1
    labels = [lab or f"point_{i + 1}" for i, lab in enumerate(labels[:n])]
    labels += [f"point_{i + 1}" for i in range(len(labels), n)]
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab}_{seen[lab]}")
    return out


def _units(point: dict, units, path) -> tuple[str, float, str]:
    """-> (unit name, metres per unit, where it came from)."""
    if units is not None:
        if units not in UNITS:
            raise ConfigError(f"{path}: unknown unit {units!r}; choose one of {', '.join(UNITS)}")
        return units, UNITS[units], "flag"
    vals = [_text(s).lower() for s in _value(point, "UNITS") if _text(s)]
    if not vals:
        return "mm", UNITS["mm"], "assumed (no POINT:UNITS)"
    if vals[0] not in _FILE_UNITS:
        raise MotionFileError(f"{path}: unknown POINT:UNITS {vals[0]!r}; give the units "
                              f"explicitly (--units mm, cm or m)")
    u = _FILE_UNITS[vals[0]]
    return u, UNITS[u], "POINT:UNITS"


def _rate(point: dict, hdr: dict, path) -> float:
    rate = _value(point, "RATE")
    fps = _num(rate[0], 0.0) if len(rate) else 0.0
    if not (np.isfinite(fps) and fps > 0):
        fps = _num(hdr.get("frame_rate", 0.0), 0.0)
    if not (np.isfinite(fps) and fps > 0):
        raise MotionFileError(f"{path}: no frame rate (POINT:RATE and the header give {fps})")
    return limits.check_rate(fps, "POINT:RATE", path)


def _up_hint(point: dict) -> str | None:
    """'+z' when POINT:Y_SCREEN names Z (the axis drawn upwards). The sign is dropped: Qualisys
    writes '-Z' for data whose +Z points up."""
    v = [_text(s).upper() for s in _value(point, "Y_SCREEN")]
    if v and v[0][-1:] in ("X", "Y", "Z"):
        return "+" + v[0][-1].lower()
    return None
