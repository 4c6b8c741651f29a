"""Corpus-level caption metrics (BLEU@1-4, ROUGE-L, CIDEr-D) matching the COCO caption evaluation.

Pure Python + numpy (no torch), written from the published definitions; `tests/test_model_metrics.py`
checks them against pycocoevalcap 1.2 to 1e-6. Inputs are pre-tokenised strings: one hypothesis per
item and one or more references per item, tokens separated by whitespace (no PTB tokenizer, as in the
paper's `nlg_evaluation.py`). Choosing which tokens to score (`<eos>`, lemmas, number of references)
is the job of `models.protocols`.

Definitions (COCO conventions):

- BLEU@k: clipped n-gram counts summed over the corpus, precision of order n = (correct + 1e-15) /
  (guessed + 1e-9); BLEU@k is the geometric mean of orders 1..k times the brevity penalty
  exp(1 - r/c) when c < r, with c the total hypothesis length and r the sum over items of the
  reference length closest to the hypothesis length (ties go to the shorter reference).
- ROUGE-L: per item, the LCS with each reference gives precision LCS/|hyp| and recall LCS/|ref|;
  the maxima over references are combined as F = (1 + b^2) P R / (R + b^2 P), b = 1.2; mean over items.
- CIDEr-D: n-grams n = 1..4 weighted by tf * (log N - log max(1, df)), with N the number of items and
  df the number of items whose references contain the n-gram; per order, the clipped cosine
  sum(min(h, r) * r) / (|h| |r|) times exp(-(lh - lr)^2 / (2 sigma^2)), where lh, lr count the
  bigrams of hypothesis and reference (as COCO does; the difference equals that of the token
  counts, since an empty caption has cosine 0 anyway); averaged over orders and references, times
  10, mean over items. Scores are not capped, so 1.06 is reported as CIDEr 106.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter

import numpy as np

from m2t.converters.errors import M2TError

_TINY, _SMALL = 1e-15, 1e-9


def _check(hyps, refs) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Validate the inputs and split them into tokens."""
    if isinstance(hyps, str) or not isinstance(hyps, (list, tuple)):
        raise ValueError(f"hyps must be a list of strings, got {type(hyps).__name__}")
    if isinstance(refs, str) or not isinstance(refs, (list, tuple)):
        raise ValueError(f"refs must be a list of lists of strings, got {type(refs).__name__}")
    if not hyps:
        raise ValueError("no hypotheses to score (hyps is empty)")
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference groups; need one group per hypothesis")
    h_tok, r_tok = [], []
    for i, (h, rs) in enumerate(zip(hyps, refs)):
        if not isinstance(h, str):
            raise ValueError(f"hypothesis {i} is a {type(h).__name__}, expected a string")
        if isinstance(rs, str) or not isinstance(rs, (list, tuple)) or not all(isinstance(r, str) for r in rs):
            raise ValueError(f"references of item {i} must be a list of strings")
        if not rs:
            raise ValueError(f"item {i} has no reference")
        h_tok.append(h.split())
        r_tok.append([r.split() for r in rs])
    return h_tok, r_tok


def _ngrams(tokens: list[str], n: int) -> Counter:
    """Counts of every n-gram of order 1..n, keyed by tuples."""
    return Counter(tuple(tokens[i:i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1))


def bleu(hyps: list[str], refs: list[list[str]], n: int = 4) -> list[float]:
    """Corpus BLEU@1..n as COCO computes it.

    Parameters
    ----------
    hyps : list of str
        One whitespace-tokenised hypothesis per item.
    refs : list of list of str
        The references of each item (at least one).
    n : int
        Highest n-gram order.

    Returns
    -------
    list of float
        ``[BLEU@1, ..., BLEU@n]``, each in [0, 1].
    """
    h_tok, r_tok = _check(hyps, refs)
    correct, guess = np.zeros(n), np.zeros(n)
    hyp_len = ref_len = 0
    for h, rs in zip(h_tok, r_tok):
        max_ref = Counter()
        for r in rs:
            max_ref |= _ngrams(r, n)                  # union keeps the max count per n-gram
        for g, c in _ngrams(h, n).items():
            correct[len(g) - 1] += min(c, max_ref[g])
        guess += [max(0, len(h) - k) for k in range(n)]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]
    scores, prod = [], 1.0
    for k in range(n):
        prod *= (correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(prod ** (1.0 / (k + 1)))
    ratio = (hyp_len + _TINY) / (ref_len + _SMALL)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return [float(s) for s in scores]


def _lcs(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(hyps: list[str], refs: list[list[str]], beta: float = 1.2) -> float:
    """COCO ROUGE-L: LCS F-measure per item (max P and max R over references), mean over items.

    An empty hypothesis scores 0. Returns a fraction in [0, 1].
    """
    h_tok, r_tok = _check(hyps, refs)
    total = 0.0
    for h, rs in zip(h_tok, r_tok):
        lcs = [_lcs(r, h) for r in rs]
        p = max((l / len(h) if h else 0.0) for l in lcs)
        r = max((l / len(ref) if ref else 0.0) for l, ref in zip(lcs, rs))
        if p > 0 and r > 0:
            total += (1 + beta ** 2) * p * r / (r + beta ** 2 * p)
    return total / len(h_tok)


def _tfidf(counts: Counter, df: Counter, log_n: float, n: int):
    """Per-order tf-idf vectors, their norms and the bigram count (COCO's length term)."""
    vec = [dict() for _ in range(n)]
    for g, tf in counts.items():
        vec[len(g) - 1][g] = tf * (log_n - math.log(max(1.0, df[g])))
    norms = [math.sqrt(sum(v * v for v in d.values())) for d in vec]
    length = sum(tf for g, tf in counts.items() if len(g) == 2)
    return vec, norms, length


def cider_d(hyps: list[str], refs: list[list[str]], sigma: float = 6.0) -> float:
    """COCO CIDEr-D, document frequencies taken from the references of this set.

    Returns the mean over items of 10 x the averaged clipped, length-penalised cosine; COCO tables
    print it x100 (1.062 -> 106.2). A set of one item always scores 0 (log N = 0).
    """
    n = 4
    h_tok, r_tok = _check(hyps, refs)
    r_counts = [[_ngrams(r, n) for r in rs] for rs in r_tok]
    df = Counter()
    for cs in r_counts:
        df.update(set().union(*cs))
    log_n = math.log(len(h_tok))
    item_scores = []
    for h, cs in zip(h_tok, r_counts):
        hv, hn, hl = _tfidf(_ngrams(h, n), df, log_n, n)
        acc = np.zeros(n)
        for c in cs:
            rv, rn, rl = _tfidf(c, df, log_n, n)
            pen = math.exp(-((hl - rl) ** 2) / (2 * sigma ** 2))
            for k in range(n):
                dot = sum(min(w, rv[k].get(g, 0.0)) * rv[k].get(g, 0.0) for g, w in hv[k].items())
                if hn[k] != 0 and rn[k] != 0:
                    dot /= hn[k] * rn[k]
                acc[k] += dot * pen
        item_scores.append(10.0 * float(np.mean(acc)) / len(cs))
    return float(np.mean(item_scores))


def score_all(hyps: list[str], refs: list[list[str]]) -> dict[str, float]:
    """All COCO metrics at once.

    Returns
    -------
    dict
        ``bleu1``..``bleu4`` and ``rouge_l`` as fractions in [0, 1]; ``cider`` as COCO returns it
        (1.06 means a table's 106).
    """
    b = bleu(hyps, refs, 4)
    out = {f"bleu{k + 1}": b[k] for k in range(4)}
    out["rouge_l"] = rouge_l(hyps, refs)
    out["cider"] = cider_d(hyps, refs)
    return out


# ----------------------------------------------------------------------------- BERTScore (optional)
def bertscore_status(model_path: str | None = None) -> str:
    """Whether BERTScore can run offline; a string starting with ``"ok"`` or giving the reason not.

    Never downloads: with no `model_path`, roberta-large must already be in the local Hugging Face
    cache.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import bert_score  # noqa: F401
    except ImportError:
        return "bert-score not installed (pip install bert-score)"
    if model_path is not None:
        if not os.path.isdir(model_path):
            return f"model path {model_path} not found"
        return f"ok: local model {model_path} (not comparable to published roberta-large BERTScore)"
    try:
        from huggingface_hub import try_to_load_from_cache
        cached = try_to_load_from_cache("roberta-large", "config.json")
    except Exception:  # noqa: BLE001 - any hub failure means "not available"
        cached = None
    if not isinstance(cached, str):
        return "roberta-large weights not available offline (pass model_path= to a local model)"
    return "ok: roberta-large from the local cache (layer 17, idf, baseline-rescaled F1)"


class BertScoreError(M2TError):
    """A local BERTScore model cannot be used (no layer count, does not load, fails to run)."""


def local_model_layers(model_path: str, num_layers: int | None = None) -> int:
    """Layer whose embeddings BERTScore uses for a local model: `num_layers` when given, else the
    model's last layer from its config.json (num_hidden_layers / n_layer / num_layers)."""
    if num_layers is not None:
        if int(num_layers) < 1:
            raise BertScoreError(f"--bertscore-layers must be >= 1, got {num_layers}")
        return int(num_layers)
    cfg = os.path.join(model_path, "config.json")
    try:
        with open(cfg, encoding="utf-8") as f:
            conf = json.load(f)
    except (OSError, ValueError) as e:
        raise BertScoreError(f"{cfg}: cannot read the model's config ({e.__class__.__name__}); "
                             "pass --bertscore-layers N") from None
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if isinstance(conf.get(key), int) and conf[key] > 0:
            return conf[key]
    raise BertScoreError(f"{cfg}: no num_hidden_layers; pass --bertscore-layers N")


def bertscore(hyps: list[str], refs: list[list[str]], model_path: str | None = None,
              num_layers: int | None = None) -> float | None:
    """Mean BERTScore F1 over items (best of the references), or None when it cannot run offline.

    With no `model_path`: the paper's setting, roberta-large layer 17, idf from the references,
    baseline-rescaled. With a local `model_path` (e.g. a MiniLM folder): idf, not rescaled, so not
    comparable to published numbers; its layer is `num_layers` or its config's last layer
    (`local_model_layers`). Call `bertscore_status` for the reason of a None; a local model that
    cannot be used raises BertScoreError (one line).
    """
    _check(hyps, refs)
    if not bertscore_status(model_path).startswith("ok"):
        return None
    from bert_score import score
    if model_path is None:
        kw = dict(model_type="roberta-large", num_layers=num_layers or 17, rescale_with_baseline=True)
    else:
        kw = dict(model_type=str(model_path), num_layers=local_model_layers(model_path, num_layers),
                  rescale_with_baseline=False)
    try:
        _, _, f1 = score(list(hyps), [list(r) for r in refs], lang="en", idf=True, verbose=False, **kw)
    except Exception as e:  # noqa: BLE001 - third-party loading errors become one line
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise BertScoreError(f"BERTScore with {model_path or 'roberta-large'} failed: "
                             f"{e.__class__.__name__}: {first}") from None
    return float(f1.mean())
