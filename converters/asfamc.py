"""ASF/AMC (Acclaim skeleton + motion) reader, as used by CMU mocap and HDM05, plus a tiny writer.

Conventions (those of CMU's ``mocapPlayer`` and of AMCParser, checked on CMU and HDM05 data):

- An order string lists rotations in the order they are applied: ``axis ... XYZ`` and
  ``dof rx ry rz`` mean rotate about X first, then Y, then Z, so the matrix is
  ``Rz @ Ry @ Rx`` (matrices act on column vectors). The three ``axis`` (and root
  ``orientation``) numbers pair with the letters of their order string.
- Each bone has C (from ``axis``) and M (from its AMC values in ``dof`` order); its global
  rotation is ``G = G_parent @ C @ M @ C^-1``; its end is ``parent_end + G @ direction * length``
  (``direction`` is in the global rest frame). The root's C comes from ``:root orientation`` with
  ``:root axis``, its M from the R channels of ``:root order``, and its position is the AMC
  T channels (each replaces that axis of ``:root position``; the position is used without them).
- Joints: ``root`` plus one joint per bone at the bone's END (``lfemur`` = knee), parents first.
- Units: by default metres = value / ASF ``:units length`` * 0.0254 (the CMU/HDM05 convention);
  ``units=`` names the unit of the raw values instead (m, cm, mm, in, ft, asf). Angles follow ASF
  ``:units angle`` (deg/rad); an AMC ``:DEGREES``/``:RADIANS`` line overrides it for the motion.
- Frame rate: AMC has none. ``fps=`` wins, then an HDM05 name ``HDM_..._120.amc``, else 120.
- Data frames are Y up (``up="+y"``); CMU/HDM05 rest poses face +Z with the left side on +X.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from . import limits
from .amc_frames import parse_amc
from .errors import ConfigError, MotionFileError, line_error as _err
from .fileio import atomic_path, read_text, strip_gz
from .motion import Motion
from .units import UNITS

DEFAULT_FPS = 120.0


def _floats(path, line, toks, n, what):
    if len(toks) < n:
        raise _err(path, line, f"{what} needs {n} numbers, got {len(toks)}")
    try:
        return np.array([float(t) for t in toks[:n]])
    except ValueError:
        raise _err(path, line, f"{what}: non-numeric value in {' '.join(toks[:n])!r}") from None


_PLANE = {"X": (1, 2, 0), "Y": (2, 0, 1), "Z": (0, 1, 2)}


def _rotation(angles, order: str) -> np.ndarray:
    """angles (..., k) in degrees paired with the letters of `order` (k <= 3), applied first to last
    -> (..., 3, 3) = R_last @ ... @ R_first (e.g. "XYZ" -> Rz @ Ry @ Rx)."""
    angles = np.asarray(angles, dtype=np.float64)
    R = None
    for n, ax in enumerate(order.upper()):
        rad = np.deg2rad(angles[..., n])
        c, s = np.cos(rad), np.sin(rad)
        i, j, k = _PLANE[ax]
        A = np.zeros(rad.shape + (3, 3))
        A[..., k, k] = 1.0
        A[..., i, i] = A[..., j, j] = c
        A[..., i, j], A[..., j, i] = -s, s
        R = A if R is None else A @ R
    return np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)) if R is None else R


# ---------------------------------------------------------------------------------------- ASF

def parse_asf(path) -> dict:
    """Read an ASF file.

    Returns a dict: ``name``; ``length_scale`` (ASF :units length); ``angle`` ("deg"/"rad");
    ``root`` {``order``: channel names such as ["TX", ..., "RZ"], ``position`` (3,),
    ``C`` (3, 3)}; ``bones``: list in parent-first order of {``name``, ``parent``, ``offset`` (3,)
    direction * length in raw units, ``C`` (3, 3), ``dof``: e.g. ["rx", "rz"]}.
    """
    text = read_text(path)
    section, cur, name = None, None, None
    units, root, raw_bones, hier = {}, {}, [], []
    for i, raw in enumerate(text.split("\n"), 1):
        toks = raw.split("#", 1)[0].split()
        if not toks:
            continue
        key = toks[0].lower()
        if key.startswith(":"):
            section = key
            if key == ":name" and len(toks) > 1:
                name = " ".join(toks[1:])
        elif section == ":units" and len(toks) > 1:
            units[key] = (i, toks[1])
        elif section == ":root":
            root[key] = (i, toks[1:])
        elif section == ":bonedata":
            if key == "begin":
                cur = {"line": i}
            elif key == "end":
                if cur is None or "name" not in cur:
                    raise _err(path, i, "bone block without a name")
                raw_bones.append(cur)
                cur = None
            elif cur is not None and not key.startswith("("):
                cur[key] = (i, toks[1:])
        elif section == ":hierarchy" and key not in ("begin", "end"):
            hier.append((i, toks))
    if not raw_bones:
        raise _err(path, None, "no :bonedata bones found (is this an ASF file?)")
    if len(raw_bones) > limits.MAX_JOINTS:
        raise _err(path, None, f"more than {limits.MAX_JOINTS:,} bones")

    try:
        scale = float(units.get("length", (0, "1"))[1])
    except ValueError:
        scale = -1.0
    if not scale > 0:
        raise _err(path, units["length"][0], "bad :units length")
    angle = units.get("angle", (0, "deg"))[1].lower()[:3]
    if angle not in ("deg", "rad"):
        raise _err(path, units["angle"][0], f"unknown angle unit {angle!r}")
    to_deg = 1.0 if angle == "deg" else 180.0 / np.pi

    line, order = root.get("order", (None, ["TX", "TY", "TZ", "RX", "RY", "RZ"]))
    order = [c.upper() for c in order]
    if any(c not in ("TX", "TY", "TZ", "RX", "RY", "RZ") for c in order):
        raise _err(path, line, f"unknown :root order channel in {' '.join(order)!r}")
    line, ax = root.get("axis", (None, ["XYZ"]))
    rorder = ax[0].upper() if ax else "XYZ"
    if sorted(rorder) != ["X", "Y", "Z"]:
        raise _err(path, line, f"bad :root axis {rorder!r}")
    line, pos = root.get("position", (None, ["0", "0", "0"]))
    position = _floats(path, line, pos, 3, ":root position")
    line, ori = root.get("orientation", (None, ["0", "0", "0"]))
    orient = _floats(path, line, ori, 3, ":root orientation") * to_deg

    bones = {}
    for b in raw_bones:
        line, nm = b["name"]
        bname = nm[0] if nm else ""
        if not bname or bname == "root" or bname in bones:
            raise _err(path, line, f"bad or repeated bone name {bname!r}")
        where = f"bone {bname!r}"
        line, d = b.get("direction", (b["line"], []))
        direction = _floats(path, line, d, 3, f"{where} direction")
        n = np.linalg.norm(direction)
        line, ln = b.get("length", (b["line"], []))
        length = _floats(path, line, ln, 1, f"{where} length")[0]
        line, a = b.get("axis", (None, ["0", "0", "0", "XYZ"]))
        axis, aorder = _floats(path, line, a, 3, f"{where} axis"), (a[3:] or ["XYZ"])[0].upper()
        if sorted(aorder) != ["X", "Y", "Z"]:
            raise _err(path, line, f"{where}: bad axis order {aorder!r}")
        line, dof = b.get("dof", (None, []))
        dof = [x.lower() for x in dof]
        bad = [x for x in dof if x not in ("rx", "ry", "rz", "tx", "ty", "tz", "l")]
        if bad:
            raise _err(path, line, f"{where}: unknown dof {bad[0]!r}")
        bones[bname] = {"name": bname, "parent": None, "line": b["line"], "dof": dof,
                        "C": _rotation(axis * to_deg, aorder), "offset": direction / max(n, 1e-300) * length}
    for line, toks in hier:
        for child in toks[1:]:
            for nm in (toks[0], child):
                if (nm != "root" or nm == child) and nm not in bones:
                    raise _err(path, line, f":hierarchy names unknown bone {nm!r}")
            bones[child]["parent"] = toks[0]
    ordered, placed, pending = [], {"root"}, list(bones.values())
    while pending:  # parents first, keeping the ASF order where it allows
        ready = [b for b in pending if b["parent"] in placed and not placed.add(b["name"])]
        if not ready:
            b = pending[0]
            why = "is not in :hierarchy" if b["parent"] is None else "is in a loop of the :hierarchy"
            raise _err(path, b["line"], f"bone {b['name']!r} {why}")
        ordered += ready
        pending = [b for b in pending if b["name"] not in placed]
    return {"name": name or Path(strip_gz(path)).stem, "length_scale": scale, "angle": angle,
            "root": {"order": order, "position": position, "C": _rotation(orient, rorder)}, "bones": ordered}


# ---------------------------------------------------------------------------------------- AMC

def find_asf(amc) -> Path:
    """The skeleton beside an AMC: same stem, CMU subject (``07_05-walk`` -> ``07-walk``/``07``),
    HDM05 actor (``HDM_bd_x_120`` -> ``HDM_bd``), else the only ASF in the folder (.asf[.gz])."""
    amc = Path(amc)
    stem = Path(strip_gz(amc)).stem
    files = {p.name.lower(): p for p in amc.parent.iterdir()} if amc.parent.is_dir() else {}
    cands = [stem]
    if "_" in stem:
        subj = stem.split("_")[0]
        cands += [f"{subj}-{stem.split('-', 1)[1]}"] if "-" in stem else []
        cands += [subj]
    m = re.match(r"(HDM_[^_]+)_", stem, re.I)
    if m:
        cands.append(m.group(1))
    for c in cands:
        for ext in (".asf", ".asf.gz"):
            if (c + ext).lower() in files:
                return files[(c + ext).lower()]
    asfs = [p for n, p in files.items() if n.endswith((".asf", ".asf.gz"))]
    if len(asfs) == 1:
        return asfs[0]
    why = "several .asf files" if asfs else "no .asf file"
    raise MotionFileError(f"{amc}: cannot find its ASF skeleton ({why} in {amc.parent}, none named "
                          f"{stem}.asf); pass --asf PATH")


def _forward(skel: dict, vals: dict, to_deg: float) -> np.ndarray:
    """Acclaim FK, vectorised over frames: {bone: (T, k) raw values} -> (T, 1 + bones, 3) raw units."""
    T = next(iter(vals.values())).shape[0]
    order = skel["root"]["order"]
    rv = vals.get("root", np.zeros((T, len(order))))
    P = {"root": np.tile(skel["root"]["position"], (T, 1))}
    for j, ch in enumerate(order):
        if ch[0] == "T":
            P["root"][:, "XYZ".index(ch[1])] = rv[:, j]
    rot = [j for j, ch in enumerate(order) if ch[0] == "R"]
    C = skel["root"]["C"]
    G = {"root": C @ _rotation(rv[:, rot] * to_deg, "".join(order[j][1] for j in rot)) @ C.T}
    for b in skel["bones"]:
        dof, C, par = b["dof"], b["C"], b["parent"]
        v = vals.get(b["name"], np.zeros((T, len(dof))))
        rot = [j for j, d in enumerate(dof) if d[0] == "r"]
        G[b["name"]] = g = G[par] @ (C @ _rotation(v[:, rot] * to_deg, "".join(dof[j][1] for j in rot)) @ C.T)
        off = np.broadcast_to(b["offset"], (T, 3))
        if "l" in dof:  # length change along the bone
            off = off * (1 + v[:, [dof.index("l")]] / max(np.linalg.norm(b["offset"]), 1e-300))
        tr = [j for j, d in enumerate(dof) if d[0] == "t"]
        if tr:  # translation in the bone's axis frame
            t = np.zeros((T, 3))
            t[:, ["xyz".index(dof[j][1]) for j in tr]] = v[:, tr]
            off = off + t @ C.T
        P[b["name"]] = P[par] + np.einsum("tij,tj->ti", g, off)
    return np.stack(list(P.values()), axis=1)


def read(path, asf=None, units=None, fps=None) -> Motion:
    """Read an .amc / .amc.gz with its ASF skeleton.

    Parameters
    ----------
    path : the AMC file. asf : its ASF (found beside it when None, see :func:`find_asf`).
    units : None (ASF convention: value / :units length * 0.0254 m) or a name in
        :data:`converters.units.UNITS` ("m", "cm", "mm", "in", "ft", "asf") for the raw values.
    fps : frame rate (default: from an HDM05 file name, else 120).

    Returns
    -------
    Motion with positions (T, 1 + bones, 3) metres, joints ``root`` + bone ends, ``up="+y"``.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(f"{path}: no such file")
    asf_path = Path(asf) if asf is not None else find_asf(path)
    skel = parse_asf(asf_path)
    L = skel["length_scale"]
    if units in (None, "auto"):
        scale, uname, ufrom = 0.0254 / L, "asf" if abs(L - 0.45) < 1e-9 else f"in/{L:g}", "ASF :units length"
    elif units in UNITS:
        scale, uname, ufrom = UNITS[units], units, "flag"
    else:
        raise ConfigError(f"{path}: unknown unit {units!r}; choose one of {', '.join(UNITS)}")
    vals, angle = parse_amc(path, {b["name"]: len(b["dof"]) for b in skel["bones"]}
                            | {"root": len(skel["root"]["order"])})
    limits.check_samples(next(iter(vals.values())).shape[0], 1 + len(skel["bones"]), path)
    pos = _forward(skel, vals, 1.0 if (angle or skel["angle"]) == "deg" else 180.0 / np.pi) * scale
    names = ["root"] + [b["name"] for b in skel["bones"]]
    parents = [-1] + [names.index(b["parent"]) for b in skel["bones"]]
    if fps is not None:
        fps_source = "argument"
    else:
        m = re.match(r"HDM_.*_([0-9]+)$", Path(strip_gz(path)).stem, re.I)
        fps, fps_source = (float(m.group(1)), "file name") if m and int(m.group(1)) > 0 else (DEFAULT_FPS, "default 120")
        limits.check_rate(fps, f"frame rate from the file name ({fps_source})", path)
    return Motion(positions=pos.astype(np.float32), fps=float(fps), joint_names=tuple(names), parents=tuple(parents),
                  skeleton=f"asf:{skel['name']}", source=str(path), up="+y",
                  meta={"units": uname, "units_from": ufrom, "asf": str(asf_path), "fps_source": fps_source})


# ---------------------------------------------------------------------------------------- write

def _write(path, text: str) -> None:
    with atomic_path(path) as tmp:
        data = text.encode("latin-1")
        tmp.write_bytes(gzip.compress(data) if str(path).lower().endswith(".gz") else data)


def write_asf(path, bones, name: str = "m2t", length_scale: float = 1.0,
              root_order: str = "TX TY TZ RX RY RZ", root_axis: str = "XYZ", angle: str = "deg") -> None:
    """Write a minimal ASF (for fixtures). bones: sequence of dicts with ``name``, ``parent``
    ("root" or a bone listed earlier), ``direction`` (3,), ``length``, and optional ``axis`` (3,)
    angles, ``order`` (default "XYZ"), ``dof`` (e.g. "rx ry rz"). Gzipped when path ends in .gz."""
    out = [":version 1.10", f":name {name}", ":units", "  mass 1.0", f"  length {length_scale!r}",
           f"  angle {angle}", ":root", f"   order {root_order}", f"   axis {root_axis}",
           "   position 0 0 0", "   orientation 0 0 0", ":bonedata"]
    for i, b in enumerate(bones, 1):
        ax = " ".join(repr(float(x)) for x in b.get("axis", (0, 0, 0)))
        out += ["  begin", f"     id {i}", f"     name {b['name']}",
                "     direction " + " ".join(repr(float(x)) for x in b["direction"]),
                f"     length {float(b['length'])!r}", f"     axis {ax} {b.get('order', 'XYZ')}"]
        out += [f"    dof {b['dof']}"] if b.get("dof") else []
        out += ["  end"]
    out += [":hierarchy", "  begin"]
    kids = {}
    for b in bones:
        kids.setdefault(b["parent"], []).append(b["name"])
    out += [f"    {p} {' '.join(c)}" for p, c in kids.items()] + ["  end", ""]
    _write(path, "\n".join(out))


def write_amc(path, values: dict, angle: str = "deg") -> None:
    """Write an AMC (for fixtures). values: {bone name ("root" too): (T, k) array in ASF units},
    written in dict order each frame, frames numbered from 1. Gzipped when path ends in .gz."""
    arrs = {k: np.asarray(v, dtype=np.float64).reshape(len(v), -1) for k, v in values.items()}
    T = min(a.shape[0] for a in arrs.values())
    out = [":FULLY-SPECIFIED", ":DEGREES" if angle == "deg" else ":RADIANS"]
    for t in range(T):
        out.append(str(t + 1))
        out += [f"{k} " + " ".join(repr(float(x)) for x in a[t]) for k, a in arrs.items()]
    _write(path, "\n".join(out) + "\n")
