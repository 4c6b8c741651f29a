"""Caption metrics (models.metrics) and evaluation protocols (models.protocols).

The cross-checks against pycocoevalcap 1.2 (the COCO scorers the paper and TM2T use) skip when it
is not installed; everything else runs without it."""
from __future__ import annotations

import contextlib
import io
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from m2t.models import metrics
from m2t.models.protocols import prepare

REPO = Path(__file__).resolve().parents[1]

HAND = [  # (hypothesis, references): varied lengths, 1-4 references, repeats, no-match and empty cases
    ("a person walks forward", ["a person walks forward", "someone walks ahead slowly"]),
    ("a man jumps up and down", ["a man jumps in place", "the person jumps up and down twice",
                                 "a human hops", "someone jumps"]),
    ("the person waves with the left hand", ["a person waves his left hand"]),
    ("someone runs", ["a person runs in a circle", "someone jogs around", "running person"]),
    ("a person walks walks walks walks", ["a person walks", "walking forward"]),
    ("a person kneels down and then stands up again",
     ["a person kneels down", "the man goes down on one knee and stands up", "kneel then stand"]),
    ("the the the the", ["the person turns around"]),
    ("person throws a ball with the right hand", ["a person throws something with the right hand",
                                                  "throwing with right arm", "someone throws a ball"]),
    ("a man", ["a man walks forward then turns left and walks back", "a man walks"]),
    ("xyz qqq", ["a person sits down", "somebody sits on a chair"]),
    ("a person steps to the left", ["a person steps to the left", "a person steps to the left"]),
    ("a person steps to the right and then to the left",
     ["a person side steps right then left", "someone steps sideways"]),
    ("someone dances", ["someone dances", "a person is dancing", "a dancer moves", "dancing"]),
    ("", ["a person walks"]),
    ("a person crawls on the floor", ["a person crawls forward on hands and knees"]),
    ("walks", ["a person walks forward slowly", "walks"]),
    ("a person raises both arms above the head",
     ["a person raises both arms", "arms go up over the head", "both hands raised high", "raise arms"]),
    ("the person walks in a circle", ["the person walks in a circle clockwise"]),
    ("a person bends over to pick something up", ["a person bends down and picks up an object",
                                                  "someone picks something up from the ground"]),
    ("a person stumbles", ["a person stumbles and almost falls", "a person trips"]),
    ("a person turns around", ["a person turns around", ""]),  # an empty reference
]


def _random_set(n=200, seed=0):
    rng = random.Random(seed)
    vocab = "a the person man walks runs forward left right hand arm up down and then turns".split()
    hyps, refs = [], []
    for _ in range(n):
        base = [rng.choice(vocab) for _ in range(rng.randint(1, 14))]
        group = []
        for _ in range(rng.randint(1, 4)):  # references: edits of a shared base caption
            r = [w if rng.random() < 0.7 else rng.choice(vocab) for w in base]
            group.append(" ".join(r[:rng.randint(1, len(r))] + [rng.choice(vocab)] * rng.randint(0, 3)))
        h = [w if rng.random() < 0.6 else rng.choice(vocab) for w in base][:rng.randint(1, len(base) + 2)]
        hyps.append(" ".join(h))
        refs.append(group)
    return hyps, refs


def _coco(hyps, refs):
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    gts = {i: list(r) for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its counts
        b, _ = Bleu(4).compute_score(gts, res)
    r, _ = Rouge().compute_score(gts, res)
    c, _ = Cider().compute_score(gts, res)
    return {**{f"bleu{k + 1}": b[k] for k in range(4)}, "rouge_l": r, "cider": c}


@pytest.mark.parametrize("name", ["hand", "random"])
def test_matches_pycocoevalcap(name):
    hyps, refs = ([h for h, _ in HAND], [r for _, r in HAND]) if name == "hand" else _random_set()
    theirs = _coco(hyps, refs)
    ours = metrics.score_all(hyps, refs)
    assert ours.keys() == theirs.keys()
    diff = {k: abs(ours[k] - theirs[k]) for k in ours}
    assert max(diff.values()) < 1e-6, (diff, ours, theirs)
    assert 0 < ours["bleu4"] < ours["bleu1"] < 1 and 0 < ours["cider"]


def test_matches_pycocoevalcap_subsets():
    """CIDEr's idf depends on the set: the agreement must hold for every subset size too."""
    hyps, refs = _random_set(60, seed=3)
    for n in (2, 7, 31):
        theirs, ours = _coco(hyps[:n], refs[:n]), metrics.score_all(hyps[:n], refs[:n])
        assert all(abs(ours[k] - theirs[k]) < 1e-6 for k in ours), (n, ours, theirs)


def test_perfect_predictions():
    refs = [[r[0], "completely different words here"] for _, r in HAND if r[0]]
    hyps = [r[0] for r in refs]
    s = metrics.score_all(hyps, refs)
    assert s["bleu1"] == pytest.approx(1.0) and s["bleu4"] == pytest.approx(1.0)
    assert s["rouge_l"] == pytest.approx(1.0)
    assert s["cider"] > 1.0


def test_bleu_by_hand():
    # one item: unigrams 3/4, bigrams 2/3, equal lengths -> no brevity penalty
    b1, b2 = metrics.bleu(["a b c d"], [["a b c e"]], n=2)
    assert b1 == pytest.approx(0.75, abs=1e-9) and b2 == pytest.approx(math.sqrt(0.5), abs=1e-9)
    # corpus level: counts are summed before dividing: p1 = 4/6, p2 = 2/4
    b1, b2 = metrics.bleu(["a b c d", "x y"], [["a b c e"], ["x z"]], n=2)
    assert b1 == pytest.approx(4 / 6, abs=1e-9) and b2 == pytest.approx(math.sqrt(4 / 6 * 2 / 4), abs=1e-9)
    # brevity penalty with the closest reference (3, not 4): exp(1 - 3/2)
    b1, b2 = metrics.bleu(["a b"], [["a b c d", "a b c"]], n=2)
    assert b1 == pytest.approx(math.exp(-0.5), abs=1e-9) and b2 == pytest.approx(math.exp(-0.5), abs=1e-9)
    # a tie (2 and 4 are both 1 away from 3) goes to the shorter reference: no penalty
    assert metrics.bleu(["a b c"], [["a b", "a b c d"]], n=1)[0] == pytest.approx(1.0, abs=1e-9)


def test_rouge_and_cider_by_hand():
    # LCS("a b c d", "a x c d") = 3: P = R = 3/4 -> F = 3/4 whatever beta
    assert metrics.rouge_l(["a b c d"], [["a x c d"]]) == pytest.approx(0.75)
    assert metrics.rouge_l([""], [["a b"]]) == 0.0
    assert metrics.cider_d(["a b c"], [["a b c"]]) == 0.0  # one item: log N = 0, every weight is 0


@pytest.mark.parametrize("hyps, refs, match", [
    ([], [], "no hypotheses"),
    (["a b"], [["a b"], ["c"]], "1 hypotheses but 2 reference groups"),
    (["a b"], [[]], "item 0 has no reference"),
    ("a b", [["a b"]], "hyps must be a list"),
    (["a b"], ["a b"], "references of item 0"),
    ([["a", "b"]], [["a b"]], "hypothesis 0 is a list"),
])
def test_bad_inputs(hyps, refs, match):
    for fn in (metrics.bleu, metrics.rouge_l, metrics.cider_d, metrics.score_all):
        with pytest.raises(ValueError, match=match):
            fn(hyps, refs)


def test_bertscore_never_downloads():
    status = metrics.bertscore_status()
    result = metrics.bertscore(["a person walks"], [["a person walks"]])
    if status.startswith("ok"):
        assert isinstance(result, float)
    else:
        assert result is None and ("not installed" in status or "not available offline" in status)
    assert "not found" in metrics.bertscore_status("/nonexistent/model") or "not installed" in status


def test_metrics_do_not_load_torch():
    code = "import sys, models.metrics, models.protocols; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- protocols
PRED = [["A", "person", "walks", "<eos>"], ["someone", "runs"]]
REFS = [[["A", "Person", "walks"]],
        [["a", "man", "runs"], ["someone", "is", "running"], ["fast", "run"], ["jogging"], ["<sos>", "run"]]]


def test_protocol_m2t():
    hyps, refs, notes = prepare("m2t", PRED, REFS)
    assert hyps == ["a person walks", "someone runs"]
    assert refs[0] == ["a person walks"] and len(refs[1]) == 5 and refs[1][4] == "run"
    assert "no '<eos>'" in notes
    hyps, refs, notes = prepare("m2t", PRED, REFS, legacy_eos=True)
    assert hyps[0] == "a person walks <eos>" and all(r.endswith(" <eos>") for rs in refs for r in rs)
    assert "legacy" in notes
    # scoring <eos> inflates BLEU, as the paper's numbers are
    plain = metrics.bleu(*prepare("m2t", PRED, REFS)[:2])
    legacy = metrics.bleu(*prepare("m2t", PRED, REFS, legacy_eos=True)[:2])
    assert legacy[0] > plain[0]


def test_protocol_tm2t_and_motiongpt():
    def lemma(tokens):
        return [{"running": "run", "is": "be"}.get(t, t) for t in tokens]

    hyps, refs, notes = prepare("tm2t", PRED, REFS)
    assert [len(r) for r in refs] == [3, 3]
    assert refs[0] == ["a person walks"] * 3                                  # repeated cyclically
    assert refs[1] == ["a man runs", "someone is running", "fast run"]        # truncated
    assert hyps[0] == "A person walks"                                        # predictions as produced
    assert "NOT lemmatised" in notes and "1 motions padded" in notes and "1 truncated" in notes
    hyps, refs, notes = prepare("tm2t", PRED, REFS, lemmatize=lemma)
    assert refs[1][1] == "someone be run" and "lemmatised with the given" in notes
    g_hyps, g_refs, g_notes = prepare("motiongpt", PRED, REFS, lemmatize=lemma)
    assert g_refs == refs and g_hyps == hyps and "nlg-metricverse" in g_notes

    a = [["a"], ["b", "c"]]
    assert prepare("tm2t", [["x"]], [a])[1] == [["a", "b c", "a"]]


@pytest.mark.parametrize("kwargs, match", [
    (dict(protocol="bleu"), "unknown protocol"),
    (dict(protocol="tm2t", legacy_eos=True), "'m2t' protocol only"),
    (dict(predictions=[]), "no predictions"),
    (dict(references=REFS[:1]), "2 predictions but 1 reference groups"),
    (dict(references=[REFS[0], []]), "item 1 has no reference"),
    (dict(predictions=["a person walks", "x"]), "lists of strings"),
])
def test_protocol_bad_inputs(kwargs, match):
    args = dict(protocol="m2t", predictions=PRED, references=REFS) | kwargs
    with pytest.raises(ValueError, match=match):
        prepare(**args)


def test_local_bertscore_model_layers_from_config_or_flag(tmp_path):
    (tmp_path / "config.json").write_text('{"num_hidden_layers": 6}')
    assert metrics.local_model_layers(str(tmp_path)) == 6
    assert metrics.local_model_layers(str(tmp_path), 4) == 4
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    with pytest.raises(metrics.BertScoreError, match="--bertscore-layers"):
        metrics.local_model_layers(str(tmp_path))
    with pytest.raises(metrics.BertScoreError, match="cannot read"):
        metrics.local_model_layers(str(tmp_path / "nowhere"))


def test_tm2t_references_are_the_datasets_lemmas():
    from m2t.models.data import Sample, parse_caption_line
    from m2t.models.evaluation import lemma_references
    c1 = parse_caption_line("A man kicks, twice.#a/DET man/NOUN kick/VERB ,/PUNCT twice/ADV#0.0#0.0")
    c2 = parse_caption_line("someone runs")
    assert c1.tokens == ["a", "man", "kicks", "twice"] and c1.lemmas == ["a", "man", "kick", "twice"]
    refs, note = lemma_references([Sample("1", None, [c1, c2])])
    assert refs == [[["a", "man", "kick", "twice"], ["someone", "runs"]]]
    assert "lemmatised token field" in note and "1 of 2 captions had no such field" in note
