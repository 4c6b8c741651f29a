"""One self-contained HTML page per captioned clip, and an index page over a folder of them.

The page (template ``web/viewer.html`` + ``web/viewer.js`` + ``web/viewer.css``, inlined; plain
Canvas 2D, no library, no network) embeds one JSON document:

- ``caption``: the ``m2t.caption/1`` document with attention (``CaptionResult.to_dict(attention=True)``);
- ``motion``: the canonical joint positions (metres, 3 decimals) per frame, the skeleton's
  parents, joint names, the body part and side of each joint, the smoothed camera targets and
  headings (:func:`m2t.models.scene.camera_path`);
- ``timeline``: per canonical frame, the active word, its strength Γ and attention α
  (:func:`m2t.models.scene.timeline`), so the page shows exactly what ``m2t render`` shows;
- ``style``: the colours of :mod:`m2t.models.scene`.

A URL fragment ``#t=SECONDS`` opens the page paused at that time.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from m2t.converters.fileio import write_text_atomic
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from . import scene

WEB = Path(__file__).parent / "web"
DATA_MARK = "/*M2T_DATA*/"


def _round(a, nd: int):
    return np.round(np.asarray(a, float), nd).tolist()


def viewer_document(motion, result) -> dict:
    """The JSON document the page embeds (module docstring)."""
    sk = get_skeleton(motion.skeleton)
    view = scene.timeline_view(result)                    # a timeline take: its actions as motion words
    caption = view.to_dict(attention=True, clip_times=True)   # the page animates the clip
    if result.is_timeline:                                # its other words have no window: no arrays (size)
        for td in caption["tokens"]:
            if not td["is_motion_word"]:
                td.pop("window"), td.pop("alpha")
    result = view
    times = np.arange(motion.n_frames) / motion.fps
    targets, heads = scene.camera_path(motion.positions, motion.fps, motion.skeleton)
    tl = scene.timeline(result, times)
    return {
        "caption": caption,
        "motion": {"fps": float(motion.fps), "frames": int(motion.n_frames), "skeleton": motion.skeleton,
                   "joint_names": list(sk.joint_names), "parents": list(sk.parents), "head": sk.head,
                   "joint_parts": scene.joint_parts(motion.skeleton).tolist(),
                   "joint_sides": scene.joint_sides(motion.skeleton).tolist(),
                   "observed": scene.observed_joints(motion).tolist(),
                   "positions": _round(np.asarray(motion.positions).reshape(motion.n_frames, -1), 3),
                   "camera_targets": _round(targets, 3), "headings": _round(heads, 4)},
        "timeline": {"active": tl.active.tolist(), "strength": _round(tl.strength, 3), "alpha": _round(tl.alpha, 3)},
        "camera": {"azimuth": scene.CAMERA_AZIMUTH, "elevation": scene.CAMERA_ELEVATION,
                   "distance": scene.CAMERA_DISTANCE, "fov": scene.CAMERA_FOV},
        "style": {"bg": list(scene.BG), "hilite": list(scene.HILITE), "heat": scene.HEAT.tolist(),
                  "sides": {str(k): v.tolist() for k, v in scene.SIDE_COLOURS.items()}, "parts": list(PART_NAMES),
                  "grid": list(scene.GRID), "shadow": list(scene.SHADOW),
                  "trail": list(scene.TRAIL), "grid_step": scene.GRID_STEP, "grid_half": scene.GRID_HALF,
                  "near": scene.NEAR, "unobserved_fade": scene.UNOBSERVED_FADE, "bone_width": scene.BONE_WIDTH,
                  "joint_radius": list(scene.JOINT_RADIUS)},
    }


def _embed(doc: dict) -> str:
    """JSON that is safe inside a <script> element."""
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def viewer_html(motion, result) -> str:
    """The page as one string: HTML, CSS, JS and data, nothing loaded from elsewhere."""
    page = (WEB / "viewer.html").read_text(encoding="utf-8")
    title = f"m2t · {Path(result.source).name}"
    return (page.replace("{{title}}", html.escape(title))
                .replace("/*M2T_CSS*/", (WEB / "viewer.css").read_text(encoding="utf-8"))
                .replace("/*M2T_JS*/", (WEB / "viewer.js").read_text(encoding="utf-8"))
                .replace(DATA_MARK, _embed(viewer_document(motion, result))))


def write_viewer(motion, result, path) -> Path:
    """Write the viewer page of one clip (atomic)."""
    write_text_atomic(path, viewer_html(motion, result))
    return Path(path)


def index_html(entries, title: str = "m2t results") -> str:
    """An index page: `entries` are dicts {href, source, text, duration_s, motion_words} for pages
    written, or {source, error} for files that failed."""
    rows = []
    for e in entries:
        if e.get("error"):
            rows.append(f"<tr class='bad'><td>{html.escape(str(e['source']))}</td><td colspan='3'>"
                        f"{html.escape(e['error'])}</td></tr>")
            continue
        words = ", ".join(html.escape(w) for w in e.get("motion_words", []))
        rows.append(f"<tr><td><a href='{html.escape(str(e['href']), quote=True)}'>{html.escape(str(e['source']))}</a></td>"
                    f"<td>{html.escape(e['text'] or '(empty caption)')}</td><td>{words}</td>"
                    f"<td class='num'>{e['duration_s']:.2f}</td></tr>")
    page = (WEB / "index.html").read_text(encoding="utf-8")
    n_bad = sum(1 for e in entries if e.get("error"))
    summary = f"{len(entries) - n_bad} captioned clip(s)" + (f", {n_bad} failed" if n_bad else "")
    return (page.replace("{{title}}", html.escape(title)).replace("{{summary}}", summary)
                .replace("{{rows}}", "\n".join(rows)))


def index_entries(outcomes, out_dir) -> list[dict]:
    """Index rows for the outcomes of `visual_batch.run_visuals` (links relative to `out_dir`)."""
    return [{"source": str(o.source), "error": o.error} if not o.ok else
            {"source": str(o.source), "href": Path(os.path.relpath(o.dest, out_dir)).as_posix(),
             "text": o.result.text, "duration_s": o.result.duration_s,
             "motion_words": [t.word for t in o.result.motion_words]} for o in outcomes]


def write_index(entries, path, title: str = "m2t results") -> Path:
    write_text_atomic(path, index_html(entries, title))
    return Path(path)
