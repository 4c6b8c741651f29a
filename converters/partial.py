"""Partial bodies (marker sets that cover part of the body): place the joints nobody measured.

The observed trunk joints give, frame by frame, the rotation (Kabsch) and one clip-wide scale that
best carry the canonical body's standing pose (arms down) onto them. Every unobserved joint is then
hung from an already placed neighbour with that pose's bone vector: legs hang from the observed
hips, arms from the observed shoulders, the head sits on the neck. Such joints are flagged in
``Motion.observed`` (the captioner masks their body parts) and listed in ``meta["unobserved"]``.
"""
from __future__ import annotations

import numpy as np

from .errors import SkeletonMatchError
from .skeletons import KIT_FROM_T2M, T2M, Skeleton, weight_matrix

TRUNK = {"t2m": ("pelvis", "left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "left_collar",
                 "right_collar", "left_shoulder", "right_shoulder", "head"),
         "kit": ("root", "BP", "BT", "BLN", "BUN", "LS", "RS", "LH", "RH")}


def standing_rest(skel: Skeleton) -> np.ndarray:
    """The canonical body standing with the arms hanging down (J, 3)."""
    from .body import canonical_rest_t2m
    p = canonical_rest_t2m().copy()
    for s in ("left", "right"):
        sh, el, wr = (T2M.index(f"{s}_{k}") for k in ("shoulder", "elbow", "wrist"))
        upper, fore = np.linalg.norm(p[el] - p[sh]), np.linalg.norm(p[wr] - p[el])
        out = np.sign(p[sh, 0]) * 0.04
        p[el] = p[sh] + [out, -upper, 0.0]
        p[wr] = p[el] + [out / 2, -fore, 0.02]
    if skel.name == "t2m":
        return p
    return weight_matrix(KIT_FROM_T2M, skel.joint_names, T2M.joint_names) @ p


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-frame rotations R (T, 3, 3) and translations t (T, 3), one scale s, with
    dst[t] ~ s R[t] src + t[t]; src (K, 3), dst (T, K, 3)."""
    sc = src - src.mean(0)
    dc = dst - dst.mean(1, keepdims=True)
    s = float(np.median(np.sqrt((dc ** 2).sum((1, 2)) / max((sc ** 2).sum(), 1e-12))))
    H = np.einsum("kc,tkd->tcd", sc, dc)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("tij,tjk->tik", U, Vt)))
    D = np.zeros_like(H)
    D[:, 0, 0], D[:, 1, 1], D[:, 2, 2] = 1.0, 1.0, d
    R = np.einsum("tji,tjk,tlk->til", Vt, D, U)          # V D U^T
    t = dst.mean(1) - s * np.einsum("tij,j->ti", R, src.mean(0))
    return R, t, s


def _upright_frames(p: np.ndarray, obs: np.ndarray, skel: Skeleton) -> np.ndarray | None:
    """Per-frame rotations rest -> world for a body seen from the hips down: up = the clip's mean
    ankle-to-hip direction, left = the hip axis (made perpendicular), forward = left x up."""
    names = {"t2m": ("left_hip", "right_hip", "left_ankle", "right_ankle"), "kit": ("LH", "RH", "LA", "RA")}[skel.name]
    lh, rh, la, ra = (skel.index(n) for n in names)
    if not obs[[lh, rh, la, ra]].all():
        return None
    up = ((p[:, lh] + p[:, rh]) - (p[:, la] + p[:, ra])).mean(0)
    up /= max(np.linalg.norm(up), 1e-9)
    left = p[:, lh] - p[:, rh]
    left = left - np.outer(left @ up, up)
    left /= np.maximum(np.linalg.norm(left, axis=-1, keepdims=True), 1e-9)
    fwd = np.cross(left, up)
    return np.stack([left, np.broadcast_to(up, left.shape), fwd], axis=-1)     # columns: rest x, y, z


def complete(positions: np.ndarray, observed: np.ndarray, skel: Skeleton, source: str) -> np.ndarray:
    """(T, J, 3) with only `observed` joints valid -> all joints placed (observed ones unchanged)."""
    obs = np.asarray(observed, bool)
    rest = standing_rest(skel)
    anchors = [skel.index(n) for n in TRUNK[skel.name] if obs[skel.index(n)]]
    if len(anchors) < 3:
        anchors = list(np.flatnonzero(obs))
    spread = np.linalg.svd(rest[anchors] - rest[anchors].mean(0), compute_uv=False) if len(anchors) >= 3 else [0, 0]
    if len(anchors) < 3 or spread[1] < 0.02:
        seen = [skel.joint_names[j] for j in np.flatnonzero(obs)] or ["none"]
        raise SkeletonMatchError(
            f"{source}: the markers give too little of the body to place the rest: observed joints "
            f"{', '.join(seen)} (need three trunk joints not on one line, e.g. pelvis and both hips); "
            f"pass --marker-map FILE (docs/formats.md)")
    p = positions.astype(np.float64).copy()
    R, _, s = _similarity(rest[anchors], p[:, anchors])
    upright = _upright_frames(p, obs, skel)
    if upright is not None and not any(obs[skel.index(n)] for n in TRUNK[skel.name][4:]):
        R = upright          # only the pelvis region is seen: its three points cannot fix the pitch
    bones = [(j, q) for j, q in enumerate(skel.parents) if q >= 0 and obs[j] and obs[q]]
    ratios = [np.median(np.linalg.norm(p[:, j] - p[:, q], axis=-1)) / np.linalg.norm(rest[j] - rest[q])
              for j, q in bones if np.linalg.norm(rest[j] - rest[q]) > 0.05]
    if len(ratios) >= 2:               # body size from the measured bones, not the anchors' spread
        s = float(np.median(ratios))
    done = obs.copy()
    nbrs = [[k for k in range(skel.n_joints) if skel.parents[k] == j] + ([skel.parents[j]] if skel.parents[j] >= 0 else [])
            for j in range(skel.n_joints)]
    frontier = [j for j in range(skel.n_joints) if done[j]]
    while frontier:
        nxt = []
        for n in frontier:
            for j in nbrs[n]:
                if not done[j]:
                    p[:, j] = p[:, n] + s * np.einsum("tij,j->ti", R, rest[j] - rest[n])
                    done[j] = True
                    nxt.append(j)
        frontier = nxt
    return p


_REGIONS = {"legs": ("knee", "kne", "ankle", "ank", "mall", "heel", "hee", "toe", "met", "thigh", "thi", "tib",
                     "shank", "shin", "femur", "calf", "foot", "fm1", "fm5", "fcc"),
            "arms": ("elb", "epic", "wrist", "wr", "styl", "hand", "fin", "index", "arm", "rsp", "uhe", "hle", "hme"),
            "head": ("head", "hd", "fhd", "bhd", "ear", "nose"),
            "pelvis": ("asi", "psi", "sacr", "ias", "ips", "waist", "hip"),
            "trunk": ("c7", "cv7", "t10", "tv8", "t1", "clav", "ster", "strn", "xiph", "sxs", "snj", "chest",
                      "back", "spine", "scap", "acro", "sho", "saj")}


def describe_markers(labels, subject: str | None = None) -> str:
    """Which body regions a marker set covers, from common label words (for error messages)."""
    words = [lab.split(":", 1)[-1].lower().replace("_", "").replace(" ", "") for lab in labels]
    hits = {r: sum(any(w.startswith(k) or w.endswith(k) or w[1:].startswith(k) for k in keys) for w in words)
            for r, keys in _REGIONS.items()}
    covered = [f"{r} ({n})" for r, n in hits.items() if n]
    who = f"subject {subject}: " if subject else ""
    names = f"; markers: {', '.join(labels)}"
    if not covered:
        return f"{who}{len(labels)} markers with no body landmark names (an object, or a custom set){names}"
    missing = [r for r, n in hits.items() if not n]
    return (f"{who}{len(labels)} markers matching no m2t marker set; by name they cover {', '.join(covered)}"
            + (f" and nothing of {', '.join(missing)}" if missing else "") + names)
