"""Run a native-code reader in a forked child so that a crash (SIGABRT, SIGSEGV), a hang or a
runaway allocation inside it becomes one MotionFileError line instead of killing the process.

The child sends back only numpy arrays and JSON (an ``.npz`` read with ``allow_pickle=False``),
never pickles. Where ``os.fork`` does not exist (Windows) the function runs in-process.
"""
from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import warnings

import numpy as np

from .errors import MotionFileError

TIMEOUT_S = 300.0
_INFO = "__info_json__"


def run_isolated(fn, path, what: str, timeout_s: float | None = None) -> tuple[dict, object]:
    """fn() -> (arrays: {name: ndarray}, info: JSON-able). Returns the same pair, computed in a
    child process. A child that dies, raises or runs past `timeout_s` -> MotionFileError naming
    `path` and `what` (e.g. "ezc3d")."""
    if not hasattr(os, "fork"):
        return fn()
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    fd, tmp = tempfile.mkstemp(prefix="m2t-isolated-", suffix=".npz")
    os.close(fd)
    try:
        with warnings.catch_warnings():          # Python 3.12+: "process is multi-threaded"
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:                              # child: never returns into the caller's code
            code = 3
            try:
                _quiet_child()
                arrays, info = fn()
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays, **{_INFO: np.frombuffer(json.dumps(info).encode(), np.uint8)})
                code = 0
            except BaseException as e:            # noqa: BLE001 - reported through the file
                try:
                    msg = " ".join(str(e).split())[:300] or e.__class__.__name__
                    with open(tmp, "wb") as f:
                        f.write(f"{e.__class__.__name__}: {msg}".encode("utf-8", "replace"))
                except BaseException:             # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        status = _wait(pid, timeout_s)
        if status is None:
            raise MotionFileError(f"{path}: {what} did not finish within {timeout_s:g} s (file corrupt?)")
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            raise MotionFileError(f"{path}: {what} crashed on it ({name}); the file is corrupt or truncated")
        code = os.WEXITSTATUS(status)
        if code != 0:
            try:
                with open(tmp, "rb") as f:
                    msg = f.read(400).decode("utf-8", "replace").strip()
            except OSError:
                msg = ""
            raise MotionFileError(f"{path}: {what} cannot read it ({msg or f'exit code {code}'})")
        with np.load(tmp, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != _INFO}
            info = json.loads(z[_INFO].tobytes().decode())
        return arrays, info
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _quiet_child() -> None:
    """Native code that aborts prints its own lines ("terminate called ...", a faulthandler dump);
    in the child they go nowhere, so the user sees only m2t's one line."""
    import faulthandler
    if faulthandler.is_enabled():
        faulthandler.disable()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def _wait(pid: int, timeout_s: float):
    """The child's wait status, or None after killing it at the timeout."""
    end = time.monotonic() + timeout_s
    delay = 0.001
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            if time.monotonic() > end:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    except BaseException:                          # Ctrl-C while waiting: take the child down too
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None
