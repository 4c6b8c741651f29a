"""Published caption-evaluation protocols: which tokens and references each paper scores.

Papers on motion captioning report BLEU/ROUGE-L/CIDEr under different preparations of the same
outputs, so their tables are not comparable. `prepare` turns token lists into the strings that
`models.metrics` scores, following one protocol, and returns a note saying what was done.

Common to all protocols: the decoder tokens ``<sos>``, ``<eos>`` and ``<pad>`` are removed from
predictions and references first (``<unk>`` is kept and can match ``<unk>``), and tokens are joined
with single spaces.

``"m2t"`` (this toolkit's default)
    Lowercased tokens, every reference of each motion. With ``legacy_eos=True`` the literal token
    ``<eos>`` is appended to every hypothesis and reference, as in the paper's official
    `nlg_evaluation.py`; this inflates BLEU@1/@4, ROUGE-L (and BERTScore) and is needed only to
    reproduce the paper's tables. The paper also used spell-corrected, vocabulary-mapped references
    and a filtered test set with mirrored motions; that is a data choice, not done here.
``"tm2t"`` (TM2T, and the papers that reuse its evaluation)
    Exactly 3 references per motion: extra ones are dropped, fewer are repeated cyclically
    (r1, r2, r1 ...). References are lowercased and lemmatised (HumanML3D's token field holds lemmas);
    pass ``lemmatize`` for that, otherwise they stay as given. Predictions are scored as produced.
    Scored with nlg-eval's pycocoevalcap (the same COCO scorers as ours).
``"motiongpt"`` (MotionGPT and followers)
    The same 3 lemmatised references, raw-text predictions (not lemmatised). Their scores come from
    nlg-metricverse: tf-nmt BLEU without smoothing, `rouge_score` ROUGE-L F1 (max over references),
    and its own CIDEr-D. Here they are approximated by the COCO scorers, which differ: tf-nmt BLEU
    takes the *shortest* reference length for the brevity penalty (COCO: the closest) and is 0 when
    an n-gram order has no match (COCO: tiny constants); ROUGE-L is F1 instead of beta = 1.2.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

PROTOCOLS = ("m2t", "tm2t", "motiongpt")
SPECIAL = frozenset({"<sos>", "<eos>", "<pad>"})
N_REFS_TM2T = 3


class Prepared(NamedTuple):
    """Inputs for `models.metrics`: `hyps` (one string per motion), `refs` (strings per motion), and
    `notes`, a one-paragraph description of the protocol applied (for reports)."""
    hyps: list[str]
    refs: list[list[str]]
    notes: str


def _clean(tokens: list[str], lower: bool) -> list[str]:
    """Drop decoder tokens; optionally lowercase."""
    return [t.lower() if lower else t for t in tokens if t not in SPECIAL]


def _three(refs: list[list[str]]) -> list[list[str]]:
    """Exactly three references: truncate, or repeat the existing ones cyclically."""
    return [refs[i % len(refs)] for i in range(N_REFS_TM2T)]


def prepare(protocol: str, predictions: list[list[str]], references: list[list[list[str]]],
            lemmatize: Callable[[list[str]], list[str]] | None = None,
            legacy_eos: bool = False, lemma_note: str | None = None) -> Prepared:
    """Prepare predictions and references for scoring under a published protocol.

    Parameters
    ----------
    protocol : {"m2t", "tm2t", "motiongpt"}
        See the module docstring for what each one does.
    predictions : list of list of str
        Predicted tokens, one list per motion.
    references : list of list of list of str
        Reference captions of each motion, each a list of tokens (at least one per motion).
    lemmatize : callable, optional
        ``tokens -> lemmas`` applied to each reference for "tm2t" and "motiongpt" (e.g. a wrapper
        around nltk's WordNetLemmatizer or spaCy). Default: references are used as given.
    legacy_eos : bool
        "m2t" only: append ``<eos>`` to every hypothesis and reference (the paper's scoring).
    lemma_note : str, optional
        "tm2t"/"motiongpt": how the references were lemmatised before this call (e.g. taken from
        the dataset's lemmatised token field), for the notes; replaces the default wording.

    Returns
    -------
    Prepared
        ``(hyps, refs, notes)``; unpacks as a 3-tuple.

    Raises
    ------
    ValueError
        Unknown protocol, ``legacy_eos`` with another protocol, mismatched lengths, a motion
        without references, or tokens given as a string.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if legacy_eos and protocol != "m2t":
        raise ValueError(f"legacy_eos applies to the 'm2t' protocol only, not {protocol!r}")
    if not predictions:
        raise ValueError("no predictions to prepare")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference groups")
    for i, (p, rs) in enumerate(zip(predictions, references)):
        if isinstance(p, str) or any(isinstance(r, str) for r in rs):
            raise ValueError(f"item {i}: give tokens as lists of strings, not whole strings")
        if not rs:
            raise ValueError(f"item {i} has no reference")

    if protocol == "m2t":
        eos = ["<eos>"] if legacy_eos else []
        hyps = [" ".join(_clean(p, True) + eos) for p in predictions]
        refs = [[" ".join(_clean(r, True) + eos) for r in rs] for rs in references]
        counts = sorted({len(rs) for rs in references})
        notes = (f"protocol m2t: lowercased tokens, all references ({counts[0]}-{counts[-1]} per motion), "
                 + ("'<eos>' appended to every hypothesis and reference (legacy, as the paper scored it)."
                    if legacy_eos else "no '<eos>' scored."))
        return Prepared(hyps, refs, notes)

    lem = lemmatize if lemmatize is not None else (lambda toks: toks)
    lem_note = lemma_note or ("references lemmatised with the given lemmatiser" if lemmatize is not None
                              else "references NOT lemmatised (no lemmatiser given: identity)")
    refs = [[" ".join(lem(_clean(r, True))) for r in _three(rs)] for rs in references]
    n_short = sum(len(rs) < N_REFS_TM2T for rs in references)
    n_long = sum(len(rs) > N_REFS_TM2T for rs in references)
    common = (f"exactly 3 references per motion ({n_short} motions padded by repetition, "
              f"{n_long} truncated), lowercased, {lem_note}")
    hyps = [" ".join(_clean(p, False)) for p in predictions]
    if protocol == "tm2t":
        notes = f"protocol tm2t: {common}; predictions as produced; COCO BLEU/ROUGE-L/CIDEr-D as nlg-eval."
    else:
        notes = (f"protocol motiongpt: {common}; raw-text predictions. MotionGPT scores with "
                 "nlg-metricverse (tf-nmt BLEU without smoothing, rouge_score ROUGE-L F1, own CIDEr-D); "
                 "approximated here by the COCO scorers (closest- not shortest-reference brevity penalty, "
                 "ROUGE-L beta 1.2 not F1), so BLEU/ROUGE-L can differ slightly.")
    return Prepared(hyps, refs, notes)
