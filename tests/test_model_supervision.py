"""Attention-supervision targets (models.supervision) and training losses (models.losses)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from m2t.converters.skeletons import PART_NAMES
from m2t.models import supervision as sv
from m2t.models.losses import adapt_loss, language_loss, spatial_loss, total_loss
from m2t.models.vocab import tokenize

COL = {n: i for i, n in enumerate(PART_NAMES)}
UNSUP = [-1.0] * 6


def onehot(*names):
    v = [0.0] * 6
    for n in names:
        v[COL[n]] = 1.0
    return v


ARMS, LEGS = onehot("left_arm", "right_arm"), onehot("left_leg", "right_leg")
ROOT, TORSO = onehot("root"), onehot("torso")


@pytest.fixture(autouse=True)
def builtin_tagger(monkeypatch):
    monkeypatch.setenv("M2T_TAGGER", "builtin")
    monkeypatch.delenv("M2T_WORDLISTS", raising=False)


def targets(caption, **kw):
    toks = tokenize(caption)
    beta, alpha = sv.caption_targets(toks, **kw)
    assert beta.dtype == np.float32 and alpha.dtype == np.float32
    assert beta.shape == (len(toks),) and alpha.shape == (len(toks), 6)
    return toks, beta, alpha


def row(caption, word, **kw):
    toks, beta, alpha = targets(caption, **kw)
    i = toks.index(word)
    return float(beta[i]), alpha[i].tolist()


# ----------------------------------------------------------------------------- targets
def test_full_caption_beta_alpha():
    toks, beta, alpha = targets("a person waves the left hand")
    assert toks == ["a", "person", "waves", "the", "left", "hand"]
    assert beta.tolist() == [0, 0, 1, 0, -1, -1]
    assert alpha.tolist() == [UNSUP, UNSUP, onehot("left_arm"), UNSUP, UNSUP, UNSUP]


def test_side_unaware_keeps_both_limbs():
    assert row("a person waves the left hand", "waves", side_aware=False) == (1.0, ARMS)
    assert row("a man kicks with his left leg", "kicks", side_aware=False) == (1.0, LEGS)


@pytest.mark.parametrize("caption,word,expected", [
    ("a man kicks with his left leg", "kicks", onehot("left_leg")),
    ("a person stomps the right foot twice", "stomps", onehot("right_leg")),
    ("someone punches with the right fist", "punches", onehot("right_arm")),
    ("a person waves with both hands", "waves", ARMS),
    ("a person waves his left and right hands", "waves", ARMS),
    ("a person waves his left hand and his right hand", "waves", ARMS),
    ("a person waves his left hand and then his right hand", "waves", ARMS),
    ("a person kicks with the left foot and waves with the right hand", "kicks", onehot("left_leg")),
    ("a person kicks with the left foot and waves with the right hand", "waves", onehot("right_arm")),
    ("a person waves and then kicks with the right leg", "waves", ARMS),
    ("a person kicks with the right hand", "kicks", LEGS),      # an arm side says nothing on legs
    ("a man lifts his left arm", "lifts", LEGS),                # paper: lift is a leg word
])
def test_side_aware(caption, word, expected):
    assert row(caption, word) == (1.0, expected)


@pytest.mark.parametrize("caption,word,expected", [
    ("a person walks in a circle", "circle", ROOT),
    ("the person walks forward", "forward", ROOT),
    ("a person walks backwards", "backwards", ROOT),
    ("a man turns clockwise", "clockwise", ROOT),
    ("a man turns counterclockwise", "counterclockwise", ROOT),
    ("a man turns anticlockwise", "anticlockwise", ROOT),
    ("a person is waving", "waving", ARMS),
    ("a person waved", "waved", ARMS),
    ("someone throws a ball", "throws", ARMS),
    ("someone picks something up", "picks", ARMS),
    ("someone is boxing", "boxing", ARMS),
    ("a person does a handstand", "handstand", ARMS),
    ("a person swipes the table", "swipes", ARMS),            # fix: official code never supervises it
    ("a person catches a ball", "catches", ARMS),             # fix: idem
    ("a person is stumbling", "stumbling", LEGS),
    ("a person stands up", "stands", LEGS),
    ("a person squats down", "squats", LEGS),
    ("a person kneels", "kneels", LEGS),
    ("a person bows", "bows", TORSO),
    ("a person bends over", "bends", TORSO),
])
def test_table5_words(caption, word, expected):
    assert row(caption, word, extended_words=False) == (1.0, expected)


@pytest.mark.parametrize("caption,word,expected", [
    ("the person threw the ball", "threw", ARMS),
    ("a ball was thrown", "thrown", ARMS),
    ("a person knelt on one knee", "knelt", LEGS),
    ("a person stood still", "stood", LEGS),
    ("a man bent forward", "bent", TORSO),
    ("a person caught a ball", "caught", ARMS),
    ("a person drew a circle in the air", "drew", ARMS),
])
def test_irregular_forms(caption, word, expected):
    assert row(caption, word, extended_words=False) == (1.0, expected)


def test_extended_words_flag():
    cap = "a person raises the right hand"
    assert row(cap, "raises") == (1.0, onehot("right_arm"))
    assert row(cap, "raises", extended_words=False) == (1.0, UNSUP)      # VERB: gate only
    assert row("a person claps", "claps") == (1.0, ARMS)
    assert row("a person sits down", "sits") == (1.0, LEGS)
    assert row("a person sat down", "sat") == (1.0, LEGS)
    assert row("a person leans to the left", "leans") == (1.0, TORSO)
    assert row("a person walks in a circular path", "circular") == (1.0, ROOT)
    assert row("a person sits down", "sits", extended_words=False) == (1.0, UNSUP)
    # extension words are not used for nouns
    assert row("a person takes two steps", "steps") == (-1.0, UNSUP)
    assert row("a person steps forward", "steps") == (1.0, LEGS)
    # paper words keep the paper's group even with the extension on
    assert row("a person lifts the right leg", "lifts") == (1.0, onehot("right_leg"))


def test_connection_subject_and_rest():
    toks, beta, alpha = targets("a man is walking on the ground with his arms")
    b = dict(zip(toks, beta.tolist()))
    assert b["a"] == b["man"] == b["is"] == b["on"] == b["the"] == b["his"] == 0
    assert b["walking"] == 1
    assert b["ground"] == b["with"] == b["arms"] == -1
    walking = toks.index("walking")                      # a locomotion verb: the legs (extra_leg_words.txt)
    assert alpha[walking].tolist() == LEGS
    assert (np.delete(alpha, walking, 0) == -1).all()


def test_given_pos_tags_upos_and_ptb():
    toks = ["a", "person", "jogs", "slowly"]
    b1, _ = sv.caption_targets(toks, ["DET", "NOUN", "VERB", "ADV"])
    b2, _ = sv.caption_targets(toks, ["DT", "NN", "VBZ", "RB"])
    b3, _ = sv.caption_targets(toks, ["DET", "NOUN", "NOUN", "ADJ"])
    assert b1.tolist() == b2.tolist() == [0, 0, 1, 1]
    assert b3.tolist() == [0, 0, -1, -1]
    with pytest.raises(ValueError):
        sv.caption_targets(toks, ["DET"])
    # connection words stay 0 even when a tagger calls them VERB/ADV
    assert sv.caption_targets(["is", "on"], ["VERB", "ADV"])[0].tolist() == [0, 0]


def test_hml3d_tags_parse_and_align():
    line = ("the standing person kicks with their left foot before going back to their original "
            "stance.#the/DET stand/VERB person/NOUN kick/VERB with/ADP their/DET left/ADJ foot/NOUN "
            "before/ADP go/VERB back/ADV to/ADP their/DET original/ADJ stance/NOUN#0.0#0.0")
    words, tags = sv.parse_hml3d_tags(line.split("#")[1])
    assert words[:4] == ["the", "stand", "person", "kick"] and tags[:4] == ["DET", "VERB", "NOUN", "VERB"]
    assert sv.parse_hml3d_tags(line) == (words, tags)
    toks = tokenize(line.split("#")[0])
    pos = sv.align_hml3d_tags(toks, words, tags)
    assert pos == tags
    beta, alpha = sv.caption_targets(toks, pos)
    assert beta[toks.index("kicks")] == 1 and alpha[toks.index("kicks")].tolist() == onehot("left_leg")
    assert beta[toks.index("going")] == 1 and beta[toks.index("back")] == 1
    # numbers and hyphenated words
    toks = tokenize("a man turns counter-clockwise 2 times")
    w, t = sv.parse_hml3d_tags("a/DET man/NOUN turn/VERB counterclockwise/ADV time/NOUN")
    assert sv.align_hml3d_tags(toks, w, t) == ["DET", "NOUN", "VERB", "ADV", "ADV", "NUM", "NOUN"]
    assert sv.align_hml3d_tags(["a", "man"], ["x", "y", "z"], ["X", "Y", "Z"]) is None
    with pytest.raises(ValueError):
        sv.parse_hml3d_tags("a/DET man")


def test_pad_targets():
    t1 = sv.caption_targets(["a", "person", "waves"], ["DET", "NOUN", "VERB"])
    t2 = sv.caption_targets(["kick"], ["VERB"])
    beta, alpha = sv.pad_targets([t1, t2], 4)
    assert beta.shape == (2, 4) and alpha.shape == (2, 4, 6)
    assert beta.tolist() == [[0, 0, 1, -1], [1, -1, -1, -1]]
    assert alpha[0, 2].tolist() == ARMS and (alpha[1, 1:] == -1).all()


def test_user_wordlists_override(tmp_path):
    (tmp_path / "arms.txt").write_text("# my arms\njuggle  # comment\n")
    lex = sv.load_lexicon(tmp_path)
    assert sv.word_group("juggles", "VERB", extended_words=False, lexicon=lex) == "arms"
    assert sv.word_group("waves", "VERB", extended_words=False, lexicon=lex) is None
    assert sv.word_group("kicks", "VERB", extended_words=False, lexicon=lex) == "legs"   # other files kept
    assert sv.read_wordlist("arms", tmp_path) == [["juggle"]]


# ----------------------------------------------------------------------------- tagger
# word/V = VERB, word/A = ADV expected; every other token must be neither.
TAGGED_CAPTIONS = [
    "a person walks/V forward/A then/A turns/V around/A and sits/V down/A",
    "a man kicks/V with his left foot",
    "the person is walking/V in a circle",
    "a person jumps/V up/A and down/A",
    "someone slowly/A walks/V backwards/A",
    "a person raises/V both arms above his head",
    "a person takes/V two steps backward/A",
    "the man runs/V forward/A and stops/V",
    "a person jogs/V in place",
    "a person squats/V down/A and stands/V up/A",
    "a person waves/V the right hand",
    "person picks/V up something from the ground and puts/V it down/A",
    "a person throws/V a ball with the right hand",
    "a person stumbles/V to the left",
    "a person makes/V a quarter turn to the right",
    "a person walks/V up the stairs",
    "he crawls/V on all fours",
    "a man steps/V to the left and then/A back/A",
    "the figure dances/V gracefully/A",
    "a person is kneeling/V and then/A gets/V up/A",
    "a person turns/V left/A and walks/V away/A",
    "person lifts/V the left leg and kicks/V",
    "a person bends/V over/A to touch/V the ground",
    "someone spins/V around/A twice/A",
    "a person does/V a 180 degree turn",
    "a person hops/V on one foot",
]


@pytest.mark.parametrize("annotated", TAGGED_CAPTIONS)
def test_builtin_tagger_verbs_and_adverbs(annotated):
    words = [w.split("/")[0] for w in annotated.split()]
    want = {i: {"V": "VERB", "A": "ADV"}[w.split("/")[1]] for i, w in enumerate(annotated.split()) if "/" in w}
    got = sv.tag(words)
    assert len(got) == len(words)
    have = {i: p for i, p in enumerate(got) if p in ("VERB", "ADV")}
    assert have == want, list(zip(words, got))


def test_tagger_selection(monkeypatch):
    assert sv.tagger_name() == "builtin"
    assert sv.tag([]) == []
    monkeypatch.setenv("M2T_TAGGER", "nonsense")
    with pytest.raises(ValueError):
        sv.tagger_name()
    try:
        import spacy  # noqa: F401
    except ImportError:
        monkeypatch.setenv("M2T_TAGGER", "auto")
        assert sv.tagger_name() == "builtin"
        with pytest.raises(ImportError):
            sv.tagger_name("spacy")


# ----------------------------------------------------------------------------- losses
def test_adapt_loss_zero_and_nonzero():
    bh = torch.full((2, 3), 0.3, requires_grad=True)
    none = torch.full((2, 3), -1.0)
    mask = torch.ones(2, 3, dtype=torch.bool)
    loss = adapt_loss(bh, none, mask)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.isfinite(bh.grad).all() and (bh.grad == 0).all()
    tgt = torch.tensor([[1.0, 0.0, -1.0], [-1.0, -1.0, 1.0]])
    loss = adapt_loss(bh, tgt, mask)
    expect = -(2 * np.log(0.3) + np.log(0.7)) / 3
    assert loss.item() == pytest.approx(expect, rel=1e-5)
    # masked (padded) positions do not count even if their target says supervised
    mask2 = torch.tensor([[True, True, True], [True, True, False]])
    assert adapt_loss(bh, tgt, mask2).item() == pytest.approx(-(np.log(0.3) + np.log(0.7)) / 2, rel=1e-5)
    assert adapt_loss(bh, tgt, torch.zeros(2, 3, dtype=torch.bool)).item() == 0.0


def test_adapt_loss_padding_and_extremes():
    tgt = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    mask = torch.tensor([[True, True, False, False]])
    bh = torch.tensor([[0.9, 0.2, 0.5, 0.5]], requires_grad=True)
    l1 = adapt_loss(bh, tgt, mask)
    l1.backward()
    assert (bh.grad[0, 2:] == 0).all() and (bh.grad[0, :2] != 0).all()
    bh2 = torch.tensor([[0.9, 0.2, 0.0, float("nan")]])
    assert adapt_loss(bh2, tgt, mask).item() == pytest.approx(l1.item())
    ext = torch.tensor([[0.0, 1.0, 0.0, 1.0]], requires_grad=True)
    l2 = adapt_loss(ext, tgt, torch.ones_like(mask))
    l2.backward()
    assert torch.isfinite(l2) and l2.item() > 1 and torch.isfinite(ext.grad).all()


def _alpha_batch(seed=0, B=2, L=4, T=5):
    g = torch.Generator().manual_seed(seed)
    a = torch.softmax(torch.randn(B, L, T, 6, generator=g), -1)
    tgt = torch.full((B, L, 6), -1.0)
    tgt[0, 1] = torch.tensor(ARMS)
    tgt[0, 2] = torch.tensor(ROOT)
    tgt[1, 0] = torch.tensor(LEGS)
    tgt[1, 3] = torch.tensor(TORSO)      # padded token below
    tmask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    fmask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    return a, tgt, tmask, fmask


def test_spatial_loss_value_and_masks():
    a, tgt, tmask, fmask = _alpha_batch()
    loss = spatial_loss(a, tgt, tmask, fmask)
    # manual: mean BCE over the supervised (token, frame, part) elements
    terms = []
    for b, l in ((0, 1), (0, 2), (1, 0)):
        for k in range(5):
            if fmask[b, k]:
                p, t = a[b, l, k].double(), tgt[b, l].double()
                terms.append(-(t * p.log() + (1 - t) * (1 - p).log()))
    expect = torch.cat(terms).mean().item()
    assert loss.item() == pytest.approx(expect, rel=1e-5)
    n_el, n_words = sum(t.numel() for t in terms), 3
    assert spatial_loss(a, tgt, tmask, fmask, normalize="words").item() == pytest.approx(
        expect * n_el / n_words, rel=1e-5)

    # padded frames / tokens / unsupervised tokens: changing α̂ there changes nothing, and zero grad
    a2 = a.clone()
    a2[1, :, 3:] = 0.0                     # padded frames of sample 1 (α̂ = 0 as a masked softmax gives)
    a2[1, 3] = 1.0                         # padded token with a target
    a2[0, 0] = 0.0                         # unsupervised token
    assert spatial_loss(a2, tgt, tmask, fmask).item() == pytest.approx(loss.item(), rel=1e-6)
    a2.requires_grad_(True)
    spatial_loss(a2, tgt, tmask, fmask).backward()
    assert torch.isfinite(a2.grad).all()
    assert (a2.grad[1, :, 3:] == 0).all() and (a2.grad[1, 3] == 0).all() and (a2.grad[0, 0] == 0).all()
    assert (a2.grad[0, 1] != 0).any() and (a2.grad[1, 0, :3] != 0).any()


def test_spatial_loss_zero_and_extremes():
    a, tgt, tmask, fmask = _alpha_batch()
    a = a.requires_grad_(True)
    zero = spatial_loss(a, torch.full_like(tgt, -1.0), tmask, fmask)
    assert zero.item() == 0.0 and zero.requires_grad
    zero.backward()
    assert (a.grad == 0).all()
    assert spatial_loss(a, tgt, torch.zeros_like(tmask), fmask).item() == 0.0
    assert spatial_loss(a, tgt, tmask, torch.zeros_like(fmask)).item() == 0.0
    # α̂ exactly 0 and 1 everywhere: finite loss and gradients
    for v in (0.0, 1.0):
        x = torch.full_like(a, v, requires_grad=True)
        loss = spatial_loss(x, tgt, tmask, fmask)
        loss.backward()
        assert torch.isfinite(loss) and loss.item() > 0 and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError):
        spatial_loss(a, tgt, tmask, fmask, normalize="frames")


def test_language_loss():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 7, generator=g, requires_grad=True)
    y = torch.tensor([[5, 6, 2, 0], [4, 2, 0, 0]])
    loss = language_loss(logits, y, pad_id=0)
    ref = torch.nn.functional.cross_entropy(logits.reshape(-1, 7), y.reshape(-1), ignore_index=0)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    loss.backward()
    assert (logits.grad[0, 3] == 0).all() and (logits.grad[1, 2:] == 0).all()
    all_pad = language_loss(logits, torch.zeros_like(y))
    assert all_pad.item() == 0.0 and not torch.isnan(all_pad)
    assert total_loss(loss, torch.tensor(1.0), torch.tensor(2.0), 2, 3).item() == pytest.approx(
        loss.item() + 2 + 6, rel=1e-6)


def test_targets_to_losses_end_to_end():
    caps = ["a person waves the left hand", "someone walks forward and kicks"]
    tgts = [sv.caption_targets(tokenize(c)) for c in caps]
    beta, alpha = sv.pad_targets(tgts, 8)
    beta, alpha = torch.from_numpy(beta), torch.from_numpy(alpha)
    tmask = torch.arange(8)[None] <= torch.tensor([len(tokenize(c)) for c in caps])[:, None]  # + <eos>
    fmask = torch.ones(2, 10, dtype=torch.bool)
    assert adapt_loss(torch.full((2, 8), 0.5), beta, tmask).item() == pytest.approx(np.log(2), rel=1e-5)
    uniform = torch.full((2, 8, 10, 6), 1 / 6)
    assert spatial_loss(uniform, alpha, tmask, fmask).item() > 0


def test_stem_cache_is_porter_and_covers_the_caption_path():
    """models/wordlists/porter_stems.txt (scripts/make_stem_cache.py) must equal nltk's Porter
    stems, and hold every word the shipped model can say, so `m2t caption` never imports nltk."""
    import json
    from nltk.stem import PorterStemmer
    from m2t.models import stems as S
    from m2t.models.captioning import default_model_dir
    rows = [ln.split("\t") for ln in S.STEM_CACHE.read_text(encoding="utf-8").splitlines()]
    porter = PorterStemmer()
    assert rows and all(s == porter.stem(w) for w, s in rows)
    cached = {w for w, _ in rows}
    vocab = json.loads((default_model_dir() / "config.json").read_text())["vocab"]
    assert {w.lower() for w in vocab} <= cached


def test_captioning_never_imports_nltk():
    """Every word the caption path stems is in the cache (a word-list change without
    `python scripts/make_stem_cache.py` imported nltk: ~0.1 s and ~20 MB on every run)."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom m2t.cli.app import app\n"
            "r = CliRunner().invoke(app, ['caption', 'examples/walk.bvh', '-f', 'json'])\n"
            "assert r.exit_code == 0, r.output\nprint(sorted(m for m in sys.modules if m.startswith('nltk')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
