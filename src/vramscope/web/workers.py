"""Where the page's updates are computed: in worker processes, each request within a budget.

The gradio server (one process, one GIL) hands every update to a small pool of worker processes
of its own (``multiprocessing`` *spawn*: a clean interpreter, never a fork of the threaded server;
each worker talks to the server over one :func:`~multiprocessing.Pipe`). An idle worker waits in a
queue guarded by a condition; a request takes one, sends it the inputs and waits for the answer
within its **budget**:

* **time** — ``VRAMSCOPE_WEB_TIMEOUT`` seconds of wall clock (default 10). A worker that has not
  answered by then is killed (SIGKILL) and replaced; the page says the request was stopped.
* **memory** — ``VRAMSCOPE_WEB_MEMORY`` of address space per worker (default 1.5 GiB; a bare
  number is GiB, as everywhere in vramscope), set with ``setrlimit(RLIMIT_AS)`` when the worker
  starts. A warmed worker maps about 100 MiB of it (150 MiB after thousands of memoised results),
  so a request has well over 1 GiB to itself. An allocation past the limit raises MemoryError in
  the worker, which answers "over the memory budget" and then exits (a process that ran out of
  memory is not trusted with the next request); a new one takes its place. The handlers turn any
  exception into an "internal error" box and log it, so the worker also watches its
  ``vramscope.web`` log for a MemoryError.

``0``, ``none`` or ``off`` turns a budget off. An over-budget request is **never computed again**
(not in another worker, not in the server process): the page shows the message, in its language,
and the server keeps serving. A worker that dies while computing (killed from outside, a crash)
gets the same treatment — the request that met it is answered "stopped", the worker replaced. One
that is found dead while idle is replaced before it is given work, so nobody notices.

``VRAMSCOPE_WEB_WORKERS`` sets how many workers (default: one per core beyond the first, at least
two, at most four — two on a 2-core machine, so that one slow request never holds up everyone).
``VRAMSCOPE_WEB_WORKERS=0`` computes in the server process — **without any budget**: nothing can
stop a computation in the server's own process. Each worker keeps its own memo of results
(:mod:`.handlers`).

A model from the Hugging Face hub is loaded in a worker like everything else: the hub client gives a
read 2.5 s at most (:mod:`vramscope.sources.hub`), well inside the budget, and a worker whose hub
read was given up on (its thread may still be busy inside huggingface_hub) exits after answering
and is replaced, so nothing of it lingers in the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import handlers

log = logging.getLogger("vramscope.web")

WORKERS_ENV = "VRAMSCOPE_WEB_WORKERS"
TIMEOUT_ENV = "VRAMSCOPE_WEB_TIMEOUT"
MEMORY_ENV = "VRAMSCOPE_WEB_MEMORY"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY = 3 << 29  # 1.5 GiB of address space per worker
START_TIMEOUT_S = 90.0  # a worker not ready by then (interpreter, imports, warm-up) is killed and started again
OFF = ("0", "none", "off", "no", "false")

#: how a worker-side request ended (besides "ok"): the key of its message (``budget.<kind>``)
OVER_BUDGET = ("time", "memory")


def default_workers() -> int:
    """``VRAMSCOPE_WEB_WORKERS``, else one per core beyond the first — at least 2, at most 4."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw:
        try:
            return max(0, min(64, int(raw)))
        except ValueError:
            log.warning("%s=%r is not a number; using the default", WORKERS_ENV, raw)
    return max(2, min(4, (os.cpu_count() or 1) - 1))


@dataclass(frozen=True)
class Budget:
    """What one request may use in a worker: wall-clock seconds and bytes of address space (None: no limit)."""

    seconds: float | None = DEFAULT_TIMEOUT_S
    memory: int | None = DEFAULT_MEMORY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Budget:
        """``VRAMSCOPE_WEB_TIMEOUT`` (seconds) and ``VRAMSCOPE_WEB_MEMORY`` (a size: 1.5GiB, 2048MiB; bare = GiB)."""
        env = os.environ if environ is None else environ
        seconds: float | None = DEFAULT_TIMEOUT_S
        memory: int | None = DEFAULT_MEMORY
        raw = env.get(TIMEOUT_ENV, "").strip()
        if raw.lower() in OFF:
            seconds = None
        elif raw:
            try:
                value = float(raw.lower().removesuffix("s"))
                if not value > 0 or value == float("inf"):
                    raise ValueError(raw)
                seconds = value
            except ValueError:
                log.warning("%s=%r is not a number of seconds; using %g s", TIMEOUT_ENV, raw, DEFAULT_TIMEOUT_S)
        raw = env.get(MEMORY_ENV, "").strip()
        if raw.lower() in OFF:
            memory = None
        elif raw:
            from ..errors import VramscopeError
            from ..units import parse_bytes

            try:
                memory = parse_bytes(raw if not raw.isdigit() else f"{raw}GiB")
            except VramscopeError:
                log.warning("%s=%r is not a memory size; using %s", MEMORY_ENV, raw, _size_text(DEFAULT_MEMORY))
        return cls(seconds, memory)

    @property
    def seconds_text(self) -> str:
        return "∞" if self.seconds is None else f"{self.seconds:g}"

    @property
    def memory_text(self) -> str:
        return "∞" if self.memory is None else _size_text(self.memory)


def _size_text(nbytes: int) -> str:
    """1610612736 → '1.5 GiB', 536870912 → '512 MiB'."""
    from ..units import GiB

    if nbytes >= GiB:
        return f"{nbytes / GiB:.3g} GiB"
    return f"{nbytes / (1 << 20):.4g} MiB"


# --- the worker process --------------------------------------------------------------------------------
def _init_worker(parent: int) -> None:
    """In a worker: leave Ctrl-C to the server (which shuts the workers down), and exit as soon as
    the server process is gone (killed, crashed) — never linger."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="vramscope-parent-watch", daemon=True).start()


def _limit_memory(nbytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS) at ``nbytes`` (never above the hard limit)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        log.warning("no memory budget on this platform (no resource module)")
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class _MemoryWatch(logging.Filter):
    """Notes a MemoryError that the handlers caught and logged (they never raise; see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self.hit = False

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info
        if exc and isinstance(exc[0], type) and issubclass(exc[0], MemoryError):
            self.hit = True
        return True


def _warm() -> None:
    """Load the catalog and one estimate in a fresh worker, so the first real update is fast."""
    handlers.compute({})


def _worker_main(conn, parent: int, memory: int | None, env: Mapping[str, str],
                 warm: Callable[[], Any] | None) -> None:
    """A worker's life: limit itself, warm up, say ``ready``, then answer ``(fn, args, kw)`` jobs one at
    a time with ``(kind, value)`` — ``ok`` / ``memory`` / ``error`` — until the pipe closes."""
    _init_worker(parent)
    os.environ.update(env)
    if memory is not None:
        _limit_memory(memory)
    watch = _MemoryWatch()
    logging.getLogger("vramscope.web").addFilter(watch)
    if warm is not None:
        try:
            warm()
        except Exception:  # a warm-up failure is not fatal: the requests will tell
            log.exception("warming a web worker failed")
    from multiprocessing.reduction import ForkingPickler

    conn.send(("ready", os.getpid()))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        watch.hit = False
        out_of_memory = False
        try:
            job = ForkingPickler.loads(data)
            if job is None:  # the server is closing
                return
            fn, args, kw = job
            reply: tuple[str, Any] = ("ok", fn(*args, **kw))
        except MemoryError:
            reply, out_of_memory = ("memory", None), True
        except BaseException as exc:  # noqa: BLE001 - answer whatever happened; never die silently
            reply = ("error", type(exc).__name__)
        if watch.hit:
            reply, out_of_memory = ("memory", None), True
        try:
            conn.send(reply)
        except MemoryError:
            out_of_memory = True
            conn.send(("memory", None))
        except Exception as exc:  # the answer cannot be pickled
            conn.send(("error", type(exc).__name__))
        if out_of_memory or _hub_read_left_running():
            return  # the process exits; the server starts another


def _hub_read_left_running() -> bool:
    """A hub read this worker gave up on still runs (see :func:`vramscope.sources.hub.read_left_running`)."""
    import sys

    hub = sys.modules.get("vramscope.sources.hub")
    return bool(hub is not None and hub.read_left_running())


# --- the pool (in the server) --------------------------------------------------------------------------
class _Worker:
    """One worker process and the server's end of its pipe."""

    __slots__ = ("conn", "pid", "proc")

    def __init__(self, proc, conn) -> None:
        self.proc = proc
        self.conn = conn
        self.pid: int = proc.pid

    def usable(self) -> bool:
        """Alive and quiet: an idle worker whose pipe is readable has died (EOF) or misbehaved."""
        try:
            return self.proc.is_alive() and not self.conn.poll()
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        """Kill the process (it may be computing) and reap it."""
        try:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
        except (OSError, ValueError, AssertionError):
            pass
        with contextlib.suppress(OSError):
            self.conn.close()


class Pool:
    """``size`` worker processes; :meth:`call` runs one job in an idle one, within ``budget``.

    ``warm`` runs once in each new worker before it takes work; ``env`` is set in each worker.
    """

    def __init__(self, size: int, budget: Budget | None = None, *, warm: Callable[[], Any] | None = _warm,
                 env: Mapping[str, str] | None = None, wait_s: float | None = None) -> None:
        self.size = max(1, size)
        self.budget = budget or Budget()
        self.warm = warm
        self.env = dict(env or {})
        # how long a request waits for a free worker before it is told the server is busy
        self.wait_s = wait_s if wait_s is not None else max(60.0, 3 * (self.budget.seconds or 20.0))
        self._cond = threading.Condition()
        self._idle: deque[_Worker] = deque()
        self._all: dict[int, _Worker] = {}
        self._starting = 0
        self._closed = False
        self.started = 0  # processes started over the pool's life (tests, logs)

    # -- starting and replacing workers
    def start(self) -> None:
        """Bring the pool up to ``size`` workers (they start and warm in the background)."""
        with self._cond:
            self._fill_locked()

    def _fill_locked(self) -> None:
        while not self._closed and len(self._all) + self._starting < self.size:
            self._starting += 1
            threading.Thread(target=self._spawn, name="vramscope-worker-start", daemon=True).start()

    def _spawn(self) -> None:
        delay = 0.5
        worker = None
        while worker is None:
            with self._cond:
                if self._closed:
                    self._starting -= 1
                    self._cond.notify_all()
                    return
            try:
                worker = self._start_one()
            except Exception as exc:  # spawn failed, or the worker did not come up: try again, slower
                log.warning("a web worker did not start (%s); trying again in %.0f s", exc, delay)
                time.sleep(delay)
                delay = min(30.0, delay * 2)
        with self._cond:
            self._starting -= 1
            if self._closed:
                worker.stop()
            else:
                self._all[worker.pid] = worker
                self._idle.append(worker)
            self._cond.notify_all()

    def _start_one(self) -> _Worker:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        mine, theirs = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker_main, args=(theirs, os.getpid(), self.budget.memory, self.env, self.warm),
                           name="vramscope-web-worker", daemon=True)
        proc.start()
        theirs.close()  # so that the worker's death reads as EOF here
        worker = _Worker(proc, mine)
        with self._cond:
            self.started += 1
        try:
            if not mine.poll(START_TIMEOUT_S):
                raise TimeoutError(f"not ready within {START_TIMEOUT_S:.0f} s")
            kind, _pid = mine.recv()
            if kind != "ready":
                raise RuntimeError(f"said {kind!r}")
        except BaseException:
            worker.stop()
            raise
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Stop ``worker`` (killed if it is still running) and start one in its place."""
        worker.stop()
        with self._cond:
            self._all.pop(worker.pid, None)
            self._fill_locked()
            self._cond.notify_all()

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed or worker.pid not in self._all:
                worker.stop()
                return
            self._idle.append(worker)
            self._cond.notify()

    def _take(self) -> _Worker | None:
        """An idle, living worker; None when the pool is closed or none was free within ``wait_s``."""
        deadline = time.monotonic() + self.wait_s
        dead: list[_Worker] = []
        try:
            with self._cond:
                while not self._closed:
                    while self._idle:
                        worker = self._idle.popleft()
                        if worker.usable():
                            return worker
                        log.warning("web worker %d died while idle; starting a new one", worker.pid)
                        self._all.pop(worker.pid, None)
                        dead.append(worker)
                    self._fill_locked()
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._cond.wait(left)
                return None
        finally:
            for worker in dead:
                worker.stop()

    # -- running a job
    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[str, Any]:
        """Run ``fn(*args, **kw)`` in a worker: ``("ok", result)``, or ``(why, detail)`` where why is
        ``time`` / ``memory`` (over budget), ``died`` (the worker died while computing), ``error``
        (``fn`` raised: detail is the exception's name) or ``busy`` (no worker free in time).

        The job runs at most once: it is never sent to a second worker once the first could have
        started it.
        """
        for _attempt in range(3):
            worker = self._take()
            if worker is None:
                return "busy", None
            try:
                worker.conn.send((fn, args, kw))
            except (OSError, ValueError):  # died just now, before it could read the job: nothing ran
                self._retire(worker)
                continue
            return self._wait(worker)
        return "died", None

    def _wait(self, worker: _Worker) -> tuple[str, Any]:
        from multiprocessing.connection import wait

        seconds = self.budget.seconds
        try:
            ready = wait([worker.conn, worker.proc.sentinel], timeout=seconds)
        except (OSError, ValueError):
            ready = [worker.proc.sentinel]
        if not ready:
            log.warning("a web request took over %g s; stopping web worker %d", seconds, worker.pid)
            self._retire(worker)
            return "time", None
        if worker.conn in ready:
            try:
                kind, value = worker.conn.recv()
            except (EOFError, OSError, ValueError):
                kind, value = "died", None
            except Exception as exc:  # an answer that cannot be unpickled here
                self._retire(worker)
                return "error", type(exc).__name__
            if kind == "ok" or kind == "error":
                self._release(worker)
                return kind, value
            if kind == "memory":
                log.warning("a web request went over the %s memory budget; web worker %d exits",
                            self.budget.memory_text, worker.pid)
                self._retire(worker)  # it exits by itself; reaped and replaced here
                return "memory", None
        log.warning("web worker %d died while computing a request (exit code %s); starting a new one",
                    worker.pid, worker.proc.exitcode)
        self._retire(worker)
        return "died", None

    # -- introspection and shutdown
    @property
    def _processes(self) -> dict[int, Any]:
        """The living workers' processes by pid (tests kill them)."""
        with self._cond:
            return {pid: w.proc for pid, w in self._all.items()}

    def pids(self) -> list[int]:
        return list(self._processes)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Block until every worker has started (tests, benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._idle) < self.size or self._starting:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        """Stop every worker (any computing one is killed); later calls answer ``busy``."""
        with self._cond:
            self._closed = True
            workers = list(self._all.values())
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in workers:
            worker.proc.join(0.5)
            worker.stop()


# --- what the page calls ---------------------------------------------------------------------------------
def refused_page(values: Mapping[str, Any], why: str, budget: Budget, *, browser_lang: str | None = None,
                 owned: tuple[str, ...] | None = None, detail: str | None = None, **_: Any) -> handlers.Page:
    """The page for a request that a worker did not answer (``why`` as :meth:`Pool.call` says),
    in the page's language: the message in the model block and in the tab."""
    from . import render
    from .i18n import t
    from .state import encode, lang_of, normalize

    v = normalize(values)
    lang, tab = str(v["lang"]), str(v["tab"])
    query = encode(v, {"lang": lang_of(browser_lang)} if browser_lang else None, only=owned)
    if why == "error":
        title, text = t("internal_error", lang, kind=detail or "error"), ""
    else:
        title = t("budget.title", lang)
        text = t(f"budget.{why}", lang, seconds=budget.seconds_text, memory=budget.memory_text)
    html = render.message("error", title, text)
    code = "# " + (text or title) if tab in handlers.TABS_WITH_CODE else ""
    return handlers.Page(tab, html, html, code, query, False, tuple(owned or ()))


class Computer:
    """``compute(...)`` = :func:`vramscope.web.handlers.compute` (or ``target``), run in a worker within the
    budget when there are workers, in the calling thread (no budget) when ``workers=0``.

    ``target`` must be importable by name (the workers are spawned); tests pass their own.
    """

    def __init__(self, workers: int | None = None, *, budget: Budget | None = None,
                 target: Callable[..., handlers.Page] = handlers.compute, warm: Callable[[], Any] | None = _warm,
                 env: Mapping[str, str] | None = None) -> None:
        self.workers = default_workers() if workers is None else max(0, workers)
        self.budget = budget or Budget.from_env()
        self.target = target
        self.warm = warm
        self.env = dict(env or {})
        self._pool: Pool | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _get_pool(self) -> Pool | None:
        if self.workers <= 0:
            return None
        with self._lock:
            if self._pool is None and not self._closed:
                self._pool = Pool(self.workers, self.budget, warm=self.warm, env=self.env)
                self._pool.start()
            return self._pool

    def start(self) -> None:
        """Start the workers and warm them (in the background)."""
        self._get_pool()

    def compute(self, values: Mapping[str, Any], file: str | None = None, **kw: Any) -> handlers.Page:
        """The page for ``values``; never raises. Over budget: the budget message, not a second try."""
        # a model from the hub runs in a worker too: the hub read is bounded (2.5 s, sources/hub.py), and
        # a read the worker gave up on — whose thread may still use the CPU — ends that worker, not the server
        pool = self._get_pool()
        if pool is None:
            if self.workers > 0 and self._closed:
                return refused_page(values, "busy", self.budget, **kw)
            return self.target(values, file, **kw)
        why, value = pool.call(self.target, values, file, **kw)
        if why == "ok":
            return value
        return refused_page(values, why, self.budget, detail=value if why == "error" else None, **kw)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


__all__ = ["Budget", "Computer", "Pool", "default_workers", "refused_page"]
