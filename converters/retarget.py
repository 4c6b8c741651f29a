"""Map a motion's source joints onto a canonical skeleton (``t2m`` or ``kit``).

Every canonical joint is a weighted mean of source joints (one joint with weight 1 for most
rigs; several markers for C3D), so a mapping is a matrix W (J_canonical, J_source) and the
canonical positions are W @ source positions. Where the mapping comes from, first match wins:

1. ``joint_map``: a JSON file / dict (a preset, or {canonical: source | {source: weight}}) or a
   CSV with rows ``canonical,source[,weight]``; entries override what 2 or 3 found.
2. A preset from ``converters/presets/*.json`` whose referenced names all exist in the file
   (case-insensitive, namespace prefixes such as ``mixamorig:`` or ``Subject:`` ignored).
3. Automatic matching by name: sides (Left/Right, L/R, _l/_r, l-prefix), synonyms
   (UpLeg/Thigh/Femur/UpperLeg -> hip, Leg/Knee/LowerLeg/Shin/Tibia -> knee, ...), and the spine
   joints placed along the pelvis-to-neck chain at the SMPL proportions.
KIT joints come from the t2m mapping through skeletons.KIT_FROM_T2M unless a preset has "kit".
"""
from __future__ import annotations

import csv
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ConfigError, SkeletonMatchError
from .motion import Motion
from .skeletons import KIT_FROM_T2M, T2M, get_skeleton

PRESET_DIR = Path(__file__).with_name("presets")
_RIG_PREFIXES = {"bip", "bip01", "mixamorig", "def", "jnt", "b", "cc", "base"}
_SIDE = {"left": "left", "l": "left", "lft": "left", "right": "right", "r": "right", "rgt": "right"}

# canonical t2m joint (without side) -> accepted name remainders, best first. Joint positions follow
# BVH semantics: a joint sits at the START of its bone ("LeftLeg" = knee, "LeftFoot" = ankle).
SYNONYMS = {
    "pelvis": ["hips", "pelvis", "hip", "root"],
    "hip": ["upleg", "upperleg", "thigh", "femur", "hip"],
    "knee": ["leg", "lowerleg", "knee", "shin", "tibia", "calf", "crus"],
    "ankle": ["ankle", "foot", "talus"],
    "foot": ["toebase", "toe", "toes", "ball", "toe0", "ankleend", "footend"],
    "neck": ["lowerneck", "neck", "neck0"],
    "head": ["head"],
    "shoulder": ["upperarm", "arm", "humerus", "shoulder"],
    "collar": ["collar", "clavicle", "clav", "shoulder"],
    "elbow": ["forearm", "lowerarm", "elbow", "radius", "ulna"],
    "wrist": ["wrist", "hand"],
}
_ORDER = ["pelvis", "neck", "head", "hip", "knee", "ankle", "foot", "shoulder", "collar", "elbow", "wrist"]
_SPINE = ("spine1", "spine2", "spine3")


def _tokens(name: str) -> list[str]:
    name = re.split(r"[:|]", name)[-1]
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    toks = [p.lower() for p in parts]
    while len(toks) > 1 and (toks[0] in _RIG_PREFIXES or toks[0].isdigit()):
        toks = toks[1:]
    return toks


_VOCAB = {w for ws in SYNONYMS.values() for w in ws}


def parse_name(name: str) -> tuple[str | None, str]:
    """'mixamorig:LeftUpLeg' -> ('left', 'upleg'); 'UpperArm_L' -> ('left', 'upperarm');
    'lhumerus' -> ('left', 'humerus'); 'Hips' -> (None, 'hips')."""
    toks = _tokens(name)
    side = None
    rest = []
    for t in toks:
        if t in _SIDE and side is None:
            side = _SIDE[t]
        else:
            rest.append(t)
    rem = "".join(rest)
    if side is None and len(rem) > 1 and rem[0] in "lr" and rem[1:] in _VOCAB:
        side, rem = ("left" if rem[0] == "l" else "right"), rem[1:]
    return side, rem


def _norm(name: str) -> str:
    return re.split(r"[:|]", name)[-1].lower()


def _auto_found(m: Motion, exclude=(), skip=()) -> dict[str, int]:
    """Matching by name words -> {t2m joint: source index} (spine1-3 excluded)."""
    parsed = [parse_name(n) for n in m.joint_names]
    used: set[int] = set(exclude)
    found: dict[str, int] = {}
    for part in _ORDER:
        sides = [None] if part in ("pelvis", "neck", "head") else ["left", "right"]
        for side in sides:
            target = part if side is None else f"{side}_{part}"
            if target in skip:
                continue
            for syn in SYNONYMS[part]:
                hits = [i for i, (s, r) in enumerate(parsed) if s == side and r == syn and i not in used]
                if hits:
                    found[target] = hits[0]
                    used.add(hits[0])
                    break
    return found


def _auto_map(m: Motion) -> tuple[dict, dict, list[str], str]:
    """Automatic matching (converters/rig_match.py) -> ({t2m joint: {source: w}},
    {t2m joint: (how, confidence)}, problems)."""
    from .rig_match import match
    r = match(m)
    mapping = {k: {m.joint_names[i]: 1.0} for k, i in r.found.items()}
    how = {k: (r.how[k], round(r.confidence[k], 2)) for k in r.found}
    for k, v in _spine_map(m, r.found).items():
        mapping[k] = v
        how[k] = ("placed along the pelvis-neck chain", round(min(r.confidence.get("pelvis", 0), r.confidence.get("neck", 0)), 2))
    rig = f"auto ({r.scheme} names)" if r.scheme else "auto"
    return mapping, how, r.problems, rig


def _spine_map(m: Motion, found: dict[str, int]) -> dict:
    """spine1..3 as points along the source pelvis->neck chain at the SMPL rest proportions."""
    if m.parents is None or "pelvis" not in found or "neck" not in found:
        return {}
    chain = [found["neck"]]
    while chain[-1] != found["pelvis"]:
        p = m.parents[chain[-1]]
        if p < 0:
            return {}
        chain.append(p)
    chain.reverse()
    seg = np.linalg.norm(np.diff(m.positions[:, chain], axis=1), axis=-1).mean(axis=0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    rest_chain = [T2M.index(n) for n in ("pelvis", *_SPINE, "neck")]
    rseg = np.linalg.norm(np.diff(T2M.rest[rest_chain], axis=0), axis=-1)
    rfrac = np.cumsum(rseg)[:-1] / rseg.sum()
    out = {}
    for name, f in zip(_SPINE, rfrac):
        s = f * cum[-1]
        k = min(int(np.searchsorted(cum, s, side="right")) - 1, len(chain) - 2)
        w = (s - cum[k]) / max(cum[k + 1] - cum[k], 1e-9)
        a, b = m.joint_names[chain[k]], m.joint_names[chain[k + 1]]
        out[name] = {a: 1.0 - w, b: w} if a != b else {a: 1.0}
    return out


@lru_cache(maxsize=None)
def _presets() -> tuple[dict, ...]:
    out = []
    for f in sorted(PRESET_DIR.glob("*.json")):
        d = json.loads(f.read_text())
        d.setdefault("name", f.stem)
        out.append(d)
    return tuple(out)


def _as_weights(v, where: str) -> dict[str, float]:
    if isinstance(v, str):
        return {v: 1.0}
    if isinstance(v, dict) and v and all(isinstance(w, (int, float)) for w in v.values()):
        return {k: float(w) for k, w in v.items()}
    raise ConfigError(f"{where}: a mapping value must be a joint name or {{name: weight}}, got {v!r}")


def _refs(mapping: dict) -> set[str]:
    return {n for v in mapping.values() for n in _as_weights(v, "preset")}


def _resolve(mapping: dict, names, where: str) -> tuple[dict, list[str]]:
    """Map names case-insensitively onto the file's joint `names` -> (resolved mapping, missing names)."""
    lookup = {}
    for n in names:
        lookup.setdefault(n.lower(), n)
        lookup.setdefault(_norm(n), n)
    out, missing = {}, []
    for tgt, v in mapping.items():
        row = {}
        for s, w in _as_weights(v, where).items():
            real = lookup.get(s.lower()) or lookup.get(_norm(s))
            if real is None:
                missing.append(s)
            else:
                row[real] = row.get(real, 0.0) + w
        out[tgt] = row
    return out, missing


def _find_preset(m: Motion) -> tuple[dict | None, str | None]:
    """The preset with the most joints whose names are all in the file (a folder of one rig asks
    this once: the answer depends on the joint names alone)."""
    return _preset_for(tuple(m.joint_names))


@lru_cache(maxsize=256)
def _preset_for(names: tuple[str, ...]) -> tuple[dict | None, str | None]:
    best = None
    for p in _presets():
        if "t2m" not in p or ("requires" in p and not any(re.match(p["requires"], n) for n in names)):
            continue
        _, missing = _resolve(p["t2m"], names, p["name"])
        if not missing and (best is None or len(_refs(p["t2m"])) > len(_refs(best["t2m"]))):
            best = p
    return best, (best or {}).get("name")


def load_joint_map(path) -> dict:
    """Read a --joint-map file: JSON (a preset or a flat {canonical: source|{source: w}}) or CSV."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read joint map ({e.strerror})") from None
    if p.suffix.lower() == ".json":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p}: a joint map must be a JSON object")
        return d
    out: dict = {}
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        row = [c.strip() for c in row]
        if not row or not row[0] or row[0].startswith("#") or (n == 1 and row[0].lower() == "canonical"):
            continue
        if len(row) not in (2, 3):
            raise ConfigError(f"{p}:{n}: expected 'canonical,source[,weight]', got {','.join(row)!r}")
        try:
            w = float(row[2]) if len(row) == 3 else 1.0
        except ValueError:
            raise ConfigError(f"{p}:{n}: weight {row[2]!r} is not a number") from None
        out.setdefault(row[0], {})[row[1]] = w
    return out


def build_mapping(m: Motion, skeleton: str = "t2m", joint_map=None) -> tuple[dict, str, list[str]]:
    """-> ({canonical joint: {source joint: weight}}, rig name, unmapped canonical joints)."""
    d = mapping_detail(m, skeleton, joint_map)
    return d["mapping"], d["rig"], d["unmapped"]


def mapping_detail(m: Motion, skeleton: str = "t2m", joint_map=None) -> dict:
    """-> {"mapping", "rig", "unmapped", "how": {joint: (how found, confidence)}, "problems"}."""
    skel = get_skeleton(skeleton)
    user = load_joint_map(joint_map) if isinstance(joint_map, (str, Path)) else (joint_map or {})
    where = str(joint_map) if isinstance(joint_map, (str, Path)) else "joint map"
    user_tables = user if ("t2m" in user or "kit" in user) else {skeleton: user}
    preset, rig = _find_preset(m)
    how: dict = {}
    problems: list[str] = []
    if skeleton in (preset or {}):
        base, _ = _resolve(preset[skeleton], m.joint_names, rig)
        how = {k: (f"preset {rig}", 1.0) for k in base}
    else:
        if preset:
            base = _resolve(preset["t2m"], m.joint_names, rig)[0]
            how = {k: (f"preset {rig}", 1.0) for k in base}
        else:
            base, how, problems, rig = _auto_map(m)
        if skeleton == "kit":  # compose kit <- t2m <- source
            t2m_map = {**base, **_resolve(user_tables.get("t2m", {}), m.joint_names, where)[0]}
            base = {}
            for k, row in KIT_FROM_T2M.items():
                if all(t in t2m_map for t in row):
                    acc: dict[str, float] = {}
                    for t, w in row.items():
                        for s, ws in t2m_map[t].items():
                            acc[s] = acc.get(s, 0.0) + w * ws
                    base[k] = acc
            how = {k: (f"from t2m ({rig})", 1.0) for k in base}
    override, missing = _resolve(user_tables.get(skeleton, {}), m.joint_names, where)
    if missing:
        raise SkeletonMatchError(f"{where}: joint(s) not in {m.source}: {', '.join(sorted(set(missing)))}")
    unknown = [k for k in override if k not in skel.joint_names]
    if unknown:
        raise ConfigError(f"{where}: not {skeleton} joints: {', '.join(unknown)}; "
                          f"{skeleton} joints are {', '.join(skel.joint_names)}")
    if override:
        rig = f"{rig} + {where}"
        how.update({k: (f"user map {where}", 1.0) for k in override})
    mapping = {**base, **override}
    unmapped = [j for j in skel.joint_names if j not in mapping or not mapping[j]]
    return {"mapping": mapping, "rig": rig, "unmapped": unmapped, "how": how, "problems": problems}


def _weights(mapping: dict, skel, m: Motion) -> np.ndarray:
    W = np.zeros((skel.n_joints, m.n_joints))
    idx = {n: i for i, n in enumerate(m.joint_names)}
    for t, row in mapping.items():
        total = sum(row.values())
        if abs(total) < 1e-9:
            raise ConfigError(f"{m.source}: weights for {t} sum to zero")
        for s, w in row.items():
            W[skel.index(t), idx[s]] = w / total
    return W


MIN_BONE_M = 0.01   # a canonical bone shorter than this (median over frames) is degenerate


def _chain_child(skel, j: int) -> int | None:
    for chain in skel.chains:
        if j in chain[:-1]:
            return chain[chain.index(j) + 1]
    return None


def place_degenerate(W: np.ndarray, skel, positions: np.ndarray) -> tuple[np.ndarray, dict]:
    """Rows of W (canonical <- source weights) whose joint coincides with its canonical parent
    (e.g. spine1 mapped onto a zero-offset LowerBack, collars onto a zero-offset Shoulder) are
    re-placed on the segment from the parent to the first distinct joint down the chain, at the
    canonical body's proportions. -> (new W, {joint: 'placed between A and B'})."""
    from .body import canonical_rest
    rest_len = np.linalg.norm(canonical_rest(skel) - canonical_rest(skel)[np.maximum(skel.parents, 0)], axis=-1)
    W = W.copy()
    placed = {}
    pos = positions.astype(np.float64)
    Q = np.matmul(W, pos)                   # (T, J, 3): every canonical joint where W puts it, at once

    def short(a: int, b: int) -> bool:
        return bool(np.median(np.linalg.norm(Q[:, a] - Q[:, b], axis=-1)) < MIN_BONE_M)
    for j, p in enumerate(skel.parents):
        if p < 0 or not W[j].any() or not W[p].any():      # unmapped (partial marker sets)
            continue
        if not short(j, p):
            continue
        path, c = [j], _chain_child(skel, j)
        while c is not None and W[c].any() and short(c, p):
            path.append(c)
            c = _chain_child(skel, c)
        if c is None or not W[c].any():
            continue
        total = rest_len[path].sum() + rest_len[c]
        acc = 0.0
        for k in path:      # every coincident joint on the way gets its share of the segment
            acc += rest_len[k]
            f = acc / total
            W[k] = (1 - f) * W[p] + f * W[c]
            Q[:, k] = W[k] @ pos
            placed[skel.joint_names[k]] = (f"placed {f:.2f} of the way from {skel.joint_names[p]} to "
                                           f"{skel.joint_names[c]} (source joint coincides with its parent)")
    return W, placed


def retarget(m: Motion, skeleton: str = "t2m", joint_map=None) -> Motion:
    """Motion on its source joints -> Motion on the canonical skeleton (same frames, fps, axes)."""
    skel = get_skeleton(skeleton)
    if m.skeleton == skel.name and m.joint_names == skel.joint_names and joint_map is None:
        return m
    d = mapping_detail(m, skeleton, joint_map)
    mapping, rig, unmapped = d["mapping"], d["rig"], d["unmapped"]
    if unmapped and d["problems"]:
        raise SkeletonMatchError(f"{m.source}: cannot map onto {skeleton}: {d['problems'][0]}; "
                                 f"pass --joint-map FILE naming them (docs/formats.md)")
    partial = bool(unmapped) and m.parents is None and len(unmapped) < skel.n_joints
    if unmapped and m.parents is None and len(unmapped) == skel.n_joints:
        from .partial import describe_markers
        raise SkeletonMatchError(f"{m.source}: cannot map onto {skeleton}: "
                                 f"{describe_markers(m.joint_names, m.meta.get('subject'))}; "
                                 f"pass --marker-map FILE (docs/formats.md)")
    if unmapped and not partial:
        raise SkeletonMatchError(
            f"{m.source}: cannot map onto {skeleton}: no source joint for {', '.join(unmapped)}; "
            f"source joints: {', '.join(m.joint_names)}; pass --joint-map FILE (docs/formats.md)")
    W = _weights({k: v for k, v in mapping.items() if v}, skel, m)
    W, placed = place_degenerate(W, skel, m.positions)
    pos = np.einsum("ks,tsc->tkc", W, m.positions.astype(np.float64))
    mapped = np.abs(W).sum(axis=1) > 1e-9
    meta = {**m.meta, "rig": rig, "source_skeleton": m.skeleton, "placed": placed,
            "mapping": {t: {m.joint_names[i]: round(float(W[k, i]), 4) for i in np.flatnonzero(np.abs(W[k]) > 1e-9)}
                        for k, t in enumerate(skel.joint_names) if mapped[k]}}
    observed = mapped.copy()
    if m.observed is not None:       # a canonical joint is observed when every source joint it uses is
        src_obs = np.asarray(m.observed, bool)
        observed &= np.array([bool(src_obs[np.abs(W[k]) > 1e-9].all()) for k in range(skel.n_joints)])
    if partial:                      # marker sets covering part of the body (converters/partial.py)
        from .partial import complete
        pos = complete(pos, mapped, skel, m.source)
        meta["unobserved"] = [j for j, o in zip(skel.joint_names, mapped) if not o]
    return m.with_(positions=pos.astype(np.float32), joint_names=skel.joint_names, parents=skel.parents,
                   skeleton=skel.name, meta=meta, observed=observed if not observed.all() else None)


def match_report(m: Motion, skeleton: str = "t2m") -> dict:
    """For `m2t info`: the detected rig, the mapping, how each joint was found with a confidence,
    and ambiguities (or what stays unmapped); never raises on an unmappable file."""
    if m.skeleton == skeleton and m.joint_names == get_skeleton(skeleton).joint_names:
        return {"rig": skeleton, "mapping": "identity", "unmapped": []}
    d = mapping_detail(m, skeleton)
    out = {"rig": d["rig"], "unmapped": d["unmapped"],
           "mapping": {t: (next(iter(r)) if len(r) == 1 else r) for t, r in d["mapping"].items()},
           "found_by": {t: f"{h} ({c:.2f})" for t, (h, c) in d["how"].items()}}
    if d["problems"]:
        out["ambiguous"] = [f"{p}; pass --joint-map FILE naming them" for p in d["problems"]]
    if not d["unmapped"] and m.n_joints > 0:
        try:
            W = _weights(d["mapping"], get_skeleton(skeleton), m)
            _, placed = place_degenerate(W, get_skeleton(skeleton), m.positions)
            out["placed"] = placed
        except ConfigError:
            pass
    return out
