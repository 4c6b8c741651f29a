"""The `m2t` command. Each command is a thin wrapper over a library function (docs/api.md)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import List, Optional

import typer

from m2t import converters
from m2t.converters.canonical import UP_AXES
from m2t.converters.options import check_load_options
from m2t.converters.api import RESUMED
from m2t.converters.units import UNITS

from .caption_cmds import caption as caption_cmd
from .caption_cmds import segment as segment_cmd
from .errors import EXIT_BATCH_FAILED, fail, user_errors
from .progress import bar as progress_bar
from .show import print_info
from .dataset_cmds import dataset_app
from .train_cmds import evaluate as evaluate_cmd
from .train_cmds import export as export_cmd
from .train_cmds import train as train_cmd
from .view_cmds import render as render_cmd
from .view_cmds import view as view_cmd

app = typer.Typer(
    name="m2t", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    help="Motion capture to captions you can trust. Run `m2t COMMAND --help` for examples.",
)


@app.command()
def convert(
    inputs: List[Path] = typer.Argument(..., help="Motion files (.bvh .amc .c3d .npz .npy, optionally .gz) or folders."),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="Output folder; the input tree is mirrored."),
    skeleton: str = typer.Option("t2m", help="Canonical skeleton: t2m (SMPL 22 joints, 20 fps) or kit (21, 12.5 fps)."),
    fps: Optional[float] = typer.Option(None, help="Output frame rate [default: 20 for t2m, 12.5 for kit]."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    joint_map: Optional[Path] = typer.Option(None, help="JSON/CSV mapping canonical joint -> source joint(s)."),
    marker_map: Optional[Path] = typer.Option(None, help="C3D: JSON mapping canonical joint -> markers (same as --joint-map)."),
    units: Optional[str] = typer.Option(None, help=f"Source length unit ({', '.join(UNITS)}); default: BVH detected from body height, ASF from its :units, C3D from POINT:UNITS."),
    up: Optional[str] = typer.Option(None, help=f"Source up axis ({', '.join(UP_AXES)}); detected if omitted."),
    asf: Optional[Path] = typer.Option(None, help="AMC: the skeleton .asf file (found next to the .amc if omitted)."),
    source_fps: Optional[float] = typer.Option(None, help="Frame rate of the source when the file has none or a wrong one (AMC default 120)."),
    body_model_dir: Optional[Path] = typer.Option(None, help="SMPL npz: folder with SMPL/SMPL-H/SMPL-X model files for exact joints."),
    keep_proportions: bool = typer.Option(False, "--keep-proportions", help="Keep the performer's bone lengths (default: retarget onto the canonical HumanML3D body, root path scaled by the leg-length ratio)."),
    overwrite: bool = typer.Option(True, help="Re-convert files whose output exists; --no-overwrite writes only the missing outputs."),
    start: Optional[float] = typer.Option(None, help="Keep the motion from this time on (seconds of the source file)."),
    end: Optional[float] = typer.Option(None, help="Keep the motion up to this time (seconds of the source file)."),
    keep_lead_in: bool = typer.Option(False, "--keep-lead-in", help="Keep leading bind/T-pose frames (dropped with a warning by default)."),
    subject: Optional[str] = typer.Option(None, help="C3D with several subjects (label prefixes NAME:): the one to convert."),
    manifest: Optional[Path] = typer.Option(None, help="CSV with columns path, fps, start, end, subject: settings per file (paths relative to the CSV)."),
    fmt: str = typer.Option("m2t", "--format", help="Output: m2t (<name>.npy joints + <name>.npz), hml3d-vecs (<name>.npy, HumanML3D 263-d vectors) or hml3d (new_joints/ and new_joint_vecs/ trees)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes converting files in parallel."),
    shard: Optional[str] = typer.Option(None, help="i/N: convert only the i-th (0-based) of N round-robin shards of the sorted inputs (one per cluster job)."),
    resume: bool = typer.Option(False, "--resume", help="Skip files the output folder's done-manifest lists as converted (source unchanged, outputs present, same format and options)."),
):
    """Convert motion files to the HumanML3D joint format (.npy positions + .npz with velocities).

    Examples:

      m2t convert walk.bvh                      # -> out/walk.npy, out/walk.npz

      m2t convert lab_mocap/ -r -o hml3d/ --skeleton kit

      m2t convert 07_05.amc --asf 07.asf --fps 20

      m2t convert trial.c3d --marker-map my_markers.json

      m2t convert mocap/ -r --format hml3d -o HumanML3D/   # new_joints/ + new_joint_vecs/

      m2t convert take.bvh --source-fps 120 --start 2.5 --end 9

      m2t convert lab/ --manifest lab/takes.csv         # per-file fps, start, end, subject

      m2t convert corpus/ -r -o hml3d/ --jobs 2 --resume

      m2t convert corpus/ -r -o hml3d/ --shard $SLURM_ARRAY_TASK_ID/8   # sbatch --array=0-7

    A bad file prints one line `Error: <file>: <problem>` (exit code 2); in a folder run bad files
    are listed after the others are converted (exit code 1). Symlinked sub-folders are followed.
    """
    with user_errors():
        check_load_options(skeleton, units, up)
    if joint_map and marker_map:
        raise fail("give --joint-map or --marker-map, not both")
    with user_errors("The same command with --resume skips the files already converted."):
        with warnings.catch_warnings():          # converters.convert repeats them
            warnings.simplefilter("ignore")
            n_files = len(converters.api.collect_inputs(inputs, recursive))
        with progress_bar(disable=n_files < 2) as bar:
            task = bar.add_task("converting", total=n_files)

            def progress(i, n, path):
                bar.update(task, completed=i, total=n, description=f"converting {Path(path).name}")

            results = converters.convert(inputs, out, skeleton=skeleton, fps=fps, recursive=recursive,
                                         joint_map=joint_map or marker_map, up=up, keep_proportions=keep_proportions,
                                         overwrite=overwrite, progress=progress, fmt=fmt, manifest=manifest,
                                         start=start, end=end, keep_lead_in=keep_lead_in, units=units, asf=asf,
                                         source_fps=source_fps, body_model_dir=body_model_dir, subject=subject,
                                         jobs=jobs, shard=shard, resume=resume)
            bar.update(task, completed=len(results))
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.skipped:
            if r.note != RESUMED or len(results) == 1:   # a resumed corpus: the count below, not a line each
                typer.echo(f"{r.source}: skipped, {r.note}")
        elif r.ok:
            typer.echo(f"{r.source} -> {', '.join(map(str, r.outputs))}")
    skipped = sum(r.skipped for r in results)
    if len(results) > 1:
        resumed = sum(r.note == RESUMED for r in results)
        why = f" ({resumed} done before: --resume)" if resumed else ""
        typer.echo(f"{len(results) - len(failed) - skipped} converted, {skipped} skipped{why}, {len(failed)} failed",
                   err=True)
    for r in failed:
        typer.echo(f"Error: {r.error}", err=True)
    if failed:
        raise typer.Exit(2 if len(results) == 1 else EXIT_BATCH_FAILED)


@app.command()
def info(
    file: Path = typer.Argument(..., help="A motion file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    units: Optional[str] = typer.Option(None, help=f"Source length unit ({', '.join(UNITS)})."),
    asf: Optional[Path] = typer.Option(None, help="AMC: the skeleton .asf file."),
    body_model_dir: Optional[Path] = typer.Option(None, help="SMPL npz: body model folder."),
    source_fps: Optional[float] = typer.Option(None, help="Frame rate of the source when the file has none or a wrong one."),
    subject: Optional[str] = typer.Option(None, help="C3D with several subjects: the one to show."),
):
    """Show what a motion file holds: format, frames, fps, duration, joints, rig, mapping, units.

    Examples:

      m2t info walk.bvh

      m2t info trial.c3d --json
    """
    with user_errors():
        check_load_options(units=units)
        d = converters.info(file, units=units, asf=asf, body_model_dir=body_model_dir, source_fps=source_fps,
                            subject=subject)
    if as_json:
        typer.echo(json.dumps(d, indent=2))
    else:
        print_info(d)


app.command(name="caption")(caption_cmd)
app.command(name="segment")(segment_cmd)
app.command(name="train")(train_cmd)
app.add_typer(dataset_app, name="dataset")
app.command(name="evaluate")(evaluate_cmd)
app.command(name="render")(render_cmd)
app.command(name="view")(view_cmd)
app.command(name="export")(export_cmd)


def main():
    app()
