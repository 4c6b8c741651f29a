"""Captioning on ONNX Runtime: the same captions and traces as torch, no torch import on that path,
backend choice and its errors, the shipped model's graphs, folders with --jobs and --shard."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or len(os.sched_getaffinity(0)) < 2,
                    reason="counts threads in /proc (Linux) of a process that may use 2+ CPUs")
def test_cli_keeps_numpy_to_one_blas_thread_unless_told():
    """OpenBLAS's spinning threads took CPU from ONNX Runtime and --jobs workers: the CLI starts
    numpy with one BLAS thread; a user's own OPENBLAS_NUM_THREADS wins; without the CLI numpy
    starts more (the control: the count can tell the two apart here)."""
    script = ("import os, sys\nif sys.argv[1] == 'cli':\n    import m2t.cli\nimport numpy as np\n"
              "a = np.ones((400, 400))\na @ a\n"
              "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}

    def run(which, **extra):
        p = subprocess.run([sys.executable, "-c", script, which], cwd=REPO, env={**env, **extra},
                           capture_output=True, text=True, timeout=60)
        return p.stdout.split() or [p.stderr[-300:]]
    assert run("cli") == ["1", "1"]
    assert run("cli", OPENBLAS_NUM_THREADS="2")[0] == "2"
    assert int(run("plain")[1]) > 1


def test_jobs_give_byte_identical_outputs_and_list_bad_files(onnx_model, tmp_path):
    """--jobs 2 on the ONNX backend: workers read, convert and decode whole batches (each loads the
    model once); every output is byte for byte the one process's, a long recording is captioned
    densely in a worker, and a bad file is listed with exit code 1 in both runs."""
    src = tmp_path / "src"
    for i, secs in enumerate((2.0, 52.0, 3.0, 2.5, 4.0)):     # w1: longer than the tiny model's clips: windows
        write_walk_bvh(src / f"w{i}.bvh", seconds=secs, order=("ZXY", "XYZ", "YXZ")[i % 3])
    (src / "w5_bad.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    outs, logs = {}, {}
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}"
        r = invoke("caption", src, "--model", onnx_model, "-o", out, "-f", "json", "-f", "srt", "-f", "txt",
                   "--attention", "--window", "4", "--hop", "2", "--batch-size", "2", "--jobs", jobs)
        assert r.exit_code == 1, r.output
        assert "5 captioned, 0 skipped, 1 failed" in r.output and "w5_bad.bvh" in r.output
        outs[jobs] = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        logs[jobs] = r.output.replace(str(out), "OUT")
    assert len(outs["1"]) == 15 and outs["1"] == outs["2"]
    assert logs["1"] == logs["2"]                          # same lines, same order, same error
    long_doc = json.loads(outs["2"][Path("w1.json")])
    assert long_doc["windowing"]["windows"] > 1 and long_doc["segments"] and long_doc["tokens"] == []


def test_jobs_with_a_model_the_workers_cannot_load_is_one_line(onnx_model, walks, tmp_path):
    """With --jobs the parent leaves the model to the workers; a graph they cannot load is still
    the one-line error (exit code 2) of one process, not a broken pool or a list of failed files."""
    from m2t.models.modeldir import ONNX_DECODER
    bad = tmp_path / "m"
    shutil.copytree(onnx_model, bad)
    (bad / ONNX_DECODER).write_bytes(b"not a graph")
    lines = {}
    for jobs in ("1", "2"):
        r = invoke("caption", walks, "--model", bad, "-o", tmp_path / f"o{jobs}", "--jobs", jobs)
        assert r.exit_code == 2, r.output
        assert r.output.count("Error:") == 1 and "cannot load its ONNX graphs" in r.output, r.output
        lines[jobs] = r.output
    assert lines["1"] == lines["2"]


def test_workers_use_one_onnx_thread_and_the_chunks_of_one_process(onnx_model, tmp_path, monkeypatch):
    """Each worker's ONNX Runtime sessions get 1 intra-op thread (2 workers x 2 threads would
    oversubscribe 2 cores), and batches are cut into the same chunks at any thread count, so a
    worker's captions are byte for byte those of one 2- or 3-thread process."""
    from m2t.models import caption_workers, captioning
    from m2t.models import ort_decoding as O
    from m2t.models.onnx_model import load_onnx_bundle
    from m2t.models.writers import caption_json
    assert caption_workers._worker_decodes(captioning.load_model(onnx_model, "cpu"), 2, 6)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(caption_workers, "_WORKER", {})
    caption_workers._init_worker(str(onnx_model), "cpu")
    worker = caption_workers._WORKER["bundle"]
    assert worker.runner.encoder.get_session_options().intra_op_num_threads == 1
    assert worker.runner.decoder.get_session_options().intra_op_num_threads == 1
    assert worker.runner.threads == 1
    files = []
    for i in range(20):                                        # the last two: more windows than a chunk
        files.append(tmp_path / f"w{i:02d}.bvh")
        write_walk_bvh(files[-1], seconds=1.0 + 0.15 * i if i < 18 else 20.0, order=("ZXY", "XYZ", "YXZ")[i % 3])
    chunks = []
    monkeypatch.setattr(O, "_chunked", lambda r, fn, x, *a, _c=O._chunked: chunks.append(len(x)) or _c(r, fn, x, *a))
    bundles = [load_onnx_bundle(onnx_model, "cpu", threads=t) for t in (2, 3)] + [worker]
    docs = [[caption_json(fc.result, True) for fc in captioning.caption_files(files, b, batch_size=16)]
            for b in bundles]
    assert max(chunks) > O.CHUNK                               # some batches were cut into chunks
    assert docs[0] == docs[1] == docs[2]


def test_backend_errors_are_one_line(tiny_model, walks):
    r = invoke("caption", walks / "w0.bvh", "--model", tiny_model, "--backend", "onnx")
    assert r.exit_code == 2 and r.output.count("Error:") == 1 and "no ONNX export" in r.output
    assert "m2t export" in r.output and "Traceback" not in r.output
    r = invoke("caption", walks / "w0.bvh", "--model", tiny_model, "--backend", "tensorrt")
    assert r.exit_code == 2 and "--backend 'tensorrt' is not one of" in r.output


def test_jobs_share_batches_with_this_process(onnx_model, walks, monkeypatch):
    """jobs=2: this process captions batches itself (on its helper thread) beside one worker, all
    in input order, never more than 2 x jobs batches ahead of the one being yielded; one batch (or
    none) starts no pool; a batch whose worker dies becomes one error per file; an error in this
    process's own batch stops the run, as with one process."""
    import faulthandler
    from m2t.models import caption_workers as W
    faulthandler.dump_traceback_later(300, exit=True)              # a deadlock fails the suite, never hangs it
    try:
        files = sorted(walks.glob("*.bvh")) * 4                    # 12 files, batches of 1
        ref = [fc.result.text for fc in W.iter_captions_in_workers(files, onnx_model, 1, batch_size=1)]
        here, handed = [], []
        real, real_pool = W._caption_files, W._pool
        monkeypatch.setattr(W, "_caption_files", lambda b, t: here.append(1) or handed.append(1) or real(b, t))

        def pool(*a, **k):
            p = real_pool(*a, **k)
            submit = p.submit
            p.submit = lambda *sa, **sk: handed.append(1) or submit(*sa, **sk)
            return p
        monkeypatch.setattr(W, "_pool", pool)
        got, ahead = [], []
        for fc in W.iter_captions_in_workers(files, onnx_model, 2, batch_size=1):
            got.append(fc)
            ahead.append(len(handed) - len(got))
        assert [fc.source for fc in got] == files and [fc.result.text for fc in got] == ref
        assert 0 < len(here) < len(files)                          # the worker captioned the rest
        assert max(ahead) <= 2 * 2 and ahead[0] < len(files) - 1   # handed out as they are needed
        monkeypatch.setattr(W, "_pool", lambda *a, **k: pytest.fail("one batch needs no pool"))
        assert [fc.result.text for fc in W.iter_captions_in_workers(files[:2], onnx_model, 2, batch_size=2)] == ref[:2]
        assert list(W.iter_captions_in_workers([], onnx_model, 2)) == []
        monkeypatch.undo()
        monkeypatch.setattr(W, "_caption_chunk", _die)              # every worker batch: the process dies
        got = list(W.iter_captions_in_workers(files, onnx_model, 2, batch_size=2))
        assert [fc.source for fc in got] == files
        bad = [fc for fc in got if not fc.ok]
        assert bad and all(str(fc.source) in fc.error for fc in bad) and any(fc.ok for fc in got)
        monkeypatch.undo()
        monkeypatch.setattr(W, "_caption_files", _fail)
        with pytest.raises(RuntimeError, match="a bug here"):
            list(W.iter_captions_in_workers(files, onnx_model, 2, batch_size=2))
    finally:
        faulthandler.cancel_dump_traceback_later()


def test_stopping_a_jobs_run_stops_this_process_captioning(onnx_model, walks, monkeypatch):
    """Closing the stream (what Ctrl-C does to the CLI's loop) leaves no helper thread inside
    ONNX Runtime (Python exiting under it aborted the process): a runner's `cancel` event stops it
    at its next graph call, and the stream waits for that."""
    import threading
    import time
    from m2t.models import caption_workers as W
    from m2t.models import ort_decoding as O
    from m2t.models.onnx_model import load_onnx_bundle
    runner = load_onnx_bundle(onnx_model, "cpu", threads=1).runner
    x, mask = np.zeros((2, 8, 22, 3), np.float32), np.ones((2, 8), bool)
    O.greedy(runner, x, mask, 5)
    runner.cancel.set()
    with pytest.raises(O.Cancelled):
        O.greedy(runner, x, mask, 5)
    calls, real = [], W._caption_files

    def endless_after_the_first(bundle, task):                   # a long batch: runs until cancelled
        calls.append(1)
        if len(calls) == 1:
            return real(bundle, task)
        while True:
            bundle.runner.encode(x, mask)
    monkeypatch.setattr(W, "_caption_files", endless_after_the_first)
    import faulthandler
    faulthandler.dump_traceback_later(300, exit=True)              # a deadlock fails the suite, never hangs it
    try:
        stream = W.iter_captions_in_workers(sorted(walks.glob("*.bvh")) * 6, onnx_model, 2, batch_size=1)
        assert next(stream).ok and next(stream).ok                # batch 0 here, batch 1 from the worker
        for _ in range(200):                                      # until this process is in its 2nd batch
            if len(calls) > 1:
                break
            time.sleep(0.01)
        stream.close()
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert len(calls) > 1 and not [t for t in threading.enumerate() if t.name == "m2t-caption" and t.is_alive()]


def _fail(bundle, task):
    raise RuntimeError("a bug here")


def _die(task):
    os._exit(3)


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
