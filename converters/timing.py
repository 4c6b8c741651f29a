"""Time: frame-rate override, trimming, bind-pose lead-in, per-file manifests.

Convention: every time m2t reports is in seconds of the source file, frame 0 of the file at 0 s.
A Motion's ``time_offset_s`` is the source time of its first frame (frames a reader cut, e.g.
C3D's leading empty frames, frames trimmed by --start or a dropped bind pose), so its frame k is
at ``time_offset_s + k / fps``; resampling keeps frame 0, so the offset survives it.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from . import limits
from .body import warn
from .errors import ConfigError
from .motion import Motion

LEAD_IN_MAX_S = 2.0          # a bind pose is looked for in the first 2 s (and first quarter) only
JUMP_MIN_M = 0.4             # a lead-in ends with a jump: some joint moves more than this in one frame...
JUMP_FACTOR = 8.0            # ...and more than 8 x the clip's median of that per-frame maximum
MANIFEST_COLUMNS = ("path", "fps", "start", "end", "subject")


def check_rate(value, flag: str = "--source-fps") -> float | None:
    return None if value is None else limits.check_rate(value, flag, option=True)


def with_source_fps(m: Motion, fps: float) -> Motion:
    """The same frames at another rate (the file's rate was wrong); offsets stay in frames."""
    frames_offset = m.time_offset_s * m.fps
    meta = {**m.meta, "fps_from": f"--source-fps (the file says {m.fps:g})"}
    return m.with_(fps=float(fps), time_offset_s=frames_offset / fps, meta=meta)


def trim(m: Motion, start: float | None = None, end: float | None = None) -> Motion:
    """Keep the frames from `start` to `end` (seconds of the source file, either may be None)."""
    if start is None and end is None:
        return m
    try:
        start, end = (None if v is None else float(v) for v in (start, end))
    except (TypeError, ValueError):
        raise ConfigError(f"{m.source}: --start {start} / --end {end} must be numbers (seconds)") from None
    t0, t_last = m.time_offset_s, m.time_offset_s + (m.n_frames - 1) / m.fps
    s = t0 if start is None else start
    e = t_last if end is None else end
    given = " / ".join(f"--{k} {v:g}" for k, v in (("start", start), ("end", end)) if v is not None)
    if not np.isfinite(s) or not np.isfinite(e):
        raise ConfigError(f"{m.source}: {given} must be finite numbers")
    if s < 0 or e < 0:
        raise ConfigError(f"{m.source}: {given}: times are seconds of the source file, never negative")
    if start is not None and end is not None and e <= s:
        raise ConfigError(f"{m.source}: {given}: the end must come after the start")
    if s > t_last or e < t0:
        raise ConfigError(f"{m.source}: {given} is outside the motion ({t0:.3f}-{t_last:.3f} s)")
    a = max(0, int(np.ceil((s - t0) * m.fps - 1e-3)))          # 1e-3 frame: BVH frame times are rounded
    b = min(m.n_frames, int(np.floor((e - t0) * m.fps + 1e-3)) + 1)
    if b - a < 2:
        raise ConfigError(f"{m.source}: {given} leaves fewer than 2 frames")
    out = _cut(m, a, b, {"trimmed_s": [round(t0 + a / m.fps, 4), round(t0 + (b - 1) / m.fps, 4)]})
    if end is not None and end > t_last + 0.5 / m.fps:        # said, not silently clamped
        warn(out.meta, f"{m.source}: --end {end:g} is past the end of the motion ({t_last:.3f} s); "
                       f"kept {out.meta['trimmed_s'][0]:.3f}-{out.meta['trimmed_s'][1]:.3f} s")
    return out


def _cut(m: Motion, a: int, b: int, info: dict) -> Motion:
    obs = m.observed
    return m.with_(positions=m.positions[a:b], time_offset_s=m.time_offset_s + a / m.fps,
                   meta={**m.meta, **info}, observed=obs)


def find_lead_in(m: Motion) -> tuple[int, str] | None:
    """Leading frames that do not belong to the motion: a bind / T-pose held (or not) at the start
    and left by a jump no body makes in one frame. -> (frames to drop, description) or None."""
    p = m.positions.astype(np.float64)
    if m.n_frames < 8:
        return None
    step = np.linalg.norm(np.diff(p, axis=0), axis=-1).max(axis=1)        # (T-1,) largest joint displacement
    limit = max(JUMP_MIN_M, JUMP_FACTOR * float(np.median(step)))
    horizon = int(min(LEAD_IN_MAX_S * m.fps, m.n_frames // 4))
    jumps = np.flatnonzero(step[:horizon] > limit)
    if not len(jumps):
        return None
    k = int(jumps[-1]) + 1                                                # first frame of the motion
    pose = "a T-pose" if _is_t_pose(m, p[0]) else "a pose"
    return k, (f"{m.source}: dropped {k} lead-in frame(s) ({k / m.fps:.3f} s): {pose} left by a "
               f"{step[k - 1]:.2f} m jump (bind pose?); pass --keep-lead-in to keep them")


def _is_t_pose(m: Motion, frame: np.ndarray) -> bool:
    """Both arms straight out along the shoulder line (any axes)."""
    names = m.joint_names
    try:
        lw, rw, ls, rs = (names.index(n) for n in ("left_wrist", "right_wrist", "left_shoulder", "right_shoulder"))
    except ValueError:
        return False
    across = frame[ls] - frame[rs]
    across = across / max(np.linalg.norm(across), 1e-9)
    la, ra = frame[lw] - frame[ls], frame[rw] - frame[rs]
    return bool(la @ across > 0.9 * np.linalg.norm(la) and -(ra @ across) > 0.9 * np.linalg.norm(ra))


def drop_lead_in(m: Motion) -> Motion:
    from .body import warn
    found = find_lead_in(m)
    if found is None:
        return m
    k, msg = found
    meta = {**m.meta, "warnings": list(m.meta.get("warnings", []))}
    warn(meta, msg)
    out = _cut(m.with_(meta=meta), k, m.n_frames, {"lead_in_frames": k})
    return out


def read_manifest(path) -> dict[Path, dict]:
    """CSV with a header naming some of path, fps, start, end, subject -> {resolved file: options}.
    Paths are relative to the manifest's folder; empty cells mean "not set"."""
    p = Path(path)
    try:
        rows = list(csv.reader(p.read_text().splitlines()))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read manifest ({e.strerror})") from None
    rows = [r for r in rows if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise ConfigError(f"{p}: the manifest is empty")
    head = [c.strip().lower() for c in rows[0]]
    unknown = [c for c in head if c not in MANIFEST_COLUMNS]
    if "path" not in head or unknown:
        raise ConfigError(f"{p}:1: the header must name 'path' and any of {', '.join(MANIFEST_COLUMNS[1:])}"
                          + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    out: dict[Path, dict] = {}
    for n, row in enumerate(rows[1:], 2):
        cells = dict(zip(head, (c.strip() for c in row)))
        if not cells.get("path"):
            raise ConfigError(f"{p}:{n}: no path")
        opts: dict = {}
        for key, flag in (("fps", "fps"), ("start", "start"), ("end", "end")):
            if cells.get(key):
                try:
                    opts[{"fps": "source_fps"}.get(key, key)] = float(cells[key])
                except ValueError:
                    raise ConfigError(f"{p}:{n}: {flag} {cells[key]!r} is not a number") from None
        if "source_fps" in opts:
            check_rate(opts["source_fps"], f"{p}:{n}: fps")
        if cells.get("subject"):
            opts["subject"] = cells["subject"]
        f = Path(cells["path"])
        out[(f if f.is_absolute() else p.parent / f).resolve()] = opts
    return out
