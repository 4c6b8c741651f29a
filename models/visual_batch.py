"""What `m2t render` and `m2t view` run, as a library: plan one output per input file, caption
each clip, write it, never stop at a bad file.

    jobs = plan_visuals(["lab_mocap/"], out="anim/", ext="gif", recursive=True)
    for o in run_visuals(jobs, lambda m, r, dest: render_clip(m, r, dest), beam=1):
        print(o.source, o.info if o.ok else o.error)

Output paths mirror the input tree: ``<out>/<path relative to the input>/<stem>.<ext>``
(`m2t.converters.api.output_stem`, default `out` ".", created when missing); with one input file, `out` may also be the
output file itself (its suffix is `ext`). Torch is imported only when captioning starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from m2t.converters.api import check_out_dir, check_unique_stems, collect_inputs, load_motion
from m2t.converters.body import recorded_warnings_only
from m2t.converters.errors import ConfigError, M2TError

from .results import CaptionResult, check_options
from .styles import without_style


@dataclass
class VisualOutcome:
    """One file: `info` (what the writer returned) and `result`, or a one-line `error`."""
    source: Path
    dest: Path
    info: object = None
    result: CaptionResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


FILE_SUFFIXES = {".gif", ".mp4", ".avi", ".mov", ".mkv", ".webm", ".png", ".jpg", ".jpeg", ".html", ".htm",
                 ".json"}      # an -o ending so names a file, never a folder to create


def plan_visuals(inputs, out=None, ext: str = "gif", recursive: bool = False,
                 verb: str = "render") -> list[tuple[Path, Path]]:
    """(source, dest) per input file, the output folder created; ConfigError with one line for no
    files, a file name given for several inputs, an output folder that is a file or not writable,
    or two inputs writing one path."""
    files = collect_inputs(inputs, recursive)
    if not files:
        raise ConfigError(f"no motion files found in {', '.join(map(str, inputs))}"
                          + ("" if recursive else " (use --recursive for sub-folders)"))
    if out is not None and Path(out).suffix.lower() == f".{ext}":
        if len(files) > 1:
            raise ConfigError(f"-o {out}: several input files need an output folder")
        check_out_dir(Path(out).parent)
        return [(Path(files[0][0]), Path(out))]
    out_dir = Path(".") if out is None else Path(out)
    if out_dir.suffix.lower() in FILE_SUFFIXES and not out_dir.is_dir():
        raise ConfigError(f"-o {out}: {verb} writes .{ext} files here; give a name ending in .{ext} "
                          "or an output folder")
    if out_dir.exists() and not out_dir.is_dir():
        check_out_dir(out_dir)                           # the one-line "is a file" error, first
    stems = check_unique_stems(files, out_dir, verb)
    check_out_dir(out_dir)
    return [(Path(path), stems[path].with_name(f"{stems[path].name}.{ext}")) for path, _ in files]


def caption_clip(path, bundle, beam: int = 1, onset_rule: str = "fwhm", device: str | None = None,
                 style: bool = True, **load_options):
    """Read a motion file onto the model's skeleton and caption it: (canonical Motion, CaptionResult);
    `style=False` leaves style phrases out (models.styles)."""
    from .captioning import caption_motion
    with recorded_warnings_only():                    # the result carries them
        m = load_motion(path, skeleton=bundle.cfg.skeleton, **load_options)
    r = caption_motion(m, bundle, beam=beam, device=device, onset_rule=onset_rule)
    r.source = str(path)
    return m, (r if style else without_style(r))


def iter_visuals(jobs, bundle, write, beam: int = 1, onset_rule: str = "fwhm", device: str | None = None,
                 progress=None, style: bool = True, **load_options):
    """For each (source, dest) in `jobs`: read, caption, then `write(motion, result, dest)`; yields a
    VisualOutcome per file in order and never stops at a bad file (M2TError or OSError).
    `progress(i, n, path)` is called before each file."""
    jobs = [(Path(s), Path(d)) for s, d in jobs]
    for i, (src, dest) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), src)
        try:
            m, r = caption_clip(src, bundle, beam, onset_rule, device, style, **load_options)
        except M2TError as e:
            yield VisualOutcome(src, dest, error=str(e))
            continue
        try:
            yield VisualOutcome(src, dest, write(m, r, dest), r)
        except M2TError as e:
            msg = str(e)
            yield VisualOutcome(src, dest, result=r, error=msg if msg.startswith(str(src)) else f"{src}: {msg}")
        except OSError as e:
            yield VisualOutcome(src, dest, result=r, error=f"{src}: cannot write {dest} ({e.strerror or e})")


def run_visuals(jobs, write, model=None, beam: int = 1, device: str = "auto", onset_rule: str = "fwhm",
                progress=None, style: bool = True, **load_options):
    """Load the model (default: the shipped one) and run :func:`iter_visuals` over `jobs`."""
    check_options(beam, onset_rule, device)
    from .captioning import load_model                 # torch from here on
    bundle = load_model(model, device)
    yield from iter_visuals(jobs, bundle, write, beam, onset_rule, None, progress, style, **load_options)
