"""Issue 12, odd paths and untrusted model folders: -o FILE, read-only output, two inputs with
one stem, symlinked sub-folders, --no-overwrite on .npy/.npz, .part leftovers, a mixed folder,
dataset build past a bad file, corrupt/huge/NaN model folders, resume after a kill."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from hostile_seeds import write_c3d_seed, write_cmu_pair, write_smpl_seed
from m2t import converters
from m2t.cli.app import app
from m2t.converters import ConfigError, fileio
from m2t.converters.synthetic import write_walk_bvh
from m2t.models import checkpoint
from m2t.models.checkpoint import load_bundle
from m2t.models.errors import ModelDirError
from test_hostile_files import bvh, limited, one_error

runner = CliRunner()


# ------------------------------------------------------------------------------------ paths
def test_out_is_a_file(tmp_path):
    p = bvh(tmp_path)
    (tmp_path / "f").write_text("x")
    assert one_error(["convert", p, "-o", tmp_path / "f"]) == f"Error: {tmp_path / 'f'}: output must be a folder, but it is a file"


def test_read_only_output_folder(tmp_path, monkeypatch):
    p = bvh(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:                      # root writes anyway: make the check see what a user sees
        real = os.access
        monkeypatch.setattr(converters.api.os, "access",
                            lambda q, m, **k: False if Path(q) == ro and m & os.W_OK else real(q, m, **k))
    assert one_error(["convert", p, "-o", ro]).endswith("ro: output folder is not writable")
    monkeypatch.undo()
    ro.chmod(0o755)

    def denied(*a, **k):                       # the folder turns read-only while files are written
        raise PermissionError(13, "Permission denied", str(ro))
    monkeypatch.setattr(fileio.tempfile, "mkstemp", denied)
    assert one_error(["convert", p, "-o", ro]) == f"Error: {p}: Permission denied ({ro})"


def test_two_inputs_same_stem_refused(tmp_path):
    a, b = bvh(tmp_path / "a"), bvh(tmp_path / "b")
    msg = one_error(["convert", a, b, "-o", tmp_path / "o"])
    assert msg == f"Error: {a} and {b} would both write {tmp_path / 'o' / a.stem}.*; convert them separately"
    write_c3d_seed(tmp_path / "a" / "walk.c3d")
    assert "would both write" in one_error(["convert", tmp_path / "a", "-o", tmp_path / "o"])
    assert not (tmp_path / "o").exists()


def test_symlinked_subfolders_followed_and_loops_skipped(tmp_path):
    real = tmp_path / "elsewhere"
    bvh(real, name="far.bvh")
    lab = tmp_path / "lab"
    bvh(lab, name="near.bvh")
    (lab / "linked").symlink_to(real, target_is_directory=True)
    (lab / "loop").symlink_to(lab, target_is_directory=True)
    r = runner.invoke(app, ["convert", str(lab), "-r", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "near.npy").exists() and (tmp_path / "o" / "linked" / "far.npy").exists()
    assert "loop: symlink loop back to" in r.stderr and not (tmp_path / "o" / "loop").exists()


def test_no_overwrite_writes_the_missing_npz(tmp_path):
    p = bvh(tmp_path)
    assert runner.invoke(app, ["convert", str(p), "-o", str(tmp_path / "o")]).exit_code == 0
    npy = tmp_path / "o" / "walk.npy"
    before = npy.stat().st_mtime_ns
    (tmp_path / "o" / "walk.npz").unlink()
    r = runner.invoke(app, ["convert", str(p), "-o", str(tmp_path / "o"), "--no-overwrite"])
    assert r.exit_code == 0 and (tmp_path / "o" / "walk.npz").exists() and npy.stat().st_mtime_ns == before
    r = runner.invoke(app, ["convert", str(p), "-o", str(tmp_path / "o"), "--no-overwrite"])
    assert "skipped, output exists" in r.stdout


def test_part_leftovers_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    host = fileio._owner().rsplit("-", 1)[0]
    dead = out / f".walk.npy.{host}-999999999.x1.part"           # this host, process gone
    old = out / ".walk.npz.abc123.part"                           # unknown writer, two hours old
    live = out / f".walk.npy.{host}-{os.getppid()}.x2.part"       # a live writer: kept
    fresh = out / ".walk.npz.def456.part"                         # unknown writer, just now: kept
    for f in (dead, old, live, fresh):
        f.write_bytes(b"half")
    os.utime(old, (time.time() - 7200,) * 2)
    assert runner.invoke(app, ["convert", str(bvh(tmp_path)), "-o", str(out)]).exit_code == 0
    assert not dead.exists() and not old.exists() and live.exists() and fresh.exists()
    live.unlink()
    fresh.unlink()
    assert sorted(p.name for p in out.iterdir()) == ["walk.npy", "walk.npz"]


def test_single_file_error_is_one_line(tmp_path):
    p = bvh(tmp_path, lambda s: s[: len(s) // 2])
    assert one_error(["convert", p, "-o", tmp_path / "o"]).startswith(f"Error: {p}")


@pytest.mark.parametrize("command", ["convert", "caption"])
def test_a_failed_run_leaves_no_empty_output_folder(tmp_path, command):
    """Nothing written means no folder either (an empty -o folder was left by a file that failed)."""
    p = bvh(tmp_path, lambda s: s[: len(s) // 2])
    out = tmp_path / "new" / "o"
    assert runner.invoke(app, [command, str(p), "-o", str(out)]).exit_code == 2
    assert not (tmp_path / "new").exists()


def test_an_output_folder_that_is_a_broken_link_is_one_early_line(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "target")
    r = runner.invoke(app, ["convert", str(bvh(tmp_path)), "-o", str(tmp_path / "dangling" / "o")])
    assert r.exit_code == 2 and "is a link to nothing" in r.stderr and r.stderr.count("\n") == 1, r.output


def mixed_folder(tmp_path) -> tuple[Path, list[Path], list[str]]:
    """Four good files (one per format) and five hostile ones."""
    lab = tmp_path / "lab"
    good = [bvh(lab, name="g1.bvh"), write_cmu_pair(lab, "g2", T=80)[0], write_c3d_seed(lab / "g3.c3d"),
            write_smpl_seed(lab / "g4.npz")]
    bad = {"b1.bvh": lambda: bvh(lab, lambda s: s.replace("Frame Time: 0.03333333", "Frame Time: 1000"), "b1.bvh"),
           "b2.bvh.gz": lambda: (lab / "b2.bvh.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 50),
           "b3.npz": lambda: np.savez(lab / "b3.npz", poses=np.full((4, 156), "x"), trans=np.zeros((4, 3))),
           "b4.c3d": lambda: (lab / "b4.c3d").write_bytes(write_c3d_seed(tmp_path / "x.c3d").read_bytes()[:1000]),
           "b5.amc": lambda: (lab / "b5.amc").write_text("1\nroot 1 2 3\n\u00b2\n")}
    for make in bad.values():
        make()
    return lab, good, list(bad)


@pytest.mark.parametrize("command, ext", [("convert", "npy"), ("caption", "txt")])
def test_mixed_folder_processes_every_good_file(tmp_path, command, ext):
    lab, good, bad = mixed_folder(tmp_path)
    r = runner.invoke(app, [command, str(lab), "-o", str(tmp_path / "o")])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert sorted(p.name for p in (tmp_path / "o").glob(f"*.{ext}")) == [f"{g.stem}.{ext}" for g in good]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == len(bad) and all(any(n in e for e in errors) for n in bad)
    assert f"{len(good)} {command}ed, 0 skipped, {len(bad)} failed" in r.stderr


def test_convert_api_guard_catches_reader_bugs(tmp_path, monkeypatch):
    p = bvh(tmp_path)
    monkeypatch.setattr(converters.bvh, "channels_to_positions", lambda *a: 1 / 0)
    [res] = converters.convert([p], tmp_path / "o")
    assert res.error == f"{p}: unexpected ZeroDivisionError: division by zero"


def test_dataset_build_lists_bad_file_and_finishes(tmp_path):
    from m2t.models.dataset_build import build_dataset
    src = tmp_path / "src"
    bvh(src, name="good.bvh")
    bvh(src, lambda s: s.replace("Frame Time: 0.03333333", "Frame Time: 1e300"), "bad.bvh")
    (src / "m.csv").write_text("file,caption\ngood.bvh,a person walks\nbad.bvh,a person walks\n")
    rep = build_dataset(tmp_path / "ds", manifest=src / "m.csv")
    assert rep.counts["motions"] == 1 and len(rep.failures) == 1 and "bad.bvh" in rep.failures[0]
    ids = sorted(p.stem for p in (tmp_path / "ds" / "new_joints").glob("*.npy"))
    assert ids == ["Muser_good", "user_good"]
    assert not list((tmp_path / "ds").rglob("*.part"))


# ------------------------------------------------------------------------------- model dirs
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from m2t.models.checkpoint import Bundle, save_bundle
    from m2t.models.config import model_preset
    from m2t.models.features import Normalizer
    from m2t.models.network import Captioner
    from m2t.models.vocab import Vocab
    vocab = Vocab.from_list(["<pad>", "<sos>", "<eos>", "<unk>", "a", "person", "walks"])
    model = Captioner(model_preset("tiny", vocab_size=len(vocab)))
    d = tmp_path_factory.mktemp("model")
    save_bundle(d, Bundle(model, vocab, Normalizer(np.zeros(3, np.float32), np.ones(3, np.float32)), 2, 1.0))
    return d


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_model_dir_loads(model_dir):
    assert load_bundle(model_dir).vocab.itos[-1] == "walks"


@pytest.mark.parametrize("damage", ["truncate", "header", "garbage", "empty"])
def test_corrupt_safetensors_is_one_line(tmp_path, model_dir, damage):
    d = _copy(model_dir, tmp_path / "m")
    w = d / "model.safetensors"
    b = w.read_bytes()
    w.write_bytes({"truncate": b[: len(b) // 2], "header": b[:8] + b"{garbage" + b[16:],
                   "garbage": os.urandom(len(b)), "empty": b""}[damage])
    with pytest.raises(ModelDirError, match=r"model\.safetensors: corrupt safetensors file") as e:
        load_bundle(d)
    assert "\n" not in str(e.value)
    msg = one_error(["caption", bvh(tmp_path), "--model", d])
    assert "model.safetensors: corrupt safetensors file" in msg


def _edited(model_dir, d, edit) -> Path:
    d = _copy(model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    edit(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c["model"].update(hidden=10 ** 9), "'model.hidden' = 1000000000 is outside 2-8192"),
    (lambda c: c["model"].update(vocab_size=10 ** 6), "'vocab' has 7 words"),
    (lambda c: c.update(downsample=0), "'downsample' = 0 is outside 1-100"),
    (lambda c: c["normalization"].update(std=[0, 1, 1]), "'normalization.std' must be positive"),
    (lambda c: c["model"].update(dropout="x"), "'model.dropout' must be float"),
    (lambda c: c.pop("vocab"), "missing key 'vocab'"),
    (lambda c: c["model"].update(skeleton="xyz"), "config.json: skeleton must be one of t2m, kit"),
])
def test_config_json_checked_before_allocating(tmp_path, model_dir, edit, fragment):
    with pytest.raises(ModelDirError, match=re.escape(fragment)) as e:
        load_bundle(_edited(model_dir, tmp_path / "m", edit))
    assert "\n" not in str(e.value)


def test_huge_config_sizes_refused_under_an_address_space_limit(tmp_path, model_dir):
    """hidden = 1e9 once allocated 5.5 GB; now the checks run before any allocation (2 GiB cap)."""
    dirs = [_edited(model_dir, tmp_path / "a", lambda c: c["model"].update(hidden=10 ** 9)),
            _edited(model_dir, tmp_path / "b", lambda c: c["model"].update(hidden=8192, proj=8192, emb=8192))]
    r = limited("from m2t.models.checkpoint import load_bundle, ModelDirError\n"
                f"for d in {[str(d) for d in dirs]!r}:\n    try:\n        load_bundle(d)\n"
                "    except ModelDirError as e:\n        print(e)")
    assert r.returncode == 0, r.stderr[-800:]
    assert "'model.hidden' = 1000000000 is outside 2-8192" in r.stdout
    assert "parameters, more than m2t's limit of 200,000,000" in r.stdout


def test_nan_weights_refused(tmp_path, model_dir):
    d = _copy(model_dir, tmp_path / "m")
    w = load_file(str(d / "model.safetensors"))
    k = sorted(w)[0]
    w[k] = w[k].clone()
    w[k].view(-1)[0] = float("nan")
    save_file(w, str(d / "model.safetensors"))
    with pytest.raises(ModelDirError, match=f"weight '{k}' holds NaN or infinite values"):
        load_bundle(d)


# ------------------------------------------------------------------------------- resume
def test_resume_after_kill_during_the_state_write_trains_no_epoch_twice(tmp_path, monkeypatch):
    from m2t.models.config import TrainConfig, model_preset
    from m2t.models.synthetic import write_dataset
    from m2t.models.training import train
    root = write_dataset(tmp_path / "d", per_class=2, seed=4)
    tcfg = TrainConfig(epochs=3, batch_size=8, min_freq=1, min_frames=0, max_frames=1000, val_every=10)
    args = (str(root), tmp_path / "m", model_preset("tiny"), tcfg)
    real = checkpoint._atomic_write
    calls = []

    def killed(path, write):                  # the kill lands while epoch 1's state is written
        calls.append(Path(path).name)
        if Path(path).name == checkpoint.STATE and calls.count(checkpoint.STATE) == 2:
            write(str(Path(path).with_name("tmp.part")))
            raise KeyboardInterrupt
        return real(path, write)
    monkeypatch.setattr(checkpoint, "_atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        train(*args, device="cpu", log=lambda *a: None)
    monkeypatch.undo()
    last = tmp_path / "m" / "last"
    assert checkpoint.read_train_info(last)["epoch"] == 0          # epoch 0's state, whole
    assert not (last / "state.json").exists()                       # one file: nothing to disagree with
    res = train(*args, device="cpu", log=lambda *a: None, resume=True)
    assert [h["epoch"] for h in res.history] == [0, 1, 2]


def test_jobs_run_finishes_when_a_worker_dies(tmp_path, monkeypatch):
    """--jobs N: a worker killed mid-file (OOM killer, native crash) breaks the process pool; the
    run still finishes, every file has a result and the lost ones are listed."""
    lab = tmp_path / "lab"
    for n in ("a", "b", "c", "d"):
        bvh(lab, name=f"{n}.bvh")
    real = converters.api.load_motion
    monkeypatch.setattr(converters.api, "load_motion",          # fork start method: workers inherit it
                        lambda p, **k: os._exit(9) if Path(p).name == "b.bvh" else real(p, **k))
    res = converters.convert([lab], tmp_path / "o", jobs=2)
    assert len(res) == 4 and all(r.ok or r.error for r in res)
    bad = [r for r in res if not r.ok]
    assert any(r.source.name == "b.bvh" for r in bad)
    assert all("BrokenProcessPool" in r.error for r in bad)
