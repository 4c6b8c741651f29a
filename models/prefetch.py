"""Run an iterator ahead on a helper thread: one process reads and converts the next files while
it decodes this batch (decoding releases the GIL inside ONNX Runtime or torch), so a folder
captioned with ``--jobs 1`` keeps both stages busy at once (docs/performance.md, "Folders").
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_DONE = object()
JOIN_S = 5.0                   # longest wait for the helper to finish the item it is on, at close


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


def prefetched(items: Iterator[T], ahead: int) -> Iterator[T]:
    """The items of `items` in order, produced on a helper thread at most `ahead` in advance
    (bounded memory). An exception raised by `items` is raised here, at its place in the order.
    Closing this generator (or an exception in the consumer, Ctrl-C included) stops the helper at
    its next item and waits for it (at most JOIN_S seconds), so nothing runs on after the caller
    has moved on."""
    if ahead < 1:
        raise ValueError(f"ahead must be >= 1, got {ahead}")
    q: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fill() -> None:
        try:
            for it in items:
                if not put(it):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Raised(e))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None and stop.is_set():
                close()
        put(_DONE)

    helper = threading.Thread(target=fill, name="m2t-prefetch", daemon=True)
    helper.start()
    try:
        while True:
            it = q.get()
            if it is _DONE:
                return
            if isinstance(it, _Raised):
                raise it.error
            yield it
    finally:
        stop.set()
        helper.join(JOIN_S)
