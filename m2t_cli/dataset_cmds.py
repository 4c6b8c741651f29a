"""`m2t dataset build` and `m2t dataset compose`: thin wrappers over models.dataset_build and models.compose."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .errors import EXIT_BATCH_FAILED, fail, user_errors
from .progress import bar as progress_bar

dataset_app = typer.Typer(help="Build datasets from labelled mocap. Example: m2t dataset build --preset bandai2 -o data/b2",
                          no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@dataset_app.command()
def build(
    out: Path = typer.Option(..., "-o", "--out", help="Dataset folder to write (HumanML3D layout)."),
    preset: Optional[str] = typer.Option(None, help="bandai1, bandai2, hdm05, cmu, xia or shared (all five)."),
    data: Optional[Path] = typer.Option(None, help="Root of the shared data for presets [default: $M2T_DATA or ../shared/data]."),
    manifest: Optional[Path] = typer.Option(None, help="CSV with file and caption (or label[, style]) columns, optional split."),
    skeleton: str = typer.Option("t2m", help="t2m or kit."),
    mirror: bool = typer.Option(True, help="Also write left/right mirrored copies (M<id>), joints and words."),
    seed: int = typer.Option(0, help="Seed for caption choice and the stratified splits."),
    captions_per_motion: int = typer.Option(3, help="Paraphrases per motion from the label templates."),
    templates: Optional[Path] = typer.Option(None, help="Label templates JSON [default: the shipped one]."),
):
    """Turn folders of labelled mocap into a HumanML3D-format dataset (new_joints/, texts/ with
    POS tags, train/val/test splits stratified by label).

    Examples:

      m2t dataset build --preset shared -o data/shared

      m2t dataset build --manifest my_lab/labels.csv -o data/lab
    """
    if skeleton not in ("t2m", "kit"):
        raise fail(f"--skeleton {skeleton!r} is not one of: t2m, kit")
    root = data or Path(os.environ.get("M2T_DATA", "../shared/data"))
    with user_errors():
        from m2t.models.dataset_build import build_dataset
        with progress_bar() as bar:
            task = bar.add_task("building", total=1)
            rep = build_dataset(out, preset=preset, data_root=root, manifest=manifest, skeleton=skeleton, mirror=mirror,
                                seed=seed, captions_per_motion=captions_per_motion, templates=templates,
                                progress=lambda i, n, p: bar.update(task, completed=i, total=n,
                                                                    description=f"building {Path(p).name}"))
    c = rep.counts
    typer.echo(f"{out}: {c['motions']} motions (+{c['mirrored']} mirrored), train {c['train_ids']}, "
               f"val {c['val_ids']}, test {c['test_ids']} ids; {c['failed']} failed")
    for f in rep.failures:
        typer.echo(f"Error: {f}", err=True)
    if rep.failures:
        raise typer.Exit(EXIT_BATCH_FAILED)


@dataset_app.command()
def compose(
    source: Path = typer.Argument(..., help="A HumanML3D-format dataset (e.g. from `m2t dataset build`)."),
    out: Path = typer.Option(..., "-o", "--out", help="Composed dataset folder to write."),
    train: int = typer.Option(2000, help="Composed sequences in the train split."),
    val: int = typer.Option(200, help="Composed sequences in the val split."),
    test: int = typer.Option(200, help="Composed sequences in the test split."),
    min_actions: int = typer.Option(2, help="Fewest clips (actions) per sequence."),
    max_actions: int = typer.Option(4, help="Most clips (actions) per sequence."),
    blend: float = typer.Option(0.3, help="Cross-fade between clips, seconds."),
    captions: int = typer.Option(3, help="Composed captions per sequence (one paraphrase per action each)."),
    min_clip_frames: int = typer.Option(20, help="Skip source clips shorter than this (frames)."),
    max_clip_frames: int = typer.Option(300, help="Skip source clips longer than this (frames)."),
    with_singles: bool = typer.Option(False, "--with-singles", help="Also copy the source clips into their splits."),
    crops: int = typer.Option(0, help="> 0: train and val also get every action of each sequence as a clip (with up to 0.5 s of its neighbours) and this many 1.5-3 s windows per sequence, as dense captioning sees a take."),
    seed: int = typer.Option(0, help="Seed: the same seed and source give the same files."),
):
    """Chain 2-4 real clips of the same split into multi-action sequences with exact
    per-action ground truth (segments/<id>.txt with #start#end, segments/<id>.json).

    Examples:

      m2t dataset compose data/shared -o data/composed

      m2t dataset compose data/shared -o data/mixed --train 4000 --with-singles --seed 1

      m2t dataset compose data/shared -o data/dense --train 3000 --with-singles --crops 2
    """
    with user_errors():
        from m2t.models.compose import check_options, compose_dataset
        check_options(source, out, min_actions, max_actions, blend, captions, min_clip_frames, max_clip_frames,
                      {"train": train, "val": val, "test": test}, crops)
        with progress_bar() as bar:
            task = bar.add_task("composing", total=1)
            info = compose_dataset(source, out, {"train": train, "val": val, "test": test}, seed=seed,
                                   min_actions=min_actions, max_actions=max_actions, blend_s=blend,
                                   captions_per_sequence=captions, min_clip_frames=min_clip_frames,
                                   max_clip_frames=max_clip_frames, with_singles=with_singles, crops=crops,
                                   progress=lambda i, n, s: bar.update(task, completed=i, total=n,
                                                                       description=f"composing {s}"))
    c = info["counts"]
    typer.echo(f"{out}: " + ", ".join(f"{s} {c[s]['sequences']} sequences" + (f" + {c[s]['singles']} clips" if c[s]["singles"] else "")
                                      + (f" + {c[s]['crops']} crops" if c[s].get("crops") else "")
                                      for s in ("train", "val", "test")))
