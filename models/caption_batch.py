"""What `m2t caption` runs, as a library: collect the inputs, plan every output path (the one
place for it), skip finished files, refuse collisions, caption in batches, write each format.

    plan = plan_captions(["lab_mocap/"], out="caps/", formats=["json", "srt"], recursive=True)
    for outcome in run_captions(plan, beam=2):
        print(outcome.source, outcome.written or outcome.error)

Output paths: ``<out>/<path relative to the input>/<stem>.<ext>`` (`m2t.converters.api.output_stem`);
without `out`, txt/json/srt go to the caller (stdout) and heatmaps to ``./<stem>.png``.
Formats and extensions: :data:`FORMATS`. Torch is imported only when captioning starts on the
torch backend (the ONNX Runtime backend never imports it: models/onnx_model.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from m2t.converters.api import check_out_dir, collect_inputs, output_stem
from m2t.converters.batch import check_jobs, select_shard
from m2t.converters.errors import ConfigError

from .onnx_model import check_backend
from .results import DENSE_AFTER_S, HOP_S, WINDOW_S, CaptionResult, check_options
from .styles import without_style
from .writers import EXTENSIONS, caption_json, caption_srt, caption_txt, write_heatmap, write_json, \
    write_srt, write_txt

FORMATS = tuple(EXTENSIONS)                     # txt, json, srt, heatmap


@dataclass
class CaptionJob:
    """One input file and the (format, path) pairs it writes (empty when printing to stdout)."""
    source: Path
    targets: list[tuple[str, Path]] = field(default_factory=list)
    skipped: bool = False                       # every target exists and overwrite is off


@dataclass
class CaptionPlan:
    jobs: list[CaptionJob]
    formats: list[str]
    to_stdout: bool                             # no -o and no heatmap: the caller prints `render`

    @property
    def todo(self) -> list[CaptionJob]:
        return [j for j in self.jobs if not j.skipped]

    @property
    def skipped(self) -> list[CaptionJob]:
        return [j for j in self.jobs if j.skipped]


@dataclass
class CaptionOutcome:
    """One captioned (or failed) file: `result` and the paths written, or a one-line `error`."""
    source: Path
    result: CaptionResult | None = None
    written: list[Path] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def plan_captions(inputs, out=None, formats=("txt",), recursive: bool = False,
                  overwrite: bool = False, shard=None) -> CaptionPlan:
    """Check the formats, expand the inputs and plan every output path; ConfigError with one line
    for no files, unknown formats, several formats without `out`, or two inputs writing one path.
    `shard` "i/N" keeps the i-th of N round-robin shards of the sorted inputs (converters.batch)."""
    formats = list(dict.fromkeys(formats or ["txt"]))
    for f in formats:
        if f not in FORMATS:
            raise ConfigError(f"--format {f!r} is not one of: {', '.join(FORMATS)}")
    files = select_shard(collect_inputs(inputs, recursive), shard)
    if not files:
        raise ConfigError(f"no motion files found in {', '.join(map(str, inputs))}"
                          + ("" if recursive else " (use --recursive for sub-folders)"))
    to_stdout = out is None and "heatmap" not in formats
    if out is None and len(formats) > 1:
        raise ConfigError("several --format values need -o DIR")
    if out is None and formats == ["srt"] and len(files) > 1:
        raise ConfigError("--format srt for several files needs -o DIR")
    jobs, seen = [], {}
    for path, rel in files:
        job = CaptionJob(Path(path))
        if not to_stdout:
            stem = output_stem(rel, Path(".") if out is None else out)
            if stem in seen:
                raise ConfigError(f"{seen[stem]} and {path} would both write {stem}.*; caption them separately")
            seen[stem] = path
            job.targets = [(f, stem.with_name(f"{stem.name}.{EXTENSIONS[f]}")) for f in formats]
            job.skipped = not overwrite and all(t.exists() for _, t in job.targets)
        jobs.append(job)
    if out is not None:
        check_out_dir(out)                       # "is a file" / "cannot create" in one line, before any work
    return CaptionPlan(jobs, formats, to_stdout)


def render(result: CaptionResult, fmt: str, single: bool, attention: bool = False) -> str:
    """Text for stdout: one file -> the format itself; several -> JSON Lines for json, else
    `path: caption` lines."""
    if single:
        return {"txt": caption_txt, "srt": caption_srt}.get(fmt, lambda r: caption_json(r, attention))(result)
    if fmt == "json":
        return caption_json(result, attention, indent=None)
    return f"{result.source}: {result.text}\n"


def write_outputs(result: CaptionResult, targets, attention: bool = False) -> list[Path]:
    """Write each (format, path) of `targets` atomically; returns the paths."""
    out = []
    for fmt, dest in targets:
        try:
            if fmt == "json":
                out.append(write_json(result, dest, attention))
            else:
                out.append({"txt": write_txt, "srt": write_srt, "heatmap": write_heatmap}[fmt](result, dest))
        except OSError as e:                     # name the output, not a temporary file or the folder
            raise OSError(e.errno, e.strerror or str(e), str(dest)) from e
    return out


def run_captions(plan: CaptionPlan, model=None, beam: int = 1, device: str = "auto", onset_rule: str = "fwhm",
                 attention: bool = False, batch_size: int = 16, progress=None, backend: str = "auto",
                 jobs: int = 1, window_s: float = WINDOW_S, hop_s: float = HOP_S, dense_after_s: float = DENSE_AFTER_S,
                 style: bool = True, **load_options) -> Iterator[CaptionOutcome]:
    """Caption the plan's unskipped files and write their outputs; one CaptionOutcome per file in
    order; never stops at a bad file (read or write). `progress(i, n, path)` as in iter_captions;
    `backend` as captioning.load_model; `jobs` worker processes caption the files (captioning.iter_captions,
    caption_workers.iter_captions_in_workers); `style=False` leaves style phrases out (models.styles)."""
    check_options(beam, onset_rule, device, batch_size)
    check_backend(backend)
    check_jobs(jobs)
    todo = plan.todo
    if not todo:
        return
    from . import caption_workers, captioning              # torch from here on only on the torch backend
    targets = {j.source: j.targets for j in todo}
    paths = [j.source for j in todo]
    if jobs > 1 and len(todo) > 1 and caption_workers.workers_load_model(captioning.resolve_model_dir(model),
                                                                          backend, device):
        stream = caption_workers.iter_captions_in_workers(           # no model loaded here first
            paths, captioning.resolve_model_dir(model), jobs, beam=beam, onset_rule=onset_rule,
            batch_size=batch_size, progress=progress, window_s=window_s, hop_s=hop_s, dense_after_s=dense_after_s,
            **load_options)
    else:
        stream = captioning.iter_captions(paths, captioning.load_model(model, device, backend), beam=beam,
                                          onset_rule=onset_rule, batch_size=batch_size, progress=progress, jobs=jobs,
                                          window_s=window_s, hop_s=hop_s, dense_after_s=dense_after_s, **load_options)
    for fc in stream:
        if not fc.ok:
            yield CaptionOutcome(fc.source, error=fc.error)
            continue
        if not style:
            fc.result = without_style(fc.result)
        try:
            written = write_outputs(fc.result, targets[fc.source], attention)
        except OSError as e:
            yield CaptionOutcome(fc.source, fc.result,
                                 error=f"{fc.source}: cannot write {e.filename} ({e.strerror or e})")
            continue
        yield CaptionOutcome(fc.source, fc.result, written)


def caption_segments(file, model=None, beam: int = 1, device: str = "auto", onset_rule: str = "fwhm",
                     backend: str = "auto", window_s: float = WINDOW_S, hop_s: float = HOP_S,
                     dense_after_s: float = DENSE_AFTER_S, style: bool = True, **load_options
                     ) -> tuple[CaptionResult, dict]:
    """What `m2t segment` runs: one file -> (CaptionResult, "m2t.segments/2" document); `style=False`
    leaves style phrases out (models.styles)."""
    check_options(beam, onset_rule, device)
    check_backend(backend)
    from .captioning import caption_motion, load_model
    from .results import segments_document
    bundle = load_model(model, device, backend)
    r = caption_motion(file, bundle, beam=beam, onset_rule=onset_rule, window_s=window_s, hop_s=hop_s,
                       dense_after_s=dense_after_s, **load_options)
    if not style:
        r = without_style(r)
    return r, segments_document(r)


def segment_format(fmt: str | None, out) -> str:
    """The segments output format: `fmt`, else from -o's suffix, else table (one place for the rule)."""
    if fmt is not None and fmt not in SEGMENT_FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of: {', '.join(SEGMENT_FORMATS)}")
    if fmt is None:
        suffix = Path(out).suffix.lower().lstrip(".") if out is not None else ""
        if out is not None and suffix not in ("csv", "json"):
            raise ConfigError(f"-o {out}: give --format csv or json (or a .csv/.json file name)")
        fmt = suffix or "table"
    if fmt == "table" and out is not None:
        raise ConfigError("--format table prints to the terminal; use --format csv or json with -o")
    return fmt


SEGMENT_FORMATS = ("table", "csv", "json")
