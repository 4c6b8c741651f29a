"""Captioning with ``jobs`` > 1 (``--jobs``): reading, converting and decoding files in worker
processes. Workers start clean from a forkserver that imports this module (and with it
models/captioning.py) and ONNX Runtime once, so no model threads are inherited. On the ONNX
Runtime CPU backend `jobs` - 1 workers and the parent (on a helper thread) each load the model
once with one intra-op thread and caption whole batches of files, handed out in order to whichever
is free; batches are cut into the chunks one process would decode, so the results are byte for
byte those of one process (:func:`iter_captions_in_workers`); on the torch backend or a GPU the
workers only read and convert, and the parent decodes (:func:`m2t.models.captioning.iter_captions`).
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from m2t.converters.api import load_motion
from m2t.converters.body import recorded_warnings_only
from m2t.converters.batch import check_jobs
from m2t.converters.errors import M2TError, file_error, plain_warnings

from .captioning import _caption_batch, _check_clip, _features, _part_mask
from .config import CaptionerConfig
from .features import Normalizer
from .onnx_model import OnnxBundle, choose_backend, load_onnx_bundle
from .results import DENSE_AFTER_S, HOP_S, WINDOW_S, FileCaption, check_options, check_windowing


@dataclass(frozen=True)
class _Prep:
    """What reading and converting a file needs from a bundle (picklable, for worker processes)."""
    cfg: CaptionerConfig
    norm: Normalizer
    downsample: int
    input_scale: float
    meta: dict
    dense_after_s: float = float("inf")      # longer clips come back as positions, for dense captioning


def _prep_of(bundle, dense_after_s: float = float("inf")) -> _Prep:
    return _Prep(bundle.cfg, bundle.norm, bundle.downsample, bundle.input_scale,
                 {"train": bundle.meta.get("train", {})}, dense_after_s)


def _load_one(task):
    """path -> ((frames, fps, warnings, features, part mask, positions, time offset), None) or (None, one-line
    error); features for a clip up to `prep.dense_after_s` seconds, positions (for windows) beyond;
    runs in a worker process when jobs > 1."""
    path, prep, load_options = task
    try:
        with recorded_warnings_only():                # the result carries them (_check_clip)
            m = load_motion(path, skeleton=prep.cfg.skeleton, **load_options)
        warns = _check_clip(m, prep)
        pm = _part_mask(m, prep, warns)
        off = float(getattr(m, "time_offset_s", 0.0) or 0.0)
        if m.n_frames / m.fps > prep.dense_after_s:
            return (m.n_frames, m.fps, warns, None, pm, m.positions, off), None
        return (m.n_frames, m.fps, warns, _features(m, prep), pm, None, off), None
    except Exception as e:            # noqa: BLE001 - a bad file never stops the batch
        return None, file_error(path, e)


def _pool(jobs: int, n_tasks: int, initializer=None, initargs=()):
    """A process pool of min(jobs, n_tasks) workers started clean (forkserver, so no model threads
    are inherited; the server imports this module (and captioning) once and every worker forks from it)."""
    import multiprocessing                              # here: slow imports, needed only with jobs > 1
    from concurrent.futures import ProcessPoolExecutor
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["m2t.models.caption_workers", "m2t.models.ort_decoding"])
    return ProcessPoolExecutor(min(jobs, n_tasks), mp_context=ctx, initializer=initializer or plain_warnings,
                               initargs=initargs)


def _loaded(paths, prep: _Prep, load_options: dict, jobs: int, progress) -> Iterator[tuple]:
    """(path, loaded, error) in input order; with jobs > 1 the files are read and converted in
    that many worker processes (the torch backend and GPUs: the parent decodes)."""
    tasks = [(p, prep, load_options) for p in paths]
    if jobs == 1 or len(paths) < 2:
        for i, t in enumerate(tasks):
            if progress:
                progress(i, len(paths), t[0])
            yield (t[0], *_load_one(t))
        return
    with _pool(jobs, len(paths)) as pool:
        for i, (t, res) in enumerate(zip(tasks, pool.map(_load_one, tasks, chunksize=2))):
            if progress:
                progress(i, len(paths), t[0])
            yield (t[0], *res)


_WORKER: dict = {}                      # a worker process's own model (models loaded by _init_worker)


def _init_worker(model_dir: str, device: str) -> None:
    """Load the model once per worker process, with 1 intra-op thread: the parallelism is the
    workers themselves (2 workers x 2 ONNX Runtime threads would oversubscribe 2 cores). Batches
    are cut into the same chunks as in one process (their number depends on the batch alone), so
    the results are those of one process. A model that cannot be loaded is raised by every task
    (one line in the parent, not a broken pool)."""
    plain_warnings()
    try:
        _WORKER["bundle"] = load_onnx_bundle(model_dir, device, threads=1)
    except Exception as e:  # noqa: BLE001 - sent back with the first task
        _WORKER["error"] = e


def _caption_chunk(task) -> list[FileCaption]:
    """One batch of files, read, converted and captioned in a worker process (jobs > 1 on the
    ONNX Runtime CPU backend): the same batch and the same code as one process."""
    if "error" in _WORKER:
        raise _WORKER["error"]
    return _caption_files(_WORKER["bundle"], task)


def _caption_files(bundle, task) -> list[FileCaption]:
    """What a task does with a loaded bundle, in a worker or in the parent."""
    paths, load_options, opts, dense_after_s = task
    prep = _prep_of(bundle, dense_after_s)
    batch = []
    for p in paths:
        got, error = _load_one((p, prep, load_options))
        batch.append((FileCaption(p, error=error), got))
    return _caption_batch(bundle, batch, device=None, **opts)


def _worker_decodes(bundle, jobs: int, n_files: int) -> bool:
    """Workers caption whole batches on the ONNX Runtime CPU backend (each loads the model once);
    the torch backend and GPUs keep one model in the parent, which decodes the workers' files."""
    return (jobs > 1 and n_files > 1 and isinstance(bundle, OnnxBundle) and bundle.path is not None
            and bundle.runner.device == "cpu")


def workers_load_model(model_dir, backend: str = "auto", device: str = "auto") -> bool:
    """True when `jobs` > 1 can leave the model to the workers alone (:func:`iter_captions_in_workers`):
    the folder captions on ONNX Runtime (`backend`, as load_model) on the CPU (`device` cpu, or
    auto without onnxruntime-gpu installed). ModelDirError when onnx is asked for and not usable."""
    check_options(device=device)
    if device not in ("auto", "cpu") or choose_backend(model_dir, backend) != "onnx":
        return False
    if device == "auto":
        from importlib import metadata
        try:
            metadata.distribution("onnxruntime-gpu")
            return False                                # maybe a GPU: one model in the parent decides
        except metadata.PackageNotFoundError:
            pass
    return True


def iter_captions_in_workers(paths: Iterable, model_dir, jobs: int, beam: int = 1, onset_rule: str = "fwhm",
                             batch_size: int = 16, progress=None, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                             dense_after_s: float = DENSE_AFTER_S, **load_options) -> Iterator[FileCaption]:
    """:func:`iter_captions` in `jobs` processes (this one and jobs - 1 workers) that each load
    `model_dir` on ONNX Runtime (CPU, 1 thread) and caption whole batches (check
    :func:`workers_load_model` first); the same results, in input order."""
    check_options(beam, onset_rule, None, batch_size)
    check_windowing(window_s, hop_s, dense_after_s)
    check_jobs(jobs)
    opts = dict(beam=beam, onset_rule=onset_rule, batch_size=batch_size, window_s=window_s, hop_s=hop_s)
    yield from _captioned_in_workers([Path(p) for p in paths], str(model_dir), jobs, progress, load_options, opts,
                                     dense_after_s)


def _captioned_in_workers(paths, model_dir: str, jobs: int, progress, load_options: dict, opts: dict,
                          dense_after_s: float) -> Iterator[FileCaption]:
    """FileCaptions in input order, each batch of `opts['batch_size']` files captioned by one of
    `jobs` processes: jobs - 1 workers and this one, which loads the model too (1 thread) and
    captions on a helper thread while this thread hands out batches and the caller writes
    outputs (when the stream stops, Ctrl-C included, the helper stops at its next decoder call
    through the runner's `cancel` event, and is waited for). Batches are handed out in
    input order to whichever is free (no batch waits in a pool's queue while another process
    idles), at most 2 x jobs ahead of the batch being yielded, so memory stays bounded; this
    process works while the workers start, and one batch (or jobs=1) needs no pool at all. A
    batch whose worker died (OOM killer, native crash) comes back as one error per file (with 3 or
    more jobs, so do the batches the other workers were running: the pool breaks as a whole),
    and this process captions the batches not yet handed out. An error in this process's own
    batch stops the run as with one process; a model that cannot be loaded is raised
    (ModelDirError, one line)."""
    from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, InvalidStateError, wait
    size = opts["batch_size"]
    tasks = [(paths[i:i + size], load_options, opts, dense_after_s) for i in range(0, len(paths), size)]
    if not tasks:
        return
    own = load_onnx_bundle(model_dir, "cpu", threads=1)   # `own.runner.cancel` stops its batch at a graph call
    done = 0

    def emit(out):
        nonlocal done
        for fc in out:
            if progress:
                progress(done, len(paths), fc.source)
            done += 1
            yield fc

    if len(tasks) == 1 or jobs == 1:
        for task in tasks:
            yield from emit(_caption_files(own, task))
        return
    with _pool(jobs - 1, len(tasks), _init_worker, (model_dir, "cpu")) as pool:
        running: dict = {}                                # unfinished future -> True if this process runs it
        futures: dict = {}                                # batch index -> (future, this process runs it)
        nxt, broken = 0, False
        try:
            for i, task in enumerate(tasks):
                while True:
                    for f in [f for f in running if f.done()]:
                        del running[f]
                    while nxt < len(tasks) and nxt < i + 2 * jobs:
                        if True not in running.values():
                            fut, here = _in_thread(_caption_files, own, tasks[nxt]), True
                        elif not broken and len(running) - 1 < jobs - 1:
                            try:
                                fut, here = pool.submit(_caption_chunk, tasks[nxt]), False
                            except BrokenExecutor:            # a worker died: this process goes on alone
                                broken = True
                                continue
                        else:
                            break
                        running[fut], futures[nxt] = here, (fut, here)
                        nxt += 1
                    if futures[i][0].done():
                        break
                    wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                    if getattr(pool, "_broken", False):        # a submit racing the pool's breakdown can
                        for f, here in running.items():       # leave a future nobody will ever finish
                            if not here:
                                try:
                                    f.set_exception(BrokenExecutor("a worker process died"))
                                except InvalidStateError:
                                    pass
                fut, here = futures.pop(i)
                try:
                    out = fut.result()
                except M2TError:
                    raise
                except Exception as e:  # noqa: BLE001 - the worker died or could not send its result
                    if here:
                        raise
                    out = [FileCaption(p, error=file_error(p, e)) for p in task[0]]
                yield from emit(out)
        finally:
            for f, _ in futures.values():
                f.cancel()
            own.runner.cancel.set()               # Ctrl-C or an error: never leave the helper thread inside
            for f, here in futures.values():      # ONNX Runtime while Python exits (that aborts the process)
                if here:
                    f.thread.join(timeout=30)


def _in_thread(fn, *args) -> Future:
    """fn(*args) on a daemon thread -> its Future (a ThreadPoolExecutor's threads are joined at
    exit, which held Ctrl-C up until a batch was done; the caller stops this one through the
    runner's `cancel` event and waits for it)."""
    fut: Future = Future()

    def run():
        if fut.set_running_or_notify_cancel():
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the future
                fut.set_exception(e)
    fut.thread = threading.Thread(target=run, name="m2t-caption", daemon=True)
    fut.thread.start()
    return fut
