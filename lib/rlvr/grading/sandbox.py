"""A pool of worker processes that runs symbolic grading under a hard time bound.

Why processes and not signals: math-verify's own timeouts use ``signal.alarm``,
which only works on the main thread, so they fail inside a trainer's reward
thread or some Jupyter set-ups. Here every verification runs in a separate
process (pebble's ``ProcessPool``); when it overruns its bound the worker is
killed and replaced, and the verification counts as wrong. Each worker's
address space is capped, so a runaway computation fails with MemoryError
instead of exhausting the machine.

On Linux workers are forked from the caller with math-verify already imported,
so a replacement is ready in milliseconds and nothing needs a
``if __name__ == "__main__":`` guard. The child only runs pure-Python grading
code, never the caller's threads, CUDA or atexit hooks, which is what makes
forking a trainer safe. Elsewhere (macOS) workers come from a forkserver, and
scripts need the usual multiprocessing main guard.
"""

from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from pebble import ProcessExpired, ProcessPool

from . import _worker

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 3.0  # the Qwen2.5-Math evaluation's bound per verification
DEFAULT_MEMORY_MB = 2048
_WORKER_MODULE = "rlvr.grading._worker"


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def default_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _mp_context(method: str):
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        # Only takes effect if the forkserver is not running yet; then every
        # worker starts with math-verify already imported.
        ctx.set_forkserver_preload([_WORKER_MODULE])
    return ctx


_BROKEN_HELP = (
    "the grading worker processes could not start. If this runs from a script on a "
    "platform that starts workers by re-importing the main module (macOS, Windows), "
    "put the script's top-level code under `if __name__ == \"__main__\":`."
)


class Sandbox:
    """Runs functions of ``rlvr.grading._worker`` in killable worker processes."""

    def __init__(
        self,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        memory_mb: int | None = DEFAULT_MEMORY_MB,
        start_method: str | None = None,
    ):
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
        self.workers = workers or default_workers()
        self.timeout = float(timeout)
        self.memory_mb = memory_mb
        self.start_method = start_method or default_start_method()
        self._pool: ProcessPool | None = None
        self._owner_pid: int | None = None
        self._lock = threading.Lock()
        self.timeouts = 0  # verifications killed at the bound, for reporting
        self.crashes = 0  # workers that died (memory cap, segfault)

    def _ensure_pool(self) -> ProcessPool:
        with self._lock:
            # A forked child must not reuse its parent's pool.
            if self._pool is None or self._owner_pid != os.getpid() or not self._pool.active:
                self._pool = ProcessPool(
                    max_workers=self.workers,
                    initializer=_worker.init,
                    initargs=(self.memory_mb,),
                    context=_mp_context(self.start_method),
                )
                self._owner_pid = os.getpid()
            return self._pool

    def map(
        self,
        fn: Callable[..., bool],
        calls: Sequence[tuple],
        timeout: float | None = None,
        default: bool = False,
    ) -> list[bool]:
        """``[fn(*args) for args in calls]`` in the workers; ``default`` for any
        call that overran ``timeout`` seconds of its own run time or crashed."""
        if not calls:
            return []
        bound = self.timeout if timeout is None else float(timeout)
        pool = self._ensure_pool()
        futures = [pool.schedule(fn, args=args, timeout=bound) for args in calls]
        # Belt and braces: even if the pool itself wedged, the caller gets an
        # answer within the time the whole batch could legitimately take.
        deadline = time.monotonic() + bound * math.ceil(len(calls) / self.workers) + 10.0
        results = []
        for fut in futures:
            try:
                results.append(bool(fut.result(timeout=max(0.1, deadline - time.monotonic()))))
            except (TimeoutError, FutureTimeout):
                self.timeouts += 1
                fut.cancel()
                results.append(default)
            except ProcessExpired:
                self.crashes += 1
                results.append(default)
            except BrokenProcessPool as exc:
                raise RuntimeError(_BROKEN_HELP) from exc
            except Exception as exc:  # infrastructure failure, not a wrong answer
                log.warning("grading worker failed: %r", exc)
                results.append(default)
        return results

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None and self._owner_pid == os.getpid():
                pool.stop()
                pool.join(timeout=10)


_default: Sandbox | None = None
_default_lock = threading.Lock()


def get_sandbox() -> Sandbox:
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
        return _default


def configure(
    *, workers: int | None = None, timeout: float | None = None, memory_mb: int | None = None
) -> Sandbox:
    """Replace the shared sandbox (e.g. more workers on a big GPU node, a longer bound)."""
    global _default
    with _default_lock:
        old = _default
        _default = Sandbox(
            workers=workers or (old.workers if old else None),
            timeout=timeout or (old.timeout if old else DEFAULT_TIMEOUT_S),
            memory_mb=memory_mb or (old.memory_mb if old else DEFAULT_MEMORY_MB),
        )
    if old is not None:
        old.close()
    return _default


def shutdown() -> None:
    """Stop the shared sandbox's workers (they also stop at interpreter exit)."""
    global _default
    with _default_lock:
        old, _default = _default, None
    if old is not None:
        old.close()


atexit.register(shutdown)
