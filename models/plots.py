"""`m2t evaluate --plots DIR`: the paper's interpretability figures over a whole split (PNG).

- `beta_density.png` (paper Fig. 2a, 3): Gaussian kernel density (Scott's bandwidth) of β̂ per
  word stem, the most frequent motion-word stems (β target 1) and non-motion stems (target 0)
  in two panels;
- `parts_<stem>.png` (Fig. 2b, 4, 12-14): for each frequent motion-word stem, over its
  occurrences, histograms (25 bins on [0, 1], one per body part) of the part's maximum over time
  of Γ_k·α_ki, and beside it how often each part holds the maximum;
- `windows_<id>.png` (Fig. 5): the Gaussian windows Γ of every motion word of a clip over time,
  with the ground-truth actions shaded on composed sequences;
- `attention_<id>.png` (Fig. 7): parts × time maps of Γ·α per motion word of a clip
  (`models.writers.write_heatmap`).
Captions are greedy (or `beam`) predictions of the model on the split.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from m2t.converters.fileio import atomic_path
from m2t.converters.skeletons import PART_NAMES, get_skeleton

from . import data as D
from .compose import read_segments
from .results import feature_time
from .supervision import caption_targets, stem

DPI = 100
PART_COLOURS = ("#444444", "#8c564b", "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")


@dataclass
class Trace:
    id: str
    words: list
    targets: np.ndarray          # β target per word (1 motion, 0 non-motion, -1 neither)
    beta: np.ndarray             # β̂ per word
    window: np.ndarray           # (S, n) Γ
    alpha: np.ndarray            # (S, n, 6)
    times: np.ndarray            # (n,) seconds of the feature frames
    duration_s: float
    doc: dict | None             # segments JSON of a composed sequence
    dec: object = None           # the Decoded caption (for attention maps)
    frames: int = 0              # source frames


def collect(bundle, dataset, split: str = "test", beam: int = 1, batch_size: int = 32, limit: int | None = None,
            progress=None) -> list[Trace]:
    """Decode every motion of a split with its trace (`limit`: the first N ids only)."""
    from .decoding import decode_samples
    root, _ = D.resolve_dataset(str(dataset))
    samples, _ = D.load_samples(root, D.read_split(root, split)[:limit])
    if not samples:
        raise D.DatasetError(f"{root}: no motions with captions in split {split!r}")
    ds, fps = bundle.downsample, float(get_skeleton(bundle.cfg.skeleton).fps)
    out = []
    for chunk, decs, _ in decode_samples(bundle, samples, beam, batch_size, progress=progress):
        for s, dec in zip(chunk, decs):
            words = bundle.vocab.decode(dec.ids)
            tgt = caption_targets(words)[0] if words else np.zeros(0)
            n = dec.window.shape[1]
            out.append(Trace(s.id, words, tgt, dec.beta[:len(words)], dec.window[:len(words)], dec.alpha[:len(words)],
                             feature_time(np.arange(n), fps, ds), s.joints.shape[0] / fps, read_segments(root, s.id),
                             dec, s.joints.shape[0]))
    return out


def _figure(w_in: float, h_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w_in, h_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return Path(path)


def kde(values, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of `values` on `grid`, Scott's bandwidth (floor 0.01)."""
    v = np.asarray(values, float)
    h = max(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 1e-12) * len(v) ** (-1 / 5)
    h = max(h, 0.01)
    z = (grid[:, None] - v[None, :]) / h
    return np.exp(-0.5 * z ** 2).sum(1) / (len(v) * h * np.sqrt(2 * np.pi))


def beta_by_stem(traces: list[Trace]) -> tuple[dict, dict]:
    """({motion stem: [β̂]}, {non-motion stem: [β̂]}) over every predicted token."""
    mot, non = defaultdict(list), defaultdict(list)
    for t in traces:
        for w, tg, b in zip(t.words, t.targets, t.beta):
            if tg == 1:
                mot[stem(w)].append(float(b))
            elif tg == 0:
                non[stem(w)].append(float(b))
    return mot, non


def plot_beta_density(traces: list[Trace], path, n_words: int = 8) -> Path:
    mot, non = beta_by_stem(traces)
    grid = np.linspace(0, 1, 201)
    fig = _figure(11, 4.2)
    axes = fig.subplots(1, 2)
    for ax, groups, title in ((axes[0], mot, "motion words"), (axes[1], non, "non-motion words")):
        top = sorted(groups, key=lambda k: -len(groups[k]))[:n_words]
        for k in top:
            ax.plot(grid, kde(groups[k], grid), label=f"{k} (n={len(groups[k])})")
        ax.set_xlim(0, 1)
        ax.set_xlabel(r"$\hat\beta$ (gate: share of motion context)")
        ax.set_ylabel("density")
        ax.set_title(f"{title}: " + r"$\hat\beta$ density per stem")
        if top:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "none predicted", ha="center", transform=ax.transAxes)
    return _save(fig, path)


def max_part_attention(traces: list[Trace]) -> dict:
    """{motion stem: (N, 6) per occurrence, each part's maximum over time of Γ_k·α_ki}."""
    out = defaultdict(list)
    for t in traces:
        for i, (w, tg) in enumerate(zip(t.words, t.targets)):
            if tg == 1 and t.window.shape[1]:
                out[stem(w)].append((t.window[i][:, None] * t.alpha[i]).max(0))
    return {k: np.array(v) for k, v in out.items()}


def plot_part_histogram(stem_word: str, values: np.ndarray, path) -> Path:
    fig = _figure(10, 3.8)
    ax, bx = fig.subplots(1, 2, width_ratios=(2.2, 1))
    bins = np.linspace(0, 1, 26)
    for j, name in enumerate(PART_NAMES):
        ax.hist(values[:, j], bins=bins, alpha=0.5, rwidth=0.9, color=PART_COLOURS[j], label=name.replace("_", " "))
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"maximum over time of $\Gamma_k\,\alpha_{ki}$")
    ax.set_ylabel("occurrences")
    ax.set_title(f'"{stem_word}": per-part maximum attention (# = {len(values)})')
    ax.legend(fontsize=8)
    wins = Counter(int(i) for i in values.argmax(1))
    bx.bar(range(6), [wins.get(j, 0) for j in range(6)], color=PART_COLOURS)
    bx.set_xticks(range(6), [p.replace("_", "\n") for p in PART_NAMES], fontsize=8)
    bx.set_ylabel("occurrences")
    bx.set_title("part with the maximum")
    return _save(fig, path)


def plot_windows(t: Trace, path) -> Path:
    fig = _figure(10, 3.6)
    ax = fig.subplots()
    if t.doc:
        for a in t.doc["actions"]:
            ax.axvspan(a["start_s"], a["end_s"], color="0.85" if a["index"] % 2 else "0.93", zorder=0)
            ax.text((a["start_s"] + a["end_s"]) / 2, 1.04, a["label"].split("|")[0][:18], ha="center", fontsize=7)
    for i, (w, tg) in enumerate(zip(t.words, t.targets)):
        if tg == 1:
            ax.plot(t.times, t.window[i], label=f"{w} (#{i})")
    ax.set_xlim(0, t.duration_s)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(r"temporal window $\Gamma$")
    ax.set_title(" ".join(t.words)[:110] or "(empty caption)", fontsize=9)
    if any(tg == 1 for tg in t.targets):
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def attention_map(t: Trace, bundle, path) -> Path:
    """Fig. 7 for one clip: `models.writers.write_heatmap` of its caption (parts × time of Γ·α
    per motion word)."""
    from .captioning import build_result
    from .writers import write_heatmap
    fps = t.frames / t.duration_s
    return write_heatmap(build_result(t.dec, bundle, t.id, t.frames, fps), path)


def write_plots(traces: list[Trace], out_dir, n_words: int = 12, n_clips: int = 4, bundle=None) -> list[Path]:
    """All figures for a split's traces; with `bundle` also the attention maps (Fig. 7).
    Clips for Fig. 5/7: composed sequences first (they show localisation), then by id."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [plot_beta_density(traces, out / "beta_density.png")]
    maxima = max_part_attention(traces)
    for k in sorted(maxima, key=lambda k: -len(maxima[k]))[:n_words]:
        paths.append(plot_part_histogram(k, maxima[k], out / f"parts_{_safe(k)}.png"))
    clips = sorted(traces, key=lambda t: (t.doc is None, t.id))[:n_clips]
    for t in clips:
        paths.append(plot_windows(t, out / f"windows_{_safe(t.id)}.png"))
        if bundle is not None and t.dec is not None:
            paths.append(attention_map(t, bundle, out / f"attention_{_safe(t.id)}.png"))
    return paths
