"""`m2t dataset compose`: boundaries, continuity, determinism, split hygiene, text layout."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters.skeletons import T2M
from m2t.models.compose import (action_truth, chain, compose_caption, compose_dataset, facing_yaw,
                                read_segments, subject_end, turn_and_place)
from m2t.models.data import load_samples, parse_caption_line, read_split
from m2t.models.synthetic import write_dataset
from m2t.models.supervision import tag
from m2t.models.vocab import tokenize

runner = CliRunner()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("src") / "ds", per_class=5, frames=(40, 80))


def _digest(root):
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "compose.json"):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_turn_and_place_sets_facing_and_root():
    j = np.repeat(T2M.rest[None], 5, 0)
    y0 = facing_yaw(j, T2M)
    assert abs(y0) < 1e-2                                             # rest pose faces +Z
    moved = turn_and_place(j, np.pi / 2, np.array([2.0, -1.0]))
    assert abs(facing_yaw(moved, T2M) - y0 - np.pi / 2) < 1e-9   # now faces +X
    np.testing.assert_allclose(moved[0, 0, [0, 2]], [2.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(moved[..., 1], j[..., 1])              # heights unchanged


def test_chain_is_continuous_at_the_junction():
    rng = np.random.default_rng(0)
    walk = np.repeat(T2M.rest[None], 40, 0).copy()
    walk[..., 2] += np.linspace(0, 2, 40)[:, None]                    # walks 2 m along +Z
    turned = turn_and_place(walk, 1.2, np.array([5.0, 5.0]))          # starts elsewhere, faces elsewhere
    out, bounds = chain([walk, turned + rng.normal(0, 1e-4, turned.shape)], T2M, blend=6)
    assert out.shape == (40 + 40 - 6, 22, 3) and bounds == [34 + 2.5]
    steps = np.linalg.norm(np.diff(out[:, 0, [0, 2]], axis=0), axis=1)
    assert steps.max() < 0.06                                          # 2 m / 39 steps = 0.051 m
    yaw = [facing_yaw(out, T2M, slice(k, k + 1)) for k in range(len(out))]
    assert np.abs(np.diff(yaw)).max() < 0.01                           # facing continuous
    assert out[-1, 0, 2] == pytest.approx(34 * 2 / 39 + 2, abs=0.01)   # B starts where A is at the overlap, walks on


def test_caption_composition_spans_and_subjects():
    caps = []
    for c in ("a person walks forward", "an elderly person waves the right hand", "someone kicks"):
        t = tokenize(c)
        caps.append((c, t, tag(t)))
    text, spans = compose_caption(caps, [", then", " and then"])
    assert text == "a person walks forward, then waves the right hand and then kicks"
    toks = tokenize(text)
    assert [toks[a:b] for a, b in spans] == [["a", "person", "walks", "forward"],
                                             ["waves", "the", "right", "hand"], ["kicks"]]
    t = tokenize("start walk stop")
    assert subject_end(t, tag(t)) == 0                                 # no subject: keep everything
    t = tokenize("someone waves with the left hand")
    assert action_truth(t, tag(t)) == (["left_arm"], "left")
    t = tokenize("a person raises both hands")
    assert action_truth(t, tag(t)) == (["left_arm", "right_arm"], "both")
    t = tokenize("a person walks forward")
    assert action_truth(t, tag(t)) == (["left_leg", "right_leg"], None)      # the verb first: a walk is the legs


def test_compose_boundaries_layout_and_split_hygiene(source, tmp_path):
    out = tmp_path / "c"
    info = compose_dataset(source, out, {"train": 12, "val": 3, "test": 3}, seed=5)
    assert info["counts"]["train"]["sequences"] == 12
    src_split = {i: s for s in ("train", "val", "test") for i in read_split(source, s)}
    for split in ("train", "val", "test"):
        ids = read_split(out, split)
        assert len(ids) == {"train": 12, "val": 3, "test": 3}[split]
        samples, skipped = load_samples(out, ids)
        assert skipped == 0
        for s in samples:
            doc = read_segments(out, s.id)
            acts = doc["actions"]
            assert 2 <= len(acts) <= 4 and doc["split"] == split
            assert {src_split[a["source_id"]] for a in acts} == {split}             # never crosses splits
            assert acts[0]["start_s"] == 0 and acts[-1]["end_s"] == pytest.approx(s.joints.shape[0] / 20, abs=1e-3)
            for a, b in zip(acts, acts[1:]):
                assert a["end_s"] == b["start_s"] and a["start_s"] < a["end_s"]      # tiled, in order
                assert a["label"].split("|")[0] != "" and a["source_id"] != ""
            for a in acts:                                                          # length ~ source clip
                n_src = np.load(source / "new_joints" / f"{a['source_id']}.npy").shape[0]
                assert abs((a["end_s"] - a["start_s"]) * 20 - n_src) <= 6.01         # half a cross-fade each side
            for c in doc["captions"]:                                               # spans index the text
                toks = tokenize(c["text"])
                assert len(c["spans"]) == len(acts) and c["spans"][-1][1] == len(toks)
            assert {c.text for c in s.captions} == {c["text"] for c in doc["captions"]}
            lines = (out / "segments" / f"{s.id}.txt").read_text().splitlines()
            assert len(lines) == sum(len(a["captions"]) for a in acts)
            for ln in lines:                                                        # HumanML3D layout
                parts = ln.split("#")
                assert len(parts) == 4 and parse_caption_line(ln).pos is not None
                assert any(abs(float(parts[2]) - a["start_s"]) < 1e-3 and abs(float(parts[3]) - a["end_s"]) < 1e-3
                           and parts[0] in a["captions"] for a in acts)


def test_compose_is_deterministic_by_seed(source, tmp_path):
    a, b, c = (compose_dataset(source, tmp_path / n, {"train": 4, "val": 1, "test": 1}, seed=s) and tmp_path / n
               for n, s in (("a", 1), ("b", 1), ("c", 2)))
    assert _digest(a) == _digest(b) and _digest(a) != _digest(c)


def test_a_recompose_holds_only_what_it_wrote(source, tmp_path):
    compose_dataset(source, tmp_path / "c", {"train": 4, "val": 2, "test": 2}, seed=1)
    compose_dataset(source, tmp_path / "c", {"train": 2, "val": 1, "test": 1}, seed=1)
    ids = {i for s in ("train", "val", "test") for i in read_split(tmp_path / "c", s)}
    for sub in ("new_joints", "texts", "segments"):
        assert {p.stem for p in (tmp_path / "c" / sub).iterdir()} == ids, sub


def test_compose_with_singles_and_cli(source, tmp_path):
    r = runner.invoke(app, ["dataset", "compose", str(source), "-o", str(tmp_path / "m"), "--train", "3", "--val", "1",
                            "--test", "1", "--with-singles", "--max-actions", "3"])
    assert r.exit_code == 0, r.output
    ids = read_split(tmp_path / "m", "test")
    assert set(read_split(source, "test")) <= set(ids) and any(i.startswith("cmp_test_") for i in ids)
    assert json.loads((tmp_path / "m" / "compose.json").read_text())["with_singles"] is True
    for args, fragment in ((["--min-actions", "5"], "--min-actions / --max-actions"),
                           (["--train", "-1"], "--train must be >= 0, got -1"),
                           (["--blend", "-1"], "--blend must be >= 0"), (["--captions", "0"], "--captions must be >= 1"),
                           (["--min-clip-frames", "400"], "--max-clip-frames must be >= --min-clip-frames (400)")):
        r = runner.invoke(app, ["dataset", "compose", str(source), "-o", str(tmp_path / "x"), *args])
        assert r.exit_code == 2 and r.stderr.startswith("Error:") and fragment in r.stderr, r.output
        assert r.stderr.count("\n") == 1 and not (tmp_path / "x").exists()


def test_crops_cut_actions_and_windows_without_changing_the_sequences(source, tmp_path):
    plain, cropped = tmp_path / "plain", tmp_path / "crops"
    compose_dataset(source, plain, {"train": 6, "val": 2, "test": 2}, seed=3)
    info = compose_dataset(source, cropped, {"train": 6, "val": 2, "test": 2}, seed=3, crops=2)
    for split in ("train", "val", "test"):                             # the sequences are the same files
        seqs = [i for i in read_split(cropped, split) if "_" not in i.removeprefix("cmp_" + split + "_")]
        assert seqs == read_split(plain, split)
        for i in seqs:
            assert (cropped / "new_joints" / f"{i}.npy").read_bytes() == (plain / "new_joints" / f"{i}.npy").read_bytes()
    assert not [i for i in read_split(cropped, "test") if "_a" in i or "_w" in i]     # no crops in test
    train = read_split(cropped, "train")
    actions = [i for i in train if "_a" in i]
    n_actions = sum(len(read_segments(cropped, i)["actions"]) for i in read_split(plain, "train"))
    assert len(actions) == n_actions and info["counts"]["train"]["crops"] == len([i for i in train if "_a" in i or "_w" in i])
    doc = read_segments(cropped, "cmp_train_00000")
    a = doc["actions"][1]
    samples, _ = load_samples(cropped, ["cmp_train_00000_a1", "cmp_train_00000"])
    crop, seq = samples
    assert sorted(c.text for c in crop.captions) == sorted(a["captions"])            # the action's own captions
    dur = crop.joints.shape[0] / doc["fps"]
    assert a["end_s"] - a["start_s"] - 0.1 <= dur <= a["end_s"] - a["start_s"] + 1.0 + 0.1   # up to 0.5 s each side
    assert np.allclose(crop.joints[0, 0, [0, 2]], 0, atol=1e-5)                          # placed at the origin
    assert abs(facing_yaw(crop.joints, T2M, slice(0, 3))) < 1e-3
    for w in (i for i in train if "_w" in i):                                          # windows: 1.5-3 s
        n = np.load(cropped / "new_joints" / f"{w}.npy").shape[0]
        assert 1.5 * doc["fps"] - 1 <= n <= 3.0 * doc["fps"] + 1
