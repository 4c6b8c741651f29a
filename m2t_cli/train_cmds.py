"""`m2t train`, `m2t export` and `m2t evaluate`: thin wrappers over models.training.train,
models.export.export_dir and models.evaluation.evaluate.
torch is imported only when one of these commands runs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .errors import fail, user_errors
from .progress import bar as progress_bar, log_line

out = Console()


def train(
    dataset: str = typer.Option(..., "--dataset", help="hml3d, kit, or a HumanML3D-format folder."),
    out_dir: Path = typer.Option(Path("runs/m2t"), "-o", "--out", help="Model directory to write."),
    preset: Optional[str] = typer.Option(None, help="Model size: kit, hml3d or tiny [default: from --dataset; hml3d for folders]."),
    epochs: Optional[int] = typer.Option(None, help="Epochs [preset: kit 200, hml3d 70]."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size [preset: kit 64, hml3d 128]."),
    lr: float = typer.Option(5e-4, help="AdamW learning rate."),
    lambda_spat: Optional[float] = typer.Option(None, help="λ_spat, weight of the spatial-attention loss [kit 2, hml3d 0]."),
    lambda_adapt: Optional[float] = typer.Option(None, help="λ_adapt, weight of the gate loss [3]."),
    lambda_temp: float = typer.Option(0.0, help="λ_temp: windows must cover their action's frames, on composed data (m2t extension; 0 = off)."),
    temp_slack: float = typer.Option(0.1, help="λ_temp tolerance: overshoot allowed at each end, × action length."),
    teacher_forcing: float = typer.Option(1.0, help="Probability of feeding the true previous word (scheduled sampling below 1)."),
    dropout: float = typer.Option(0.5, help="Dropout on the word-embedding paths."),
    mirror: bool = typer.Option(False, help="Add left/right mirrored training samples."),
    min_freq: int = typer.Option(3, help="Words rarer than this in the train split become <unk>."),
    min_frames: Optional[int] = typer.Option(None, help="Drop motions shorter than this (raw frames) [kit 0, else 40]."),
    max_frames: Optional[int] = typer.Option(None, help="Drop motions longer than this (raw frames) [kit 100000, else 200]."),
    train_split: str = typer.Option("train", help="Split file used for training."),
    val_split: str = typer.Option("val", help="Split file used for model selection."),
    part_pool: str = typer.Option("mean", help="Eq. 8 over parts: mean (official code) or sum (paper)."),
    spatial_scoring: str = typer.Option("concat", help="Eq. 5: concat (official code) or per_part (paper)."),
    output_layer: str = typer.Option("mix", help="Eq. 10: mix (official code) or single (paper)."),
    side_aware: bool = typer.Option(True, help="α targets follow the side a caption names (m2t extension)."),
    extended_words: bool = typer.Option(True, help="Extra motion-word lists beyond the paper's Table 5 (m2t extension)."),
    part_dropout: float = typer.Option(0.0, help="Share of samples whose arms/legs are masked, so the model copes with partial marker sets (m2t extension)."),
    val_every: int = typer.Option(1, help="Validate (and select the model) every N epochs."),
    seed: int = typer.Option(1234, help="Random seed."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a model already in --out (refused otherwise)."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (smoke tests)."),
    init_from: Optional[Path] = typer.Option(None, help="Fine-tune this model directory (its size, vocabulary and statistics; --preset is ignored)."),
    onnx: bool = typer.Option(False, "--onnx", help="Also export the best model to ONNX at the end (as `m2t export`)."),
):
    """Train a captioner on a HumanML3D-format dataset; keeps the epoch with the best greedy
    validation BLEU-4. Under torchrun it trains with DDP.

    Examples:

      m2t train --dataset kit -o runs/kit

      m2t train --dataset my_labelled_mocap/ --preset tiny --epochs 30 -o runs/lab --onnx

      m2t train --dataset data/composed --lambda-temp 1 -o runs/dense

      torchrun --nproc_per_node 2 -m m2t.cli train --dataset hml3d -o runs/h3d
    """
    for value, allowed, flag in ((device, ("auto", "cpu", "cuda"), "--device"),
                                 (preset, ("kit", "hml3d", "tiny", None), "--preset"),
                                 (part_pool, ("mean", "sum"), "--part-pool"),
                                 (spatial_scoring, ("concat", "per_part"), "--spatial-scoring"),
                                 (output_layer, ("mix", "single"), "--output-layer")):
        if value not in allowed:
            raise fail(f"{flag} {value!r} is not one of: {', '.join(a for a in allowed if a)}")
    with user_errors("The same command with --resume continues after the last finished epoch."):
        from m2t.models.config import TRAIN_PRESETS, TrainConfig, model_preset
        from m2t.models.training import train as run
        name = preset or (dataset if dataset in ("kit", "hml3d") else "hml3d")
        tp = dict(TRAIN_PRESETS.get(dataset if dataset in TRAIN_PRESETS else "hml3d", {}))
        given = dict(epochs=epochs, batch_size=batch_size, lambda_spat=lambda_spat, lambda_adapt=lambda_adapt,
                     min_frames=min_frames, max_frames=max_frames)
        tp.update({k: v for k, v in given.items() if v is not None})
        tcfg = TrainConfig(**tp, lr=lr, teacher_forcing=teacher_forcing, mirror=mirror, min_freq=min_freq,
                           seed=seed, train_split=train_split, val_split=val_split, side_aware=side_aware,
                           extended_words=extended_words, val_every=val_every, part_dropout=part_dropout,
                           lambda_temp=lambda_temp, temp_slack=temp_slack)
        mcfg = model_preset(name, dropout=dropout, part_pool=part_pool, spatial_scoring=spatial_scoring,
                            output_layer=output_layer)
        with progress_bar(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn()) as bar:
            task = bar.add_task("train", total=1, epoch=0, loss="-")

            def progress(epoch, step, n_steps, losses):
                bar.update(task, completed=step, total=n_steps, epoch=f"{epoch + 1}/{tcfg.epochs}",
                           loss=f"{losses['lang']:.3f} β {losses['adapt']:.3f} α {losses['spat']:.3f}"
                           + (f" Γ {losses['temp']:.3f}" if "temp" in losses else ""))

            result = run(dataset, out_dir, mcfg, tcfg, device=device, resume=resume, progress=progress,
                         log=log_line, max_steps=max_steps, init_from=init_from,
                         export_onnx=onnx, overwrite=overwrite)
    if os.environ.get("RANK", "0") == "0":       # under torchrun only the first process reports
        score = (f"best val BLEU-4 {100 * result.best_val_bleu4:.1f} (x100, as m2t evaluate prints it) at epoch "
                 f"{result.best_epoch}" if result.best_val_bleu4 >= 0
                 else f"no validation motions: kept the last epoch ({result.best_epoch})")
        typer.echo(f"{score}; model in {result.out_dir}")


def export(
    model: Path = typer.Argument(..., help="Model directory (model.safetensors + config.json)."),
):
    """Write the model's ONNX graphs (encoder.onnx, decoder_step.onnx, onnx.json) beside its
    weights, so `m2t caption` runs on ONNX Runtime without loading torch. Needs the `onnx`
    package (pip install 'm2t[export]').

    Examples:

      m2t export runs/kit

      m2t caption walk.bvh --model runs/kit          # now takes the ONNX path (--backend auto)
    """
    with user_errors():
        from m2t.models.export import export_dir
        written = export_dir(model)
    for p in written:
        typer.echo(f"wrote {p}")


def evaluate(
    model: Path = typer.Argument(..., help="Model directory (model.safetensors + config.json)."),
    dataset: str = typer.Option(..., "--dataset", help="hml3d, kit, or a HumanML3D-format folder."),
    split: str = typer.Option("test", help="Split to evaluate."),
    beam: int = typer.Option(1, help="Beam width (1 = greedy)."),
    protocol: str = typer.Option("m2t", help="m2t, tm2t or motiongpt (see docs/evaluation.md)."),
    legacy_eos: bool = typer.Option(False, help="m2t protocol: score <eos> as the paper's code did."),
    out_dir: Optional[Path] = typer.Option(None, "-o", "--out", help="Write predictions.csv/.jsonl and metrics.json here."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    bertscore_model: Optional[Path] = typer.Option(None, help="Local model folder for BERTScore (never downloaded)."),
    localization: bool = typer.Option(False, "--localization", help="Also score when/which part on the split's composed sequences, beside baselines."),
    plots: Optional[Path] = typer.Option(None, help="Also draw the paper's interpretability figures for the split into this folder (PNG)."),
    window: Optional[float] = typer.Option(None, help="--localization: score the timeline of actions `m2t caption` gives (`segments`), with labelling windows of this many seconds and 0.375x, 0.5x and 0.75x that (2 = caption's default) [default: the action words of one caption per sequence]."),
    hop: Optional[float] = typer.Option(None, help="--localization with --window: seconds between window starts [default: 0.5, as caption]."),
    bertscore_layers: Optional[int] = typer.Option(None, help="Layer of --bertscore-model to use [default: its config's num_hidden_layers]."),
):
    """Caption a split and score it: BLEU@1-4, ROUGE-L, CIDEr-D (and BERTScore when available);
    with --localization also action naming, tIoU recall, onset/offset error, pointing, side,
    attended part and β̂ AUC on composed sequences (`m2t dataset compose`), next to the
    whole-clip, centre, equal-split and kinematic-energy baselines (docs/evaluation.md).

    Examples:

      m2t evaluate runs/kit --dataset kit --beam 2

      m2t evaluate runs/h3d --dataset hml3d --protocol tm2t -o eval/h3d

      m2t evaluate runs/dense --dataset data/composed --localization -o eval/dense

      m2t evaluate runs/dense --dataset data/long --localization --window 2   # as m2t caption

      m2t evaluate runs/dense --dataset data/composed --plots eval/dense/plots

      m2t evaluate runs/kit --dataset kit --bertscore-model ~/models/all-MiniLM-L6-v2
    """
    if beam < 1:
        raise fail(f"--beam must be >= 1, got {beam}")
    given = " and ".join(f for f, v in (("--window", window), ("--hop", hop)) if v is not None)
    if not localization and given:
        typer.echo(f"Warning: {given} {'is' if ' and ' not in given else 'are'} used only with --localization; ignored",
                   err=True)
    elif hop is not None and window is None:
        typer.echo("Warning: --hop is used only with --window; ignored", err=True)
    if window is not None and localization:
        from m2t.models.results import HOP_S, check_windowing
        with user_errors():
            check_windowing(window, hop if hop is not None else min(HOP_S, window))
    with user_errors():
        from m2t.models.evaluation import evaluate as run
        if localization:                     # before the caption evaluation, not after it
            from m2t.models.compose import composed_ids
            composed_ids(dataset, split)
        if plots:
            from m2t.converters.api import check_out_dir
            check_out_dir(plots)
        with progress_bar(TextColumn("captioning"), BarColumn(), TextColumn("{task.completed}/{task.total}")) as bar:
            task = bar.add_task("eval", total=1)
            rep = run(model, dataset, split=split, beam=beam, protocol=protocol, legacy_eos=legacy_eos,
                      out_dir=out_dir, device=device,
                      bertscore_model=str(bertscore_model) if bertscore_model else None,
                      bertscore_layers=bertscore_layers,
                      progress=lambda i, n: bar.update(task, completed=i, total=n))
    t = Table(title=f"{model} on {dataset}:{split} ({rep.n_motions} motions, beam {rep.beam}, protocol {rep.protocol})")
    for k in rep.metrics:
        t.add_column(k)
    t.add_row(*(f"{100 * v:.1f}" for v in rep.metrics.values()))
    out.print(t)
    out.print(rep.notes)
    if "bertscore" not in rep.metrics:
        out.print(f"BERTScore not computed: {rep.bertscore_note}")
    if out_dir:
        out.print(f"wrote {out_dir}/predictions.csv, predictions.jsonl, metrics.json")
    if localization:
        _localization(model, dataset, split, beam, device, out_dir, window, hop)
    if plots:
        _plots(model, dataset, split, beam, device, plots)


def _plots(model, dataset, split, beam, device, folder):
    with user_errors():
        from m2t.models.checkpoint import load_bundle
        from m2t.models.plots import collect, write_plots
        from m2t.models.runtime import pick_device
        bundle = load_bundle(model, pick_device(device))
        with progress_bar(TextColumn("plotting"), BarColumn(), TextColumn("{task.completed}/{task.total}")) as bar:
            task = bar.add_task("plots", total=1)
            traces = collect(bundle, dataset, split, beam,
                             progress=lambda i, n: bar.update(task, completed=i, total=n))
            paths = write_plots(traces, folder, bundle=bundle)
    out.print(f"wrote {len(paths)} figures to {folder}")


def _localization(model, dataset, split, beam, device, out_dir, window=None, hop=None):
    with user_errors():
        from m2t.models.checkpoint import load_bundle
        from m2t.models.localization import evaluate_localization, write_localization
        from m2t.models.runtime import pick_device
        bundle = load_bundle(model, pick_device(device))
        with progress_bar(TextColumn("localising"), BarColumn(), TextColumn("{task.completed}/{task.total}")) as bar:
            task = bar.add_task("loc", total=1)
            rep = evaluate_localization(bundle, dataset, split, beam, window_s=window, hop_s=hop,
                                        progress=lambda i, n: bar.update(task, completed=i, total=n))
        if out_dir:
            write_localization(rep, out_dir)
    m = rep.metrics
    c = m["counts"]
    t = Table(title=f"localisation on {dataset}:{split} ({c['sequences']} sequences, {c['actions']} actions)")
    cols = ["all_named", "named", "recall@0.3", "recall@0.5", "recall@0.7", "mean_tiou", "onset_mae_s",
            "offset_mae_s", "pointing", "side_acc", "part_acc", "beta_auc"]
    methods = ("model", "whole", "centre", "equal", "energy")
    t.add_column("metric")
    for meth in methods:
        t.add_column(meth, justify="right")
    for k in cols:
        t.add_row(k, *("-" if m[meth].get(k) is None else f"{m[meth][k]:.3f}" for meth in methods))
    out.print(t)
    if out_dir:
        out.print(f"wrote {out_dir}/localization.json, localization_predictions.jsonl")
