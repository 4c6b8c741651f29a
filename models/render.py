"""Animate a captioned clip: the canonical skeleton from a camera that follows the root, a floor
grid, the caption with the active motion word highlighted, body parts coloured by attention and a
time bar with one lane per motion word (its onset-offset segment and its window Γ). What is shown
when follows :mod:`m2t.models.scene`. Frames are drawn with Pillow at twice the size and reduced
(anti-aliasing); GIFs are written by Pillow, MP4s by the ffmpeg binary of ``imageio-ffmpeg``.

Colours: without an active word (and with ``attention=False``) left limbs are blue, right limbs
green, the spine grey. While a word is active every body part blends, by the word's strength Γ,
towards a grey (α = 0) → orange → red (α = 1) scale of its attention α, and its joints grow.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from m2t.converters.errors import ConfigError
from m2t.converters.fileio import atomic_path
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from . import scene

FORMATS = ("gif", "mp4")
DEFAULT_SIZE = (480, 480)
SS = 2                                   # supersampling factor
TEXT = (40, 42, 48)
MUTED = (130, 134, 142)
GRID, SHADOW, TRAIL = scene.GRID, scene.SHADOW, scene.TRAIL
BG, HILITE, SIDE_COLOURS, heat = scene.BG, scene.HILITE, scene.SIDE_COLOURS, scene.heat


def parse_size(size) -> tuple[int, int]:
    """'640x480', (640, 480) or 480 (square) -> (width, height); 160..2000 pixels each."""
    try:
        if isinstance(size, str):
            w, _, h = size.lower().partition("x")
            wh = (int(w), int(h or w))
        elif isinstance(size, int):
            wh = (size, size)
        else:
            wh = (int(size[0]), int(size[1]))
    except (ValueError, TypeError, IndexError):
        raise ConfigError(f"--size {size!r}: give WIDTHxHEIGHT in pixels, e.g. 480x480") from None
    if not all(160 <= v <= 2000 for v in wh):
        raise ConfigError(f"--size {size!r}: width and height must be 160..2000 pixels")
    return wh


def _font(px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    import matplotlib
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), px)


@dataclass
class RenderInfo:
    path: Path
    frames: int
    fps: float
    duration_s: float
    width: int
    height: int


class Renderer:
    """Draws the frames of one captioned clip (positions: (T, J, 3) canonical metres at `fps`)."""

    def __init__(self, positions, fps: float, skeleton: str, result, size=DEFAULT_SIZE, camera: str = "follow",
                 attention: bool = True, observed=None):
        scene.camera_pose(camera, np.zeros(3), 0.0)                   # validates the camera name
        self.w, self.h = parse_size(size)
        self.pos, self.fps, self.result = np.asarray(positions, float), float(fps), scene.timeline_view(result)
        self.sk, self.camera, self.attention = get_skeleton(skeleton), camera, attention
        self.parts, self.sides = scene.joint_parts(skeleton), scene.joint_sides(skeleton)
        self.observed = np.ones(len(self.parts), bool) if observed is None else np.asarray(observed, bool)
        self.targets, self.heads = scene.camera_path(self.pos, self.fps, skeleton)
        W, H = self.w * SS, self.h * SS
        self.fs = max(10, round(self.h * SS / 27))                    # base font size
        self.f_cap, self.f_bold = _font(self.fs), _font(self.fs, True)
        self.f_small = _font(round(self.fs * 0.72))
        # a timeline take (any number of actions): one lane of all actions, the active one's clause
        self.clauses = scene.timeline_clauses(result)[1] if result.is_timeline else []
        self.lanes = [] if self.clauses else result.motion_words
        self.lane_h = round(self.fs * 0.95)
        spans = [range(a, b) for a, b, _, _ in self.clauses] or [range(len(result.tokens))]
        wrapped = [self._wrap(W - 2 * self.fs, span) for span in spans]
        self.cap_lines = wrapped[0]
        self.clause_lines = wrapped if self.clauses else []
        self.bar_h = self.lane_h * max(1, len(self.lanes)) + round(self.fs * 1.2)
        self.cap_h = round(self.fs * 1.45) * max(len(w) for w in wrapped) + round(self.fs * 1.4)
        self.view_h = H - self.bar_h - self.cap_h
        if self.view_h < H * 0.4:
            raise ConfigError(f"--size {self.w}x{self.h}: too small for a caption of {len(spans[0])} words "
                              f"and {len(self.lanes)} motion words; make it taller")
        names = [t.word for t in self.lanes] + (["actions"] if self.clauses else [])
        self.label_w = max([self.f_small.getlength(w) for w in names] + [self.fs * 2]) + self.fs * 0.8
        self.trail = self.pos[:, 0, :] * [1, 0, 1]

    # ------------------------------------------------------------------ layout helpers
    def _wrap(self, width: float, span) -> list[list[int]]:
        """Token indices of `span` (of the shown caption) in lines that fit `width`."""
        lines, cur, x = [], [], 0.0
        space = self.f_cap.getlength(" ")
        for t in (self.result.tokens[k] for k in span):
            wl = self._font_of(t).getlength(t.word)
            if cur and x + space + wl > width:
                lines.append(cur)
                cur, x = [], 0.0
            x += (space if cur else 0) + wl
            cur.append(t.index)
        return lines + [cur] if cur else lines or [[]]

    def _font_of(self, tok):
        return self.f_bold if tok.is_motion_word else self.f_cap

    # ------------------------------------------------------------------ drawing
    def frame(self, t: float, tl: scene.Timeline, i: int) -> Image.Image:
        """The frame at time `t`; `tl` is the timeline of all frame times and `i` this frame's index in it."""
        W, H = self.w * SS, self.h * SS
        img = Image.new("RGB", (W, H), BG)
        d = ImageDraw.Draw(img)
        pose = scene.sample_positions(self.pos, self.fps, [t])[0]
        k = min(int(round(t * self.fps)), len(self.pos) - 1)
        eye, target = scene.camera_pose(self.camera, self.targets[k], self.heads[k])
        proj = scene.Projector(eye, target, W, self.view_h)
        self._floor(d, proj, target, k)
        self._skeleton(d, proj, pose, tl, i)
        self._header(d, t, tl, i)
        self._caption(d, tl, i)
        self._bar(d, t, tl, i)
        return img.resize((self.w, self.h), Image.Resampling.LANCZOS)

    def _floor(self, d, proj, target, k):
        step, half = scene.GRID_STEP, scene.GRID_HALF
        cx, cz = np.round(target[[0, 2]] / step) * step
        for a in np.arange(-half, half + 1e-6, step):
            for p, q in (([cx + a, 0, cz - half], [cx + a, 0, cz + half]), ([cx - half, 0, cz + a], [cx + half, 0, cz + a])):
                self._segment(d, proj, np.array(p), np.array(q), GRID, SS)
        trail = self.trail[: k + 1]
        if len(trail) > 1:
            pts = proj(trail)
            d.line([tuple(p) for p in pts], fill=TRAIL, width=SS * 2)

    def _segment(self, d, proj, p, q, fill, width):
        near = scene.NEAR
        zp, zq = proj.depth(p), proj.depth(q)
        if zp < near and zq < near:
            return
        if zp < near:
            p = p + (q - p) * (near - zp) / (zq - zp)
        elif zq < near:
            q = q + (p - q) * (near - zq) / (zp - zq)
        a, b = proj(np.stack([p, q]))
        d.line([tuple(a), tuple(b)], fill=fill, width=width)

    def _colours(self, tl, i) -> tuple[np.ndarray, np.ndarray]:
        """(J, 3) RGB and (J,) attention of each joint at frame i."""
        base = np.stack([SIDE_COLOURS[int(s)] for s in self.sides])
        att = np.zeros(len(base))
        if self.attention and tl.active[i] >= 0:
            a, s = tl.alpha[i][self.parts], tl.strength[i]
            base, att = (1 - s) * base + s * heat(a), s * a
        fade = np.where(self.observed, 0.0, scene.UNOBSERVED_FADE)[:, None]
        return (1 - fade) * base + fade * np.array(BG, float), att

    def _skeleton(self, d, proj, pose, tl, i):
        shadow = proj(pose * [1, 0, 1])
        pts = proj(pose)
        depth = proj.depth(pose)
        col, att = self._colours(tl, i)
        bw = max(2, round(self.h * SS * scene.BONE_WIDTH))
        for j, p in enumerate(self.sk.parents):
            if p >= 0:
                d.line([tuple(shadow[j]), tuple(shadow[p])], fill=SHADOW, width=bw)
        bones = sorted((j for j, p in enumerate(self.sk.parents) if p >= 0), key=lambda j: -depth[j])
        for j in bones:
            p = self.sk.parents[j]
            d.line([tuple(pts[j]), tuple(pts[p])], fill=tuple(int(c) for c in col[j]), width=bw)
        for j in np.argsort(-depth):
            base, grow, head = scene.JOINT_RADIUS
            r = bw * (base + grow * att[j]) * (head if j == self.sk.head else 1.0)
            x, y = pts[j]
            d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in col[j]))

    def _header(self, d, t, tl, i):
        pad = self.fs * 0.6
        d.text((pad, pad), f"{Path(self.result.source).name}   {t:5.2f} / {self.result.duration_s:.2f} s",
               font=self.f_small, fill=MUTED)
        if self.attention:
            x1 = self.w * SS - pad
            x0 = x1 - self.fs * 5
            y0, y1 = pad + self.fs * 0.15, pad + self.fs * 0.6
            for c in range(int(x0), int(x1)):
                d.line([(c, y0), (c, y1)], fill=tuple(int(v) for v in heat((c - x0) / (x1 - x0))))
            lab = "attention α 0–1"
            d.text((x1 - self.f_small.getlength(lab), y1 + self.fs * 0.15), lab, font=self.f_small, fill=MUTED)

    def _caption(self, d, tl, i):
        y = self.view_h + self.fs * 0.2
        lh = round(self.fs * 1.45)
        space = self.f_cap.getlength(" ")
        act, s = int(tl.active[i]), float(tl.strength[i])
        lines = self.cap_lines
        if self.clauses:                                # the active action's clause (none between actions)
            lines = next((w for (a, b, _, _), w in zip(self.clauses, self.clause_lines) if a <= act < b), [])
        for line in lines:
            toks = [self.result.tokens[k] for k in line]
            widths = [self._font_of(t).getlength(t.word) for t in toks]
            x = (self.w * SS - sum(widths) - space * (len(toks) - 1)) / 2
            for t, wl in zip(toks, widths):
                if t.index == act:
                    fill = tuple(int(BG[c] + s * (HILITE[c] - BG[c])) for c in range(3))
                    d.rounded_rectangle([x - self.fs * 0.2, y - self.fs * 0.05, x + wl + self.fs * 0.2, y + self.fs * 1.2],
                                        radius=self.fs * 0.3, fill=fill)
                d.text((x, y), t.word, font=self._font_of(t), fill=TEXT if t.is_motion_word else MUTED)
                x += wl + space
            y += lh
        if act >= 0:
            tok = self.result.tokens[act]
            parts = ", ".join(f"{n.replace('_', ' ')} {100 * a:.0f}%" for n, a in
                              sorted(zip(PART_NAMES, tl.alpha[i]), key=lambda x: -x[1])[:2])
            cue = f"{tok.word}: {parts}" if self.attention else tok.word
            d.text(((self.w * SS - self.f_small.getlength(cue)) / 2, y + self.fs * 0.05), cue, font=self.f_small, fill=TEXT)

    def _bar(self, d, t, tl, i):
        W = self.w * SS
        top = self.h * SS - self.bar_h
        x0, x1 = self.label_w, W - self.fs * 0.8
        dur = max(self.result.duration_s, 1e-6)
        X = lambda s: x0 + (x1 - x0) * min(max(s / dur, 0.0), 1.0)
        ft = self.result.frame_times
        for n, tok in enumerate(self.lanes):
            y = top + n * self.lane_h
            d.rectangle([x0, y + 2, x1, y + self.lane_h - 2], fill=(236, 236, 230))
            on = tok.index == tl.active[i]
            d.rectangle([X(tok.onset_s), y + 2, X(tok.offset_s), y + self.lane_h - 2],
                        fill=HILITE if on else (196, 200, 210))
            if len(ft) > 1:
                g = self.result.window[tok.index]
                d.line([(X(a), y + self.lane_h - 2 - b * (self.lane_h - 4)) for a, b in zip(ft, g)],
                       fill=(90, 94, 104), width=SS)
            d.text((self.fs * 0.4, y + (self.lane_h - self.fs * 0.72) / 2 - SS), tok.word, font=self.f_small,
                   fill=TEXT if on else MUTED)
        if self.clauses:                                # one lane: every action's span, the active one lit
            y = top
            d.rectangle([x0, y + 2, x1, y + self.lane_h - 2], fill=(236, 236, 230))
            for _, _, k, seg in self.clauses:
                on = k == tl.active[i]
                a, b = X(seg["onset_s"]), max(X(seg["offset_s"]), X(seg["onset_s"]) + SS)
                d.rectangle([a, y + 2, b, y + self.lane_h - 2], fill=HILITE if on else (196, 200, 210),
                            outline=BG, width=SS)
                if self.f_small.getlength(seg["word"]) < b - a - SS * 4:
                    d.text((a + SS * 2, y + (self.lane_h - self.fs * 0.72) / 2 - SS), seg["word"],
                           font=self.f_small, fill=TEXT if on else MUTED)
            d.text((self.fs * 0.4, y + (self.lane_h - self.fs * 0.72) / 2 - SS), "actions", font=self.f_small,
                   fill=TEXT)
        elif not self.lanes:
            d.text((x0, top), "no motion words in this caption", font=self.f_small, fill=MUTED)
        yb = top + self.lane_h * max(1, len(self.lanes))
        d.line([(x0, yb + 2), (x1, yb + 2)], fill=MUTED, width=SS)
        every = max(1, int(np.ceil(dur / 10)))
        for s in range(0, int(dur) + 1, every):
            lab = f"{s}s"
            lx = min(X(s) + SS * 2, x1 - self.f_small.getlength(lab))
            d.line([(X(s), yb), (X(s), yb + self.fs * 0.3)], fill=MUTED, width=SS)
            d.text((lx, yb + SS), lab, font=self.f_small, fill=MUTED)
        d.line([(X(t), top), (X(t), yb + self.fs * 0.3)], fill=(215, 25, 28), width=SS * 2)


def render_frames(motion, result, size=DEFAULT_SIZE, fps: float | None = None, camera: str = "follow",
                  attention: bool = True):
    """Yield the frames (PIL RGB images) of a canonical Motion and its CaptionResult at `fps`
    (default: the motion's) from t = 0 to the clip's end: max(1, round(duration·fps)) frames."""
    fps = float(fps or motion.fps)
    times = scene.clip_times(motion.n_frames / motion.fps, fps)
    r = Renderer(motion.positions, motion.fps, motion.skeleton, result, size, camera, attention,
                 scene.observed_joints(motion))
    tl = scene.timeline(r.result, times)
    for i, t in enumerate(times):
        yield r.frame(float(t), tl, i)


def check_render_options(fmt: str = "gif", size=DEFAULT_SIZE, fps: float | None = None,
                         camera: str = "follow") -> tuple[int, int]:
    """The one check of the render options (library and CLI alike); -> (width, height).
    ConfigError naming the flag for a bad format, size, fps (1..60), camera or an odd MP4 size."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
    w, h = parse_size(size)
    if fmt == "mp4" and (w % 2 or h % 2):
        raise ConfigError(f"--size {w}x{h}: MP4 needs an even width and height")
    if fps is not None and not 1 <= fps <= 60:
        raise ConfigError(f"--fps must be 1..60, got {fps:g}")
    scene.camera_pose(camera, np.zeros(3), 0.0)
    return w, h


def gif_durations(n: int, fps: float) -> list[int]:
    """Per-frame GIF delays in ms on GIF's 10 ms grid, summing to round(n / fps) at 10 ms."""
    edges = [int(round(100 * k / fps)) * 10 for k in range(n + 1)]
    return [max(10, b - a) for a, b in zip(edges, edges[1:])]


def render_clip(motion, result, path, fmt: str | None = None, size=DEFAULT_SIZE, fps: float | None = None,
                camera: str = "follow", attention: bool = True, progress=None) -> RenderInfo:
    """Write the animation of `motion` + `result` to `path` as GIF or MP4 (`fmt`, default from the
    suffix), atomically. `progress(i, n)` is called after each frame."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    (w, h), fps = check_render_options(fmt, size, fps, camera), float(fps or motion.fps)
    n = len(scene.clip_times(motion.n_frames / motion.fps, fps))
    frames = render_frames(motion, result, (w, h), fps, camera, attention)
    with atomic_path(path) as tmp:
        if fmt == "gif":
            _write_gif(tmp, frames, n, fps, progress)
        else:
            _write_mp4(tmp, frames, n, fps, (w, h), progress)
    return RenderInfo(path, n, fps, n / fps, w, h)


def _write_gif(tmp, frames, n, fps, progress):
    pal = []
    for i, im in enumerate(frames):
        pal.append(im.quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE))
        if progress:
            progress(i + 1, n)
    pal[0].save(tmp, format="GIF", save_all=True, append_images=pal[1:], duration=gif_durations(n, fps),
                loop=0, optimize=False, disposal=1)


def _write_mp4(tmp, frames, n, fps, size, progress):
    import imageio_ffmpeg
    writer = imageio_ffmpeg.write_frames(str(tmp), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=1, quality=7, ffmpeg_log_level="error",
                                         output_params=["-f", "mp4"])
    writer.send(None)
    try:
        for i, im in enumerate(frames):
            writer.send(np.ascontiguousarray(np.asarray(im, np.uint8)))
            if progress:
                progress(i + 1, n)
    finally:
        writer.close()
