"""Running a folder of files: worker processes (``--jobs N``), deterministic shards of a corpus
(``--shard i/N``, e.g. one per SLURM array task) and a resumable manifest of finished files.
Used by :func:`converters.convert` and by captioning; numpy-free, torch-free.

- **Shards**: the sorted input list is dealt round-robin: shard ``i`` of ``N`` (0-based, so
  ``--shard $SLURM_ARRAY_TASK_ID/N`` with ``--array=0-(N-1)``) takes files ``i, i+N, i+2N, ...``.
  The same inputs always give the same split, and the shards together cover every file once.
- **Manifest**: every finished file is appended as one JSON line to
  ``<out>/.m2t-done-<i>of<N>.jsonl`` (one file per shard, so shards writing to one folder never
  share a file) with its path relative to its input root, size, modification time and outputs.
  With ``resume``, files recorded by any shard's manifest whose source is unchanged, whose
  outputs all exist and whose settings (output format, skeleton, fps, every reader option: a
  digest, :func:`settings_digest`) are this run's are skipped; a file done with other settings is
  done again. A file is recorded only after its outputs are complete.
- **Workers**: a process pool of ``jobs`` processes; results come back in completion order with
  their index, the caller keeps input order.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import ConfigError, plain_warnings

MANIFEST_GLOB = ".m2t-done-*.jsonl"


def parse_shard(spec) -> tuple[int, int] | None:
    """'i/N' (0 <= i < N) -> (i, N); None -> None; ConfigError otherwise."""
    if spec is None:
        return None
    if isinstance(spec, tuple):
        i, n = spec
    else:
        try:
            i, n = (int(s) for s in str(spec).split("/"))
        except ValueError:
            raise ConfigError(f"--shard {spec!r}: expected i/N, e.g. 0/4 (i from 0 to N-1)") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {i}/{n}: need N >= 1 and 0 <= i < N")
    return i, n


def check_jobs(jobs: int) -> int:
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs!r}")
    return jobs


def select_shard(items: list, shard) -> list:
    """Round-robin shard of a sorted list (all of it when shard is None)."""
    s = parse_shard(shard)
    return items if s is None else items[s[0]::s[1]]


PATH_OPTIONS = ("joint_map", "asf", "body_model_dir")


def settings_digest(settings: dict) -> str:
    """A short digest of the settings one file was done with: unset options left out, the files
    an option names by their absolute path, size and modification time (the same file however it
    was spelled, an edited joint map not), keys sorted."""
    def value(k, v):
        if k in PATH_OPTIONS and isinstance(v, (str, os.PathLike)):
            p = Path(v).resolve()
            try:
                st = os.stat(p)
                return [str(p), st.st_size, st.st_mtime_ns]
            except OSError:
                return [str(p)]
        return v
    kept = {k: value(k, v) for k, v in settings.items() if v is not None}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class Manifest:
    """The done-manifest of one output folder (module docstring)."""

    def __init__(self, out_dir, shard=None):
        self.dir = Path(out_dir)
        i, n = parse_shard(shard) or (0, 1)
        self.path = self.dir / f".m2t-done-{i}of{n}.jsonl"
        self.done: dict[tuple, dict] = {}                 # (rel, settings digest) -> record
        for f in sorted(self.dir.glob(MANIFEST_GLOB)) if self.dir.is_dir() else []:
            for line in f.read_text(errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                    self.done[(rec["rel"], rec.get("settings"))] = rec
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue                              # a line cut by a kill: that file is redone

    @staticmethod
    def _stat(path) -> tuple[int, int]:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns

    def is_done(self, path, rel, settings: str | None = None) -> bool:
        rec = self.done.get((str(rel), settings))
        if rec is None:
            return False
        try:
            same = tuple(rec.get("source_stat", ())) == self._stat(path)
        except OSError:
            return False
        return same and all((self.dir / o).exists() for o in rec.get("outputs", []))

    def add(self, path, rel, outputs, settings: str | None = None) -> None:
        rec = {"rel": str(rel), "source": str(path), "source_stat": list(self._stat(path)),
               "outputs": [os.path.relpath(o, self.dir) for o in outputs], "settings": settings}
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        self.done[(str(rel), settings)] = rec


def run_tasks(fn: Callable, tasks: Iterable, jobs: int = 1, on_error: Callable | None = None
              ) -> Iterator[tuple[int, object]]:
    """(index, fn(task)) for every task, in completion order; `jobs` > 1 runs them in that many
    worker processes (fn and the tasks must pickle). `on_error(task, exc)`, when given, makes the
    result of a task whose worker failed (e.g. a worker killed by the OOM killer breaks the pool:
    BrokenProcessPool) instead of raising, so a folder run still finishes and lists it."""
    tasks = list(tasks)
    if check_jobs(jobs) == 1 or len(tasks) < 2:
        for i, t in enumerate(tasks):
            yield i, fn(t)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed   # here: a slow import, rarely needed
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=plain_warnings) as pool:
        futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as e:  # noqa: BLE001 - the worker died or could not send its result
                if on_error is None:
                    raise
                res = on_error(tasks[i], e)
            yield i, res
