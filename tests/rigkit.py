"""Write realistic test rigs with m2t's own BVH writer: a vendor's joint names, extra joints
(twist/roll bones, fingers, face, props, IK helpers), odd root placement, a short walk-like
animation (hips, knees, shoulders and elbows swing), any facing and unit.

A rig is described by a dict of source names per role (see SCHEMES in tests/test_rig_match.py);
`{L}` / `{Left}` / `{l}` in a name become the side. build() returns the file and the expected
{t2m joint: source name} for the joints off the spine.
"""
from __future__ import annotations

import numpy as np

from m2t.converters import bvh
from m2t.converters.body import canonical_rest_t2m
from m2t.converters.skeletons import T2M

SIDES = {"left": {"L": "L", "Left": "Left", "l": "l", "LEFT": "LEFT", "left": "left"},
         "right": {"L": "R", "Left": "Right", "l": "r", "LEFT": "RIGHT", "left": "right"}}


def side(name: str | None, s: str) -> str | None:
    if name is None:
        return None
    for k in ("Left", "LEFT", "left", "L", "l"):
        name = name.replace("{" + k + "}", SIDES[s][k])
    return name


def _rest(name: str) -> np.ndarray:
    return canonical_rest_t2m()[T2M.index(name)]


class Rig:
    def __init__(self):
        self.names, self.parents, self.pos, self.anim = [], [], [], []

    def add(self, name, parent, pos, anim=None) -> str:
        assert name not in self.names, name
        self.names.append(name)
        self.parents.append(-1 if parent is None else self.names.index(parent))
        self.pos.append(np.asarray(pos, float))
        self.anim.append(anim)
        return name


def build(path, r: dict, facing_deg: float = 0.0, units: float = 100.0, frames: int = 60, fps: float = 30.0,
          shift=(0.0, 0.0, 0.0), anonymous: bool = False):
    """Write the rig described by `r` to `path`; -> expected {t2m joint: source name}.
    anonymous: every joint is renamed Bone.000, Bone.001, ... (nothing in a name tells a side)."""
    rig, exp = Rig(), {}
    pelvis_p = _rest("pelvis")
    parent = None
    if r.get("root"):                                   # odd root placement: on the floor, or far away
        parent = rig.add(r["root"], None, np.array(r.get("root_at", (0.0, 0.0, 0.0))))
    pelvis = rig.add(r["pelvis"], parent, pelvis_p)
    exp["pelvis"] = r.get("expect_pelvis", r["pelvis"])
    legs_parent = rig.add(r["legs_parent"], pelvis, pelvis_p) if r.get("legs_parent") else pelvis
    for s in ("left", "right"):
        up = legs_parent
        if r.get("hipjoint"):
            up = rig.add(side(r["hipjoint"], s), up, pelvis_p)
        hip = rig.add(side(r["hip"], s), up, _rest(f"{s}_hip"), ("X", 25, 0.0 if s == "left" else np.pi))
        up = hip
        if r.get("thigh_twist_inline"):
            up = rig.add(side(r["thigh_twist_inline"], s), hip, (_rest(f"{s}_hip") + _rest(f"{s}_knee")) / 2)
        knee = rig.add(side(r["knee"], s), up, _rest(f"{s}_knee"), ("X", -30, 0.5 if s == "left" else 0.5 + np.pi))
        for tw in r.get("leg_twists", []):
            rig.add(side(tw, s), hip, (_rest(f"{s}_hip") + _rest(f"{s}_knee")) / 2)
        ankle = rig.add(side(r["ankle"], s), knee, _rest(f"{s}_ankle"))
        toe = _rest(f"{s}_foot")
        if r.get("foot"):
            foot = rig.add(side(r["foot"], s), ankle, toe)
            rig.add(side(r["foot"], s) + "_End", foot, toe + [0, 0, 0.06])
            exp[f"{s}_foot"] = side(r["foot"], s)
        for k, tname in enumerate(r.get("toes", [])):     # MakeHuman: five toes off the foot
            t = rig.add(side(tname, s), ankle, toe + [(k - 2) * 0.015 * (1 if s == "left" else -1), 0, 0])
            rig.add(side(tname, s) + "_End", t, toe + [0, 0, 0.04])
        if not r.get("foot") and not r.get("toes"):
            rig.add(side(r["ankle"], s) + "_End", ankle, toe)
            exp[f"{s}_foot"] = side(r["ankle"], s) + "_End"
        if r.get("expect_foot"):
            exp[f"{s}_foot"] = side(r["expect_foot"], s)
        elif "expect_foot" in r:                        # any of several toes will do
            exp.pop(f"{s}_foot", None)
        exp.update({f"{s}_hip": side(r["hip"], s), f"{s}_knee": side(r["knee"], s), f"{s}_ankle": side(r["ankle"], s)})
    # spine: the names are spread from the pelvis to spine3 (the chest, where arms and neck attach)
    up = pelvis if not r.get("spine_parent_root") else parent
    spine = r["spine"]
    for k, n in enumerate(spine):
        f = (k + 1) / len(spine)
        at = pelvis_p + f * (_rest("spine3") - pelvis_p) if k else pelvis_p + 0.3 * (_rest("spine3") - pelvis_p)
        up = rig.add(n, up, at)
    chest = up
    up = chest
    for k, n in enumerate(r["neck"]):
        up = rig.add(n, up, _rest("neck") + k / len(r["neck"]) * (_rest("head") - _rest("neck")))
    exp["neck"] = r.get("expect_neck", r["neck"][0])
    head = rig.add(r["head"], up, _rest("head"))
    exp["head"] = r["head"]
    rig.add(r["head"] + "_End", head, _rest("head") + [0, 0.17, 0.02])
    for n in r.get("face", []):                       # face bones: short chains off the head
        j = rig.add(n, head, _rest("head") + [0, 0.03, 0.06])
        rig.add(n + "_End", j, _rest("head") + [0, 0.0, 0.1])
    for s in ("left", "right"):
        sg = 1 if s == "left" else -1
        up = chest
        if r.get("collar"):
            up = rig.add(side(r["collar"], s), chest, _rest(f"{s}_collar"))
            exp[f"{s}_collar"] = side(r["collar"], s)
        sh = rig.add(side(r["shoulder"], s), up, _rest(f"{s}_shoulder"), ("Z", 20 * sg, 0.3))
        el = rig.add(side(r["elbow"], s), sh, _rest(f"{s}_elbow"), ("Y", 35 * sg, 0.2))
        for tw in r.get("arm_twists", []):
            rig.add(side(tw, s), sh, (_rest(f"{s}_shoulder") + _rest(f"{s}_elbow")) / 2)
        w = _rest(f"{s}_wrist")
        wr = rig.add(side(r["wrist"], s), el, w)
        d = (w - _rest(f"{s}_elbow")) / np.linalg.norm(w - _rest(f"{s}_elbow"))
        for k, fname in enumerate(r.get("fingers", [])):
            base = w + d * 0.09 + [0, 0, (k - 2) * 0.02]
            fn = side(fname, s)
            seg = [fn.replace("{n}", str(i)) if "{n}" in fn else fn + str(i) for i in (1, 2, 3)]
            j = rig.add(seg[0], wr, base)
            j = rig.add(seg[1], j, base + d * 0.04)
            rig.add(seg[2], j, base + d * 0.07)
        if not r.get("fingers"):
            rig.add(side(r["wrist"], s) + "_End", wr, w + d * 0.18)
        if r.get("prop") and s == "right":               # a long prop (a sword) in the right hand
            pj = rig.add(r["prop"], wr, w + d * 0.1)
            rig.add(r["prop"] + "_End", pj, w + d * 0.9)
        exp.update({f"{s}_shoulder": side(r["shoulder"], s), f"{s}_elbow": side(r["elbow"], s),
                    f"{s}_wrist": side(r["wrist"], s)})
    for base, n, at in r.get("helpers", []):          # IK helpers: root -> helper root -> target at a hand/foot
        if base not in rig.names:
            rig.add(base, rig.names[0], rig.pos[0])
        j = rig.add(n, base, _rest(at))
        rig.add(n + "_End", j, _rest(at) + [0, 0.05, 0])
    for j in range(len(rig.names)):                  # named leaves (twist bones) get an End Site
        if j not in rig.parents and not rig.names[j].endswith("_End"):
            rig.add(rig.names[j] + "_End", rig.names[j], rig.pos[j] + [0, 0.01, 0])
    if anonymous:
        new = {n: (f"Bone.{i:03d}" if not n.endswith("_End") else n) for i, n in enumerate(rig.names)}
        parents = rig.parents
        rig.names = [new[n] for n in rig.names]
        for j, n in enumerate(rig.names):
            if n.endswith("_End"):
                rig.names[j] = rig.names[parents[j]] + "_End"
        exp = {k: new.get(v, v) if not v.endswith("_End") else new[v[:-4]] + "_End" for k, v in exp.items()}
    _write(path, rig, facing_deg, units, frames, fps, shift)
    return exp


def _write(path, rig: Rig, facing_deg, units, frames, fps, shift):
    P = np.array(rig.pos)
    c, s_ = np.cos(np.radians(facing_deg)), np.sin(np.radians(facing_deg))
    Ry = np.array([[c, 0, s_], [0, 1, 0], [-s_, 0, c]])
    P = P @ Ry.T
    offsets = [P[j] - (P[p] if p >= 0 else 0) + (np.array(shift) if p < 0 else 0) for j, p in enumerate(rig.parents)]
    has_child = {p for p in rig.parents if p >= 0}
    channels, cols = [], []
    t = np.arange(frames) / fps
    fwd = Ry @ np.array([0, 0, 1.0])
    for j, p in enumerate(rig.parents):
        if j not in has_child:
            channels.append([])
            continue
        if p < 0:
            channels.append(["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"])
            pos = offsets[j][None] + np.outer(t * 1.2, fwd)
            cols += [pos[:, 0] * units, pos[:, 1] * units, pos[:, 2] * units, 0 * t, 0 * t, 0 * t]
            continue
        channels.append(["Zrotation", "Xrotation", "Yrotation"])
        ang = {"Z": 0 * t, "X": 0 * t, "Y": 0 * t}
        if rig.anim[j]:
            axis, amp, ph = rig.anim[j]
            ang[axis] = amp * np.sin(2 * np.pi * 1.0 * t + ph) + (amp * 0.5 if axis != "X" else 0)
        cols += [ang["Z"], ang["X"], ang["Y"]]
    bvh.write(path, rig.names, rig.parents, np.array(offsets) * units, channels, np.stack(cols, axis=1), 1 / fps)
