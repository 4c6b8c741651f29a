"""Find the canonical (t2m) joints in any rig: by name scheme, by name words, and by structure.

1. **Name schemes** (converters/rig_names.py): the scheme that names the most canonical joints.
2. **Name words** (retarget.parse_name + synonyms) for joints the scheme did not name.
3. **Structure**, for what names leave open: the five chains from the root to the head, hands
   and feet are found in the hierarchy (the five leaves farthest from the rest of the tree, so
   twist, roll, finger, face and prop joints, which hang off short branches, are ignored); on a
   leg the two longest consecutive segments are thigh and shin (hip, knee, ankle; the next joint
   is the foot), on an arm upper arm and forearm (shoulder, elbow, wrist; the joint after the
   chest branch is the collar); the legs meet at the pelvis; left and right come from names on
   the chain, else from rest-pose geometry (left = up x forward, forward = ankle-to-toe).
spine1-3 are always placed along the source pelvis-to-neck chain (retarget._spine_map).
Every joint gets how it was found and a confidence in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import re

import numpy as np

from .rig_names import SCHEMES, match_scheme, normalise

MIN_SEG_M = 0.01      # joints closer than this to the previous kept joint on a chain are merged
_END_WORDS = ("end", "nub", "top", "site", "tip")
# helper joints that are not body parts: IK targets, props, attachment points (their subtrees are ignored)
_NOT_BODY = re.compile(r"^ik|prop|weapon|attach|ctrl|control|target|pole|gun|sword|socket|camera|mesh", re.IGNORECASE)


@dataclass
class RigMatch:
    found: dict[str, int] = field(default_factory=dict)      # t2m joint -> source joint index
    how: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    scheme: str | None = None
    problems: list[str] = field(default_factory=list)         # ambiguities, one line each


def _up_vector(m) -> np.ndarray:
    up = m.up or "+y"
    v = np.zeros(3)
    v["xyz".index(up[1])] = 1.0 if up[0] == "+" else -1.0
    return v


class _Tree:
    def __init__(self, m):
        self.m = m
        step = max(1, m.n_frames // 120)
        self.pos = m.positions[::step].astype(np.float64)          # (t, J, 3)
        self.par = list(m.parents)
        J = len(self.par)
        self.children = [[] for _ in range(J)]
        self.ignored = set()
        for j, p in enumerate(self.par):
            if p in self.ignored or _NOT_BODY.search(normalise(m.joint_names[j])):
                self.ignored.add(j)
            elif p >= 0:
                self.children[p].append(j)
        self.blen = np.array([np.median(np.linalg.norm(self.pos[:, j] - self.pos[:, p], axis=-1)) if p >= 0 else 0.0
                              for j, p in enumerate(self.par)])
        self.depth = np.zeros(J)
        for j, p in enumerate(self.par):       # parents come first in every reader's order
            if p >= 0:
                self.depth[j] = self.depth[p] + self.blen[j]

    def path(self, j: int, stop: int = -1) -> list[int]:
        """Joints from j up to (not including) `stop`, returned root-side first."""
        out = []
        while j != stop and j >= 0:
            out.append(j)
            j = self.par[j]
        return out[::-1]

    def lca(self, a: int, b: int) -> int:
        anc = set(self.path(a))
        while b not in anc:
            b = self.par[b]
        return b

    def subtree(self, j: int) -> list[int]:
        out, todo = [], [j]
        while todo:
            k = todo.pop()
            out.append(k)
            todo += self.children[k]
        return out

    def median_pos(self, j: int) -> np.ndarray:
        return np.median(self.pos[:, j], axis=0)

    def reduce(self, chain: list[int], start: int) -> list[int]:
        """Drop joints that coincide with the previous kept one or lie on the line between their
        neighbours in every frame (twist/roll joints)."""
        kept = [start]
        for k, j in enumerate(chain):
            d = np.median(np.linalg.norm(self.pos[:, j] - self.pos[:, kept[-1]], axis=-1))
            if d < MIN_SEG_M:
                continue
            if k + 1 < len(chain):
                a, b = self.pos[:, kept[-1]], self.pos[:, chain[k + 1]]
                ab = b - a
                t = np.clip(((self.pos[:, j] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
                off = np.linalg.norm(a + t[:, None] * ab - self.pos[:, j], axis=-1).max()
                if off < 0.1 * MIN_SEG_M and 0.02 < np.median(t) < 0.98:
                    continue
            kept.append(j)
        return kept[1:]


def _limb_ends(tr: _Tree, root: int) -> list[int]:
    """The five leaves farthest from the tree already chosen (greedy, longest first)."""
    leaves = [j for j in tr.subtree(root) if not tr.children[j] and j not in tr.ignored]
    chosen: list[int] = []
    on: set[int] = set()
    for _ in range(5):
        best, best_len = None, -1.0
        for leaf in leaves:
            if leaf in chosen:
                continue
            a = leaf
            while a not in on and tr.par[a] >= 0:
                a = tr.par[a]
            base = tr.depth[a] if a in on else 0.0
            if tr.depth[leaf] - base > best_len:
                best, best_len = leaf, tr.depth[leaf] - base
        if best is None:
            break
        chosen.append(best)
        on.update(tr.path(best))
    return chosen


def _two_long(tr: _Tree, reduced: list[int], start: int) -> int | None:
    """Index k in `reduced` such that segments (k-1 -> k) and (k -> k+1) are the longest pair."""
    pts = [start] + reduced
    seg = [np.median(np.linalg.norm(tr.pos[:, pts[i + 1]] - tr.pos[:, pts[i]], axis=-1)) for i in range(len(pts) - 1)]
    if len(seg) < 3:
        return None
    # k >= 1: the first segment runs from the branch (pelvis, chest) to the limb's root (hip,
    # shoulder) and is never thigh or upper arm, however long a clavicle is (CMU: 19 cm)
    k = 1 + int(np.argmax([seg[i] + seg[i + 1] for i in range(1, len(seg) - 1)]))
    return k            # seg k = pts[k] -> pts[k+1] = reduced[k-1] -> reduced[k]


def _name_side(tr: _Tree, joints: list[int]) -> str | None:
    from .retarget import parse_name
    votes = [parse_name(tr.m.joint_names[j])[0] for j in joints]
    left, right = votes.count("left"), votes.count("right")
    return None if left == right else ("left" if left > right else "right")


def structure(m) -> tuple[dict[str, int], dict[str, float], list[str]]:
    """-> ({t2m joint: source index}, {joint: confidence}, problems). Needs parents."""
    if m.parents is None or m.n_joints < 10:
        return {}, {}, []
    tr = _Tree(m)
    roots = [j for j, p in enumerate(tr.par) if p < 0 and j not in tr.ignored]
    root = max(roots, key=lambda r: len(tr.subtree(r)))
    ends = _limb_ends(tr, root)
    if len(ends) < 5:
        return {}, {}, [f"the hierarchy has fewer than five limbs (head, hands, feet): {len(ends)} found"]
    up = _up_vector(m)
    h = {e: float(tr.median_pos(e) @ up) for e in ends}
    feet = sorted(ends, key=h.get)[:2]
    upper = [e for e in ends if e not in feet]
    branch = tr.lca(tr.lca(upper[0], upper[1]), upper[2])
    head_end = min(upper, key=lambda e: tr.depth[e] - tr.depth[branch])
    hands = [e for e in upper if e != head_end]
    leg_top = tr.lca(*feet)
    pelvis = tr.lca(leg_top, head_end)        # Character Creator: legs hang off a sibling of the spine
    found: dict[str, int] = {"pelvis": pelvis}
    conf: dict[str, float] = {"pelvis": 0.9}
    problems: list[str] = []
    legs, arms = {}, {}
    for e in feet:
        red = tr.reduce(tr.path(e, leg_top), leg_top)
        k = _two_long(tr, red, leg_top)
        if k is None or k + 1 >= len(red) or k < 1:
            problems.append(f"cannot find hip, knee and ankle on the chain to {m.joint_names[e]}")
            continue
        legs[e] = {"hip": red[k - 1], "knee": red[k], "ankle": red[k + 1],
                   "foot": red[k + 2] if k + 2 < len(red) else red[k + 1]}
    arm_branch = tr.lca(*hands)
    for e in hands:
        chain = tr.path(e, arm_branch)
        red = tr.reduce(chain, arm_branch)
        k = _two_long(tr, red, arm_branch)
        if k is None or k + 1 >= len(red) or k < 1:
            problems.append(f"cannot find shoulder, elbow and wrist on the chain to {m.joint_names[e]}")
            continue
        collar = chain[0] if chain[0] != red[k - 1] else arm_branch
        arms[e] = {"collar": collar, "shoulder": red[k - 1], "elbow": red[k], "wrist": red[k + 1]}
    # head: the joint where the face / head-top branches hang, neck: the first joint after the branch
    hpath = tr.path(head_end, branch)
    if hpath:
        leaves = [j for j in tr.subtree(hpath[0]) if not tr.children[j]]
        head = leaves[0]
        for leaf in leaves[1:]:
            head = tr.lca(head, leaf)
        if not tr.children[head] and tr.par[head] != branch and (
                len(hpath) >= 3 or any(w in m.joint_names[head].lower() for w in _END_WORDS)):
            head = tr.par[head]
        found["head"], conf["head"] = head, 0.8
        found["neck"], conf["neck"] = (hpath[0] if hpath[0] != head else branch), 0.7
    for roles, side, c in _assign_sides(tr, m, up, legs, arms, problems):
        for role, j in roles.items():
            found[f"{side}_{role}"] = j
            conf[f"{side}_{role}"] = c
    return found, conf, problems


def _assign_sides(tr: _Tree, m, up, legs: dict, arms: dict, problems: list) -> list:
    """-> [(roles, side, confidence)] for the two legs and the two arms."""
    out = []
    fwd = np.zeros(3)
    for roles in legs.values():
        d = tr.pos[:, roles["foot"]] - tr.pos[:, roles["ankle"]]
        fwd += np.median(d - np.outer(d @ up, up), axis=0)
    left_dir = np.cross(up, fwd)
    left_dir /= max(np.linalg.norm(left_dir), 1e-9)
    for limbs, key, what in ((legs, "hip", "legs"), (arms, "shoulder", "arms")):
        if len(limbs) != 2:
            continue
        (ea, ra), (eb, rb) = limbs.items()
        top = tr.lca(ea, eb)
        na, nb = _name_side(tr, tr.path(ea, top)), _name_side(tr, tr.path(eb, top))
        if na and nb and na != nb:
            out += [(ra, na, 0.95), (rb, nb, 0.95)]
            continue
        margin = float(np.median((tr.pos[:, ra[key]] - tr.pos[:, rb[key]]) @ left_dir))
        if abs(margin) < 0.02 or not np.linalg.norm(fwd) > 0.01:
            problems.append(f"cannot tell the left {what} from the right: {m.joint_names[ra[key]]} and "
                            f"{m.joint_names[rb[key]]} (no side in their names, geometry margin {margin * 100:.1f} cm)")
            continue
        c = float(min(0.9, 0.5 + abs(margin)))
        sa, sb = ("left", "right") if margin > 0 else ("right", "left")
        out += [(ra, sa, c), (rb, sb, c)]
    return out


def match(m) -> RigMatch:
    """Name scheme, then name words, then structure for what is still missing."""
    from .retarget import _auto_found
    r = RigMatch()
    scheme, found = match_scheme(m.joint_names)
    if scheme is not None and len(found) >= 6:
        r.scheme = scheme
        for k, i in found.items():
            r.found[k], r.how[k], r.confidence[k] = i, f"name ({scheme} scheme)", 1.0
    used = set(r.found.values())
    for k, i in _auto_found(m, exclude=used, skip=set(r.found)).items():
        r.found[k], r.how[k], r.confidence[k] = i, "name words", 0.85
    if len(r.found) < 19:
        s_found, s_conf, problems = structure(m)
        for k, i in s_found.items():
            if k not in r.found and i not in r.found.values():
                r.found[k], r.how[k], r.confidence[k] = i, "structure", s_conf[k]
            elif k in r.found and r.found[k] != i and k in ("left_hip", "right_hip", "left_shoulder", "right_shoulder"):
                r.confidence[k] = min(r.confidence[k], 0.6)
                r.how[k] += f" (structure suggests {m.joint_names[i]})"
        r.problems = problems
    return r


def scheme_about(name: str | None) -> str:
    return SCHEMES.get(name or "", {}).get("about", "")
