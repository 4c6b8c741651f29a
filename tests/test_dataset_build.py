"""`m2t dataset build`: labelled mocap -> HumanML3D-format dataset (layout, captions, mirrors, splits)."""
from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from conftest import need
from m2t.converters.synthetic import write_walk_bvh
from m2t.cli.app import app
from m2t.models.data import load_samples, parse_caption_line, read_split
from m2t.models.dataset_build import Entry, label_captions, load_templates, stratified_splits

runner = CliRunner()


def test_label_captions_keep_sides_and_styles():
    tpl = load_templates()
    rng = np.random.default_rng(0)
    caps = label_captions(Entry(path=None, label="wave-left-hand", source="x", style="elderly"), tpl, rng, 3)
    assert len(caps) == 3 and all("left" in c and "right" not in c for c in caps)
    assert any("elderly" in c or "old" in c for c in caps)
    caps = label_captions(Entry(path=None, label="raise-up-right-hand", source="x", style="normal"), tpl, rng, 3)
    assert all("right" in c for c in caps)


def test_stratified_splits_are_deterministic_and_cover_every_label():
    keys = [f"k{i}" for i in range(40)]
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 10
    s1, s2 = stratified_splits(keys, labels, seed=3), stratified_splits(keys, labels, seed=3)
    assert s1 == s2 and s1 != stratified_splits(keys, labels, seed=4)
    for lab in "abc":
        got = {s1[k] for k, l in zip(keys, labels) if l == lab}
        assert got == {"train", "val", "test"}


def test_build_from_manifest_with_a_bad_file(tmp_path):
    lab = tmp_path / "lab"
    rows = ["file,label,style"]
    for i in range(6):
        write_walk_bvh(lab / f"walk{i}.bvh", seconds=1.0 + 0.2 * i)
        rows.append(f"walk{i}.bvh,walk,{'happy' if i % 2 else 'normal'}")
    (lab / "broken.bvh").write_text("HIERARCHY\nROOT x\n{")
    rows.append("broken.bvh,walk,normal")
    rows.append("walk0.bvh,,")                      # no caption, no label
    (lab / "labels.csv").write_text("\n".join(rows[:-1]) + "\n")
    r = runner.invoke(app, ["dataset", "build", "--manifest", str(lab / "labels.csv"), "-o", str(tmp_path / "ds")])
    assert r.exit_code == 1 and "broken.bvh" in r.stderr, r.output
    ds = tmp_path / "ds"
    ids = read_split(ds, "train") + read_split(ds, "val") + read_split(ds, "test")
    assert len(ids) == 12 and sum(i.startswith("M") for i in ids) == 6
    samples, skipped = load_samples(ds, ids)
    assert skipped == 0 and all(s.joints.shape[1:] == (22, 3) for s in samples)
    line = (ds / "texts" / "user_walk1.txt").read_text().splitlines()[0]
    cap = parse_caption_line(line)
    assert cap.pos is not None and "VERB" in cap.pos and "walks" in cap.tokens
    j, mj = np.load(ds / "new_joints" / "user_walk1.npy"), np.load(ds / "new_joints" / "Muser_walk1.npy")
    np.testing.assert_allclose(mj[:, 1, 0], -j[:, 2, 0], atol=1e-6)     # left hip <- mirrored right hip
    build = json.loads((ds / "build.json").read_text())
    assert build["counts"]["motions"] == 6 and build["counts"]["failed"] == 1


def test_mirrored_captions_swap_sides(tmp_path):
    lab = tmp_path / "lab"
    write_walk_bvh(lab / "a.bvh", seconds=1.0)
    (lab / "m.csv").write_text("file,caption,split\na.bvh,a person waves the left hand clockwise,train\n")
    r = runner.invoke(app, ["dataset", "build", "--manifest", str(lab / "m.csv"), "-o", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "ds" / "texts" / "Muser_a.txt").read_text()
    assert text.startswith("a person waves the right hand counterclockwise#")


def test_shared_presets(shared_data, tmp_path):
    need(shared_data / "xia")
    for preset, n in (("xia", 9), ("cmu", 7), ("bandai1", 174)):
        r = runner.invoke(app, ["dataset", "build", "--preset", preset, "--data", str(shared_data),
                                "-o", str(tmp_path / preset), "--no-mirror"])
        assert r.exit_code == 0, r.output
        counts = json.loads((tmp_path / preset / "build.json").read_text())["counts"]
        assert counts["motions"] == n and counts["failed"] == 0
    cmu = (tmp_path / "cmu" / "texts" / "cmu_07_05-walk.txt").read_text()
    assert cmu.startswith("a person walks forward slowly#")              # CMU's note "slow walk" as a sentence


def test_build_refuses_what_would_be_lost_before_writing(tmp_path, monkeypatch):
    """Two files of one name in two folders (or one file twice) became one sample, the second
    silently overwriting the first; a bad split was found after the motions were written; a preset
    without its data built an empty dataset 'successfully'. Each is one line, exit 2, nothing written."""
    lab = tmp_path / "lab"
    for sub in ("s1", "s2"):
        write_walk_bvh(lab / sub / "take.bvh", seconds=1.0)
    cases = {"both.csv": ("file,caption\ns1/take.bvh,a person runs\ns2/take.bvh,a person walks\n", "one name in two folders"),
             "twice.csv": ("file,caption\ns1/take.bvh,a person runs\ns1/take.bvh,a person walks\n", "the same file twice"),
             "split.csv": ("file,caption,split\ns1/take.bvh,a person runs,validation\n", "unknown split 'validation'")}
    for name, (text, fragment) in cases.items():
        (lab / name).write_text(text)
        out = tmp_path / name
        r = runner.invoke(app, ["dataset", "build", "--manifest", str(lab / name), "-o", str(out)])
        assert r.exit_code == 2 and fragment in r.stderr and r.stderr.count("\n") == 1, r.output
        assert not out.exists()
    monkeypatch.chdir(tmp_path)
    for args, fragment in ((["--preset", "cmu", "--data", str(tmp_path / "none")], "no such data folder"),
                           (["--preset", "cmu", "--data", str(lab)], "no files of preset 'cmu'"),
                           (["--preset", "xia", "--data", str(lab)], "MANIFEST.csv, which is missing"),
                           (["--manifest", str(lab / "both.csv"), "--captions-per-motion", "0"], "must be >= 1")):
        r = runner.invoke(app, ["dataset", "build", *args, "-o", str(tmp_path / "p")])
        assert r.exit_code == 2 and fragment in r.stderr and r.stderr.count("\n") == 1, r.output
        assert not (tmp_path / "p").exists()


def test_a_rebuild_holds_only_what_it_wrote(tmp_path):
    """Building again into the same folder kept the earlier build's samples (unlisted, but there)."""
    lab = tmp_path / "lab"
    for i in range(3):
        write_walk_bvh(lab / f"w{i}.bvh", seconds=1.0)
    (lab / "all.csv").write_text("file,caption\n" + "".join(f"w{i}.bvh,a person walks\n" for i in range(3)))
    (lab / "one.csv").write_text("file,caption\nw0.bvh,a person walks\n")
    out = tmp_path / "ds"
    for name in ("all.csv", "one.csv"):
        assert runner.invoke(app, ["dataset", "build", "--manifest", str(lab / name), "-o", str(out)]).exit_code == 0
    assert sorted(p.stem for p in (out / "new_joints").iterdir()) == ["Muser_w0", "user_w0"]
    assert sorted(p.stem for p in (out / "texts").iterdir()) == ["Muser_w0", "user_w0"]
