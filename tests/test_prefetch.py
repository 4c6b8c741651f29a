"""models/prefetch.py: the next files are read while a batch decodes, in order, bounded, stoppable;
and one process captions a folder to the same results with it as without."""
from __future__ import annotations

import threading
import time

import pytest

from m2t.converters.synthetic import write_walk_bvh
from m2t.models import captioning
from m2t.models.prefetch import prefetched


def _helpers():
    return [t for t in threading.enumerate() if t.name == "m2t-prefetch" and t.is_alive()]


def test_items_come_in_order_and_the_helper_ends():
    assert list(prefetched(iter(range(50)), 3)) == list(range(50))
    assert list(prefetched(iter([]), 1)) == []
    assert not _helpers()
    with pytest.raises(ValueError):
        next(prefetched(iter([1]), 0))


def test_an_error_comes_at_its_place():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")
    got = []
    with pytest.raises(OSError, match="disk gone"):
        for x in prefetched(items(), 5):
            got.append(x)
    assert got == [1, 2] and not _helpers()


def test_the_helper_runs_at_most_ahead_items_in_advance():
    made = []

    def items():
        for i in range(100):
            made.append(i)
            yield i
    stream = prefetched(items(), 4)
    assert next(stream) == 0
    time.sleep(0.3)
    # 1 handed out, 4 in the queue, 1 made and waiting for room
    assert len(made) <= 1 + 4 + 1
    stream.close()
    assert not _helpers() and len(made) <= 7


def test_closing_stops_the_helper_and_closes_the_source():
    closed = []

    def items():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)
    stream = prefetched(items(), 2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert not _helpers() and closed == [True]


def test_one_process_folder_is_the_same_with_and_without_reading_ahead(tiny_model, tmp_path, monkeypatch):
    for i, order in enumerate(("ZXY", "XYZ", "YXZ", "ZXY", "XYZ")):
        write_walk_bvh(tmp_path / f"w{i}.bvh", seconds=1.5 + 0.5 * i, order=order)
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT")
    files = sorted(tmp_path.glob("*.bvh"))
    bundle = captioning.load_model(tiny_model, backend="torch")
    used = []
    real = captioning.prefetched
    monkeypatch.setattr(captioning, "prefetched", lambda it, n: used.append(n) or real(it, n))
    ahead = [(fc.source, fc.error, fc.result and fc.result.text) for fc in
             captioning.iter_captions(files, bundle, batch_size=2)]
    monkeypatch.setattr(captioning, "prefetched", lambda it, n: it)
    plain = [(fc.source, fc.error, fc.result and fc.result.text) for fc in
             captioning.iter_captions(files, bundle, batch_size=2)]
    assert used == [2] and ahead == plain
    assert [s.name for s, _, _ in ahead] == [f.name for f in files]
    assert [e is not None for _, e, _ in ahead] == [f.name == "bad.bvh" for f in files]


def test_an_error_while_decoding_stops_the_reading_at_once(tiny_model, tmp_path, monkeypatch):
    """Ctrl-C or a failing decode in one process: the helper is stopped before the error leaves
    iter_captions (the traceback keeps its frames alive, so closing cannot wait for the collector)."""
    for i in range(6):
        write_walk_bvh(tmp_path / f"w{i}.bvh", seconds=1.5)
    bundle = captioning.load_model(tiny_model, backend="torch")
    calls = []

    def second_batch_interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)
    real = captioning._caption_batch
    monkeypatch.setattr(captioning, "_caption_batch", second_batch_interrupted)
    with pytest.raises(KeyboardInterrupt) as info:
        list(captioning.iter_captions(sorted(tmp_path.glob("*.bvh")), bundle, batch_size=2))
    assert info.traceback and not _helpers()
