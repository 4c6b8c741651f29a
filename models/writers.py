"""Output writers for `m2t caption` and `m2t segment` (layouts in docs/outputs.md).

Every writer writes a temporary file beside the destination and renames it when complete, so an
interrupted run never leaves a half-written output. They take a `m2t.models.results.CaptionResult`
(or, for segments, the plain dict of `segments_document`) and import nothing heavy at module
level: matplotlib loads only inside :func:`write_heatmap`.
"""
from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

from m2t.converters.fileio import atomic_path, write_text_atomic

# heatmap geometry: fixed inches at a fixed dpi, chosen as exact binary fractions so the pixel
# size is exact: width 1000 px, height 50 + 200 px per panel (one panel per motion word, min 1)
HEATMAP_DPI = 100
HEATMAP_WIDTH_IN = 10.0
HEATMAP_HEADER_IN = 0.5
HEATMAP_PANEL_IN = 2.0
EXTENSIONS = {"txt": "txt", "json": "json", "srt": "srt", "heatmap": "png"}


# ----------------------------------------------------------------------------- txt / json
def caption_txt(result) -> str:
    """The caption and a newline."""
    return result.text + "\n"


def write_txt(result, path) -> Path:
    write_text_atomic(path, caption_txt(result))
    return Path(path)


def caption_json(result, attention: bool = False, indent: int | None = 1) -> str:
    """The "m2t.caption/2" document (m2t.models.schemas.CAPTION_SCHEMA) as JSON text."""
    return json.dumps(result.to_dict(attention=attention), indent=indent, allow_nan=False) + "\n"


def write_json(result, path, attention: bool = False) -> Path:
    write_text_atomic(path, caption_json(result, attention))
    return Path(path)


# ----------------------------------------------------------------------------- SubRip
def srt_time(seconds: float) -> str:
    """Seconds -> 'HH:MM:SS,mmm' (rounded to the millisecond)."""
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def _part_label(parts, top: int = 2) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {100 * score:.0f}%" for name, score in parts[:top])


def srt_cues(result) -> list[tuple[int, int, str]]:
    """(start ms, end ms, text) sorted by start: the whole caption over the clip, then one cue per
    action of the timeline (`result.segments`) from its onset to its offset: its clause, side and
    top parts. Cues shorter than one feature frame are widened to one feature frame around their
    middle; all cues lie within the clip, in seconds of the source file (+ `time_offset_s`)."""
    cues = _clip_cues(result)
    off = int(round(1000 * result.time_offset_s))
    return [(a + off, b + off, text) for a, b, text in cues]


def _clip_cues(result) -> list[tuple[int, int, str]]:
    dur = int(round(result.duration_s * 1000))
    step = 1000.0 * result.downsample / result.fps
    cues = [(0, dur, 0, -1, result.text or "(empty caption)")]
    for k, act in enumerate(result.segments):
        a, b = 1000.0 * act["onset_s"], 1000.0 * act["offset_s"]
        if b - a < step:
            mid = (a + b) / 2
            a, b = mid - step / 2, mid + step / 2
        a, b = int(round(max(0.0, a))), int(round(min(float(dur), b)))
        if b <= a:                                   # a clip shorter than one feature frame
            a, b = max(0, min(a, dur - 1)), min(dur, max(b, a + 1))
        parts = [(p["name"], p["score"]) for p in act["parts"]]
        text = act["text"] + (f" ({_part_label(parts)})" if parts else "")
        if act.get("low_confidence"):
            text += " [low confidence]"
        cues.append((a, b, 1, k, text))
    cues.sort(key=lambda c: (c[0], c[2], c[3]))
    return [(a, b, text) for a, b, _, _, text in cues]


def caption_srt(result) -> str:
    """Valid SubRip: 1-based cue numbers, 'HH:MM:SS,mmm --> HH:MM:SS,mmm', blank line between cues."""
    blocks = [f"{i}\n{srt_time(a / 1000)} --> {srt_time(b / 1000)}\n{text}\n"
              for i, (a, b, text) in enumerate(srt_cues(result), 1)]
    return "\n".join(blocks)


def write_srt(result, path) -> Path:
    write_text_atomic(path, caption_srt(result))
    return Path(path)


# ----------------------------------------------------------------------------- heatmap
def heatmap_size(n_motion_words: int) -> tuple[int, int]:
    """(width, height) in pixels of the heatmap PNG for a caption with that many motion words."""
    n = max(1, n_motion_words)
    return (int(HEATMAP_WIDTH_IN * HEATMAP_DPI),
            int((HEATMAP_HEADER_IN + HEATMAP_PANEL_IN * n) * HEATMAP_DPI))


def write_heatmap(result, path) -> Path:
    """PNG, as the paper's Fig. 7: one panel per motion word, body parts (rows) × time in seconds
    (columns) of Γ_k·α_ki, viridis (scaled 0..panel max), title = word, β̂ and onset-offset; dashed
    lines at onset and offset; the caption on top. Size: heatmap_size(n) = 1000 × (50 + 200·n) px.
    A take captioned as a timeline of actions (no caption of the whole take, `result.segments`)
    gets one panel of its timeline instead (`_timeline_panel`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from m2t.converters.skeletons import PART_NAMES

    words = result.motion_words
    n = max(1, len(words))
    w_px, h_px = heatmap_size(len(words))
    fig = Figure(figsize=(w_px / HEATMAP_DPI, h_px / HEATMAP_DPI), dpi=HEATMAP_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(textwrap.shorten(f"{Path(result.source).name}: {result.text or '(empty caption)'}", 120),
                 fontsize=11)
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    times = result.frame_times
    dt = result.downsample / result.fps
    for ax, t in zip(axes, words):
        m = result.attention_map(t.index)                     # (6, n_frames)
        im = ax.imshow(m, aspect="auto", cmap="viridis", interpolation="nearest", vmin=0.0,
                       vmax=max(float(m.max()), 1e-6),
                       extent=(float(times[0]) - dt / 2, float(times[-1]) + dt / 2, len(PART_NAMES) - 0.5, -0.5))
        ax.set_xlim(0.0, result.duration_s)
        ax.set_yticks(range(len(PART_NAMES)), [p.replace("_", " ") for p in PART_NAMES], fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("time (s)", fontsize=8)
        for x in (t.onset_s, t.offset_s):
            ax.axvline(x, color="white", linestyle="--", linewidth=0.8)
        ax.set_title(rf"{t.word}   $\hat\beta$ = {t.beta:.2f}   {t.onset_s:.2f}-{t.offset_s:.2f} s", fontsize=10)
        fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03, label=r"$\Gamma\cdot\alpha$")
    if result.is_timeline:
        _timeline_panel(fig, axes[0], result)
    elif not words:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "no motion words in this caption", ha="center", va="center", fontsize=12)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=HEATMAP_DPI)
    return Path(path)


TIMELINE_STEP_S = 0.05


def timeline_matrix(segments: list, duration_s: float, step_s: float = TIMELINE_STEP_S):
    """(6, ceil(duration / step)) body parts (PART_NAMES order) × time cells: each segment's part
    scores over the cells its [onset, offset] touches (the larger where two overlap), 0 elsewhere."""
    import numpy as np

    from m2t.converters.skeletons import PART_NAMES
    n = max(1, int(np.ceil(duration_s / step_s)))
    m = np.zeros((len(PART_NAMES), n))
    row = {p: i for i, p in enumerate(PART_NAMES)}
    for seg in segments:
        a = min(max(int(np.floor(seg["onset_s"] / step_s)), 0), n - 1)
        b = min(max(int(np.ceil(seg["offset_s"] / step_s)), a + 1), n)
        for p in seg["parts"]:
            m[row[p["name"]], a:b] = np.maximum(m[row[p["name"]], a:b], p["score"])
    return m


def _timeline_panel(fig, ax, result) -> None:
    """The timeline of a take (its `segments`): body parts (rows) × time (columns), each action's
    span filled with its body-part shares (the attention of its word, averaged over the windows
    that named it), dashed lines at onsets and offsets, the action words above their spans."""
    from m2t.converters.skeletons import PART_NAMES
    m = timeline_matrix(result.segments, result.duration_s)
    n = m.shape[1]
    im = ax.imshow(m, aspect="auto", cmap="viridis", interpolation="nearest", vmin=0.0,
                   vmax=max(float(m.max()), 1e-6), extent=(0.0, n * TIMELINE_STEP_S, len(PART_NAMES) - 0.5, -0.5))
    ax.set_xlim(0.0, result.duration_s)
    ax.set_yticks(range(len(PART_NAMES)), [p.replace("_", " ") for p in PART_NAMES], fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("time (s)", fontsize=8)
    for seg in result.segments:
        for x in (seg["onset_s"], seg["offset_s"]):
            ax.axvline(x, color="white", linestyle="--", linewidth=0.8)
        ax.text((seg["onset_s"] + seg["offset_s"]) / 2, -0.55, seg["word"], ha="center", va="bottom",
                fontsize=8, clip_on=False)
    ax.set_title(f"timeline: {len(result.segments)} actions, each with the body-part shares of its word\n",
                 fontsize=10)
    fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03, label="share of attention")


# ----------------------------------------------------------------------------- segments
SEGMENT_COLUMNS = ("index", "word", "text", "onset_s", "offset_s", "side", "confidence", "windows", "parts",
                   "in_domain", "low_confidence")


def segments_csv(doc: dict) -> str:
    """CSV with a header: index, word, text, onset_s, offset_s, side, confidence, windows, parts,
    in_domain, low_confidence (empty without a calibration; 1/0), one row per action of the
    timeline; parts is 'name:score' pairs separated by spaces, ranked."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SEGMENT_COLUMNS)
    for s in doc["segments"]:
        w.writerow([s["index"], s["word"], s["text"], f"{s['onset_s']:.3f}", f"{s['offset_s']:.3f}", s["side"] or "",
                    f"{s['confidence']:.4f}", s["windows"], " ".join(f"{p['name']}:{p['score']:.4f}" for p in s["parts"]),
                    "" if s.get("in_domain") is None else f"{s['in_domain']:.4f}",
                    "" if s.get("low_confidence") is None else int(s["low_confidence"])])
    return buf.getvalue()


def segments_json(doc: dict) -> str:
    """The "m2t.segments/2" document (m2t.models.schemas.SEGMENTS_SCHEMA) as JSON text."""
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def write_segments(doc: dict, path, fmt: str = "csv") -> Path:
    if fmt not in ("csv", "json"):
        raise ValueError(f"segment format must be csv or json, not {fmt!r}")
    write_text_atomic(path, segments_csv(doc) if fmt == "csv" else segments_json(doc))
    return Path(path)


WRITERS = {"txt": write_txt, "json": write_json, "srt": write_srt, "heatmap": write_heatmap}
