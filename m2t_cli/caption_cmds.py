"""`m2t caption` and `m2t segment`: thin wrappers over m2t.models.caption_batch (output formats in
docs/outputs.md): parse options, print. torch and matplotlib load only when captioning starts."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from m2t.converters.canonical import UP_AXES
from m2t.converters.options import check_load_options
from m2t.converters.units import UNITS
from m2t.models.caption_batch import plan_captions, render, run_captions, segment_format
from m2t.models.results import DENSE_AFTER_S, HOP_S, SCALES, WINDOW_S, check_options, check_windowing

from .errors import EXIT_BATCH_FAILED, EXIT_USER_ERROR, fail, user_errors
from .progress import bar as progress_bar


H_MODEL = "Model directory (config.json + model.safetensors) [default: the model shipped with m2t]."
H_BEAM = "Beam width (1 = greedy)."
H_DEVICE = "auto, cpu or cuda."
H_BACKEND = ("auto (ONNX Runtime when the model folder has its exported graphs, as the shipped model does; "
             "else torch), onnx or torch.")
H_RULE = "Word onset/offset: fwhm (centre ∓ 1.18σ, where Γ >= 0.5) or gamma95 (frames where Γ > 0.95)."
H_UNITS = f"Source length unit ({', '.join(UNITS)}); detected if omitted."
H_UP = f"Source up axis ({', '.join(UP_AXES)}); detected if omitted."
H_ASF = "AMC: the skeleton .asf file (found next to the .amc if omitted)."
H_SFPS = "Frame rate of the source when the file has none or a wrong one (AMC default 120)."
H_SUBJECT = "C3D with several subjects (label prefixes NAME:): the one to caption."
H_START = "Caption the motion from this time on (seconds of the source file; output times stay in them)."
H_END = "Caption the motion up to this time (seconds of the source file)."
H_KEEP = "Keep the performer's bone lengths (default: the canonical body the model was trained on)."
H_STYLE = ("--no-style leaves out the performer's style ('happily', 'in a feminine way', 'an elderly person' -> "
           "'a person'): the default model learned styles from labelled clips, so on other recordings they are its guess.")
H_JMAP = "JSON/CSV mapping canonical joint -> source joint(s) (or C3D markers)."
H_DENSE = ("Recordings longer than this (s) get a timeline of actions (`segments`), each captioned on its own "
           "frames; a very large value gives one caption per file.")
H_WINDOW = ("Dense captioning: length (s) of the longest windows that label the recording's frames "
            "(windows of " + ", ".join(f"{k:g}x" for k in SCALES if k != 1) + " this length are added: "
            "models.results.SCALES).")
H_HOP = "Dense captioning: seconds between the starts of consecutive windows of one length (at most that length)."
H_BODY = "SMPL npz: folder with SMPL/SMPL-H/SMPL-X model files for exact joints."


def _progress(n_files: int) -> Progress:
    # printed lines appear above the bar when stdout is the terminal, and go to the file when redirected
    return progress_bar(disable=n_files < 2, redirect_stdout=sys.stdout.isatty())


def caption(
    inputs: List[Path] = typer.Argument(..., help="Motion files (.bvh .amc .c3d .npz .npy, optionally .gz) or folders."),
    formats: List[str] = typer.Option(["txt"], "--format", "-f",
                                      help="txt, json, srt or heatmap (PNG); repeat for several (needs -o)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out",
                                       help="Output folder: writes <out>/<path relative to the input>/<stem>.<ext>, "
                                            "mirroring input folders. Without it: txt/json/srt go to stdout, "
                                            "heatmap to ./<stem>.png."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    overwrite: bool = typer.Option(False, help="Re-caption files whose outputs all exist; without it they are skipped."),
    beam: int = typer.Option(1, help=H_BEAM),
    device: str = typer.Option("auto", help=H_DEVICE),
    backend: str = typer.Option("auto", help=H_BACKEND),
    model: Optional[Path] = typer.Option(None, "--model", help=H_MODEL),
    onset_rule: str = typer.Option("fwhm", help=H_RULE),
    attention: bool = typer.Option(False, "--attention", help="json: add the per-frame attention maps (Γ, α)."),
    batch_size: int = typer.Option(16, help="Files decoded together."),
    dense_after: float = typer.Option(DENSE_AFTER_S, help=H_DENSE),
    window: float = typer.Option(WINDOW_S, help=H_WINDOW),
    hop: float = typer.Option(HOP_S, help=H_HOP),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes that read, convert and caption batches of files (ONNX Runtime on CPU: this one and N-1 workers, each with the model on 1 thread, take batches in order as they free up; torch backend or GPU: N workers read and convert, one model decodes)."),
    shard: Optional[str] = typer.Option(None, help="i/N: caption only the i-th (0-based) of N round-robin shards of the sorted inputs (one per cluster job)."),
    units: Optional[str] = typer.Option(None, help=H_UNITS),
    up: Optional[str] = typer.Option(None, help=H_UP),
    asf: Optional[Path] = typer.Option(None, help=H_ASF),
    source_fps: Optional[float] = typer.Option(None, help=H_SFPS),
    joint_map: Optional[Path] = typer.Option(None, help=H_JMAP),
    body_model_dir: Optional[Path] = typer.Option(None, help=H_BODY),
    subject: Optional[str] = typer.Option(None, help=H_SUBJECT),
    keep_proportions: bool = typer.Option(False, "--keep-proportions", help=H_KEEP),
    style: bool = typer.Option(True, "--style/--no-style", help=H_STYLE),
    start: Optional[float] = typer.Option(None, help=H_START),
    end: Optional[float] = typer.Option(None, help=H_END),
):
    """Caption motion files: a sentence whose motion words carry onset, offset and body parts.

    One file without -o prints the caption; several files print `path: caption` lines (json:
    one JSON object per line). With -o each file gets <stem>.txt/.json/.srt/.png; files whose
    outputs exist are skipped unless --overwrite; bad files are listed at the end (exit code 1).

    Examples:

      m2t caption walk.bvh                        # print the caption

      m2t caption walk.bvh -f json > walk.json    # + word times, body parts

      m2t caption walk.bvh --no-style             # without "happily", "in a feminine way", ...

      m2t caption walk.bvh -f heatmap             # ./walk.png, attention maps

      m2t caption lab_mocap/ -r -o captions/ -f json -f srt -f heatmap

      m2t caption 07_05.amc --asf 07.asf --model runs/lab --beam 2

      m2t caption long_take.bvh -f json -f srt -o caps/   # > 2 s: a timeline of actions in "segments"

      m2t caption corpus/ -r -o caps/ --jobs 2 --shard $SLURM_ARRAY_TASK_ID/8
    """
    with user_errors():
        check_options(beam, onset_rule, device, batch_size)
        check_windowing(window, hop, dense_after)
        check_load_options(units=units, up=up)
        plan = plan_captions(inputs, out, formats, recursive, overwrite, shard=shard)
        if plan.todo:
            from m2t.models.captioning import resolve_model_dir
            resolve_model_dir(model)                                   # no model: one line, before any work
    for job in plan.skipped:
        typer.echo(f"{job.source}: skipped, output exists (use --overwrite)")
    failed: list[str] = []
    n_ok = 0
    single = len(plan.jobs) == 1
    load_options = dict(units=units, up=up, asf=asf, source_fps=source_fps, joint_map=joint_map,
                        body_model_dir=body_model_dir, subject=subject, keep_proportions=keep_proportions,
                        start=start, end=end)
    with user_errors(), _progress(len(plan.todo)) as bar:
        task = bar.add_task("captioning", total=len(plan.todo))

        def progress(i, n, path):
            bar.update(task, completed=i, description=f"captioning {Path(path).name}")

        for o in run_captions(plan, model, beam=beam, device=device, onset_rule=onset_rule, attention=attention, style=style,
                              batch_size=batch_size, progress=progress, backend=backend, jobs=jobs,
                              window_s=window, hop_s=hop, dense_after_s=dense_after, **load_options):
            if not o.ok:
                failed.append(o.error)
                continue
            for w in o.result.warnings:
                typer.echo(f"Warning: {o.source}: {w}", err=True)
            n_ok += 1
            if plan.to_stdout:
                typer.echo(render(o.result, plan.formats[0], single, attention), nl=False)
            else:
                typer.echo(f"{o.source} -> {', '.join(map(str, o.written))}")
        bar.update(task, completed=len(plan.todo))
    if single and failed:                                   # one file: exactly one line
        typer.echo(f"Error: {failed[0]}", err=True)
        raise typer.Exit(EXIT_USER_ERROR)
    if len(plan.jobs) > 1:
        typer.echo(f"{n_ok} captioned, {len(plan.skipped)} skipped, {len(failed)} failed", err=True)
    for e in failed:
        typer.echo(f"Error: {e}", err=True)
    if failed:
        raise typer.Exit(EXIT_BATCH_FAILED)


def segment(
    file: Path = typer.Argument(..., help="A motion file (.bvh .amc .c3d .npz .npy, optionally .gz)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f",
                                      help="table, csv or json [default: from -o's suffix, else table]."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Write csv/json to this file instead of stdout."),
    beam: int = typer.Option(1, help=H_BEAM),
    device: str = typer.Option("auto", help=H_DEVICE),
    backend: str = typer.Option("auto", help=H_BACKEND),
    model: Optional[Path] = typer.Option(None, "--model", help=H_MODEL),
    onset_rule: Optional[str] = typer.Option(None, hidden=True),   # before December 2026; it changed nothing
    dense_after: float = typer.Option(DENSE_AFTER_S, help=H_DENSE),
    window: float = typer.Option(WINDOW_S, help=H_WINDOW),
    hop: float = typer.Option(HOP_S, help=H_HOP),
    units: Optional[str] = typer.Option(None, help=H_UNITS),
    up: Optional[str] = typer.Option(None, help=H_UP),
    asf: Optional[Path] = typer.Option(None, help=H_ASF),
    source_fps: Optional[float] = typer.Option(None, help=H_SFPS),
    joint_map: Optional[Path] = typer.Option(None, help=H_JMAP),
    body_model_dir: Optional[Path] = typer.Option(None, help=H_BODY),
    subject: Optional[str] = typer.Option(None, help=H_SUBJECT),
    keep_proportions: bool = typer.Option(False, "--keep-proportions", help=H_KEEP),
    style: bool = typer.Option(True, "--style/--no-style", help=H_STYLE),
    start: Optional[float] = typer.Option(None, help=H_START),
    end: Optional[float] = typer.Option(None, help=H_END),
):
    """List the actions of a file's timeline, one row each: the action word and its clause, onset
    and offset (seconds of the file: the window span of the word), side, body parts ranked by
    attention and confidence (docs/outputs.md, "Formats of m2t segment"). Word timings by
    another onset rule: `m2t caption FILE -f json --onset-rule gamma95`.

    Examples:

      m2t segment walk.bvh

      m2t segment walk.bvh -o walk_segments.csv

      m2t segment trial.c3d --format json
    """
    with user_errors():
        check_options(beam, device=device)
        if onset_rule is not None:
            typer.echo("Warning: --onset-rule has no effect on m2t segment (a segment is its action word's window "
                       "span); word timings by a rule: m2t caption FILE -f json --onset-rule RULE", err=True)
        check_windowing(window, hop, dense_after)
        check_load_options(units=units, up=up)
        fmt = segment_format(fmt, out)
        from m2t.models.caption_batch import caption_segments
        from m2t.models.writers import segments_csv, segments_json, write_segments
        r, doc = caption_segments(file, model, beam=beam, device=device, backend=backend, style=style,
                                  window_s=window, hop_s=hop, dense_after_s=dense_after, units=units, up=up,
                                  asf=asf, source_fps=source_fps, joint_map=joint_map, body_model_dir=body_model_dir,
                                  subject=subject, keep_proportions=keep_proportions, start=start, end=end)
        for w in r.warnings:
            typer.echo(f"Warning: {file}: {w}", err=True)
        if out is not None:
            try:
                write_segments(doc, out, fmt)
            except OSError as e:
                raise fail(f"{out}: cannot write ({e.strerror or e})") from None
            typer.echo(f"{file} -> {out}")
        elif fmt == "csv":
            typer.echo(segments_csv(doc), nl=False)
        elif fmt == "json":
            typer.echo(segments_json(doc), nl=False)
        else:
            _print_table(doc)


def _print_table(doc: dict) -> None:
    con = Console()
    t = Table(title=f"{doc['source']}: {doc['text'] or '(empty caption)'}", title_justify="left")
    for name, just in (("#", "right"), ("onset (s)", "right"), ("offset (s)", "right"), ("action", "left"),
                       ("side", "left"), ("body parts", "left"), ("confidence", "right")):
        t.add_column(name, justify=just)
    for s in doc["segments"]:
        parts = ", ".join(f"{p['name'].replace('_', ' ')} {p['score']:.2f}" for p in s["parts"][:3])
        t.add_row(str(s["index"]), f"{s['onset_s']:.2f}", f"{s['offset_s']:.2f}", s["text"], s["side"] or "",
                  parts, f"{s['confidence']:.2f}")
    con.print(t)
    if not doc["segments"]:
        con.print("no actions in this caption")
    w = doc.get("windowing")
    lengths = ", ".join(f"{x:g}" for x in (w.get("lengths_s") or [w["window_s"]])) if w else ""
    con.print(f"duration {doc['duration_s']:.2f} s" + (f"; {w['windows']} windows of {lengths} s every "
                                                         f"{w['hop_s']:g} s" if w else "; one caption"))
