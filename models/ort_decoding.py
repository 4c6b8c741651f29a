"""Greedy and beam decoding on ONNX Runtime: the same loops as models.decoding (same tokens, same
trace to float rounding), on the graphs models.export writes, with numpy and onnxruntime only.
Nothing here imports torch, so `m2t caption` on this path starts in a fraction of a second.

The encoder graph runs once per batch; every step runs the decoder-step graph on the cached
memory; `with_parts=True` hands the encoder output back with each caption (`Decoded.parts`, for
the in-domain score) instead of a second encoder pass. Greedy drops ended captions from the
batch (compacting once a quarter of its rows are done), as models.decoding.greedy does. Beam
search is models.decoding.beam_search's batched, synchronous, length-normalised search, step
for step.

Batches above CHUNK clips are split into equal chunks of at most CHUNK clips, whatever the
thread count (so one process, a `--jobs` worker and any thread setting decode the same chunks and
give the same bytes); with more than one thread the chunks run concurrently, one chunk per thread
on single-threaded sessions (data parallelism: no per-operator thread synchronisation;
docs/performance.md). Every clip is decoded independently, so the split changes nothing but float
rounding.
"""
from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .decoded import TRACE, Decoded, attach_parts, package_batch, package_one
from .errors import DeviceError
from .modeldir import ONNX_DECODER, ONNX_ENCODER
from .results import DEVICES
from .vocab import EOS_ID, SOS_ID


class Cancelled(Exception):
    """Raised by a runner's next graph call once its `cancel` event is set."""


_STEP_OUT = ("logp", "h_bot", "c_bot", "h_top", "c_top", "alpha", "gamma", "window", "centre", "width", "beta")


def cuda_usable() -> bool:
    """True only when ONNX Runtime has its CUDA provider AND the CUDA driver sees a GPU.
    (onnxruntime-gpu lists the CUDA provider on machines without a GPU: environment-notes.)"""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        return lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    except (OSError, AttributeError):
        return False


def session_options(threads: int | None = None, level: str = "ORT_ENABLE_BASIC") -> ort.SessionOptions:
    """Basic graph optimisation (the extended/all levels made decoding no faster on CPU and
    rewrite the graph at every session start: docs/performance.md); `threads` intra-op threads (None:
    $OMP_NUM_THREADS when set, else ONNX Runtime's default); no spin-waiting when
    OMP_WAIT_POLICY=PASSIVE (what the CLI sets: on a busy machine spinning threads slow
    everything down, docs/performance.md). `level`: a GraphOptimizationLevel name (benchmarks)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    so.log_severity_level = 3
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    if threads:
        so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


class OrtCaptioner:
    """The two graphs of a model directory in ONNX Runtime sessions."""

    def __init__(self, directory, device: str = "auto", threads: int | None = None, hidden: int | None = None,
                 level: str = "ORT_ENABLE_BASIC"):
        if device not in DEVICES:
            raise DeviceError(f"--device {device!r} is not one of: {', '.join(DEVICES)}")
        d = Path(directory)
        want_cuda = device == "cuda" or (device == "auto" and cuda_usable())
        if device == "cuda" and not cuda_usable():
            raise DeviceError("--device cuda: ONNX Runtime has no usable CUDA GPU here "
                                 "(needs onnxruntime-gpu and a GPU; use --device cpu or --backend torch)")
        if want_cuda and hasattr(ort, "preload_dlls"):
            try:
                ort.preload_dlls()
            except Exception:                      # noqa: BLE001 - the session check below decides
                pass
        providers = (["CUDAExecutionProvider"] if want_cuda else []) + ["CPUExecutionProvider"]
        so = session_options(threads, level)
        self.encoder = ort.InferenceSession(str(d / ONNX_ENCODER), so, providers=providers)
        self.decoder = ort.InferenceSession(str(d / ONNX_DECODER), so, providers=providers)
        self.threads = so.intra_op_num_threads or _cpu_count()      # 0 = ONNX Runtime's default
        self._dir, self._level, self._single, self._pool = d, level, None, None
        self._lock = threading.Lock()
        self.cancel = threading.Event()         # once set, the next graph call raises Cancelled (shared
                                                # with the single-threaded copy, which copies attributes)
        self.providers = self.decoder.get_providers()
        if device == "cuda" and self.providers[0] != "CUDAExecutionProvider":
            raise DeviceError("--device cuda: ONNX Runtime could not start its CUDA provider here")
        self.device = "cuda" if self.providers[0] == "CUDAExecutionProvider" else "cpu"
        inputs = {i.name: i.shape for i in self.decoder.get_inputs()}
        self.hidden = hidden or inputs["h_bot"][1]
        self.n_parts = inputs["part_mask"][1]

    def single_threaded(self) -> "OrtCaptioner":
        """This model on single-threaded sessions (made once, on first use), for running several
        chunks at once; `self` when it has one thread or runs on CUDA."""
        if self.threads <= 1 or self.device == "cuda":
            return self
        with self._lock:
            if self._single is None:
                one = OrtCaptioner.__new__(OrtCaptioner)
                one.__dict__.update(self.__dict__)
                so = session_options(1, self._level)
                one.encoder = ort.InferenceSession(str(self._dir / ONNX_ENCODER), so, providers=self.providers)
                one.decoder = ort.InferenceSession(str(self._dir / ONNX_DECODER), so, providers=self.providers)
                one.threads, one._single, one._pool, one._lock = 1, None, None, threading.Lock()
                one._single = one
                self._single = one
            return self._single

    def map(self, fn, items: list) -> list:
        """[fn(single-threaded runner, item) for item in items], `self.threads` at a time."""
        one = self.single_threaded()
        if one is self or len(items) < 2:
            return [fn(self, it) for it in items]
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="m2t-decode")
        return list(self._pool.map(lambda it: fn(one, it), items))

    def encode(self, x: np.ndarray, mask: np.ndarray, part_mask: np.ndarray | None = None) -> dict:
        """part_mask (B, P), 1 = observed body part (None: all observed), as Captioner.encode."""
        self._check_cancel()
        mask = np.ascontiguousarray(mask, bool)
        pm = (np.ones((x.shape[0], self.n_parts), np.float32) if part_mask is None
              else np.ascontiguousarray(part_mask, np.float32))
        parts, spat_x, temp_x = self.encoder.run(None, {"x": np.ascontiguousarray(x, np.float32), "mask": mask,
                                                        "part_mask": pm})
        return {"parts": parts, "spat_x": spat_x, "temp_x": temp_x, "mask": mask, "part_mask": pm}

    def init_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, self.hidden), np.float32) for _ in range(4)]

    def step(self, mem: dict, y_prev: np.ndarray, state):
        """-> log p (B, V), new state [h_bot, c_bot, h_top, c_top], trace {name: (B, ...)}."""
        self._check_cancel()
        out = self.decoder.run(None, {**mem, "y_prev": y_prev.astype(np.int64, copy=False),
                                      "h_bot": state[0], "c_bot": state[1], "h_top": state[2], "c_top": state[3]})
        return out[0], out[1:5], dict(zip(_STEP_OUT[5:], out[5:]))

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("captioning was stopped")


def default_threads() -> int:
    """The threads a runner loaded with threads=None gets: $OMP_NUM_THREADS when set, else the
    CPUs this process may use."""
    return session_options(None).intra_op_num_threads or _cpu_count()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                                # not on Linux
        return os.cpu_count() or 1


def _take(mem: dict, idx: np.ndarray) -> dict:
    return {k: np.ascontiguousarray(v[idx]) for k, v in mem.items()}


def _to_batch(a: np.ndarray, rows, B: int, fill) -> np.ndarray:
    """Values of the computed rows -> (B, ...) in the original row order, `fill` elsewhere."""
    if rows is None:
        return a
    out = np.full((B,) + a.shape[1:], fill, a.dtype)
    out[rows] = a
    return out


CHUNK = 64     # most clips decoded together (docs/performance.md: chunks and threads)


def _chunked(runner: OrtCaptioner, fn, x, mask, part_mask, chunk: int | None, workers: bool):
    """fn(runner, x, mask, part_mask) over equal chunks of at most `chunk` clips, each cut to its
    longest clip (how many depends on the batch alone, never on threads); the chunks run on up to
    `runner.threads` single-threaded workers when `workers`, else one after another. None when the
    batch is decoded in one piece."""
    B = x.shape[0]
    n = min(-(-B // chunk) if chunk else 1, B)
    if n <= 1:
        return None
    threads = min(runner.threads, n) if workers and runner.single_threaded() is not runner else 1
    bounds = np.linspace(0, B, n + 1).round().astype(int)
    pieces = []
    for i, j in zip(bounds[:-1], bounds[1:]):
        m = mask[i:j]
        T = int(m.sum(1).max()) or 1
        pieces.append((x[i:j, :T], m[:, :T], None if part_mask is None else part_mask[i:j]))
    run = (lambda r, p: fn(r, *p))
    outs = runner.map(run, pieces) if threads > 1 else [run(runner, p) for p in pieces]
    return [d for out in outs for d in out]


def _one_piece(runner: OrtCaptioner, workers: bool) -> OrtCaptioner:
    """The runner for a batch `_chunked` left whole (at most CHUNK clips): with `workers` it runs
    on the single-threaded sessions, because ONNX Runtime's intra-op threads cost more than they
    give on so few clips (8 windows of 2 s: 6.6 ms on 2 threads, 5.0 ms on 1; docs/performance.md
    "Folders in parallel and on clusters")."""
    return runner.single_threaded() if workers else runner


def greedy(runner: OrtCaptioner, x: np.ndarray, mask: np.ndarray, max_len: int = 30,
           part_mask: np.ndarray | None = None, *, compact: bool = True, chunk: int | None = CHUNK,
           workers: bool = True, with_parts: bool = False) -> list[Decoded]:
    """models.decoding.greedy on ONNX Runtime: x (B, T, J, 3), mask (B, T) -> B captions.
    Batches above `chunk` clips are decoded in equal chunks, each cut to its longest clip,
    concurrently on up to `runner.threads` single-threaded workers (workers=False: one chunk after
    another on the runner's sessions); chunk=None and workers=False: the whole batch at once, on
    the runner's own (intra-op) threads. compact=False keeps ended captions in the batch
    until all have ended (for benchmarks). with_parts: each caption also gets its clip's encoder
    output (`Decoded.parts`)."""
    out = _chunked(runner, lambda r, a, m, pm: greedy(r, a, m, max_len, pm, compact=compact, chunk=None,
                                                       workers=False, with_parts=with_parts),
                   x, mask, part_mask, chunk, workers)
    if out is not None:
        return out
    runner = _one_piece(runner, workers)
    B = x.shape[0]
    mem = runner.encode(x, mask, part_mask)
    parts = mem["parts"]
    state = runner.init_state(B)
    prev = np.full(B, SOS_ID, np.int64)
    rows = None
    done = np.zeros(B, bool)
    toks, logps, traces = [], [], []
    for _ in range(max_len):
        lp, state, tr = runner.step(mem, prev, state)
        nxt = lp.argmax(-1)
        toks.append(_to_batch(nxt, rows, B, EOS_ID))
        logps.append(_to_batch(lp[np.arange(len(nxt)), nxt], rows, B, 0.0))
        traces.append({k: _to_batch(tr[k], rows, B, 0.0) for k in TRACE})
        done |= nxt == EOS_ID
        prev = nxt
        alive = int((~done).sum())
        if alive == 0:
            break
        if compact and alive <= 0.75 * done.size:        # compact: keep the rows still decoding
            keep = np.flatnonzero(~done)
            rows = keep if rows is None else rows[keep]
            mem = _take(mem, keep)
            state = [np.ascontiguousarray(s[keep]) for s in state]
            prev, done = prev[keep], done[keep]
    trace = {k: np.stack([t[k] for t in traces], 1) for k in TRACE}
    out = package_batch(np.stack(toks, 1), np.stack(logps, 1), trace, mask.sum(1))
    return attach_parts(out, parts) if with_parts else out


def _topk(a: np.ndarray, k: int):
    """Row-wise k largest values, descending (ties: lower index first, as torch.topk on CPU)."""
    idx = np.argpartition(-a, k - 1, axis=1)[:, :k] if k < a.shape[1] else np.tile(np.arange(a.shape[1]), (len(a), 1))
    vals = np.take_along_axis(a, idx, 1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(vals, order, 1), np.take_along_axis(idx, order, 1)


def beam_search(runner: OrtCaptioner, x: np.ndarray, mask: np.ndarray, beam: int = 2,
                max_len: int = 30, part_mask: np.ndarray | None = None, *, chunk: int | None = CHUNK,
                workers: bool = True, with_parts: bool = False) -> list[Decoded]:
    """models.decoding.beam_search on ONNX Runtime (same algorithm, step for step; every clip's
    search is independent, so large batches are split as in `greedy`); with_parts as `greedy`."""
    if beam <= 1:
        return greedy(runner, x, mask, max_len, part_mask, chunk=chunk, workers=workers, with_parts=with_parts)
    out = _chunked(runner, lambda r, a, m, pm: _beam(r, a, m, beam, max_len, pm, with_parts), x, mask, part_mask,
                   chunk and max(1, chunk // beam), workers)
    return out if out is not None else _beam(_one_piece(runner, workers), x, mask, beam, max_len, part_mask, with_parts)


def _beam(runner: OrtCaptioner, x, mask, K: int, max_len: int, part_mask=None, with_parts: bool = False
          ) -> list[Decoded]:
    B = x.shape[0]
    enc = runner.encode(x, mask, part_mask)
    mem = _take(enc, np.repeat(np.arange(B), K))
    state = runner.init_state(B * K)
    prev = np.full(B * K, SOS_ID, np.int64)
    score = np.full((B, K), -np.inf, np.float32)
    score[:, 0] = 0.0                                    # one live hypothesis at the start
    hist_tok = np.zeros((B * K, 0), np.int64)
    hist_lp = np.zeros((B * K, 0), np.float32)
    hist = {k: None for k in TRACE}
    finished: list[list[tuple[float, int, int]]] = [[] for _ in range(B)]
    saved = {}
    done = [False] * B
    for t in range(max_len):
        lp, state, steps = runner.step(mem, prev, state)                    # (B*K, V)
        V = lp.shape[-1]
        cand = (score.reshape(B * K, 1) + lp).reshape(B, K * V)
        top_s, top_i = _topk(cand, min(2 * K, K * V))
        rows = np.zeros((B, K), np.int64)
        toks = np.full((B, K), EOS_ID, np.int64)
        new_score = np.full((B, K), -np.inf, np.float32)
        ended = []
        for b in range(B):
            n = 0
            for s, i in zip(top_s[b].tolist(), top_i[b].tolist()):
                if n == K or s == float("-inf") or done[b]:
                    break
                src, tok = b * K + i // V, i % V
                if tok == EOS_ID:
                    slot = len(saved) + len(ended)
                    ended.append((b, slot, src))
                    finished[b].append((s / (t + 1), slot, t + 1))
                    if len(finished[b]) >= K:
                        done[b] = True
                    continue
                rows[b, n], toks[b, n], new_score[b, n] = src, tok, s
                n += 1
            if n < K:
                rows[b, n:] = rows[b, 0] if n else b * K
        for b, slot, src in ended:                       # keep finished hypotheses before reordering
            trace = {k: steps[k][src][None] if hist[k] is None else
                     np.concatenate([hist[k][src], steps[k][src][None]], 0) for k in TRACE}
            saved[(b, slot)] = (hist_tok[src].tolist() + [EOS_ID], np.append(hist_lp[src], lp[src, EOS_ID]), trace)
        flat, tk = rows.reshape(-1), toks.reshape(-1)
        hist_tok = np.concatenate([hist_tok[flat], tk[:, None]], 1)
        hist_lp = np.concatenate([hist_lp[flat], lp[flat, tk][:, None]], 1)
        for k in TRACE:
            cur = steps[k][flat][:, None]
            hist[k] = cur if hist[k] is None else np.concatenate([hist[k][flat], cur], 1)
        state = [np.ascontiguousarray(s[flat]) for s in state]
        score = new_score
        prev = tk
        if all(done):
            break
    lengths = mask.sum(1)
    out = []
    for b in range(B):
        if finished[b]:
            _, slot, _ = max(finished[b], key=lambda f: f[0])
            tokens, logps, trace = saved[(b, slot)]
        else:                                            # no <eos> within max_len: best alive
            r = b * K + int(score[b].argmax())
            tokens, logps, trace = hist_tok[r].tolist(), hist_lp[r], {k: hist[k][r] for k in TRACE}
        out.append(package_one(tokens, logps, trace, int(lengths[b])))
    return attach_parts(out, enc["parts"]) if with_parts else out


def decode(runner: OrtCaptioner, x: np.ndarray, mask: np.ndarray, beam: int = 1, max_len: int = 30,
           part_mask: np.ndarray | None = None, with_parts: bool = False) -> list[Decoded]:
    """Greedy for beam <= 1, beam search otherwise; part_mask (B, P) as Captioner.encode;
    with_parts: each caption also gets its clip's encoder output (`Decoded.parts`)."""
    return beam_search(runner, x, mask, beam, max_len, part_mask, with_parts=with_parts)
