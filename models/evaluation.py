"""`evaluate()`: caption a test split with a trained model and score it (what `m2t evaluate` runs).

Metrics: BLEU@1-4, ROUGE-L, CIDEr-D (models/metrics.py, checked against pycocoevalcap), and
BERTScore only when its weights are available locally (otherwise the report says why). The
protocol (models/protocols.py) decides which references and tokens are scored; the report
always names it. Outputs: predictions.csv, predictions.jsonl, metrics.json (atomic writes).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from m2t.converters.api import check_out_dir

from . import data as D
from .checkpoint import load_bundle
from .decoding import decode_samples
from .metrics import BertScoreError, bertscore, bertscore_status, local_model_layers, score_all
from .protocols import PROTOCOLS, prepare
from .runtime import pick_device


@dataclass
class EvalReport:
    protocol: str
    notes: str
    split: str
    n_motions: int
    n_filtered: int
    beam: int
    metrics: dict
    bertscore_note: str
    predictions: list = field(default_factory=list)   # {"id", "prediction", "references"}

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "predictions"}
        return d


def evaluate(model_dir, dataset: str, split: str = "test", beam: int = 1, protocol: str = "m2t",
             legacy_eos: bool = False, out_dir=None, device: str = "auto", batch_size: int = 64,
             max_len: int = 30, bertscore_model: str | None = None, bertscore_layers: int | None = None,
             progress=None) -> EvalReport:
    if protocol not in PROTOCOLS:
        raise D.DatasetError(f"unknown --protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if bertscore_model is not None and not Path(bertscore_model).is_dir():     # a typo: said before any work
        raise D.DatasetError(f"{bertscore_model}: --bertscore-model folder not found")
    if out_dir is not None:
        check_out_dir(out_dir)
    dev = pick_device(device)
    bundle = load_bundle(model_dir, dev)
    root, _ = D.resolve_dataset(dataset)
    samples, _ = D.load_samples(root, D.read_split(root, split))
    train_cfg = bundle.meta.get("train", {})
    lo, hi = train_cfg.get("min_frames", 0), train_cfg.get("max_frames", 10 ** 9)
    expected_j = 22 if bundle.cfg.skeleton == "t2m" else 21
    if samples and samples[0].joints.shape[1] != expected_j:     # before the length filter: its frames are the model's
        raise D.DatasetError(f"{root}: motions have {samples[0].joints.shape[1]} joints, the model expects {expected_j} "
                             f"({bundle.cfg.skeleton})")
    kept = [s for s in samples if lo <= s.joints.shape[0] <= hi]
    if not kept:
        raise D.DatasetError(f"{root}: no motions with captions in split {split!r} (within {lo}-{hi} frames)")
    preds = [bundle.vocab.decode(d.ids)
             for _, decs, _ in decode_samples(bundle, kept, beam, batch_size, max_len, progress) for d in decs]
    refs = [[c.tokens for c in s.captions] for s in kept]
    lemma_note = None
    if protocol in ("tm2t", "motiongpt"):            # TM2T scores HumanML3D's lemmatised token field
        refs, lemma_note = lemma_references(kept)
    prep = prepare(protocol, preds, refs, legacy_eos=legacy_eos, lemma_note=lemma_note)
    metrics = score_all(prep.hyps, prep.refs)
    note = bertscore_status(bertscore_model)
    try:
        bs = bertscore(prep.hyps, prep.refs, bertscore_model, bertscore_layers)
        if bs is not None and bertscore_model is not None:
            note += f", layer {local_model_layers(bertscore_model, bertscore_layers)}"
    except BertScoreError as e:                      # the other metrics stand; the report says why
        bs, note = None, str(e)
    if bs is not None:
        metrics["bertscore"] = bs
    report = EvalReport(protocol, prep.notes, split, len(kept), len(samples) - len(kept), beam, metrics,
                        note if bs is None else "computed: " + note,
                        [{"id": s.id, "prediction": " ".join(p), "references": [" ".join(r) for r in rs]}
                         for s, p, rs in zip(kept, preds, refs)])
    if out_dir is not None:
        write_report(report, out_dir, model_dir, dataset)
    return report


def lemma_references(samples) -> tuple[list[list[list[str]]], str]:
    """References as TM2T scores them: each caption's lemmatised token field from the dataset's
    text files (HumanML3D's `word/POS` field holds lemmas); a caption without that field keeps its
    tokens, and the note says how many did."""
    refs, missing, total = [], 0, 0
    for s in samples:
        group = []
        for c in s.captions:
            total += 1
            if c.lemmas:
                group.append(c.lemmas)
            else:
                group.append(c.tokens)
                missing += 1
        refs.append(group)
    note = ("references lemmatised: the dataset's lemmatised token field (HumanML3D word/POS), as TM2T"
            + (f"; {missing} of {total} captions had no such field and are used as written" if missing else ""))
    return refs, note


def write_report(report: EvalReport, out_dir, model_dir, dataset) -> list[Path]:
    from m2t.converters.fileio import write_text_atomic
    out = Path(out_dir)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "prediction", "references"])
    for p in report.predictions:
        w.writerow([p["id"], p["prediction"], " | ".join(p["references"])])
    files = [out / "predictions.csv", out / "predictions.jsonl", out / "metrics.json"]
    write_text_atomic(files[0], buf.getvalue())
    write_text_atomic(files[1], "".join(json.dumps(p) + "\n" for p in report.predictions))
    write_text_atomic(files[2], json.dumps({"model": str(model_dir), "dataset": str(dataset), **report.to_dict()},
                                           indent=1))
    return files
