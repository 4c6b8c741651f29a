"""BVH (Biovision Hierarchy) reader and writer.

Accepts what real files contain: any number of channels per joint (3 or 6, position channels
on non-root joints as in the Bandai-Namco files), a rotation order per joint taken from its own
CHANNELS line, several ROOTs, End Sites, CRLF line ends and tabs, `.gz`. Position channels
replace the joint's OFFSET (components without a channel keep the OFFSET value), for roots and
non-roots alike. A `Frames:` count that disagrees with the data is an error, never a hang.
Units are detected from body height (cm, m, mm, inches, feet, CMU-ASF units) unless given.
Forward kinematics is vectorised over frames (blocks of bvh_fk.FK_BLOCK frames, one step per tree
level; files under bvh_fk.SHORT frames one step per joint: converters/bvh_fk.py); docs/performance.md
has its speed.
"""
from __future__ import annotations

import io
import re
import warnings

import numpy as np

from . import limits
from .bvh_fk import positions_from_channels
from .bvh_hierarchy import Hierarchy, Joint, parse_hierarchy  # noqa: F401 (re-exported: bvh.Joint, bvh.parse_hierarchy)
from .errors import MotionFileError
from .fileio import atomic_path, read_bytes
from .motion import Motion
from .units import resolve_units

_MOTION = re.compile(rb"^\s*MOTION\s*$", re.MULTILINE)
_FRAMES = re.compile(rb"\s*Frames:\s*(\S+)\s*\r?\n\s*Frame\s+Time:\s*(\S+)[ \t]*\r?\n?")


def split_file(data: bytes, path) -> tuple[str, int, float, bytes, int]:
    """-> (hierarchy text, frames, frame time, motion bytes, line number where the data starts)."""
    header, frames, dt, start, data_line = _split(data, path)
    return header, frames, dt, data[start:], data_line


def _split(data: bytes, path) -> tuple[str, int, float, int, int]:
    """split_file with the offset of the motion bytes in `data` instead of a copy of them."""
    at = data.find(b"MOTION")                            # usually the MOTION line itself: no scan
    m = _MOTION.match(data, data.rfind(b"\n", 0, at) + 1) if at >= 0 else None
    if m is None or m.end() < at:
        m = _MOTION.search(data)
    if m is None:
        if not data.lstrip().upper().startswith(b"HIERARCHY"):
            raise MotionFileError(f"{path}: not a BVH file (no HIERARCHY at the start)")
        raise MotionFileError(f"{path}: no MOTION section (file truncated?)")
    header = data[:m.start()].decode("latin-1")
    line0 = data.count(b"\n", 0, m.end()) + 1
    fm = _FRAMES.match(data, m.end())
    if fm is None:
        raise MotionFileError(f"{path}:{line0 + 1}: expected 'Frames: N' and 'Frame Time: dt' after MOTION")
    try:
        frames, dt = int(fm.group(1)), float(fm.group(2))
    except ValueError:
        raise MotionFileError(f"{path}:{line0 + 1}: bad Frames/Frame Time values "
                              f"{fm.group(1).decode()!r} {fm.group(2).decode()!r}") from None
    if frames < 0:
        raise MotionFileError(f"{path}:{line0 + 1}: negative frame count {frames}")
    if not dt > 0:
        raise MotionFileError(f"{path}:{line0 + 2}: Frame Time must be positive, got {dt}")
    limits.check_rate(1.0 / dt, f"Frame Time {fm.group(2).decode('latin-1')} s", f"{path}:{line0 + 2}")
    data_line = line0 + data.count(b"\n", m.end(), fm.end())
    return header, frames, dt, fm.end(), data_line


def parse_motion_block(block: bytes, frames: int, n_channels: int, path, first_line: int,
                       start: int = 0) -> np.ndarray:
    """MOTION numbers (`block` from byte `start` on) -> (frames, n_channels) float64. Fast path:
    numpy's C row parser (`np.loadtxt`, one frame per line, no comment or quote handling) over the
    whole block, read in place (no copy of the block); on any disagreement a line-by-line scan
    names the offending line."""
    try:
        f = io.BytesIO(block)                            # shares the bytes object: no copy
        f.seek(start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")              # "input contained no data" on empty blocks
            values = np.loadtxt(f, dtype=np.float64, comments=None, ndmin=2)
        ok = values.shape == (frames, n_channels) and bool(np.isfinite(values).all())
    except ValueError:
        ok = False
    if ok:
        return values
    _diagnose(block[start:], frames, n_channels, path, first_line)
    raise MotionFileError(f"{path}: MOTION data does not match the header")  # pragma: no cover


def _diagnose(block: bytes, frames: int, n_channels: int, path, first_line: int):
    rows = [(i, ln) for i, ln in enumerate(block.split(b"\n"), first_line) if ln.strip()]
    for f, (lineno, ln) in enumerate(rows):
        toks = ln.split()
        if f >= frames:
            raise MotionFileError(f"{path}:{lineno}: more data rows than 'Frames: {frames}' "
                                  f"(at least {len(rows)} rows)")
        if len(toks) != n_channels:
            raise MotionFileError(f"{path}:{lineno}, frame {f}: {len(toks)} values, the hierarchy has "
                                  f"{n_channels} channels" + (" (file truncated?)" if f == len(rows) - 1 else ""))
        try:
            vals = [float(t) for t in toks]
        except ValueError:
            bad = next(t for t in toks if not _is_float(t))
            raise MotionFileError(f"{path}:{lineno}, frame {f}: not a number: {bad.decode('latin-1')!r}") from None
        if not all(np.isfinite(vals)):
            raise MotionFileError(f"{path}:{lineno}, frame {f}: NaN or infinite value")
    raise MotionFileError(f"{path}: 'Frames: {frames}' but the file has {len(rows)} data rows (file truncated?)")


def _is_float(t: bytes) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def channels_to_positions(h: Hierarchy, values: np.ndarray, frames_last: bool = False) -> np.ndarray:
    """(T, C) channel values in file units -> (T, J, 3) global positions in file units
    ((J, 3, T) with `frames_last`: FK's own layout, no transposed copy). FK one tree level at a
    time on blocks of frames (short files joint by joint), global rotations only for joints with
    children (converters/bvh_fk.py)."""
    out = positions_from_channels(h, values)
    return out if frames_last else np.ascontiguousarray(out.transpose(2, 0, 1))


def parse(path) -> tuple[Hierarchy, np.ndarray, float]:
    """Read and check a BVH (or .bvh.gz) file without FK -> (hierarchy, (frames, channels)
    float64 channel values in file units and degrees, frame time in seconds)."""
    data = read_bytes(path)
    header, frames, dt, start, data_line = _split(data, path)
    h = parse_hierarchy(header, path)
    if frames == 0:
        raise MotionFileError(f"{path}: the file has zero frames")
    if frames * h.n_channels > (len(data) - start) // 2 + 1:      # each value takes >= 2 bytes ("0 ")
        _diagnose(data[start:], frames, h.n_channels, path, data_line)
    limits.check_samples(frames, len(h.joints), path)
    return h, parse_motion_block(data, frames, h.n_channels, path, data_line, start), dt


def read(path, units: str | None = None) -> Motion:
    """Read a BVH (or .bvh.gz) file -> Motion on the file's own skeleton, metres, up="+y".

    units: "m", "cm", "mm", "in", "ft" or None to detect from body height.
    """
    h, values, dt = parse(path)
    with np.errstate(over="ignore", invalid="ignore"):   # a huge value: Motion names its frame and joint
        pos = channels_to_positions(h, values, True).transpose(2, 0, 1)     # (T, J, 3) view of (J, 3, T)
        unit_name, scale, how = resolve_units(pos, units, path)
    n_end = sum(j.end_site for j in h.joints)
    meta = {"units": unit_name, "units_from": how, "channels": h.n_channels, "end_sites": n_end,
            "roots": [j.name for j in h.joints if j.parent < 0]}
    # (pos * scale).astype(float32) in one pass, which is also the transposition to (T, J, 3)
    with np.errstate(over="ignore", invalid="ignore"):
        pos32 = np.multiply(pos, scale, out=np.empty(pos.shape, np.float32), casting="same_kind")
    return Motion(positions=pos32, fps=1.0 / dt, joint_names=h.names,
                  parents=h.parents, skeleton="bvh", source=str(path), up="+y", meta=meta)


# ---------------------------------------------------------------------------------------- writer
def write(path, names, parents, offsets, channels, values, frame_time: float, precision: int = 6) -> None:
    """Write a BVH file (atomically).

    names (J,), parents (J,) with -1 at roots and parents[j] < j; offsets (J, 3); channels: per
    joint a list of channel names (empty list = End Site, which must be a leaf); values (T, C)
    with C the total channel count, columns grouped by joint in the order of `names`, in the
    file's units and degrees. The file itself lists joints depth-first, as BVH requires.
    """
    children = {j: [k for k, p in enumerate(parents) if p == j] for j in range(len(names))}
    lines = ["HIERARCHY"]
    order: list[int] = []           # the file's (depth-first) joint order

    def emit(j: int, depth: int) -> None:
        order.append(j)
        ind = "\t" * depth
        o = " ".join(f"{x:.{precision}f}" for x in offsets[j])
        if not channels[j]:
            lines.extend([f"{ind}End Site", f"{ind}{{", f"{ind}\tOFFSET {o}", f"{ind}}}"])
            return
        lines.append(f"{ind}{'ROOT' if parents[j] < 0 else 'JOINT'} {names[j]}")
        lines.extend([f"{ind}{{", f"{ind}\tOFFSET {o}",
                      f"{ind}\tCHANNELS {len(channels[j])} {' '.join(channels[j])}"])
        for k in children[j]:
            emit(k, depth + 1)
        lines.append(f"{ind}}}")

    for r in (j for j, p in enumerate(parents) if p < 0):
        emit(r, 0)
    values = np.asarray(values, dtype=np.float64)
    starts = np.concatenate([[0], np.cumsum([len(c) for c in channels])])
    values = values[:, [c for j in order for c in range(starts[j], starts[j + 1])]]
    lines += ["MOTION", f"Frames: {values.shape[0]}", f"Frame Time: {frame_time:.8f}"]
    body = "\n".join(" ".join(f"{v:.{precision}f}" for v in row) for row in values)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + body + "\n")
