"""Where the page's updates are computed: in worker processes, so that the estimates run on the
other cores while the gradio server (one process, one GIL) keeps serving pages and events.

``VRAMSCOPE_WEB_WORKERS`` sets how many (``0``: compute in the server process). By default one
worker per core beyond the first, at most four — on a 2-core machine, one. A worker that dies is
replaced, and the update that met it is computed in the server process instead; nothing is lost
but time. Each worker keeps its own memo of results (:mod:`.handlers`).
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from . import handlers

log = logging.getLogger("vramscope.web")

TIMEOUT_S = 120.0  # one update never takes this long; a worker that does is abandoned


def default_workers() -> int:
    raw = os.environ.get("VRAMSCOPE_WEB_WORKERS", "").strip()
    if raw:
        try:
            return max(0, min(64, int(raw)))
        except ValueError:
            log.warning("VRAMSCOPE_WEB_WORKERS=%r is not a number; using the default", raw)
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def _init_worker(parent: int) -> None:
    """In a worker: leave Ctrl-C to the server (which shuts the workers down), and exit as soon as
    the server process is gone (killed, crashed) — never linger."""
    import signal
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="vramscope-parent-watch", daemon=True).start()


def _warm() -> bool:
    """Load the catalog and one estimate in a fresh worker, so the first real update is fast."""
    handlers.compute({})
    return True


class Computer:
    """``compute(...)`` = :func:`vramscope.web.handlers.compute`, run in a worker process when there is one."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPoolExecutor | None:
        if self.workers <= 0:
            return None
        with self._lock:
            if self._pool is None:
                import multiprocessing

                # spawn: a clean interpreter, never a fork of the threaded server
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker, initargs=(os.getpid(),))
            return self._pool

    def start(self) -> None:
        """Start the workers and warm them (in the background)."""
        pool = self._get_pool()
        if pool is not None:
            for _ in range(self.workers):
                pool.submit(_warm)

    def _reset(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def compute(self, values: dict[str, Any], file: str | None = None, **kw: Any) -> handlers.Page:
        # a model from the hub waits on the network, not the CPU: it is loaded in this process (one of
        # the server's threads), so that a slow or unreachable hub never holds up a worker
        pool = None if handlers.may_use_network(values) else self._get_pool()
        if pool is not None:
            try:
                return pool.submit(handlers.compute, values, file, **kw).result(timeout=TIMEOUT_S)
            except BrokenProcessPool:
                log.warning("a web worker process died; starting a new one")
                self._reset(pool)
            except TimeoutError:
                log.warning("a web update took over %.0f s in a worker; computing it here", TIMEOUT_S)
            except RuntimeError:  # the pool was shut down (server closing)
                pass
        return handlers.compute(values, file, **kw)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
