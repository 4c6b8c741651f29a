"""The HIERARCHY section of a BVH file: joints, offsets, channels (converters/bvh.py reads the
rest). A fast path takes the layout exporters write (one loop step per joint); anything else goes
to the full token parser, so every error keeps its line number. Limits: converters/limits.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from . import limits
from .errors import MotionFileError

_CHANNEL = re.compile(r"^([XYZ])(position|rotation)$", re.IGNORECASE)


@dataclass
class Joint:
    name: str
    parent: int
    offset: np.ndarray                                  # (3,) in file units
    channels: list[str] = field(default_factory=list)   # e.g. ["Xposition", "Zrotation", ...]
    end_site: bool = False


@dataclass
class Hierarchy:
    joints: list[Joint]
    n_channels: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(j.parent for j in self.joints)


class _Tokens:
    """Whitespace tokens of the header with their line numbers (for error messages)."""

    def __init__(self, text: str, path):
        self.path = path
        self.items = [(tok, n) for n, line in enumerate(text.splitlines(), 1) for tok in line.split()]
        self.i = 0

    def peek(self) -> str | None:
        return self.items[self.i][0] if self.i < len(self.items) else None

    def line(self) -> int:
        if not self.items:
            return 1
        return self.items[min(self.i, len(self.items) - 1)][1]

    def next(self, what: str) -> str:
        if self.i >= len(self.items):
            raise MotionFileError(f"{self.path}:{self.line()}: file ends inside the HIERARCHY, expected {what}")
        tok = self.items[self.i][0]
        self.i += 1
        return tok

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok.upper() != word.upper():
            raise MotionFileError(f"{self.path}:{self.items[self.i - 1][1]}: expected {word!r}, found {tok!r}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            return float(tok)
        except ValueError:
            raise MotionFileError(f"{self.path}:{self.items[self.i - 1][1]}: expected a number for {what}, "
                                  f"found {tok!r}") from None


def parse_hierarchy(text: str, path="<bvh>") -> Hierarchy:
    """Parse the HIERARCHY section (text before MOTION). Well-formed headers take a fast path
    without line numbers (:func:`_parse_hierarchy_fast`); anything it does not accept goes through
    the full parser, which gives the same hierarchy or the error naming the line."""
    fast = _parse_hierarchy_fast(text)
    return fast if fast is not None else _parse_hierarchy_full(text, path)


_CHANNEL_NAMES = frozenset(a + k for a in "XYZ" for k in ("POSITION", "ROTATION"))
_GOOD_CHANNELS: set[tuple[str, ...]] = set()        # CHANNELS lists the fast path has accepted
_COUNTS = {str(k): k for k in range(7)}


def _parse_hierarchy_fast(text: str) -> Hierarchy | None:
    """The full parser's result for headers in the common layout, without line numbers: keywords
    as written by every exporter (HIERARCHY, ROOT, JOINT, OFFSET, CHANNELS, End Site), each joint
    opening with `{ OFFSET x y z CHANNELS n names`, End Sites as `End Site { OFFSET x y z }`; one
    loop step per joint, End Site or closing brace. None for anything else (other layouts or
    spellings, unknown or repeated channel names, limits reached, duplicate names, bad numbers),
    so that every error comes from the full parser with its line."""
    toks = text.split()
    n = len(toks)
    if not n or toks[0] != "HIERARCHY":
        return None
    names: list[str] = []
    parents: list[int] = []
    offs: list = []
    chans: list[list[str]] = []
    ends: list[bool] = []
    stack: list[int] = []                       # open joints, innermost last
    n_channels = 0
    max_depth, max_joints, good = limits.MAX_DEPTH, limits.MAX_JOINTS, _GOOD_CHANNELS
    i = 1
    try:
        while i < n:
            tok = toks[i]
            if tok == "}":
                stack.pop()
                i += 1
            elif tok == ("JOINT" if stack else "ROOT"):
                k = _COUNTS.get(toks[i + 8])
                if (k is None or toks[i + 2] != "{" or toks[i + 3] != "OFFSET" or toks[i + 7] != "CHANNELS"
                        or len(stack) > max_depth or len(names) >= max_joints):
                    return None
                cs = tuple(toks[i + 9:i + 9 + k])
                if len(cs) < k:
                    return None
                if cs not in good:
                    ups = {c.upper() for c in cs}
                    if len(ups) < k or not ups <= _CHANNEL_NAMES or not all(c.isascii() for c in cs):
                        return None
                    if len(good) < 4096:
                        good.add(cs)
                names.append(toks[i + 1])
                parents.append(stack[-1] if stack else -1)
                offs.append((float(toks[i + 4]), float(toks[i + 5]), float(toks[i + 6])))
                chans.append(list(cs))
                ends.append(False)
                n_channels += k
                stack.append(len(names) - 1)
                i += 9 + k
            elif (tok == "End" and toks[i + 1] == "Site" and toks[i + 2] == "{" and toks[i + 3] == "OFFSET"
                  and toks[i + 7] == "}"):
                me = stack[-1]
                names.append(f"{names[me]}_End")
                parents.append(me)
                offs.append((float(toks[i + 4]), float(toks[i + 5]), float(toks[i + 6])))
                chans.append([])
                ends.append(True)
                i += 8
            else:
                return None
    except (IndexError, ValueError):            # the header ends early, or a number is not one
        return None
    if stack or not names or len(set(names)) < len(names):
        return None
    return Hierarchy([Joint(*j) for j in zip(names, parents, list(np.array(offs)), chans, ends)], n_channels)


def _parse_hierarchy_full(text: str, path="<bvh>") -> Hierarchy:
    """The HIERARCHY grammar with a line number for every error."""
    tk = _Tokens(text, path)
    tk.expect("HIERARCHY")
    joints: list[Joint] = []
    n_channels = 0

    def joint_body(name: str, parent: int, depth: int = 0) -> None:
        nonlocal n_channels
        if depth > limits.MAX_DEPTH:
            raise MotionFileError(f"{path}:{tk.line()}: joints nested more than {limits.MAX_DEPTH} deep")
        if len(joints) >= limits.MAX_JOINTS:
            raise MotionFileError(f"{path}:{tk.line()}: more than {limits.MAX_JOINTS:,} joints")
        me = len(joints)
        joints.append(Joint(name, parent, np.zeros(3)))
        tk.expect("{")
        while True:
            tok = tk.next("'}' closing joint " + repr(name))
            key = tok.upper()
            if key == "OFFSET":
                joints[me].offset = np.array([tk.number(f"OFFSET of {name!r}") for _ in range(3)])
            elif key == "CHANNELS":
                line = tk.line()
                ctok = tk.next("channel count")
                if not (ctok.isascii() and ctok.isdigit() and int(ctok) <= 6):
                    raise MotionFileError(f"{path}:{line}: bad channel count {ctok!r} for joint {name!r} (0-6)")
                count = int(ctok)
                chans = [tk.next("channel name") for _ in range(count)]
                for c in chans:
                    if not _CHANNEL.match(c):
                        raise MotionFileError(f"{path}:{tk.line()}: unknown channel {c!r} on joint {name!r}")
                if len({c.upper() for c in chans}) < len(chans):
                    raise MotionFileError(f"{path}:{line}: channel listed twice on joint {name!r}")
                if joints[me].channels:
                    raise MotionFileError(f"{path}:{line}: second CHANNELS line on joint {name!r}")
                joints[me].channels = chans
                n_channels += count
            elif key == "JOINT":
                joint_body(tk.next("joint name"), me, depth + 1)
            elif key == "END":
                tk.expect("Site")
                site = len(joints)
                joints.append(Joint(f"{name}_End", me, np.zeros(3), end_site=True))
                tk.expect("{")
                while (t := tk.next("'}' closing End Site")) != "}":
                    if t.upper() == "OFFSET":
                        joints[site].offset = np.array([tk.number("End Site OFFSET") for _ in range(3)])
                    else:
                        raise MotionFileError(f"{path}:{tk.line()}: unexpected {t!r} in End Site of {name!r}")
            elif tok == "}":
                return
            else:
                raise MotionFileError(f"{path}:{tk.line()}: unexpected {tok!r} in joint {name!r}")

    while tk.peek() is not None:
        tok = tk.next("ROOT")
        if tok.upper() != "ROOT":
            raise MotionFileError(f"{path}:{tk.line()}: expected ROOT, found {tok!r}")
        joint_body(tk.next("root name"), -1)
    if not joints:
        raise MotionFileError(f"{path}: HIERARCHY has no ROOT joint")
    names = [j.name for j in joints]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise MotionFileError(f"{path}: joint name(s) used twice: {', '.join(sorted(dup))}")
    return Hierarchy(joints, n_channels)
