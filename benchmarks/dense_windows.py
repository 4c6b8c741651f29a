"""Which labelling windows give the best dense timeline? Localisation of the `segments` that
`m2t caption` gives (models/dense.py) on composed takes, one row per (window, hop), plus the
action words of one caption of the whole take.

    m2t dataset compose DS -o LONG --train 0 --val 0 --test 40 --min-actions 8 --max-actions 12 --seed 11
    python benchmarks/dense_windows.py --model models/weights/default --dataset LONG [--five-min FIVE]
    python benchmarks/dense_windows.py --model models/weights/default --dataset DSC --split val   # choose here
    python benchmarks/dense_windows.py --model models/weights/default --dataset DSC --split val --pads 0,0.25,0.5
(--pads: only the default windows, once per context `models.dense.PAD_S` an action is captioned with.)
    python benchmarks/dense_windows.py --model models/weights/default --dataset DSC --split val --scales "1;0.75,1" --min-actions 0.25,0.35
    python benchmarks/dense_windows.py --model models/weights/default --dataset DSC --split val --synonyms off,on
(--synonyms: only the defaults, without and with the model's synonym classes, models/synonyms.py.)
    python benchmarks/dense_windows.py --model models/weights/default --dataset DSC --split val --dense-after 4,3,2
(--dense-after: only the defaults, once per length (s) past which a take gets the timeline, not one
caption, `models.results.DENSE_AFTER_S`.)
(--scales / --min-actions: only --window/--hop, once per window lengths `models.dense.SCALES` (";"
between settings) and Viterbi change cost `models.dense.MIN_ACTION_S`. Without them every row
uses the defaults (`SCALES`, four window lengths): the one-length rows of docs/outputs.md were measured at
commit d291dc0, before `SCALES` existed.)

With --five-min (a folder of composed takes of about 5 minutes: `--min-actions 80 --max-actions 80`),
also the wall time and peak resident memory of the default windowing on each such take.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from m2t.models.checkpoint import load_bundle
from m2t.models.localization import evaluate_localization

SETTINGS = [(None, None), (1.5, 0.5), (2, 0.5), (3, 0.5), (4, 0.5), (4, 1), (6, 1)]
COLUMNS = ("all_named", "named", "recall@0.3", "recall@0.5", "recall@0.7", "mean_tiou", "onset_mae_s", "offset_mae_s",
           "pointing", "side_acc", "part_acc")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--pads", default=None, help="comma-separated PAD_S values (s) to compare at --window/--hop")
    ap.add_argument("--scales", default=None, help='";"-separated settings of models.dense.SCALES, e.g. "1;0.75,1"')
    ap.add_argument("--min-actions", default=None, help="comma-separated models.dense.MIN_ACTION_S values (s)")
    ap.add_argument("--synonyms", default=None, help="off,on: the defaults without / with the model's synonym classes")
    ap.add_argument("--dense-after", default=None, help="comma-separated DENSE_AFTER_S values (s) to compare")
    ap.add_argument("--five-min", default=None)
    ap.add_argument("--window", type=float, default=2.0, help="window for the 5-minute timing")
    ap.add_argument("--hop", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.model)
    rows = []
    print("| window, hop (s) | " + " | ".join(COLUMNS) + " | predicted | seconds |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    from m2t.models import dense
    settings = SETTINGS
    if args.pads:
        settings = [(args.window, args.hop, ("pad", float(p))) for p in args.pads.split(",")]
    if args.scales or args.min_actions:
        scales = [tuple(float(x) for x in sc.split(",")) for sc in (args.scales or ",".join(map(str, dense.SCALES))).split(";")]
        mins = [float(x) for x in (args.min_actions or str(dense.MIN_ACTION_S)).split(",")]
        settings = [(args.window, args.hop, ("cut", sc, m)) for sc in scales for m in mins]
    if sum(bool(x) for x in (args.pads, args.scales or args.min_actions, args.synonyms, args.dense_after)) > 1:
        ap.error("--pads, --scales/--min-actions, --synonyms and --dense-after are separate comparisons: one at a time")
    if args.synonyms:
        if not set(args.synonyms.split(",")) <= {"on", "off"}:
            ap.error(f"--synonyms takes on and/or off, got {args.synonyms!r}")
        settings = [(args.window, args.hop, ("synonyms", v)) for v in args.synonyms.split(",")]
    if args.dense_after:
        settings = [(args.window, args.hop, ("dense_after", float(v))) for v in args.dense_after.split(",")]
    defaults = (dense.PAD_S, dense.SCALES, dense.MIN_ACTION_S)
    classes = bundle.meta.get("synonyms") or {}
    for w, h, *extra in settings:
        dense.PAD_S, dense.SCALES, dense.MIN_ACTION_S = defaults      # each setting starts from the defaults
        bundle.meta["synonyms"] = classes
        label = ""
        if extra and extra[0][0] == "synonyms":
            bundle.meta["synonyms"] = classes if extra[0][1] == "on" else {}
            label = f", synonyms {extra[0][1]}"
        elif extra and extra[0][0] == "pad":
            dense.PAD_S = extra[0][1]
            label = f", pad {dense.PAD_S:g}"
        elif extra and extra[0][0] == "dense_after":
            label = f", dense after {extra[0][1]:g} s"
        elif extra:
            dense.SCALES, dense.MIN_ACTION_S = extra[0][1], extra[0][2]
            label = f", lengths x{'/'.join(f'{k:g}' for k in dense.SCALES)}, min action {dense.MIN_ACTION_S:g}"
        t0 = time.perf_counter()
        rep = evaluate_localization(bundle, args.dataset, args.split, window_s=w, hop_s=h,
                                    dense_after_s=extra[0][1] if extra and extra[0][0] == "dense_after" else None)
        dt = time.perf_counter() - t0
        m = rep.metrics["model"]
        name = "whole take, one caption" if w is None else f"{w:g}, {h:g}" + label
        rows.append({"window_s": w, "hop_s": h, "setting": label, "seconds": dt, **{k: m.get(k) for k in COLUMNS},
                     "counts": rep.metrics["counts"]})
        print(f"| {name} | " + " | ".join("-" if m.get(k) is None else f"{m[k]:.3f}" for k in COLUMNS)
              + f" | {rep.metrics['counts']['predicted']} | {dt:.1f} |", flush=True)
    dense.PAD_S, dense.SCALES, dense.MIN_ACTION_S = defaults          # the 5-minute timing uses the defaults
    bundle.meta["synonyms"] = classes
    timing = []
    if args.five_min:
        from m2t.models import data as D
        from m2t.models.dense import dense_timeline
        root, _ = D.resolve_dataset(args.five_min)
        samples, _ = D.load_samples(root, D.read_split(root, "test"))
        from m2t.converters.skeletons import get_skeleton
        fps = get_skeleton(bundle.cfg.skeleton).fps
        for s in samples:
            t0 = time.perf_counter()
            timeline, windows = dense_timeline(s.joints / bundle.input_scale, fps, bundle, args.window, args.hop)
            dt = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            timing.append({"id": s.id, "duration_s": s.joints.shape[0] / fps, "windows": len(windows),
                           "actions": len(timeline), "seconds": dt, "peak_rss_mb": rss})
            print(f"{s.id}: {s.joints.shape[0] / fps:.1f} s take, {len(windows)} windows, {len(timeline)} actions, "
                  f"{dt:.2f} s, peak RSS {rss:.0f} MB", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"settings": rows, "five_minute": timing}, f, indent=1)


if __name__ == "__main__":
    main()
