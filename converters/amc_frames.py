"""AMC motion frames: the frame blocks of an Acclaim .amc file, parsed against the channel counts
of its ASF skeleton (a fast path for regular files, a line-by-line path that names the line of
any error). Used by converters/asfamc.py, which documents the format's conventions."""
from __future__ import annotations

import re

import numpy as np

from .errors import line_error as _err
from .fileio import read_text

_FRAME_LINE = re.compile(r"^[ \t]*[0-9]+[ \t\r]*$", re.M)     # ASCII digits only (int() rejects some \d)
_COMMENT = re.compile(r"#[^\n]*")


def parse_amc(path, channels: dict[str, int]) -> tuple[dict[str, np.ndarray], str | None]:
    """Read an AMC file against `channels` {bone name: number of values} (root included).

    Returns ({bone: (T, k) float64 raw values}, "deg" / "rad" / None when the file does not say).
    A bone missing from some frame keeps its previous values; in a ``:FULLY-SPECIFIED`` file a
    bone present in frame 1 but missing later is an error.
    """
    text = read_text(path)
    m = _FRAME_LINE.search(text)
    if m is None:
        raise _err(path, None, "contains no frames (no frame-number line)")
    header, body = text[:m.start()], text[m.start():]
    hdr = header.upper()
    angle = "rad" if ":RADIANS" in hdr else "deg" if ":DEGREES" in hdr else None
    full = ":FULLY-SPECIFIED" in hdr
    first = header.count("\n") + 1
    if "#" in body:
        body = _COMMENT.sub("", body)
    out = _parse_amc_fast(body, channels)
    if out is None:
        out = _parse_amc_slow(path, body, first, channels, full)
    return out, angle


def _first_frame_layout(body: str) -> list[tuple[str, int]]:
    layout = []
    for raw in body[:20000].split("\n")[1:]:
        toks = raw.split()
        if len(toks) == 1 and _is_frame_number(toks[0]):
            return layout
        if toks:
            layout.append((toks[0], len(toks) - 1))
    return []


def _is_frame_number(tok: str) -> bool:
    return tok.isascii() and tok.isdigit()


def _parse_amc_fast(body: str, channels):
    """All frames list the same bones in the same order: column slices of one token list, no
    Python work per line; None when the file is irregular (the slow path then reads or explains)."""
    layout = _first_frame_layout(body)
    if not layout or any(channels.get(nm) != k for nm, k in layout):
        return None
    per = 1 + sum(1 + k for _, k in layout)
    toks = body.split()
    T = len(toks) // per
    if len(toks) % per or not all(map(_is_frame_number, toks[::per])):
        return None
    out, c = {}, 1
    try:
        for nm, k in layout:
            if toks[c::per].count(nm) != T:
                return None
            out[nm] = np.array([list(map(float, toks[c + 1 + n::per])) for n in range(k)]).T.reshape(T, k)
            c += 1 + k
    except ValueError:
        return None
    return out


def _parse_amc_slow(path, body: str, first: int, channels, full: bool):
    """Line by line, with exact error places."""
    frames, cur, expect = [], None, None
    lines = body.split("\n")

    def check(fr, last):
        missing = [b for b in expect if b not in fr[1]] if full else []
        if missing:
            raise _err(path, fr[2], f"frame {fr[0]} {'is truncated: it ' if last else ''}lacks bone {missing[0]!r}")
    for i, raw in enumerate(lines, first):
        toks = raw.split()
        if not toks:
            continue
        if len(toks) == 1 and _is_frame_number(toks[0]):
            if cur is not None:
                expect = list(cur[1]) if expect is None else expect
                check(cur, False)
            cur = (int(toks[0]), {}, i)
            frames.append(cur)
            continue
        name = toks[0]
        if name not in channels:
            raise _err(path, i, f"unknown bone {name!r} (not in the ASF)")
        if name in cur[1]:
            raise _err(path, i, f"bone {name!r} twice in frame {cur[0]} (a frame-number line missing?)")
        if len(toks) - 1 != channels[name]:
            end = not "".join(lines[i - first + 1:]).strip()
            raise _err(path, i, f"bone {name!r} has {len(toks) - 1} values, the ASF gives it "
                                f"{channels[name]}{' (file truncated?)' if end else ''}")
        try:
            cur[1][name] = [float(t) for t in toks[1:]]
        except ValueError:
            raise _err(path, i, f"bone {name!r}: non-numeric value in {' '.join(toks[1:])!r}") from None
    if cur is not None:
        expect = list(cur[1]) if expect is None else expect
        check(cur, True)
    if not frames or not any(fr[1] for fr in frames):
        raise _err(path, None, "contains no frames")
    names = list(dict.fromkeys(nm for fr in frames for nm in fr[1]))
    out = {nm: np.zeros((len(frames), channels[nm])) for nm in names}
    for t, (_, vals, _) in enumerate(frames):
        for nm in names:
            out[nm][t] = vals[nm] if nm in vals else out[nm][t - 1] if t else 0.0
    return out


# ---------------------------------------------------------------------------------------- read
