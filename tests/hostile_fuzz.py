"""Seeded fuzzing of every reader, through the API and the CLI, under an address-space limit.

Seeds are valid files from m2t's own writers (hostile_seeds.py); each case applies 1-3 seeded
mutations (byte flips, truncation, deleted/duplicated/swapped lines, NaN/inf/huge/non-ASCII
numbers, absurd header values and frame rates, deep nesting, non-UTF-8 bytes, gzip and corrupt
gzip; for npz: wrong dtypes, strings, bytes, objects, shapes, NaN parents, fps extremes, zip
damage and declared-size bombs; for C3D: header and POINT:RATE values, byte damage, truncation).

Every case runs in a worker process with RLIMIT_AS (2 GiB) and a per-call time limit, through
``converters.load_motion`` and ``m2t convert``. A case passes when it converts (finite output) or
fails with one ``M2TError`` line / exactly one ``Error:`` line and exit code 2; a traceback, a
crash, a hang or more than one line is a failure.

    python tests/hostile_fuzz.py --cases 300 --seed 0      # the figures in docs/formats.md
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FORMATS = ("bvh", "amc", "asf", "c3d", "smpl_npz", "m2t_npz")
AS_LIMIT = 2 << 30
CALL_LIMIT_S = 20
NUMBERS = [b"nan", b"inf", b"-inf", b"1e300", b"-1e300", b"1e-300", b"0", b"-1", b"99999999999", b"abc",
           "\u0663".encode(), "\u00b2".encode(), b"", b"1e-30", b"1000", b"-0", b"1e20"]
JUNK = [b"\xff\xfe", b"\x00", b"{", b"}", b"\r", b"#", b"\x80\x81", b"JOINT", b"End Site", "\u0663".encode()]


# ------------------------------------------------------------------------------ text mutators
def _lines(b):
    return b.split(b"\n")


def m_flip(b, r, fmt):
    b = bytearray(b)
    for _ in range(r.randint(1, 8)):
        if b:
            b[r.randrange(len(b))] = r.randrange(256)
    return bytes(b)


def m_truncate(b, r, fmt):
    return b[:r.randrange(max(len(b), 1))]


def m_delete_line(b, r, fmt):
    ls = _lines(b)
    del ls[r.randrange(len(ls))]
    return b"\n".join(ls)


def m_dup_line(b, r, fmt):
    ls = _lines(b)
    i = r.randrange(len(ls))
    return b"\n".join(ls[:i + 1] + [ls[i]] * r.randint(1, 3) + ls[i + 1:])


def m_swap_lines(b, r, fmt):
    ls = _lines(b)
    i, j = r.randrange(len(ls)), r.randrange(len(ls))
    ls[i], ls[j] = ls[j], ls[i]
    return b"\n".join(ls)


def m_number(b, r, fmt):
    nums = list(re.finditer(rb"-?\d+(\.\d+)?(e[-+]?\d+)?", b))
    if not nums:
        return b
    for _ in range(r.randint(1, 3)):
        m = r.choice(nums)
        b = b[:m.start()] + r.choice(NUMBERS) + b[m.end():]
        nums = list(re.finditer(rb"-?\d+(\.\d+)?(e[-+]?\d+)?", b)) or nums
        if not nums:
            break
    return b


def m_junk(b, r, fmt):
    i = r.randrange(len(b) + 1)
    return b[:i] + r.choice(JUNK + [bytes(r.randrange(256) for _ in range(4))]) + b[i:]


HEADER_EDITS = {
    "bvh": [(rb"Frame Time:\s*\S+", [b"Frame Time: 1000", b"Frame Time: 1e300", b"Frame Time: 1e-300", b"Frame Time: 0",
                                       b"Frame Time: -1", b"Frame Time: nan", b"Frame Time: 1e-5", b"Frame Time: 2"]),
            (rb"Frames:\s*\S+", [b"Frames: 0", b"Frames: -1", b"Frames: 1000000000", b"Frames: 1" + b"0" * 20,
                                 b"Frames: abc", "Frames: \u0663".encode()]),
            (rb"CHANNELS \d+", [b"CHANNELS -3", b"CHANNELS 0", b"CHANNELS 7", b"CHANNELS 99999", b"CHANNELS 2",
                                b"CHANNELS 4"]),
            (rb"[XYZ]rotation", [b"Xrotation", b"Qrotation", b"Xposition", b"rotation"])],
    "amc": [(rb"\n\d+\n", [b"\n\xd9\xa3\n", "\n\u00b2\n".encode(), b"\n99999999999999999999\n", b"\n-1\n", b"\n\n"]),
            (rb":DEGREES", [b":RADIANS", b":GRADIANS", b""])],
    "asf": [(rb"length [\d.e-]+\n", [b"length 0\n", b"length -1\n", b"length 1e-300\n", b"length nan\n", b"length 1e300\n"]),
            (rb"angle deg", [b"angle grad", b"angle rad", b"angle"]),
            (rb"dof rx ry rz", [b"dof rx rx rx rx", b"dof q", b"dof l", b"dof tx ty tz rx ry rz", b"dof"]),
            (rb"direction [^\n]+", [b"direction nan nan nan", b"direction 0 0 0", b"direction 1e308 1e308 1e308"]),
            (rb"root lowerback[^\n]*", [b"root lowerback lowerback", b"lowerback root", b"thorax lowerback"])],
}


def m_header(b, r, fmt):
    edits = HEADER_EDITS.get(fmt)
    if not edits:
        return m_number(b, r, fmt)
    pat, reps = r.choice(edits)
    ms = list(re.finditer(pat, b))
    if not ms:
        return b
    m = r.choice(ms)
    return b[:m.start()] + r.choice(reps) + b[m.end():]


def m_deep(b, r, fmt):
    """BVH: a chain of hundreds to thousands of nested joints after the first '{'."""
    if fmt != "bvh":
        return m_junk(b, r, fmt)
    n = r.choice([250, 1200, 5000])
    chain = b"".join(b"JOINT j%d\n{\nOFFSET 0 0 1\nCHANNELS 3 Zrotation Xrotation Yrotation\n" % i for i in range(n))
    i = b.find(b"{") + 1
    return b[:i] + b"\n" + chain + b"}\n" * n + b[i:]


TEXT = [m_flip, m_truncate, m_delete_line, m_dup_line, m_swap_lines, m_number, m_number, m_junk,
        m_header, m_header, m_header, m_deep]


# ------------------------------------------------------------------------------ C3D mutators
_HEADER_FIELDS = [(2, "H", [0, 1, 65535]), (4, "H", [0, 65535]), (6, "H", [0, 65535]), (8, "H", [0, 1, 65535]),
                  (12, "f", [-1.0, 0.0, 1e30, float("nan")]), (16, "H", [0, 1, 2, 65535]),
                  (20, "f", [1e-30, 0.0, -5.0, 1e30, float("nan"), 20000.0])]


def c_header(b, r, fmt):
    off, code, vals = r.choice(_HEADER_FIELDS)
    b = bytearray(b)
    struct.pack_into("<" + code, b, off, r.choice(vals))
    return bytes(b)


def c_rate(b, r, fmt):
    """POINT:RATE (a float parameter) set to an absurd value."""
    i = b.find(b"RATE")
    if i < 0 or i + 8 >= len(b) or b[i + 6] != 4:
        return c_header(b, r, fmt)
    nd = b[i + 7]
    b = bytearray(b)
    struct.pack_into("<f", b, i + 8 + nd, r.choice([1e-30, 1e30, float("nan"), float("inf"), 0.0, -5.0, 20000.0, 0.5]))
    return bytes(b)


def c_flip_params(b, r, fmt):
    b = bytearray(b)
    for _ in range(r.randint(1, 10)):
        b[r.randrange(min(len(b), 3 * 512))] = r.randrange(256)
    return bytes(b)


BINARY = [c_header, c_rate, c_rate, c_flip_params, m_flip, m_truncate]


# ------------------------------------------------------------------------------ npz mutators
def _arrays(b):
    with np.load(io.BytesIO(b), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _save(arrs):
    f = io.BytesIO()
    np.savez(f, **arrs)
    return f.getvalue()


def n_dtype(b, r, fmt):
    a = _arrays(b)
    k = r.choice(sorted(a))
    v = a[k]
    a[k] = r.choice([lambda: v.astype(str), lambda: v.astype("S"), lambda: v.astype(bool) if v.dtype.kind != "U" else v,
                     lambda: np.array(["sixty"] * max(v.size, 1)), lambda: np.array([b"\xff\xfe"]),
                     lambda: np.array([{"x": 1}], dtype=object), lambda: v.astype(np.complex64) if v.dtype.kind in "fiu" else v,
                     lambda: np.zeros(v.shape, dtype=[("a", "<f4"), ("b", "<i2")])])()
    return _save(a)


def n_shape(b, r, fmt):
    a = _arrays(b)
    k = r.choice(sorted(a))
    v = a[k]
    a[k] = r.choice([lambda: v.reshape(-1), lambda: v[None], lambda: v.T, lambda: v[:0], lambda: v[: max(len(v) // 2, 1)]
                     if v.ndim else v, lambda: np.zeros((0,)), lambda: np.zeros((2, 0, 3))])()
    return _save(a)


def n_values(b, r, fmt):
    a = _arrays(b)
    k = r.choice([k for k in sorted(a) if a[k].dtype.kind in "fiu"] or sorted(a))
    v = a[k].astype(np.float64) if a[k].dtype.kind in "fiu" else a[k]
    if v.dtype.kind == "f" and v.size:
        v = v.copy()
        v.reshape(-1)[r.randrange(v.size)] = r.choice([np.nan, np.inf, -np.inf, 1e300, 1e-300, -1.0, 0.0, 1e5])
    a[k] = v
    return _save(a)


def n_keys(b, r, fmt):
    a = _arrays(b)
    choice = r.randrange(4)
    if choice == 0 and a:
        del a[r.choice(sorted(a))]
    elif choice == 1:
        for key in ("mocap_framerate", "fps"):
            if key in a:
                a[key] = r.choice([np.array(0.0), np.array(-1.0), np.array(1e-30), np.array(1e30), np.array(np.nan),
                                   np.array("sixty"), np.array(b"60"), np.array([]), np.array([[60.0]]), np.array(1e5)])
    elif choice == 2:
        if "parents" in a:
            a["parents"] = r.choice([a["parents"].astype(str), a["parents"].astype(float) * np.nan,
                                     a["parents"] + 100, a["parents"][:3], -a["parents"] - 5])
        if "gender" in a:
            a["gender"] = r.choice([np.array(b"\xff"), np.array(5), np.array("robot"), np.array([])])
    else:
        a[r.choice(["junk", "poses", "trans", "positions"])] = np.zeros((3, 7))
    return _save(a)


def n_bomb(b, r, fmt):
    """A member whose .npy header declares a huge shape (data left small)."""
    a = _arrays(b)
    k = r.choice(sorted(a))
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                             "shape": r.choice([(10 ** 9, 156), (2 ** 62,), (10 ** 5, 10 ** 5)])})
    out = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(out, "w") as zf:
        for key, v in a.items():
            if key == k:
                zf.writestr(key + ".npy", f.getvalue() + b"\0" * 64)
            else:
                g = io.BytesIO()
                np.save(g, v)
                zf.writestr(key + ".npy", g.getvalue())
    return out.getvalue()


NPZ = [n_dtype, n_dtype, n_shape, n_values, n_keys, n_keys, n_bomb, m_flip, m_truncate]


def mutate(data: bytes, fmt: str, r: random.Random) -> tuple[bytes, str]:
    """-> (mutated bytes, suffix to add: '' or '.gz')."""
    ops = NPZ if fmt.endswith("npz") else BINARY if fmt == "c3d" else TEXT
    for _ in range(r.choice([1, 1, 2, 3])):
        try:
            data = r.choice(ops)(data, r, fmt)
        except Exception:               # e.g. npz mutator on a file that is no longer an npz
            data = m_flip(data, r, fmt)
    roll = r.random()
    if roll < 0.06:
        return gzip.compress(data), ".gz"
    if roll < 0.10:
        z = bytearray(gzip.compress(data))
        for _ in range(3):
            z[r.randrange(10, max(len(z), 11))] = r.randrange(256)
        return bytes(z), ".gz"
    return data, ""


def make_cases(root: Path, seeds: dict, fmt: str, n: int, seed: int) -> list[dict]:
    r = random.Random(f"{seed}-{fmt}")
    target, victim = seeds[fmt]
    src = victim.read_bytes()
    cases = []
    for i in range(n):
        d = root / fmt / f"{i:05d}"
        d.mkdir(parents=True)
        data, gz = mutate(src, fmt, r)
        for f in victim.parent.glob(victim.stem + ".*"):   # companions (the .asf of an .amc, ...)
            if f != victim:
                shutil.copy(f, d / f.name)
        (d / (victim.name + gz)).write_bytes(data)
        tgt = d / (target.name + (gz if target == victim else ""))
        cases.append({"fmt": fmt, "file": str(tgt), "out": str(d / "out")})
    return cases
