"""The guidance ablation of docs/results.md: λ = (0,0), (0,3), (2,3), (2,3)+λ_temp on one dataset,
each trained with scripts/train_default_model.py, then text metrics and localisation metrics
on the test split in one markdown table.

    python scripts/ablation.py DATASET RUNS_DIR [--epochs N] [--init-from MODEL] [--lambda-temp 1] [--window 2]

Runs go to RUNS_DIR/<name>; a run whose model exists is evaluated, not retrained (so the script
can be resumed after a kill: an interrupted run is resumed with --resume). The table is printed
and written to RUNS_DIR/ablation.md, the numbers to RUNS_DIR/ablation.json. The localisation
columns score one caption per sequence (what the guidance acts on); with --window W also the
timeline `m2t caption` gives (`tl ...` columns: `evaluate --localization --window W`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import train_default_model  # noqa: E402

SETTINGS = [("00", 0.0, 0.0, 0.0), ("03", 0.0, 3.0, 0.0), ("23", 2.0, 3.0, 0.0), ("23t", 2.0, 3.0, None)]
TEXT = ("bleu1", "bleu4", "rouge_l", "cider")
LOC = ("all_named", "named", "recall@0.3", "recall@0.5", "recall@0.7", "mean_tiou", "onset_mae_s", "pointing",
       "side_acc", "part_acc", "beta_auc")
TIMELINE = ("all_named", "recall@0.5", "mean_tiou", "side_acc", "part_acc")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("runs")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--init-from", default=None)
    ap.add_argument("--lambda-temp", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="learning rate (train_default_model.py's default if unset)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--window", type=float, default=None, help="also score the dense timeline with these windows (s)")
    args = ap.parse_args(argv)
    from m2t.models.checkpoint import load_bundle
    from m2t.models.evaluation import evaluate
    from m2t.models.localization import evaluate_localization
    runs = Path(args.runs)
    rows = []
    for name, ls, la, lt in SETTINGS:
        lt = args.lambda_temp if lt is None else lt
        out = runs / name
        if not _finished(out, args.epochs):
            cmd = [args.dataset, str(out), "--epochs", str(args.epochs), "--lambda-spat", str(ls),
                   "--lambda-adapt", str(la), "--lambda-temp", str(lt)]
            if args.init_from:
                cmd += ["--init-from", args.init_from]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            if args.lr:
                cmd += ["--lr", str(args.lr)]
            if (out / "last").is_dir():
                cmd.append("--resume")
            train_default_model.main(cmd)
        text = evaluate(out, args.dataset, split=args.split, device="cpu").metrics
        loc = evaluate_localization(load_bundle(out), args.dataset, args.split).metrics
        tl = {}
        if args.window:
            m = evaluate_localization(load_bundle(out), args.dataset, args.split, window_s=args.window).metrics["model"]
            tl = {f"tl {k}": m.get(k) for k in TIMELINE}
        rows.append({"run": name, "lambda_spat": ls, "lambda_adapt": la, "lambda_temp": lt,
                     **{k: text.get(k) for k in TEXT}, **{k: loc["model"].get(k) for k in LOC}, **tl,
                     "baselines": {b: loc[b] for b in ("whole", "centre", "equal", "energy")}})
    tl_cols = [f"tl {k}" for k in TIMELINE] if args.window else []
    head = "| λ_spat, λ_adapt, λ_temp | " + " | ".join(TEXT + LOC + tuple(tl_cols)) + " |"
    lines = [head, "|---" * (len(TEXT) + len(LOC) + len(tl_cols) + 1) + "|"]
    for r in rows:
        vals = [f"{100 * r[k]:.1f}" if r[k] is not None else "-" for k in TEXT]
        vals += [f"{r[k]:.3f}" if r[k] is not None else "-" for k in LOC + tuple(tl_cols)]
        lines.append(f"| {r['lambda_spat']:g}, {r['lambda_adapt']:g}, {r['lambda_temp']:g} | " + " | ".join(vals) + " |")
    for b in ("whole", "centre", "equal", "energy"):
        m = rows[-1]["baselines"][b]
        vals = ["" for _ in TEXT] + [f"{m[k]:.3f}" if m.get(k) is not None else "-" for k in LOC] + ["" for _ in tl_cols]
        lines.append(f"| baseline `{b}` (named as the last run) | " + " | ".join(vals) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    (runs / "ablation.md").write_text(table)
    (runs / "ablation.json").write_text(json.dumps(rows, indent=1))


def _finished(out: Path, epochs: int) -> bool:
    """The run wrote its last epoch (training state in OUT/last/state.json)."""
    state = out / "last" / "state.json"
    return (out / "config.json").is_file() and state.is_file() and json.loads(state.read_text())["epoch"] >= epochs - 1


if __name__ == "__main__":
    main()
