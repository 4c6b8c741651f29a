"""`m2t caption` and `m2t segment`: every output format, folders, skips, bad files, exit codes.
The model is a tiny one trained on the synthetic set (conftest `tiny_model`); inputs are BVH walks,
so the tests check structure, never wording."""
from __future__ import annotations

import csv
import io
import json
import re
import struct

import pytest
from typer.testing import CliRunner

from m2t.converters.synthetic import write_walk_bvh
from m2t.cli.app import app
from m2t.models.schemas import CAPTION_SCHEMA, SEGMENTS_SCHEMA
from m2t.models.writers import heatmap_size
from schema_check import validate

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    p = tmp_path_factory.mktemp("walk") / "walk.bvh"
    write_walk_bvh(p, seconds=3.0)
    return p


def caption_json(walk, tiny_model, *extra):
    r = invoke("caption", walk, "--model", tiny_model, "-f", "json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


# ----------------------------------------------------------------------------- formats
def test_single_file_prints_the_caption(walk, tiny_model):
    r = invoke("caption", walk, "--model", tiny_model)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].strip() and r.stdout.endswith("\n")
    assert lines[0] == caption_json(walk, tiny_model)["text"]


@pytest.mark.parametrize("extra", [[], ["--attention"], ["--onset-rule", "gamma95", "--beam", "3"]])
def test_json_follows_the_schema(walk, tiny_model, extra):
    d = caption_json(walk, tiny_model, *extra)
    validate(d, CAPTION_SCHEMA)
    assert d["schema"] == "m2t.caption/2" and d["fps"] == 20.0 and d["frames"] == 60
    assert d["duration_s"] == pytest.approx(3.0) and d["feature_frames"] == 30
    assert d["text"] == " ".join(t["word"] for t in d["tokens"])
    assert [t["index"] for t in d["tokens"]] == list(range(len(d["tokens"])))
    assert any(t["is_motion_word"] for t in d["tokens"]), "the tiny model should emit at least one verb"
    first, last = 0.05, (1 + 29 * 2) / 20                # feature frames 0 and 29 in seconds
    for t in d["tokens"]:
        if t["is_motion_word"]:
            assert first - 1e-3 <= t["onset_s"] <= t["offset_s"] <= last + 1e-3
            assert sum(p["score"] for p in t["parts"]) == pytest.approx(1.0, abs=1e-3)
            scores = [p["score"] for p in t["parts"]]
            assert scores == sorted(scores, reverse=True) and len(scores) == 6
            if d["onset_rule"] == "fwhm":
                assert t["onset_s"] <= t["centre_s"] <= t["offset_s"]
    if "--attention" in extra:
        assert len(d["frame_times_s"]) == 30 and all(len(t["window"]) == 30 for t in d["tokens"])
        assert all(len(row) == 6 for t in d["tokens"] for row in t["alpha"])
    else:
        assert "frame_times_s" not in d


_TIME = r"(\d{2}):([0-5]\d):([0-5]\d),(\d{3})"
_BLOCK = re.compile(rf"(\d+)\n{_TIME} --> {_TIME}\n((?:[^\n]+\n)+)")


def parse_srt(text: str) -> list[tuple[int, float, float, str]]:
    """Strict SubRip: blocks separated by one blank line, numbered 1, 2, ..., non-empty text."""
    assert text.endswith("\n") and "\r" not in text
    cues = []
    for n, block in enumerate(text.split("\n\n"), 1):
        block = block if block.endswith("\n") else block + "\n"
        m = _BLOCK.fullmatch(block)
        assert m, f"not a SubRip cue: {block!r}"
        g = [int(x) for x in m.groups()[:9]]
        assert g[0] == n
        start = g[1] * 3600 + g[2] * 60 + g[3] + g[4] / 1000
        end = g[5] * 3600 + g[6] * 60 + g[7] + g[8] / 1000
        cues.append((g[0], start, end, m.group(10)))
    return cues


@pytest.mark.parametrize("rule", ["fwhm", "gamma95"])
def test_srt_is_strict_subrip(walk, tiny_model, tmp_path, rule):
    r = invoke("caption", walk, "--model", tiny_model, "-f", "srt", "-o", tmp_path, "--onset-rule", rule)
    assert r.exit_code == 0, r.output
    cues = parse_srt((tmp_path / "walk.srt").read_text())
    d = caption_json(walk, tiny_model, "--onset-rule", rule)
    assert len(cues) == 1 + len(d["segments"])                             # the caption + one cue per action
    starts = [c[1] for c in cues]
    assert starts == sorted(starts)
    for _, start, end, _ in cues:
        assert 0 <= start < end <= d["duration_s"]
    assert (0, d["duration_s"]) in [(c[1], c[2]) for c in cues]            # the whole caption
    assert d["text"] + "\n" in [c[3] for c in cues]


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_heatmap_png_has_the_documented_size(walk, tiny_model, tmp_path, monkeypatch):
    n_words = sum(t["is_motion_word"] for t in caption_json(walk, tiny_model)["tokens"])
    r = invoke("caption", walk, "--model", tiny_model, "-f", "heatmap", "-f", "txt", "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert png_size(tmp_path / "o" / "walk.png") == heatmap_size(n_words) == (1000, 50 + 200 * n_words)
    assert (tmp_path / "o" / "walk.txt").read_text().count("\n") == 1
    monkeypatch.chdir(tmp_path)                          # without -o: ./<stem>.png
    r = invoke("caption", walk, "--model", tiny_model, "-f", "heatmap")
    assert r.exit_code == 0, r.output
    assert png_size(tmp_path / "walk.png") == heatmap_size(n_words)


# ----------------------------------------------------------------------------- folders
def _lab(root):
    write_walk_bvh(root / "a.bvh", seconds=2.0)
    write_walk_bvh(root / "sub" / "b.bvh", seconds=2.5)
    return root


def test_folder_goes_past_a_corrupt_file(tiny_model, tmp_path):
    src = _lab(tmp_path / "lab")
    text = (src / "a.bvh").read_text()
    (src / "sub" / "broken.bvh").write_text(text[: len(text) // 2])
    r = invoke("caption", src, "-r", "--model", tiny_model, "-o", tmp_path / "out", "-f", "json", "-f", "srt")
    assert r.exit_code == 1
    assert "2 captioned, 0 skipped, 1 failed" in r.stderr
    assert "broken.bvh" in r.stderr and "Traceback" not in r.output
    for p in ("a.json", "a.srt", "sub/b.json", "sub/b.srt"):
        assert (tmp_path / "out" / p).exists()
    validate(json.loads((tmp_path / "out" / "sub" / "b.json").read_text()), CAPTION_SCHEMA)
    leftovers = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert leftovers == ["a.json", "a.srt", "sub/b.json", "sub/b.srt"]       # nothing half-written


def test_rerun_skips_finished_files(tiny_model, tmp_path):
    src = _lab(tmp_path / "lab")
    args = ["caption", src, "-r", "--model", tiny_model, "-o", tmp_path / "out"]
    assert invoke(*args).exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.txt")}
    assert len(before) == 2
    (tmp_path / "out" / "sub" / "b.txt").unlink()
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "skipped, output exists" in r.stdout and "1 captioned, 1 skipped, 0 failed" in r.stderr
    assert (tmp_path / "out" / "a.txt").stat().st_mtime_ns == before[tmp_path / "out" / "a.txt"]
    assert (tmp_path / "out" / "sub" / "b.txt").exists()
    r = invoke(*args, "-f", "json")                      # another format is not finished yet
    assert r.exit_code == 0 and "2 captioned" in r.stderr
    r = invoke(*args, "--overwrite")
    assert r.exit_code == 0 and "2 captioned, 0 skipped" in r.stderr


def test_several_files_to_stdout(tiny_model, tmp_path):
    src = _lab(tmp_path / "lab")
    r = invoke("caption", src, "-r", "--model", tiny_model)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [ln.split(": ")[0] for ln in lines] == [str(src / "a.bvh"), str(src / "sub" / "b.bvh")]
    r = invoke("caption", src, "-r", "--model", tiny_model, "-f", "json", "--batch-size", "1")
    assert r.exit_code == 0, r.output
    docs = [json.loads(ln) for ln in r.stdout.splitlines()]                 # JSON Lines
    assert [d["source"] for d in docs] == [str(src / "a.bvh"), str(src / "sub" / "b.bvh")]
    for d in docs:
        validate(d, CAPTION_SCHEMA)


# ----------------------------------------------------------------------------- errors
def test_no_default_model_is_one_line(walk, monkeypatch, tmp_path):
    import m2t.models.captioning
    monkeypatch.setattr(m2t.models.captioning, "default_model_dir", lambda: tmp_path / "none")
    for cmd in ("caption", "segment"):
        r = invoke(cmd, walk)
        assert r.exit_code == 2
        assert r.stderr == "Error: no default model shipped in this install: pass --model DIR\n"


@pytest.mark.parametrize("args, fragment", [
    (["--model", "/no/model"], "/no/model: model directory not found"),
    (["--beam", "0"], "--beam must be >= 1, got 0"),
    (["-f", "pdf"], "--format 'pdf' is not one of"),
    (["-f", "json", "-f", "srt"], "several --format values need -o DIR"),
    (["--device", "tpu"], "--device 'tpu' is not one of"),
    (["--onset-rule", "peak"], "--onset-rule 'peak' is not one of"),
])
def test_caption_user_errors(walk, tiny_model, args, fragment):
    base = [] if "--model" in args else ["--model", tiny_model]
    r = invoke("caption", walk, *base, *args)
    assert r.exit_code == 2 and fragment in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_single_bad_file_exits_2(tiny_model, tmp_path):
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    r = invoke("caption", tmp_path / "bad.bvh", "--model", tiny_model, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "bad.bvh" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    r = invoke("caption", tmp_path / "missing.bvh", "--model", tiny_model)
    assert r.exit_code == 2 and "missing.bvh: no such file" in r.stderr


# ----------------------------------------------------------------------------- segment
def test_segment_table_csv_json(walk, tiny_model, tmp_path):
    d = caption_json(walk, tiny_model)
    actions = d["segments"]
    assert actions and d["windowing"] is None                             # a short clip: one caption
    r = invoke("segment", walk, "--model", tiny_model)
    assert r.exit_code == 0, r.output
    assert "onset (s)" in r.stdout and all(a["word"] in r.stdout for a in actions)
    r = invoke("segment", walk, "--model", tiny_model, "-o", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert [row["word"] for row in rows] == [a["word"] for a in actions]
    for row, a in zip(rows, actions):
        assert float(row["onset_s"]) == pytest.approx(a["onset_s"], abs=1e-3)
        assert float(row["offset_s"]) == pytest.approx(a["offset_s"], abs=1e-3)
        assert row["parts"].split()[0].split(":")[0] == a["parts"][0]["name"]
    r = invoke("segment", walk, "--model", tiny_model, "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validate(doc, SEGMENTS_SCHEMA)
    assert doc["segments"] == actions
    motion = {t["word"]: t for t in d["tokens"] if t["is_motion_word"]}
    assert all(a["word"] in motion for a in actions)
    if len(actions) == 1:          # 3 s > --dense-after: the windows found one action, so its span is theirs
        assert actions[0]["windows"] > 1 and actions[0]["offset_s"] - actions[0]["onset_s"] > 2.0
    else:                          # the caption names several: each action is its word's window span
        for a in actions:
            assert a["onset_s"] == pytest.approx(motion[a["word"]]["onset_s"], abs=2e-3)
    r = invoke("segment", walk, "--model", tiny_model, "-f", "json", "--dense-after", "5")   # a short clip
    for a in json.loads(r.stdout)["segments"]:
        assert a["onset_s"] == pytest.approx(motion[a["word"]]["onset_s"], abs=2e-3) and a["windows"] == 1


@pytest.mark.parametrize("args, fragment", [
    (["-f", "table", "-o", "x.csv"], "--format table prints to the terminal"),
    (["-o", "x.txt"], "give --format csv or json"),
    (["--beam", "0"], "--beam must be >= 1"),
])
def test_segment_user_errors(walk, tiny_model, args, fragment):
    r = invoke("segment", walk, "--model", tiny_model, *args)
    assert r.exit_code == 2 and fragment in r.stderr and "Traceback" not in r.output


def test_start_end_trim_and_times_stay_in_source_seconds(walk):
    """--start/--end caption only that part; every output time is still seconds of the file."""
    r = invoke("caption", walk, "-f", "json", "--start", "1.0", "--end", "2.8")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validate(doc, CAPTION_SCHEMA)
    assert doc["time_offset_s"] == pytest.approx(1.0, abs=0.05)
    assert doc["duration_s"] == pytest.approx(1.8, abs=0.1)
    for t in doc["tokens"]:
        if t["is_motion_word"]:
            assert 1.0 - 0.05 <= t["onset_s"] <= t["offset_s"] <= 2.8 + 0.05
    bad = invoke("caption", walk, "--start", "2", "--end", "1")
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_a_clip_too_short_to_caption_is_refused(walk):
    """A fraction of a second (--start near the end) was captioned "hops once on both legs" with
    only a warning: below half the model's shortest training clip it is a user error naming the part."""
    from m2t.models.captioning import default_model_dir, min_clip_frames
    from m2t.models.checkpoint import load_bundle
    need_s = min_clip_frames(load_bundle(default_model_dir())) / 20.0
    assert need_s >= 0.25
    end = json.loads(invoke("info", walk, "--json").stdout)["duration_s"]
    r = invoke("caption", walk, "--start", f"{end - 0.1:.2f}")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1 and "too short to caption" in r.stderr and "the part" in r.stderr
    ok = invoke("caption", walk, "--start", f"{end - need_s - 0.1:.2f}")
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_converter_warnings_print_once(walk, tmp_path, jobs):
    """The result carries the converter's warnings; emitting them as well printed each twice."""
    import shutil
    for name in ("a.bvh", "b.bvh"):
        shutil.copy(walk, tmp_path / name)
    r = invoke("caption", tmp_path, "--end", "9", "--jobs", jobs, "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    for name in ("a.bvh", "b.bvh"):
        assert r.stderr.count(f"{name}: --end 9 is past the end of the motion") == 1, r.stderr
