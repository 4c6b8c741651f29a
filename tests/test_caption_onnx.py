"""Captioning on ONNX Runtime: the same captions and traces as torch, no torch import on that path,
backend choice and its errors, the shipped model's graphs, folders with --jobs and --shard."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters.synthetic import write_walk_bvh
from m2t.models.captioning import default_model_dir
from m2t.models.modeldir import onnx_status

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def onnx_model(tiny_model, tmp_path_factory):
    pytest.importorskip("onnx")
    from m2t.models.export import export_dir
    d = tmp_path_factory.mktemp("onnx_model") / "m"
    shutil.copytree(tiny_model, d, ignore=shutil.ignore_patterns("last"))
    export_dir(d)
    return d


@pytest.fixture(scope="module")
def walks(tmp_path_factory):
    d = tmp_path_factory.mktemp("walks")
    for i, order in enumerate(("ZXY", "XYZ", "YXZ")):
        write_walk_bvh(d / f"w{i}.bvh", seconds=2.0 + i, order=order)
    return d


def test_shipped_model_has_current_graphs():
    assert onnx_status(default_model_dir()) is None


@pytest.mark.parametrize("extra", [[], ["--beam", "2"]])
def test_onnx_backend_gives_the_torch_result(onnx_model, walks, extra):
    docs = {}
    for backend in ("torch", "onnx", "auto"):
        r = invoke("caption", walks / "w1.bvh", "--model", onnx_model, "-f", "json", "--attention",
                   "--backend", backend, *extra)
        assert r.exit_code == 0, r.output
        docs[backend] = json.loads(r.stdout)
    t, o = docs["torch"], docs["onnx"]
    assert o == docs["auto"]
    assert o["text"] == t["text"] and len(o["tokens"]) == len(t["tokens"])
    for a, b in zip(t["tokens"], o["tokens"]):
        for k in ("beta", "confidence", "onset_s", "offset_s", "centre_frame"):
            assert a[k] == pytest.approx(b[k], abs=2e-3), k
        assert a["window"] == pytest.approx(b["window"], abs=2e-4)


def test_caption_on_the_onnx_path_never_imports_torch(tmp_path):
    script = ("import sys\nfrom m2t.cli.app import app\n"
              "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
              "print('NLTK_LOADED', 'nltk' in sys.modules)\n"
              "print('TORCH_LOADED', 'torch' in sys.modules, code)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for args in (["caption", "examples/walk.bvh"], ["caption", "examples/walk.bvh", "-f", "json", "--attention"],
                 ["segment", "examples/walk.bvh"]):
        p = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=120)
        assert p.stdout.strip().endswith("TORCH_LOADED False 0"), (args, p.stdout[-300:], p.stderr[-500:])
        assert "NLTK_LOADED False" in p.stdout                         # stems come from the cache
    p = subprocess.run([sys.executable, "-c", script, "caption", "examples/walk.bvh", "--backend", "torch"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert p.stdout.strip().endswith("TORCH_LOADED True 0")          # the check can fail


def test_backend_errors_are_one_line(tiny_model, walks):
    r = invoke("caption", walks / "w0.bvh", "--model", tiny_model, "--backend", "onnx")
    assert r.exit_code == 2 and r.output.count("Error:") == 1 and "no ONNX export" in r.output
    assert "m2t export" in r.output and "Traceback" not in r.output
    r = invoke("caption", walks / "w0.bvh", "--model", tiny_model, "--backend", "tensorrt")
    assert r.exit_code == 2 and "--backend 'tensorrt' is not one of" in r.output


def test_folder_with_jobs_and_shards(onnx_model, walks, tmp_path):
    outs = {}
    for name, extra in (("one", []), ("two", ["--jobs", "2"])):
        r = invoke("caption", walks, "--model", onnx_model, "-o", tmp_path / name, "-f", "json", *extra)
        assert r.exit_code == 0, r.output
        outs[name] = {p.name: json.loads(p.read_text())["text"] for p in (tmp_path / name).glob("*.json")}
    assert outs["one"] == outs["two"] and len(outs["one"]) == 3
    got = []
    for i in range(2):
        r = invoke("caption", walks, "--model", onnx_model, "-o", tmp_path / "sh", "--shard", f"{i}/2")
        assert r.exit_code == 0, r.output
        got.append(sorted(p.name for p in (tmp_path / "sh").glob("*.txt")))
    assert got == [["w0.txt", "w2.txt"], ["w0.txt", "w1.txt", "w2.txt"]]
    r = invoke("caption", walks, "--model", onnx_model, "--jobs", "0")
    assert r.exit_code == 2 and "--jobs must be >= 1" in r.output
