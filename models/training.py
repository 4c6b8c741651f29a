"""`train()`: the captioner's training loop (also what `m2t train` runs).

AdamW, gradient clipping, dropout, teacher forcing, shuffled length-bucketed batches, a
checkpoint chosen on validation BLEU-4 of *greedy* captions (no teacher forcing), seeds,
resumable after a kill (state saved every epoch), CPU or CUDA, and DDP when launched with
torchrun (loss terms are normalised by global counts, so N processes match one process with
the same global batch).
"""
from __future__ import annotations

import json
import math
import random
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from m2t.converters.api import check_out_dir
from m2t.converters.errors import ConfigError
from m2t.converters.skeletons import get_skeleton

from . import data as D, synonyms
from .checkpoint import STATE, WEIGHTS, Bundle, load_train_state, read_train_info, save_bundle, save_train_state
from .config import CaptionerConfig, TrainConfig
from .decoding import greedy
from .batching import batch_features, bucket_batches, collate
from .features import Normalizer, motion_features
from .metrics import bleu
from .network import Captioner
from .runtime import dist_from_env, m2t_version, pick_device  # noqa: F401 (pick_device re-exported)
from .losses import adapt_loss, language_loss, spatial_loss, temporal_loss, total_loss
from .supervision import caption_targets
from .vocab import PAD_ID, Vocab

def tune_cpu_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds so large attention temporaries are not mmapped and
    unmapped every step (environment-notes: ~2x on CPU training). No-op off glibc."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        ok = libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 34)
        return bool(ok)
    except (OSError, AttributeError):
        return False


@dataclass
class Prepared:
    train_items: list
    val_samples: list
    vocab: Vocab
    norm: Normalizer
    skeleton: str
    fingerprint: str
    counts: dict = field(default_factory=dict)
    synonyms: dict = field(default_factory=dict)     # models/synonyms.py, fitted on the train captions


def prepare_data(root: Path, tcfg: TrainConfig, vocab: Vocab | None = None, norm: Normalizer | None = None,
                 log=print) -> Prepared:
    """Read train/val splits, filter, mirror, fit statistics and vocabulary on train only."""
    train_ids, val_ids = D.read_split(root, tcfg.train_split), D.read_split(root, tcfg.val_split)
    train, skip_t = D.load_samples(root, train_ids)
    val, skip_v = D.load_samples(root, val_ids)
    if not train:
        raise D.DatasetError(f"{root}: no usable motions in split {tcfg.train_split!r} "
                             f"({skip_t} ids without joints or captions)")
    skeleton = D.skeleton_of(train + val)

    def keep(s):
        return tcfg.min_frames <= s.joints.shape[0] <= tcfg.max_frames

    n0 = len(train)
    train, val = [s for s in train if keep(s)], [s for s in val if keep(s)]
    n_filtered = n0 - len(train)
    if not train:
        raise D.DatasetError(f"{root}: every train motion is outside {tcfg.min_frames}-{tcfg.max_frames} frames "
                             f"(set --min-frames/--max-frames)")
    classes = synonyms.fit_captions(s.captions for s in train)
    if tcfg.mirror and not any(s.id.startswith("M") for s in train):
        train = train + [D.mirror_sample(s, skeleton) for s in train]
    norm = norm or Normalizer.fit([s.joints for s in train])
    vocab = vocab or Vocab.build((c.tokens for s in train for c in s.captions), tcfg.min_freq)

    def targets(tokens, pos):
        return caption_targets(tokens, pos, side_aware=tcfg.side_aware, extended_words=tcfg.extended_words)

    items = D.make_items(train, norm, vocab, tcfg.downsample, targets, tcfg.max_caption_tokens)
    counts = {"train_motions": len(train), "train_captions": len(items), "val_motions": len(val),
              "skipped_ids": skip_t + skip_v, "filtered_by_length": n_filtered}
    log(f"data: {len(train)} train motions, {len(items)} captions, {len(val)} val motions, vocabulary {len(vocab)}, "
        f"{len(set(classes.values()))} synonym classes of action words"
        + (f"; {n_filtered} train motions outside {tcfg.min_frames}-{tcfg.max_frames} frames left out "
           "(--min-frames/--max-frames)" if n_filtered else ""))
    if not val:
        warnings.warn(f"{root}: no usable motions in split {tcfg.val_split!r}: no validation, the last epoch is kept")
    return Prepared(items, val, vocab, norm, skeleton, D.fingerprint(train), counts, classes)


def validation_bleu(model, samples, norm, vocab, downsample, device, max_len=30, batch_size=64) -> float:
    """BLEU-4 of greedy captions against all references of each motion."""
    if not samples:
        return float("nan")
    hyps, refs = [], []
    for i in range(0, len(samples), batch_size):
        chunk = samples[i:i + batch_size]
        x, mask = batch_features([motion_features(s.joints, norm, downsample) for s in chunk], device)
        for s, dec in zip(chunk, greedy(model, x, mask, max_len)):
            hyps.append(" ".join(vocab.decode(dec.ids)))
            refs.append([" ".join(c.tokens) for c in s.captions])
    return bleu(hyps, refs, 4)[-1]


def scheduled_inputs(model, batch, teacher_forcing: float, generator) -> torch.Tensor:
    """Parallel scheduled sampling: with probability 1 - p per position, replace the input token
    by the model's own prediction from a teacher-forced pass (no gradient)."""
    y_in = batch.y[:, :-1]
    if teacher_forcing >= 1.0:
        return y_in
    with torch.no_grad():
        logits, _ = model(batch.x, batch.mask, y_in)
    pred = torch.cat([y_in[:, :1], logits.argmax(-1)[:, :-1]], 1)
    coin = torch.rand(y_in.shape, generator=generator) >= teacher_forcing
    coin[:, 0] = False
    coin &= y_in != PAD_ID
    return torch.where(coin.to(y_in.device), pred, y_in)


# limb sets a partial marker set leaves out (t2m/kit part order: root, torso, l arm, r arm, l leg, r leg)
DROPOUT_PATTERNS = ((2, 3), (4, 5), (2,), (3,))


def part_dropout(alpha_targets: torch.Tensor, p: float, generator) -> torch.Tensor | None:
    """Random part masks (B, P) that mimic partial marker sets (no arms, no legs, one arm missing),
    each sample with probability p; a limb the caption's α targets point at is never dropped."""
    if p <= 0:
        return None
    B, _, P = alpha_targets.shape
    used = (alpha_targets > 0).any(1)                                   # (B, P)
    mask = torch.ones(B, P)
    coin = torch.rand(B, generator=generator) < p
    pick = torch.randint(len(DROPOUT_PATTERNS), (B,), generator=generator)
    for b in torch.nonzero(coin)[:, 0].tolist():
        parts = list(DROPOUT_PATTERNS[int(pick[b])])
        if not used[b, parts].any():
            mask[b, parts] = 0.0
    return mask.to(alpha_targets.device)


def loss_terms(model, batch, tcfg: TrainConfig, generator, world: int = 1):
    """-> (total loss, {name: local mean}, {name: local count}). In DDP each term is a local sum
    over the global count times the world size, so averaged gradients equal the global mean.
    λ_temp's term is computed only when tcfg.lambda_temp > 0 (it needs batch.seg)."""
    y_in = scheduled_inputs(model, batch, tcfg.teacher_forcing, generator)
    part_mask = part_dropout(batch.alpha, tcfg.part_dropout, generator) if model.training else None
    logits, att = model(batch.x, batch.mask, y_in, part_mask)
    target = batch.y[:, 1:]
    tok = target != PAD_ID
    sup_b = (batch.beta != -1) & tok
    sup_a = (batch.alpha[..., 0] != -1) & tok
    counts = {"lang": tok.sum(), "adapt": sup_b.sum(),
              "spat": (sup_a[:, :, None] & batch.mask[:, None, :]).sum() * batch.alpha.shape[-1]}
    means = {"lang": language_loss(logits, target, PAD_ID),
             "adapt": adapt_loss(att.beta, batch.beta, tok),
             "spat": spatial_loss(att.alpha, batch.alpha, tok, batch.mask)}
    if tcfg.lambda_temp > 0 and batch.seg is not None:
        counts["temp"] = ((batch.seg[..., 0] >= 0) & tok).sum()
        means["temp"] = temporal_loss(att.centre, att.width, batch.seg, tok, batch.mask.sum(1),
                                      tcfg.temp_slack)
    scale = {k: 1.0 for k in means}
    if world > 1:
        names = list(means)
        glob = torch.stack([counts[k].float() for k in names])
        torch.distributed.all_reduce(glob)
        for k, g in zip(names, glob):
            scale[k] = (counts[k].float() / g.clamp(min=1) * world) if g > 0 else torch.tensor(0.0)
    total = total_loss(means["lang"] * scale["lang"], means["spat"] * scale["spat"],
                       means["adapt"] * scale["adapt"], tcfg.lambda_spat, tcfg.lambda_adapt,
                       means["temp"] * scale["temp"] if "temp" in means else 0.0, tcfg.lambda_temp)
    return total, {k: float(v.detach()) for k, v in means.items()}, {k: int(v) for k, v in counts.items()}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainResult:
    out_dir: Path
    best_epoch: int
    best_val_bleu4: float
    history: list


def train(dataset: str, out_dir, model_cfg: CaptionerConfig, tcfg: TrainConfig, device: str = "auto",
          resume: bool = False, progress=None, log=print, max_steps: int | None = None,
          init_from=None, export_onnx: bool = False, overwrite: bool = False) -> TrainResult:
    """Train a captioner on a HumanML3D-format dataset; writes the best model to `out_dir`
    (with `export_onnx`, also its ONNX graphs at the end: models.export).

    `init_from`: a model directory to fine-tune: its architecture, weights, vocabulary and
    normalisation are used (`model_cfg` is then ignored; words new to its vocabulary are <unk>).

    progress(epoch, step, n_steps, losses) is called after every step when given. `max_steps`
    stops after that many optimizer steps in total (for tests and benchmarks). A model already in
    `out_dir` is refused unless `resume` (continue it) or `overwrite` (replace it).
    """
    tcfg.check()
    if not 0 <= model_cfg.dropout < 1:
        raise ConfigError(f"--dropout must be in [0, 1), got {model_cfg.dropout}")
    check_out_dir(out_dir)                   # a file there: said now, not after the training
    if not resume and not overwrite and (Path(out_dir) / WEIGHTS).exists():
        raise ConfigError(f"{out_dir}: holds a trained model already; --resume continues it, --overwrite "
                          "replaces it, or give another -o")
    if resume and not (Path(out_dir) / "last" / STATE).is_file():
        raise ConfigError(f"{out_dir}: nothing to resume (no finished epoch in {Path(out_dir) / 'last'}); "
                          "run without --resume")
    dist = dist_from_env(device)
    world, rank, dev = dist.world, dist.rank, dist.device
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(dist.backend)
    if dev.type == "cpu":
        tune_cpu_allocator()
    seed_everything(tcfg.seed)
    root, _ = D.resolve_dataset(dataset)
    out = Path(out_dir)
    init = None
    if init_from is not None:                # fine-tune: the model, vocabulary and statistics of a trained model
        from .checkpoint import load_bundle
        init = load_bundle(init_from, "cpu")
        model_cfg = init.cfg
        if init.downsample != tcfg.downsample:
            raise D.DatasetError(f"{init_from}: trained with downsample {init.downsample}, not {tcfg.downsample}")
    prep = prepare_data(root, tcfg, vocab=init and init.vocab, norm=init and init.norm,
                        log=log if rank == 0 else (lambda *a: None))
    if init is not None and prep.skeleton != init.cfg.skeleton:
        raise D.DatasetError(f"{root}: {prep.skeleton} motions, but {init_from} is a {init.cfg.skeleton} model")
    cfg = CaptionerConfig.from_dict({**model_cfg.to_dict(), "skeleton": prep.skeleton, "vocab_size": len(prep.vocab)})
    model = Captioner(cfg).to(dev)
    if init is not None:
        model.load_state_dict(init.model.state_dict())
        prep.counts["init_from"] = str(init_from)
        if not prep.synonyms:                # no single-action clips to fit on: keep the classes it had
            prep.synonyms = dict(init.meta.get("synonyms") or {})
            if prep.synonyms and rank == 0:
                log(f"kept the {len(set(prep.synonyms.values()))} synonym classes of {init_from}")
    trained = [p for n, p in model.named_parameters() if tcfg.train_only is None or re.search(tcfg.train_only, n)]
    if not trained:
        raise ConfigError(f"--train-only {tcfg.train_only!r} matches no parameter of the model")
    for n, p in model.named_parameters():
        p.requires_grad_(tcfg.train_only is None or re.search(tcfg.train_only, n) is not None)
    opt = torch.optim.AdamW(trained, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    ddp = torch.nn.parallel.DistributedDataParallel(model, **dist.ddp_kwargs()) if world > 1 else None
    net = ddp or model
    start_epoch, best, best_epoch, history = 0, -1.0, -1, []
    if resume:                               # the dataset first: another vocabulary would not even load
        if read_train_info(out / "last").get("fingerprint") != prep.fingerprint:
            raise D.DatasetError(f"{out}: --resume with a different dataset (fingerprint changed)")
        info = load_train_state(out / "last", model, opt)
        start_epoch, best, best_epoch, history = info["epoch"] + 1, info["best"], info["best_epoch"], info["history"]
        log(f"resuming after epoch {info['epoch']} " + (f"(best val BLEU-4 {best:.4f} at epoch {best_epoch})"
                                                         if best >= 0 else "(no validation motions)"))
    lengths = [it.x.shape[0] for it in prep.train_items]
    steps_done = 0
    for epoch in range(start_epoch, tcfg.epochs):
        gen = torch.Generator().manual_seed(tcfg.seed * 1000 + epoch)
        torch.manual_seed(tcfg.seed * 1000 + epoch)          # dropout masks: same after --resume
        batches = bucket_batches(lengths, tcfg.batch_size, gen)
        model.train()
        t0, n = time.time(), 0
        sums = {"lang": 0.0, "adapt": 0.0, "spat": 0.0, **({"temp": 0.0} if tcfg.lambda_temp > 0 else {})}
        for bi, idx in enumerate(batches):
            local = idx[rank::world] if world > 1 else idx
            if not local:
                continue
            batch = collate([prep.train_items[i] for i in local]).to(dev)
            loss, means, _ = loss_terms(net, batch, tcfg, gen, world)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tcfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            for k in sums:
                sums[k] += means.get(k, 0.0)
            n += 1
            steps_done += 1
            if progress:
                progress(epoch, bi + 1, len(batches), means)
            if max_steps and steps_done >= max_steps:
                break
        last = epoch == tcfg.epochs - 1 or bool(max_steps and steps_done >= max_steps)
        validate = rank == 0 and ((epoch + 1) % max(tcfg.val_every, 1) == 0 or last)
        val = validation_bleu(model, prep.val_samples, prep.norm, prep.vocab, tcfg.downsample, dev,
                              tcfg.max_decode_len) if validate else float("nan")
        rec = {"epoch": epoch, **{f"loss_{k}": v / max(n, 1) for k, v in sums.items()},
               "val_bleu4": None if math.isnan(val) else val, "seconds": round(time.time() - t0, 2)}
        history.append(rec)
        if rank == 0:
            # keep the best validated epoch; with no validation motions, the latest validated one
            if validate and (math.isnan(val) or val >= best):
                best, best_epoch = (val if not math.isnan(val) else best), epoch
                save_bundle(out, Bundle(model, prep.vocab, prep.norm, tcfg.downsample,
                                        get_skeleton(prep.skeleton).npy_scale,
                                        meta=_meta(prep, tcfg, history, best, best_epoch, dataset)))
            if tcfg.keep_epochs:                               # every epoch's model, for later selection
                save_bundle(out / "epochs" / f"{epoch:03d}",
                            Bundle(model, prep.vocab, prep.norm, tcfg.downsample, get_skeleton(prep.skeleton).npy_scale,
                                   meta=_meta(prep, tcfg, history, val, epoch, dataset)))
            save_train_state(out / "last", model, opt, {"epoch": epoch, "best": best, "best_epoch": best_epoch,
                                                         "history": history, "fingerprint": prep.fingerprint})
            log(json.dumps(rec))
        if max_steps and steps_done >= max_steps:
            break
    if world > 1:
        torch.distributed.barrier()
    if export_onnx and rank == 0 and best_epoch >= 0:
        from .export import export_dir
        export_dir(out)
    return TrainResult(out, best_epoch, best, history)


def _meta(prep: Prepared, tcfg: TrainConfig, history, best, best_epoch, dataset) -> dict:
    return {"m2t_version": m2t_version(), "train": tcfg.to_dict(), "dataset": str(dataset),
            "dataset_fingerprint": prep.fingerprint, "data_counts": prep.counts,
            "metrics": {"val_bleu4": best if best >= 0 else None, "best_epoch": best_epoch}, "history": history,
            "synonyms": prep.synonyms}
