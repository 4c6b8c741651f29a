"""Train m2t's default model (the recipe behind models/weights/default/MODEL_CARD.md).

    python scripts/train_default_model.py DATASET_DIR OUT_DIR [--resume] [options]

Recipe "dense" (default): single clips plus composed multi-action sequences of the shared data,
and crops of them as dense captioning sees a take (the shipped model: two fine-tunes, the second
with crops; exact commands in its MODEL_CARD.md),
    m2t dataset build --preset shared -o DS
    m2t dataset compose DS -o DSC --train 3000 --val 300 --test 300 --with-singles --crops 2
    python scripts/train_default_model.py DSC runs/dense
`kit`-size model on t2m, λ_spat 2, λ_adapt 3, λ_temp 1 (windows cover the composed actions),
clips up to 700 frames (35 s) and captions up to 48 tokens (composed captions name 2-4 actions).
Resumable after a kill (`--resume`: weights, AdamW moments and RNG state every epoch); every
epoch's model is kept in OUT/epochs/NNN; OUT itself holds the best validation epoch.
`--init-from models/weights/default` fine-tunes the shipped model instead of starting from
scratch (same vocabulary and statistics; far fewer epochs needed).
`--recipe single` is the previous single-clip recipe (max 400 frames, 24 tokens, no λ_temp).
The ablation of docs/results.md is this script with `--lambda-spat/--lambda-adapt/--lambda-temp`;
the attention-width comparison of docs/performance.md is `--recipe single --proj 128|32`.
"""
import argparse
import sys
import time

import torch

from m2t.converters.errors import M2TError
from m2t.models.config import TrainConfig, model_preset
from m2t.models.training import train

RECIPES = {
    "dense": dict(max_frames=700, max_caption_tokens=48, max_decode_len=48, lambda_temp=1.0),
    "single": dict(max_frames=400, max_caption_tokens=24, max_decode_len=30, lambda_temp=0.0),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--overwrite", action="store_true", help="replace a model already in OUT")
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="dense")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lambda-spat", type=float, default=2.0)
    ap.add_argument("--lambda-adapt", type=float, default=3.0)
    ap.add_argument("--lambda-temp", type=float, default=None, help="[recipe: dense 1, single 0]")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    ap.add_argument("--val-every", type=int, default=1)
    ap.add_argument("--init-from", default=None, help="fine-tune this model directory (its vocabulary and statistics)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--part-dropout", type=float, default=0.1, help="share of samples with arms or legs masked")
    ap.add_argument("--proj", type=int, default=None, help="attention (projection) width D [kit preset: 128]")
    ap.add_argument("--train-only", default=None, help="regex over parameter names: train only these (e.g. '^spat_')")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = dict(RECIPES[args.recipe])
    if args.lambda_temp is not None:
        recipe["lambda_temp"] = args.lambda_temp
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=1e-4,
                       lambda_spat=args.lambda_spat, lambda_adapt=args.lambda_adapt, min_freq=2, min_frames=20,
                       seed=1234, keep_epochs=True, val_every=args.val_every,
                       part_dropout=args.part_dropout, train_only=args.train_only, **recipe)
    widths = {} if args.proj is None else {"proj": args.proj}
    mcfg = model_preset("kit", skeleton="t2m", dropout=0.3, **widths)
    t0 = time.time()
    try:
        res = train(args.dataset, args.out, mcfg, tcfg, device=args.device, resume=args.resume,
                    log=lambda m: print(m, flush=True), max_steps=args.max_steps, init_from=args.init_from,
                    overwrite=args.overwrite)
    except M2TError as e:                      # a user error: one line, as the m2t command gives it
        sys.exit(f"Error: {e}")
    print("DONE best_epoch", res.best_epoch, "val_bleu4", res.best_val_bleu4, f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
