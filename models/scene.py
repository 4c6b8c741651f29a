"""What the animation and the browser viewer show at each moment of a captioned clip (shared by
:mod:`m2t.models.render` and :mod:`m2t.models.viewer`, so both follow one rule).

- **Active word** at time t: among the caption's motion words whose span ``[onset_s, offset_s]``
  (the onset rule of the result: by default where Γ >= 0.5) contains t, the one with the highest
  window Γ(t). Its **strength** is Γ(t) (0 when no word is active); its **attention** is α(t) over
  the six body parts. Γ and α are linearly interpolated between feature frames
  (``result.frame_times``) and held constant before the first and after the last one.
- **A take captioned as a timeline** (no caption of the whole take: ``result.segments``, no
  motion-word tokens) is shown as its timeline (:func:`timeline_view`): the caption is the
  actions' clauses in time order, each action's word is a motion word whose window is 1 over its
  span and whose attention is its body-part shares.
- **Camera target**: the root's floor position smoothed over time (Gaussian, σ = 0.5 s) at a fixed
  height, so the camera follows the body without its sway; the **heading** (the direction the
  body faces, from the hips and shoulders) is smoothed with σ = 1 s, for the ``follow`` camera.
- **Camera**: perspective, looking at the target from ``distance`` metres, raised by
  ``elevation`` degrees; azimuth 0 looks at the canonical front (the subject faces +Z).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from m2t.converters.errors import ConfigError
from m2t.converters.skeletons import PART_NAMES, get_skeleton

CAMERAS = ("follow", "front", "side")
CAMERA_AZIMUTH = {"front": 0.0, "side": -90.0, "follow": 35.0}   # degrees; follow: relative to the heading
CAMERA_ELEVATION = 15.0
CAMERA_DISTANCE = 3.9          # metres
CAMERA_FOV = 40.0              # vertical field of view, degrees
TARGET_HEIGHT = 0.9            # metres above the floor
TARGET_SMOOTH_S = 0.5
HEADING_SMOOTH_S = 1.0

# colours (RGB) shared by the animation and the viewer: left limbs blue, right green, midline grey;
# attention α on a grey (0) -> orange -> red (1) scale; the active word's highlight
BG = (248, 248, 245)
HILITE = (255, 196, 64)
SIDE_COLOURS = {-1: np.array([52, 110, 190.0]), 0: np.array([90, 94, 104.0]), 1: np.array([38, 150, 110.0])}
GRID, SHADOW, TRAIL = (214, 214, 208), (222, 222, 216), (200, 190, 170)   # floor lines, skeleton shadow, root path
GRID_STEP, GRID_HALF, NEAR = 0.5, 4.0, 0.3   # floor grid spacing and half-extent around the target, near clip (m)
UNOBSERVED_FADE = 0.75          # joints the file did not measure (Motion.observed): blended this far into BG
BONE_WIDTH = 1 / 110            # of the view's height
JOINT_RADIUS = (0.9, 1.5, 1.5)  # joint radius in bone widths: base, + per unit of attention (Γ·α), × for the head
HEAT = np.array([[0.0, 160, 164, 172], [0.35, 245, 160, 40], [1.0, 215, 25, 28]])   # α stop, R, G, B


def heat(a) -> np.ndarray:
    """α (0..1) -> RGB on the grey-orange-red scale."""
    a = np.clip(np.asarray(a, float), 0, 1)
    return np.stack([np.interp(a, HEAT[:, 0], HEAT[:, c]) for c in (1, 2, 3)], -1)


@dataclass
class Timeline:
    """Per requested time: the active token index (-1: none), its Γ and α (6 parts)."""
    times: np.ndarray          # (T,) seconds
    active: np.ndarray         # (T,) int, token index into result.tokens, -1 when no word is active
    strength: np.ndarray       # (T,) Γ of the active word, 0 when none
    alpha: np.ndarray          # (T, 6) α of the active word, zeros when none


def clip_times(duration_s: float, fps: float) -> np.ndarray:
    """Times of the frames of an animation at `fps`: i / fps for i < max(1, round(duration·fps))."""
    if not fps > 0:
        raise ConfigError(f"--fps must be > 0, got {fps}")
    return np.arange(max(1, int(round(duration_s * fps)))) / float(fps)


def timeline(result, times) -> Timeline:
    """The active word, its strength and its attention at each of `times` (module docstring)."""
    times = np.asarray(times, np.float64)
    T = len(times)
    active = np.full(T, -1, np.int64)
    strength = np.zeros(T)
    alpha = np.zeros((T, len(PART_NAMES)))
    ft = np.asarray(result.frame_times, np.float64)
    if len(ft) == 0:
        return Timeline(times, active, strength, alpha)
    for tok in result.motion_words:
        g = np.interp(times, ft, result.window[tok.index])
        inside = (times >= tok.onset_s - 1e-9) & (times <= tok.offset_s + 1e-9) & (g > strength)
        active[inside], strength[inside] = tok.index, g[inside]
    for i in np.unique(active[active >= 0]):
        sel = active == i
        a = result.alpha[i]
        alpha[sel] = np.stack([np.interp(times[sel], ft, a[:, p]) for p in range(a.shape[1])], -1)
    return Timeline(times, active, strength, alpha)


TIMELINE_FRAMES = 400          # at most this many time steps in a timeline take's view (the viewer's page size)


def timeline_clauses(result) -> tuple[list[str], list[tuple[int, int, int, dict]]]:
    """A timeline take's caption as shown: the words of its actions' clauses in time order, joined
    by "then" (later clauses without their subject), and per action (first word, end, index of
    its action word, segment). An action word its own clause does not say (the windows' word,
    e.g. a synonym) follows the clause in parentheses."""
    from .compose import subject_end
    from .supervision import stem
    words, clauses = [], []
    for i, seg in enumerate(sorted(result.segments, key=lambda g: (g["onset_s"], g["offset_s"]))):
        clause = seg["text"].split()
        clause = clause[subject_end(clause, [""] * len(clause)) if i else 0:]
        if words:
            words.append("then")
        bare = [w.strip(".,;:!?").lower() for w in clause]
        k = next((j for j, w in enumerate(bare) if w == seg["word"].lower()), None)
        if k is None:
            k = next((j for j, w in enumerate(bare) if w and stem(w) == stem(seg["word"])), None)
        if k is None:
            clause, k = clause + [f"({seg['word']})"], len(clause)
        clauses.append((len(words), len(words) + len(clause), len(words) + k, seg))
        words += clause
    return words, clauses


def timeline_view(result):
    """The result as the animation and the viewer show it: unchanged when its caption has motion
    words (or it has no timeline); for a take captioned as a timeline of actions, a CaptionResult
    whose caption is :func:`timeline_clauses`, each action's word a motion word with the action's
    span, a box window Γ = 1 over it and its body-part shares as α (module docstring)."""
    if not result.is_timeline:
        return result
    from dataclasses import replace

    from .results import FWHM_C, Token
    ds, fps = result.downsample, result.fps
    n_feat = max(1, len(range(ds // 2, max(result.frames, 1), ds)))
    stride = -(-n_feat // TIMELINE_FRAMES)              # a long take: a coarser grid (the boxes need no more)
    ft = (ds // 2 + np.arange(0, n_feat, stride) * ds) / fps
    words, clauses = timeline_clauses(result)
    S, n = len(words), len(ft)
    window, alpha = np.zeros((S, n), np.float32), np.zeros((S, n, len(PART_NAMES)), np.float32)
    tokens = [Token(j, w, 0.0, 1.0, False) for j, w in enumerate(words)]
    for _, _, j, seg in clauses:
        on, off = float(seg["onset_s"]), float(seg["offset_s"])
        box = (ft >= on - 1e-9) & (ft <= off + 1e-9)
        if not box.any():
            box[int(np.argmin(np.abs(ft - (on + off) / 2)))] = True
        parts = [(p["name"], float(p["score"])) for p in seg["parts"]]
        shares = dict(parts)
        window[j], alpha[j] = box, [shares.get(p, 0.0) for p in PART_NAMES]
        centre, width = (on + off) / 2, (off - on) / (2 * FWHM_C)
        tokens[j] = Token(j, words[j], 1.0, float(seg["confidence"]), True, centre_s=centre, width_s=width,
                          centre_frame=float(np.interp(centre, ft, np.arange(n))), width_frames=width * fps / (ds * stride),
                          onset_s=on, offset_s=off, parts=parts)
    return replace(result, tokens=tokens, window=window, alpha=alpha, frame_times=ft.astype(np.float32))


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (edges padded with the end values)."""
    if sigma <= 0 or len(x) < 2:
        return x.copy()
    r = int(math.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)])
    return np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(x.shape[1])], -1)


def heading(positions: np.ndarray, skeleton: str) -> np.ndarray:
    """(T,) facing angle in radians about +Y (0: facing +Z, pi/2: facing +X), unwrapped."""
    rh, lh, rs, ls = get_skeleton(skeleton).face
    across = (positions[:, lh] - positions[:, rh]) + (positions[:, ls] - positions[:, rs])
    fwd_x, fwd_z = -across[:, 2], across[:, 0]           # across × up, on the floor
    return np.unwrap(np.arctan2(fwd_x, fwd_z))


def camera_path(positions: np.ndarray, fps: float, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) smoothed camera targets and (T,) smoothed headings of a canonical clip."""
    root = positions[:, 0, :].astype(np.float64)
    target = _smooth(root[:, [0, 2]], TARGET_SMOOTH_S * fps)
    target = np.stack([target[:, 0], np.full(len(root), TARGET_HEIGHT), target[:, 1]], -1)
    head = _smooth(heading(positions, skeleton)[:, None], HEADING_SMOOTH_S * fps)[:, 0]
    return target, head


def camera_pose(camera: str, target: np.ndarray, head: float) -> tuple[np.ndarray, np.ndarray]:
    """Eye position and target of `camera` ("follow", "front", "side")."""
    if camera not in CAMERAS:
        raise ConfigError(f"--camera {camera!r} is not one of: {', '.join(CAMERAS)}")
    az = math.radians(CAMERA_AZIMUTH[camera]) + (head if camera == "follow" else 0.0)
    el = math.radians(CAMERA_ELEVATION)
    d = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    return target + CAMERA_DISTANCE * d, target


class Projector:
    """Perspective projection of world points (metres, Y up) onto a `width` × `height` view."""

    def __init__(self, eye, target, width: int, height: int, fov_deg: float = CAMERA_FOV):
        f = np.asarray(target, float) - np.asarray(eye, float)
        f /= np.linalg.norm(f)
        r = np.cross(f, [0.0, 1.0, 0.0])
        r /= np.linalg.norm(r)
        self.eye, self.f, self.r, self.u = np.asarray(eye, float), f, r, np.cross(r, f)
        self.cx, self.cy = width / 2.0, height / 2.0
        self.focal = (height / 2.0) / math.tan(math.radians(fov_deg) / 2)

    def depth(self, p: np.ndarray) -> np.ndarray:
        return (np.asarray(p) - self.eye) @ self.f

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """(..., 3) -> (..., 2) pixel coordinates (points behind the camera are clamped to z = 1 cm)."""
        d = np.asarray(p, float) - self.eye
        z = np.maximum(d @ self.f, 0.01)
        return np.stack([self.cx + self.focal * (d @ self.r) / z, self.cy - self.focal * (d @ self.u) / z], -1)


def joint_parts(skeleton: str) -> np.ndarray:
    """(J,) body part index (PART_NAMES order) of each joint of the canonical skeleton."""
    sk = get_skeleton(skeleton)
    out = np.zeros(sk.n_joints, np.int64)
    for p, joints in enumerate(sk.parts):
        out[list(joints)] = p
    return out


def joint_sides(skeleton: str) -> np.ndarray:
    """(J,) -1 for joints on the left side, +1 on the right, 0 on the midline (from the mirror table)."""
    sk = get_skeleton(skeleton)
    side = np.zeros(sk.n_joints, np.int64)
    for j, m in enumerate(sk.mirror):
        if m != j:
            side[j] = -1 if sk.joint_names[j].lower().startswith(("left", "l")) else 1
    return side


def observed_joints(motion) -> np.ndarray:
    """(J,) bool: the joints the file measured (`Motion.observed`; all when the reader does not say)."""
    obs = getattr(motion, "observed", None)
    return np.ones(motion.positions.shape[1], bool) if obs is None else np.asarray(obs, bool)


def sample_positions(positions: np.ndarray, fps: float, times) -> np.ndarray:
    """Positions at `times` (seconds), linearly interpolated between canonical frames."""
    f = np.clip(np.asarray(times, float) * fps, 0, len(positions) - 1)
    i0 = np.floor(f).astype(int)
    i1 = np.minimum(i0 + 1, len(positions) - 1)
    w = (f - i0)[:, None, None]
    return (1 - w) * positions[i0] + w * positions[i1]
