"""`m2t render` (GIF/MP4 animation) and `m2t view` (self-contained HTML viewer): thin wrappers over
models.render and models.viewer (docs/visualise.md). torch loads only when a command runs."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from m2t.converters.options import check_load_options
from m2t.models.results import check_options
from m2t.models.visual_batch import plan_visuals, run_visuals

from .caption_cmds import H_ASF, H_BEAM, H_BODY, H_DEVICE, H_JMAP, H_MODEL, H_RULE, H_SFPS, H_STYLE, H_UNITS, H_UP
from .errors import EXIT_BATCH_FAILED, EXIT_USER_ERROR, fail, user_errors
from .progress import bar as progress_bar


def _run(jobs, n_files, verb, write, model, device, beam, onset_rule, load_options, describe, ui=None, style=True):
    """Caption and write each job; print one line per file; list failures; exit 1 (batch) / 2 (one file).
    `ui["bar"]` is set to the progress bar (for per-frame progress) when `ui` is given."""
    outcomes, failed = [], []
    with user_errors(), progress_bar() as bar:
        task = bar.add_task(verb, total=len(jobs), visible=len(jobs) > 1)
        if ui is not None:
            ui["bar"] = bar

        def progress(i, n, path):
            bar.update(task, completed=i, description=f"{verb} {Path(path).name}")

        for o in run_visuals(jobs, write, model, beam=beam, device=device, onset_rule=onset_rule,
                             progress=progress, style=style, **load_options):
            outcomes.append(o)
            if not o.ok:
                failed.append(o.error)
                continue
            for w in o.result.warnings:
                typer.echo(f"Warning: {o.source}: {w}", err=True)
            typer.echo(f"{o.source} -> {o.dest}{describe(o)}")
        bar.update(task, completed=len(jobs))
    if n_files > 1:
        typer.echo(f"{len(outcomes) - len(failed)} written, {len(failed)} failed", err=True)
    for e in failed:
        typer.echo(f"Error: {e}", err=True)
    return outcomes, (EXIT_USER_ERROR if n_files == 1 else EXIT_BATCH_FAILED) if failed else 0


def _checks(beam, device, onset_rule, units, up):
    check_options(beam, onset_rule, device)
    check_load_options(units=units, up=up)


def render(
    inputs: List[Path] = typer.Argument(..., help="Motion files (.bvh .amc .c3d .npz .npy, optionally .gz) or folders."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output folder (mirrors input folders) "
                                       "[default: .]; for one input also a file name ending in .gif/.mp4."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", show_default=False,
                                      help="gif (Pillow) or mp4 (H.264, ffmpeg from imageio-ffmpeg) "
                                           "[default: the suffix of -o FILE, else gif]."),
    size: str = typer.Option("480x480", help="WIDTHxHEIGHT in pixels (160..2000; mp4: even numbers)."),
    fps: Optional[float] = typer.Option(None, help="Frames per second [default: the clip's, 20 t2m / 12.5 kit]."),
    camera: str = typer.Option("follow", help="follow (3/4 front view turning with the body), front or side; "
                               "all follow the root."),
    attention: bool = typer.Option(True, "--attention/--no-attention",
                                   help="Colour body parts by the active word's attention α."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    beam: int = typer.Option(1, help=H_BEAM),
    device: str = typer.Option("auto", help=H_DEVICE),
    model: Optional[Path] = typer.Option(None, "--model", help=H_MODEL),
    onset_rule: str = typer.Option("fwhm", help=H_RULE),
    units: Optional[str] = typer.Option(None, help=H_UNITS),
    up: Optional[str] = typer.Option(None, help=H_UP),
    asf: Optional[Path] = typer.Option(None, help=H_ASF),
    source_fps: Optional[float] = typer.Option(None, help=H_SFPS),
    joint_map: Optional[Path] = typer.Option(None, help=H_JMAP),
    style: bool = typer.Option(True, "--style/--no-style", help=H_STYLE),
    body_model_dir: Optional[Path] = typer.Option(None, help=H_BODY),
):
    """Animate motion files with their caption: the skeleton from a camera following the root,
    the caption with the active motion word highlighted, body parts coloured by attention and a
    time bar with each motion word's onset-offset segment.

    Examples:

      m2t render walk.bvh                          # ./walk.gif

      m2t render walk.bvh --size 640x480 --camera side -o walk.mp4

      m2t render lab_mocap/ -r -o anim/ --no-attention

      m2t render 07_05.amc --asf 07.asf --fps 10
    """
    with user_errors():
        _checks(beam, device, onset_rule, units, up)
        from m2t.models.render import FORMATS, check_render_options
        if fmt is None:                              # -o walk.mp4 says mp4
            fmt = next((f for f in FORMATS if out is not None and out.suffix.lower() == f".{f}"), "gif")
        wh = check_render_options(fmt, size, fps, camera)
        jobs = plan_visuals(inputs, out, fmt, recursive)

    ui = {}

    def write(m, r, dest):
        from m2t.models.render import render_clip
        bar = ui["bar"]
        task = bar.add_task(f"frames of {Path(dest).name}", total=None)
        try:
            return render_clip(m, r, dest, fmt=fmt, size=wh, fps=fps, camera=camera, attention=attention,
                               progress=lambda i, n: bar.update(task, completed=i, total=n))
        finally:
            bar.remove_task(task)

    load_options = dict(units=units, up=up, asf=asf, source_fps=source_fps, joint_map=joint_map,
                        body_model_dir=body_model_dir)
    _, code = _run(jobs, len(jobs), "rendering", write, model, device, beam, onset_rule, load_options,
                   lambda o: f" ({o.info.frames} frames, {o.info.duration_s:.2f} s)", ui, style)
    if code:
        raise typer.Exit(code)


def view(
    inputs: List[Path] = typer.Argument(..., help="Motion files (.bvh .amc .c3d .npz .npy, optionally .gz) or folders."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output folder (mirrors input folders) "
                                       "[default: .]; for one input also a file name ending in .html."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    index: Optional[bool] = typer.Option(None, "--index/--no-index",
                                         help="Write index.html over all pages [default: when a folder "
                                              "or several files are given]."),
    beam: int = typer.Option(1, help=H_BEAM),
    device: str = typer.Option("auto", help=H_DEVICE),
    model: Optional[Path] = typer.Option(None, "--model", help=H_MODEL),
    onset_rule: str = typer.Option("fwhm", help=H_RULE),
    units: Optional[str] = typer.Option(None, help=H_UNITS),
    up: Optional[str] = typer.Option(None, help=H_UP),
    asf: Optional[Path] = typer.Option(None, help=H_ASF),
    source_fps: Optional[float] = typer.Option(None, help=H_SFPS),
    joint_map: Optional[Path] = typer.Option(None, help=H_JMAP),
    style: bool = typer.Option(True, "--style/--no-style", help=H_STYLE),
    body_model_dir: Optional[Path] = typer.Option(None, help=H_BODY),
):
    """Write a self-contained HTML viewer per file (works offline, no network): 3D skeleton with
    orbit controls, play/pause/scrub and speed, subtitles synchronised to the motion, per-word
    windows, the attention heatmap with a moving cursor, and the caption JSON embedded.

    Examples:

      m2t view walk.bvh                            # ./walk.html (open it in a browser)

      m2t view walk.bvh -o walk_viewer.html

      m2t view lab_mocap/ -r -o pages/             # pages/**/<stem>.html + pages/index.html
    """
    with user_errors():
        _checks(beam, device, onset_rule, units, up)
        jobs = plan_visuals(inputs, out, "html", recursive, verb="view")
    out_dir = Path(".") if out is None else (out.parent if out.suffix.lower() == ".html" else out)

    def write(m, r, dest):
        from m2t.models.viewer import write_viewer
        return write_viewer(m, r, dest)

    load_options = dict(units=units, up=up, asf=asf, source_fps=source_fps, joint_map=joint_map,
                        body_model_dir=body_model_dir)
    outcomes, code = _run(jobs, len(jobs), "writing", write, model, device, beam, onset_rule, load_options,
                          lambda o: "", style=style)
    wanted = index if index is not None else (len(jobs) > 1 or any(Path(i).is_dir() for i in inputs))
    if wanted and any(o.ok for o in outcomes):          # no page written: no index (nor a folder) either
        from m2t.models.viewer import index_entries, write_index
        dest = out_dir / "index.html"
        try:
            write_index(index_entries(outcomes, out_dir), dest)
        except OSError as e:
            raise fail(f"{dest}: cannot write ({e.strerror or e})") from None
        typer.echo(f"index -> {dest}")
    if code:
        raise typer.Exit(code)
