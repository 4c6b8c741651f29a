"""`m2t caption` and `m2t segment`: thin wrappers over models.captioning (output formats in
docs/outputs.md). torch and matplotlib are imported only when one of these commands runs."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from m2t.converters.api import collect_inputs
from m2t.converters.canonical import UP_AXES
from m2t.converters.fileio import strip_gz
from m2t.converters.units import UNITS

from .errors import EXIT_BATCH_FAILED, EXIT_USER_ERROR, fail, user_errors

err = Console(stderr=True)
FORMATS = ("txt", "json", "srt", "heatmap")
SEGMENT_FORMATS = ("table", "csv", "json")
DEVICES = ("auto", "cpu", "cuda")
ONSET_RULES = ("fwhm", "gamma95")        # models.captioning.ONSET_RULES (not imported: no torch here)

H_MODEL = "Model directory (config.json + model.safetensors) [default: the model shipped with m2t]."
H_BEAM = "Beam width (1 = greedy)."
H_DEVICE = "auto, cpu or cuda."
H_RULE = "Word onset/offset: fwhm (centre ∓ 1.18σ, where Γ >= 0.5) or gamma95 (frames where Γ > 0.95)."
H_UNITS = f"Source length unit ({', '.join(UNITS)}); detected if omitted."
H_UP = f"Source up axis ({', '.join(UP_AXES)}); detected if omitted."
H_ASF = "AMC: the skeleton .asf file (found next to the .amc if omitted)."
H_SFPS = "Frame rate of the source when the file has none or a wrong one (AMC default 120)."
H_JMAP = "JSON/CSV mapping canonical joint -> source joint(s) (or C3D markers)."
H_BODY = "SMPL npz: folder with SMPL/SMPL-H/SMPL-X model files for exact joints."


def _check(value, choices, flag):
    if value is not None and value not in choices:
        raise fail(f"{flag} {value!r} is not one of: {', '.join(choices)}")


def _common_checks(beam, device, onset_rule, units, up):
    if beam < 1:
        raise fail(f"--beam must be >= 1, got {beam}")
    _check(device, DEVICES, "--device")
    _check(onset_rule, ONSET_RULES, "--onset-rule")
    _check(units, tuple(UNITS), "--units")
    _check(up, UP_AXES, "--up")


def _progress(n_files: int) -> Progress:
    # printed lines appear above the bar when stdout is the terminal, and go to the file when redirected
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True, disable=n_files < 2, redirect_stdout=sys.stdout.isatty())


def caption(
    inputs: List[Path] = typer.Argument(..., help="Motion files (.bvh .amc .c3d .npz, optionally .gz) or folders."),
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
    model: Optional[Path] = typer.Option(None, "--model", help=H_MODEL),
    onset_rule: str = typer.Option("fwhm", help=H_RULE),
    attention: bool = typer.Option(False, "--attention", help="json: add the per-frame attention maps (Γ, α)."),
    batch_size: int = typer.Option(16, help="Files decoded together."),
    units: Optional[str] = typer.Option(None, help=H_UNITS),
    up: Optional[str] = typer.Option(None, help=H_UP),
    asf: Optional[Path] = typer.Option(None, help=H_ASF),
    source_fps: Optional[float] = typer.Option(None, help=H_SFPS),
    joint_map: Optional[Path] = typer.Option(None, help=H_JMAP),
    body_model_dir: Optional[Path] = typer.Option(None, help=H_BODY),
):
    """Caption motion files: a sentence whose motion words carry onset, offset and body parts.

    One file without -o prints the caption; several files print `path: caption` lines (json:
    one JSON object per line). With -o each file gets <stem>.txt/.json/.srt/.png; files whose
    outputs exist are skipped unless --overwrite; bad files are listed at the end (exit code 1).

    Examples:

      m2t caption walk.bvh                        # print the caption

      m2t caption walk.bvh -f json > walk.json    # + word times, body parts

      m2t caption walk.bvh -f heatmap             # ./walk.png, attention maps

      m2t caption lab_mocap/ -r -o captions/ -f json -f srt -f heatmap

      m2t caption 07_05.amc --asf 07.asf --model runs/lab --beam 2
    """
    for f in formats:
        _check(f, FORMATS, "--format")
    formats = list(dict.fromkeys(formats))
    _common_checks(beam, device, onset_rule, units, up)
    if batch_size < 1:
        raise fail(f"--batch-size must be >= 1, got {batch_size}")
    with user_errors():
        from m2t.models.captioning import resolve_model_dir
        resolve_model_dir(model)                                   # no model: one line, before any work
    files = collect_inputs(inputs, recursive)
    if not files:
        raise fail(f"no motion files found in {', '.join(map(str, inputs))}"
                   + ("" if recursive else " (use --recursive for sub-folders)"))
    to_stdout = out is None and "heatmap" not in formats
    if out is None:
        if len(formats) > 1:
            raise fail("several --format values need -o DIR")
        if formats == ["srt"] and len(files) > 1:
            raise fail("--format srt for several files needs -o DIR")
    out_dir = Path(".") if out is None else out
    targets = {}
    if not to_stdout:
        from .writers import EXTENSIONS
        seen = {}
        for path, rel in files:
            stem = out_dir / rel.parent / Path(strip_gz(rel)).stem
            targets[path] = [(f, stem.with_name(f"{stem.name}.{EXTENSIONS[f]}")) for f in formats]
            if stem in seen:
                raise fail(f"{seen[stem]} and {path} would both write {stem}.*; caption them separately")
            seen[stem] = path
    todo, skipped = [], []
    for p, _ in files:
        done = not to_stdout and not overwrite and all(t.exists() for _, t in targets[p])
        (skipped if done else todo).append(p)
    for p in skipped:
        typer.echo(f"{p}: skipped, output exists (use --overwrite)")
    failed: list[str] = []
    n_ok = 0
    load_options = dict(units=units, up=up, asf=asf, source_fps=source_fps, joint_map=joint_map,
                        body_model_dir=body_model_dir)
    if todo:
        with user_errors():
            from m2t.models.captioning import iter_captions, load_model
            from .writers import WRITERS, caption_json, caption_srt, caption_txt
            bundle = load_model(model, device)
            with _progress(len(todo)) as bar:
                task = bar.add_task("captioning", total=len(todo))

                def progress(i, n, path):
                    bar.update(task, completed=i, description=f"captioning {Path(path).name}")

                for fc in iter_captions(todo, bundle, beam=beam, onset_rule=onset_rule, batch_size=batch_size,
                                        progress=progress, **load_options):
                    if not fc.ok:
                        failed.append(fc.error)
                        continue
                    r = fc.result
                    for w in r.warnings:
                        typer.echo(f"Warning: {fc.source}: {w}", err=True)
                    if to_stdout:
                        fmt = formats[0]
                        if len(files) == 1:
                            text = {"txt": caption_txt, "srt": caption_srt}.get(fmt)
                            typer.echo(text(r) if text else caption_json(r, attention), nl=False)
                        elif fmt == "json":
                            typer.echo(caption_json(r, attention, indent=None), nl=False)
                        else:
                            typer.echo(f"{fc.source}: {r.text}")
                        n_ok += 1
                        continue
                    try:
                        written = []
                        for fmt, dest in targets[fc.source]:
                            w = WRITERS[fmt]
                            written.append(w(r, dest, attention) if fmt == "json" else w(r, dest))
                    except OSError as e:
                        failed.append(f"{fc.source}: cannot write {dest} ({e.strerror or e})")
                        continue
                    n_ok += 1
                    typer.echo(f"{fc.source} -> {', '.join(map(str, written))}")
                bar.update(task, completed=len(todo))
    if len(files) > 1 or failed:
        typer.echo(f"{n_ok} captioned, {len(skipped)} skipped, {len(failed)} failed", err=True)
    for e in failed:
        typer.echo(f"Error: {e}", err=True)
    if failed:
        raise typer.Exit(EXIT_USER_ERROR if len(files) == 1 else EXIT_BATCH_FAILED)


def segment(
    file: Path = typer.Argument(..., help="A motion file (.bvh .amc .c3d .npz, optionally .gz)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f",
                                      help="table, csv or json [default: from -o's suffix, else table]."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Write csv/json to this file instead of stdout."),
    beam: int = typer.Option(1, help=H_BEAM),
    device: str = typer.Option("auto", help=H_DEVICE),
    model: Optional[Path] = typer.Option(None, "--model", help=H_MODEL),
    onset_rule: str = typer.Option("fwhm", help=H_RULE),
    units: Optional[str] = typer.Option(None, help=H_UNITS),
    up: Optional[str] = typer.Option(None, help=H_UP),
    asf: Optional[Path] = typer.Option(None, help=H_ASF),
    source_fps: Optional[float] = typer.Option(None, help=H_SFPS),
    joint_map: Optional[Path] = typer.Option(None, help=H_JMAP),
    body_model_dir: Optional[Path] = typer.Option(None, help=H_BODY),
):
    """List the motion words of a file's caption with onset, offset (seconds), body parts ranked
    by attention, β̂ and confidence.

    Examples:

      m2t segment walk.bvh

      m2t segment walk.bvh -o walk_segments.csv

      m2t segment trial.c3d --format json --onset-rule gamma95
    """
    _check(fmt, SEGMENT_FORMATS, "--format")
    _common_checks(beam, device, onset_rule, units, up)
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        if out is not None and suffix not in ("csv", "json"):
            raise fail(f"-o {out}: give --format csv or json (or a .csv/.json file name)")
        fmt = suffix or "table"
    if fmt == "table" and out is not None:
        raise fail("--format table prints to the terminal; use --format csv or json with -o")
    with user_errors():
        from m2t.models.captioning import caption_motion, load_model, segments_document
        from .writers import segments_csv, segments_json, write_segments
        bundle = load_model(model, device)
        r = caption_motion(file, bundle, beam=beam, onset_rule=onset_rule, units=units, up=up, asf=asf,
                           source_fps=source_fps, joint_map=joint_map, body_model_dir=body_model_dir)
        doc = segments_document(r)
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
    for name, just in (("#", "right"), ("word", "left"), ("onset (s)", "right"), ("offset (s)", "right"),
                       ("body parts", "left"), ("β̂", "right"), ("confidence", "right")):
        t.add_column(name, justify=just)
    for s in doc["segments"]:
        parts = ", ".join(f"{p['name'].replace('_', ' ')} {p['score']:.2f}" for p in s["parts"][:3])
        t.add_row(str(s["index"]), s["word"], f"{s['onset_s']:.2f}", f"{s['offset_s']:.2f}", parts,
                  f"{s['beta']:.2f}", f"{s['confidence']:.2f}")
    con.print(t)
    if not doc["segments"]:
        con.print("no motion words in this caption")
    con.print(f"duration {doc['duration_s']:.2f} s; onset rule {doc['onset_rule']}")
