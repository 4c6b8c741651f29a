"""`m2t train` and `m2t evaluate` end to end from the CLI (synthetic set and HumanML3D sample)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.models.checkpoint import read_train_info

from conftest import need
from m2t.cli.app import app
from m2t.models.synthetic import write_dataset

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_train_and_evaluate_synthetic(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=5, seed=2)
    r = run("train", "--dataset", root, "--preset", "tiny", "--epochs", "2", "--batch-size", "8", "--min-freq", "1",
            "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert "best val BLEU-4" in r.stdout and (tmp_path / "m" / "model.safetensors").exists()
    r = run("evaluate", tmp_path / "m", "--dataset", root, "--split", "test", "--beam", "2", "-o", tmp_path / "e")
    assert r.exit_code == 0, r.output
    assert "protocol m2t" in r.stdout and "bleu4" in r.stdout and "BERTScore not computed" in r.stdout
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["protocol"] == "m2t" and metrics["beam"] == 2 and set(metrics["metrics"]) >= {"bleu4", "cider"}
    lines = (tmp_path / "e" / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == metrics["n_motions"] == 6
    r = run("evaluate", tmp_path / "m", "--dataset", root, "--protocol", "tm2t")
    assert r.exit_code == 0 and "protocol tm2t" in r.stdout
    kit = tmp_path / "kit"                                                # 21 joints, 10 frames each
    (kit / "new_joints").mkdir(parents=True)
    for i in range(2):
        np.save(kit / "new_joints" / f"k{i}.npy", np.zeros((10, 21, 3), np.float32))
        shutil.copy(sorted((root / "texts").glob("*.txt"))[i], kit / f"k{i}.txt")
    (kit / "texts").mkdir()
    for i in range(2):
        (kit / f"k{i}.txt").rename(kit / "texts" / f"k{i}.txt")
    (kit / "test.txt").write_text("k0\nk1\n")
    r = run("evaluate", tmp_path / "m", "--dataset", kit)
    assert r.exit_code == 2 and "motions have 21 joints, the model expects 22 (t2m)" in r.stderr, r.output
    r = run("evaluate", tmp_path / "m", "--dataset", root, "--localization", "-o", tmp_path / "loc")
    assert r.exit_code == 2 and "has no composed sequences" in r.stderr   # said before the caption evaluation
    assert not (tmp_path / "loc").exists()


def test_resume_from_cli(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=2, seed=4)
    base = ["train", "--dataset", root, "--preset", "tiny", "--batch-size", "8", "--min-freq", "1", "-o", tmp_path / "m"]
    assert run(*base, "--epochs", "1").exit_code == 0
    r = run(*base, "--epochs", "2", "--resume")
    assert r.exit_code == 0, r.output
    hist = read_train_info(tmp_path / "m" / "last")["history"]
    assert [h["epoch"] for h in hist] == [0, 1]


@pytest.mark.parametrize("args, fragment", [
    (["train", "--dataset", "/no/such/dir"], "/no/such/dir: no such dataset folder"),
    (["train", "--dataset", "kit"], "kit dataset not found; set M2T_KIT_DIR"),
    (["evaluate", "/no/model", "--dataset", "hml3d"], "/no/model: model directory not found"),
    (["train", "--dataset", "x", "--device", "tpu"], "--device 'tpu' is not one of"),
    (["evaluate", "m", "--dataset", "x", "--beam", "0"], "--beam must be >= 1"),
    (["evaluate", "m", "--dataset", "x", "--bertscore-model", "/no/bert"], "/no/bert: --bertscore-model folder not found"),
    (["dataset", "build", "--manifest", "/no/m.csv", "-o", "d"], "/no/m.csv: manifest not found"),
    (["train", "--dataset", "x", "--epochs", "0"], "--epochs must be >= 1, got 0"),
    (["train", "--dataset", "x", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["train", "--dataset", "x", "--lr", "-1"], "--lr must be > 0, got -1.0"),
    (["train", "--dataset", "x", "--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
    (["train", "--dataset", "x", "--min-frames", "500"], "--max-frames must be >= --min-frames (500)"),
    (["train", "--dataset", "x", "--teacher-forcing", "2"], "--teacher-forcing must be in [0, 1], got 2.0"),
    (["train", "--dataset", "x", "-o", "new", "--resume"], "new: nothing to resume"),
    (["train", "--dataset", "x", "-o", "afile"], "afile: output must be a folder, but it is a file"),
    (["dataset", "compose", ".", "-o", "afile"], "afile: output must be a folder, but it is a file"),
])
def test_user_errors(tmp_path, monkeypatch, args, fragment):
    """One line on stderr (a redirected progress bar printed an empty line before it), exit 2,
    flags checked before any data is read."""
    monkeypatch.delenv("M2T_KIT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "new_joints").mkdir()
    r = run(*args)
    assert r.exit_code == 2 and fragment in r.stderr and "Traceback" not in r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: "), repr(r.stderr)


def test_train_log_lines_and_an_existing_model(tmp_path):
    """Redirected, every epoch record is one JSON line (rich wrapped them at 80 columns); a model
    already in -o is refused unless --resume or --overwrite."""
    root = write_dataset(tmp_path / "d", per_class=2, seed=4)
    base = ["train", "--dataset", root, "--preset", "tiny", "--batch-size", "8", "--min-freq", "1", "-o", tmp_path / "m"]
    r = run(*base, "--epochs", "1")
    assert r.exit_code == 0, r.output
    records = [json.loads(ln) for ln in r.stderr.splitlines() if ln.startswith("{")]
    assert len(records) == 1 and records[0]["epoch"] == 0 and "loss_lang" in records[0]
    before = (tmp_path / "m" / "model.safetensors").read_bytes()
    r = run(*base, "--epochs", "1")
    assert r.exit_code == 2 and "holds a trained model already" in r.stderr and r.stderr.count("\n") == 1
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == before
    assert run(*base, "--epochs", "1", "--overwrite").exit_code == 0


def test_humanml3d_sample_end_to_end(shared_data, tmp_path):
    root = need(shared_data / "humanml3d-sample")
    # the sample's only captioned motion (000000) is in the official test split
    r = run("train", "--dataset", root, "--train-split", "test", "--val-split", "test", "--preset", "tiny",
            "--epochs", "2", "--min-freq", "1", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model"]["skeleton"] == "t2m" and cfg["data_counts"]["train_captions"] == 4
    r = run("evaluate", tmp_path / "m", "--dataset", root, "--split", "test", "-o", tmp_path / "e")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["n_motions"] == 1


def test_resume_on_another_dataset_says_so(tmp_path):
    """The dataset check comes before the state is loaded (another vocabulary made it fail first
    with 'training state does not match this model/optimizer')."""
    a = write_dataset(tmp_path / "a", per_class=2, seed=4)
    b = write_dataset(tmp_path / "b", per_class=3, seed=5)
    base = ["--preset", "tiny", "--batch-size", "8", "--min-freq", "1", "-o", tmp_path / "m"]
    assert run("train", "--dataset", a, *base, "--epochs", "1").exit_code == 0
    r = run("train", "--dataset", b, *base, "--epochs", "2", "--resume")
    assert r.exit_code == 2 and "--resume with a different dataset" in r.stderr, r.output


def test_train_says_what_it_left_out(tmp_path):
    """Motions outside --min-frames/--max-frames were dropped without a word; an empty val split
    printed 'best val BLEU-4 -1.0000'."""
    root = write_dataset(tmp_path / "d", per_class=3, seed=4)
    (root / "val.txt").write_text("")
    r = run("train", "--dataset", root, "--preset", "tiny", "--epochs", "1", "--batch-size", "8", "--min-freq", "1",
            "--max-frames", "60", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert "outside 40-60 frames left out" in r.stderr and "no usable motions in split 'val'" in r.stderr
    assert "no validation motions: kept the last epoch (0)" in r.stdout
