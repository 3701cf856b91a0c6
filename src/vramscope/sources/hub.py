"""A Hugging Face hub id: its config.json plus the safetensors headers (dtype and shape of every
stored tensor), read through ``huggingface_hub`` without downloading weights.

config.json goes through ``hf_hub_download`` and is read from the HF cache first (a model read once
works offline and instantly; delete it from the HF cache to refresh it); the safetensors metadata is
cached by vramscope as JSON under ``$VRAMSCOPE_CACHE`` (default ``~/.cache/vramscope``).

**Bounded in time.** All the network traffic of one :func:`spec_from_hub` shares one budget,
:data:`HUB_BUDGET_S` (``VRAMSCOPE_HUB_TIMEOUT`` overrides it), counted from its first network call.
huggingface_hub alone would wait far longer on a hub that accepts connections and then says
nothing (about 400 s: a HEAD with a 10 s timeout, then five retries with 60 s timeouts and
back-off) and retries 5xx / 429 answers with sleeps of its own choosing. vramscope therefore
installs, through huggingface_hub's public ``set_client_factory``, an ``httpx2`` client whose
transport, while a vramscope hub read runs,

* caps every connect, TLS handshake, socket read and write at the time left in the budget (a
  ``httpcore2`` network backend, so a server that drips one byte at a time cannot stretch it);
* answers a spent budget, a timeout, a refused or reset connection, a non-HTTP answer, a 408 /
  429 / 5xx status or an answer over :data:`MAX_ANSWER_BYTES` with one :class:`OfflineError`
  that huggingface_hub does not catch or retry, so it reaches the user at once;

and behaves like huggingface_hub's default client at any other time. Each read also runs in a
worker thread that the caller waits for at most the budget (plus :data:`GRACE_S`), so even work
that is not network I/O (a lock, parsing a hostile header) cannot hold the caller longer. Hub reads
of one process take turns (one budget is active at a time), and requests made from threads that
huggingface_hub starts itself (sharded headers) are held to the active budget. A proxy configured
through ``HTTP(S)_PROXY`` is served by httpx2's own proxy transport, outside these caps (the
worker-thread wait still bounds the caller).

Before any network call the hub's host is probed with a TCP connect (at most 3 s, within the
budget): an offline machine fails at once, and with a config.json in the HF cache the model is
still answered from the config alone.

**Strict.** Every safetensors header goes through :meth:`StoredWeights.from_tensors
<vramscope.spec.StoredWeights.from_tensors>`, which refuses unknown dtypes and malformed shapes or
offsets; vramscope's own cache file is read only when it is a regular file of at most
:data:`MAX_CACHE_BYTES`, and a broken entry is refetched. No message ever quotes what the server
said (a misbehaving server may echo the ``Authorization`` header): errors name the host, the
repo and the HTTP status only.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

from ..errors import ConfigError, ModelNotFoundError, OfflineError, VramscopeError
from ..progress import activity
from ..spec import ModelSpec, StoredWeights

T = TypeVar("T")

#: seconds for all the hub traffic of one spec_from_hub (config.json + safetensors headers),
#: counted from its first network call; VRAMSCOPE_HUB_TIMEOUT overrides it (0.1 … 600 s)
HUB_BUDGET_S = 2.5
HUB_BUDGET_ENV = "VRAMSCOPE_HUB_TIMEOUT"
#: the caller waits this long past the budget for the worker's own, more precise error
GRACE_S = 0.25
#: the TCP probe before the first hub request, at most (and never past the budget)
PROBE_TIMEOUT_S = 3.0
#: largest body accepted in one hub answer: above huggingface_hub's own cap on a safetensors
#: header (constants.SAFETENSORS_MAX_HEADER_LENGTH, 25 MB) and the largest index.json files (~10 MB)
MAX_ANSWER_BYTES = 64 << 20
#: largest vramscope cache entry read back (DeepSeek-V3's ~91,000 tensors take ~8 MB)
MAX_CACHE_BYTES = 64 << 20

_ALTERNATIVES = "use a catalog name (vramscope models), a local config.json, or a GGUF file"


def cache_dir() -> Path:
    return Path(os.environ.get("VRAMSCOPE_CACHE", Path.home() / ".cache" / "vramscope"))


def _hub():
    try:
        import huggingface_hub
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise VramscopeError(
            "reading a model from the Hugging Face hub needs the 'hub' extra: pip install 'vramscope[hub]'"
        ) from exc
    return huggingface_hub


# --- the time budget ---------------------------------------------------------------------------
def budget_seconds() -> float:
    """:data:`HUB_BUDGET_S`, or ``$VRAMSCOPE_HUB_TIMEOUT`` when it is a number of seconds in 0.1 … 600."""
    text = os.environ.get(HUB_BUDGET_ENV, "").strip()
    if not text:
        return HUB_BUDGET_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.1 <= value <= 600:
        raise VramscopeError(f"{HUB_BUDGET_ENV} must be a number of seconds from 0.1 to 600, got {text[:40]!r}")
    return value


class HubBudget:
    """One deadline for all the hub traffic of one model read; it starts at the first network call."""

    def __init__(self, seconds: float | None = None, *, local_only: bool = False) -> None:
        self.seconds = budget_seconds() if seconds is None else seconds
        self.local_only = local_only  # no request at all: reading the local cache only
        self._deadline: float | None = None

    def start(self) -> None:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.seconds

    def remaining(self) -> float:
        """Seconds left (the full budget before it starts; never negative)."""
        if self._deadline is None:
            return self.seconds
        return max(0.0, self._deadline - time.monotonic())

    def stalled(self, where: str, what: str = "answer") -> OfflineError:
        """The one error of a hub that did not ``what`` within the budget."""
        if self.local_only:
            return OfflineError(f"no request to the Hugging Face hub at {where}: only the local cache is read here")
        what_happened = {
            "connect": f"the Hugging Face hub at {where} did not accept a connection",
            "answer": f"the Hugging Face hub at {where} accepted the connection but did not answer",
            "finish": f"the Hugging Face hub at {where} did not finish its answer",
            "read": f"reading from the Hugging Face hub at {where} did not end",  # the caller's own wait
        }[what]
        return OfflineError(
            f"{what_happened} within {self.seconds:g} s; check your network or HF_ENDPOINT, "
            f"allow more time with {HUB_BUDGET_ENV}=<seconds>, or {_ALTERNATIVES}"
        )

    def run(self, fn: Callable[[], T], where: str) -> T:
        """``fn()`` with this budget active for its hub requests; never longer than the budget.

        ``fn`` runs in a daemon worker thread; its result or exception is handed back. When the
        worker has not finished after the time left plus :data:`GRACE_S`, the caller gets
        :meth:`stalled` and the worker is left to end by itself (its network calls fail at once
        from then on).
        """
        _install_client()
        if not _TURN.acquire(timeout=self.remaining() + GRACE_S):
            raise OfflineError(f"another read from the Hugging Face hub in this process did not end within "
                               f"{self.seconds:g} s; try again")
        self.start()
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            token = _CURRENT.set(self)
            _ACTIVE.append(self)
            try:
                outcome["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, whatever it is
                outcome["error"] = exc
            finally:
                _ACTIVE.remove(self)
                _CURRENT.reset(token)
                _TURN.release()
                done.set()

        try:
            threading.Thread(target=work, name="vramscope-hub", daemon=True).start()
        except BaseException:
            _TURN.release()
            raise
        if not done.wait(self.remaining() + GRACE_S):
            raise self.stalled(where, "read")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


_CURRENT: contextvars.ContextVar[HubBudget | None] = contextvars.ContextVar("vramscope_hub_budget", default=None)
# huggingface_hub makes requests of its own even for local_files_only=True: build_hf_headers fetches
# {ENDPOINT}/api/agent-harnesses (utils/_detect_agent.py, once a day, 3 s read timeout, any error
# swallowed). Under this budget every request fails at once, so a local lookup never waits on the
# network (and the library then keeps its empty registry for the rest of the process).
_LOCAL_ONLY = HubBudget(0.0, local_only=True)
_LOCAL_ONLY.start()
_ACTIVE: list[HubBudget] = []  # budgets whose worker runs (at most one: _TURN)
_TURN = threading.Lock()


def read_left_running() -> bool:
    """Whether a hub read this process gave up on (:meth:`HubBudget.stalled`) still runs in its thread.

    Its network calls fail at once, but code of huggingface_hub's that does not touch the network (e.g.
    multiplying out a hostile safetensors shape) may go on using the CPU; a long-lived process (a web
    worker) that sees this should end and be replaced.
    """
    return _TURN.locked() and _CURRENT.get() is None


@contextmanager
def _local_only() -> Iterator[None]:
    """Within: huggingface_hub may read its cache but sends no request (see _LOCAL_ONLY)."""
    _install_client()
    token = _CURRENT.set(_LOCAL_ONLY)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _request_budget() -> HubBudget | None:
    """The budget a request made in this thread counts against, if a vramscope hub read runs."""
    budget = _CURRENT.get()
    if budget is None and _ACTIVE:
        budget = _ACTIVE[0]  # a thread huggingface_hub started for the running read (sharded headers)
    return budget


def _endpoint_where() -> str:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    return f"{url.hostname or 'huggingface.co'}:{url.port or (80 if url.scheme == 'http' else 443)}"


# --- the HTTP client huggingface_hub uses --------------------------------------------------------
_CLIENT_LOCK = threading.Lock()
_CLIENT_INSTALLED = False


def _install_client() -> None:
    """Have huggingface_hub build its shared client with the budgeted transport (once per process)."""
    global _CLIENT_INSTALLED
    with _CLIENT_LOCK:
        if not _CLIENT_INSTALLED:
            _hub().set_client_factory(_make_client)
            _CLIENT_INSTALLED = True


def _make_client():
    import httpx2

    # What huggingface_hub's default factory sets (redirects followed, no client-wide timeout: each
    # call passes its own), with our transport and an offline check of our own (the library's
    # event hook lives in a private module).
    return httpx2.Client(event_hooks={"request": [_refuse_when_offline]}, follow_redirects=True, timeout=None,
                         transport=_hub_transport())


def _refuse_when_offline(request) -> None:
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    if constants.is_offline_mode():
        raise OfflineModeIsEnabled(f"Cannot reach {request.url}: offline mode is enabled (HF_HUB_OFFLINE=1).")


def _where(url) -> str:
    return f"{url.host}:{url.port or (80 if url.scheme == 'http' else 443)}"


def _capped(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """``timeout`` no longer than the active budget's time left; ``timeout_error`` when it is spent."""
    budget = _request_budget()
    if budget is None:
        return timeout
    left = budget.remaining()
    if left <= 0:
        raise timeout_error("the time budget of the hub read is spent")
    return left if timeout is None else min(timeout, left)


def _failure(exc: Exception, where: str, budget: HubBudget, phase: str = "answer") -> Exception:
    """A ``httpcore2`` exception of a budgeted request → the OfflineError the user sees."""
    import httpcore2

    if isinstance(exc, httpcore2.ConnectTimeout):
        return budget.stalled(where, "connect")
    if isinstance(exc, httpcore2.TimeoutException):
        return budget.stalled(where, phase)
    if isinstance(exc, httpcore2.ConnectError):
        return OfflineError(f"cannot connect to the Hugging Face hub at {where} ({_reason(exc)}); check your "
                            f"network or HF_ENDPOINT, or {_ALTERNATIVES}")
    if isinstance(exc, httpcore2.NetworkError):
        return OfflineError(f"the Hugging Face hub at {where} closed the connection before it had answered; "
                            f"try again, or {_ALTERNATIVES}")
    if isinstance(exc, httpcore2.ProtocolError):
        return OfflineError(f"the server at {where} did not answer in HTTP; is HF_ENDPOINT a Hugging Face hub? "
                            f"Otherwise {_ALTERNATIVES}")
    if isinstance(exc, httpcore2.UnsupportedProtocol):
        return OfflineError("HF_ENDPOINT must be an http:// or https:// address")
    return exc


def _reason(exc: BaseException) -> str:
    """A short reason for a connection failure: the OS error text only, never a server's words."""
    while exc is not None and not isinstance(exc, OSError):
        exc = exc.__cause__ or exc.__context__
    return (exc.strerror or type(exc).__name__) if exc is not None else "connection failed"


def _network_backend():
    import httpcore2

    class BudgetStream(httpcore2.NetworkStream):
        """A socket stream whose every operation ends by the budget's deadline."""

        def __init__(self, stream) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, _capped(timeout, httpcore2.ReadTimeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _capped(timeout, httpcore2.WriteTimeout))

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            return BudgetStream(self._stream.start_tls(ssl_context, server_hostname,
                                                       _capped(timeout, httpcore2.ConnectTimeout)))

        def get_extra_info(self, info: str):
            return self._stream.get_extra_info(info)

    class BudgetBackend(httpcore2.NetworkBackend):
        def __init__(self) -> None:
            self._sync = httpcore2.SyncBackend()

        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            return BudgetStream(self._sync.connect_tcp(host, port, _capped(timeout, httpcore2.ConnectTimeout),
                                                       local_address, socket_options))

        def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover - not for hubs
            return BudgetStream(self._sync.connect_unix_socket(path, _capped(timeout, httpcore2.ConnectTimeout),
                                                               socket_options))

        def sleep(self, seconds: float) -> None:
            self._sync.sleep(seconds)

    return BudgetBackend()


def _transport_class():
    import httpcore2
    import httpx2

    class BoundedBody(httpx2.SyncByteStream):
        """A response body read within the budget and :data:`MAX_ANSWER_BYTES`."""

        def __init__(self, stream, budget: HubBudget, where: str) -> None:
            self._stream, self._budget, self._where = stream, budget, where

        def __iter__(self) -> Iterator[bytes]:
            total = 0
            try:
                for chunk in self._stream:
                    total += len(chunk)
                    if total > MAX_ANSWER_BYTES:
                        raise OfflineError(f"the Hugging Face hub at {self._where} sent more than "
                                           f"{MAX_ANSWER_BYTES >> 20} MiB in one answer; is HF_ENDPOINT a hub?")
                    if self._budget.remaining() <= 0:
                        raise self._budget.stalled(self._where, "finish")
                    yield chunk
            except (httpcore2.TimeoutException, httpcore2.NetworkError, httpcore2.ProtocolError) as exc:
                raise _failure(exc, self._where, self._budget, "finish") from None

        def close(self) -> None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()

    class HubTransport(httpx2.BaseTransport):
        """httpx2's default transport outside vramscope's hub reads; bounded and strict within one."""

        def __init__(self) -> None:
            self._plain = httpx2.HTTPTransport()
            self._pool = httpcore2.ConnectionPool(ssl_context=httpx2.create_ssl_context(),
                                                  network_backend=_network_backend())

        def handle_request(self, request):
            budget = _request_budget()
            if budget is None:
                return self._plain.handle_request(request)
            where = _where(request.url)
            left = budget.remaining()
            if left <= 0:
                raise budget.stalled(where)
            timeouts = {"connect": left, "read": left, "write": left, "pool": left}  # the backend caps each op too
            core_request = httpcore2.Request(
                method=request.method,
                url=httpcore2.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                                  target=request.url.raw_path),
                headers=request.headers.raw,
                content=request.stream,
                extensions={**request.extensions, "timeout": timeouts},
            )
            try:
                response = self._pool.handle_request(core_request)
            except Exception as exc:  # noqa: BLE001 - mapped to one OfflineError, or re-raised as it is
                raise _failure(exc, where, budget) from None
            status = response.status
            if status in (408, 429) or status >= 500:  # what huggingface_hub would retry, with sleeps
                response.close()
                busy = "rate-limited this client" if status == 429 else "failed"
                raise OfflineError(f"the Hugging Face hub at {where} {busy} (HTTP {status}); try again later, "
                                   f"or {_ALTERNATIVES}")
            return httpx2.Response(status_code=status, headers=response.headers,
                                   stream=BoundedBody(response.stream, budget, where), extensions=response.extensions)

        def close(self) -> None:
            self._plain.close()
            self._pool.close()

    return HubTransport


def _hub_transport():  # the class is built on first use: httpx2 comes with huggingface_hub
    return _transport_class()()


# --- errors ------------------------------------------------------------------------------------
def _translate(exc: BaseException, repo_id: str) -> BaseException:
    """Map huggingface_hub / network exceptions to one clear VramscopeError (never quoting the server)."""
    if isinstance(exc, VramscopeError) or not isinstance(exc, Exception):
        return exc  # already clear (ours), or not an error to translate (KeyboardInterrupt, a test's failure)
    from huggingface_hub import errors as hf_errors

    name = type(exc).__name__
    status = getattr(getattr(exc, "response", None), "status_code", None)
    # LocalEntryNotFoundError (offline, not cached) subclasses EntryNotFoundError: test it first.
    if isinstance(exc, hf_errors.GatedRepoError):
        return ModelNotFoundError(
            f"{repo_id} is gated: accept its license on huggingface.co and set HF_TOKEN, "
            "or pass a local config.json"
        )
    if isinstance(exc, (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError)):
        return ModelNotFoundError(f"{repo_id} was not found on the Hugging Face hub (check the spelling; a private "
                                  "repo needs HF_TOKEN)")
    if isinstance(exc, hf_errors.LocalEntryNotFoundError) and isinstance(exc.__cause__, hf_errors.FileMetadataError):
        return OfflineError(f"the server at {_endpoint_where()} does not answer like a Hugging Face hub (no commit "
                            f"or ETag headers); check HF_ENDPOINT, or {_ALTERNATIVES}")
    if isinstance(exc, (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError)) or name in (
        "ConnectionError", "ConnectTimeout", "ReadTimeout", "ConnectError", "ReadError", "RemoteProtocolError",
    ):
        return OfflineError(
            f"cannot reach the Hugging Face hub to read {repo_id} (offline, or HF_HUB_OFFLINE=1) and it is "
            f"not in the local cache; {_ALTERNATIVES}"
        )
    if isinstance(exc, hf_errors.EntryNotFoundError):
        return ModelNotFoundError(f"{repo_id} has no config.json on the hub")
    if status in (401, 403):
        return ModelNotFoundError(f"the Hugging Face hub refused access to {repo_id} (HTTP {status}): it is private "
                                  "or gated, or HF_TOKEN is wrong or expired; set HF_TOKEN to a token with access, "
                                  "or pass a local config.json")
    if isinstance(exc, hf_errors.SafetensorsParsingError):
        return ConfigError(f"the safetensors header of {repo_id} is not valid safetensors JSON")
    if status is not None:
        return ModelNotFoundError(f"could not read {repo_id} from the Hugging Face hub (HTTP {status})")
    return ModelNotFoundError(f"could not read {repo_id} from the Hugging Face hub ({name})")


def check_reachable(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise :class:`OfflineError` at once when the hub's host cannot be reached (DNS or TCP)."""
    if endpoint is None:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT  # honours HF_ENDPOINT (mirrors)
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise OfflineError(
            f"cannot reach the Hugging Face hub at {host}:{port} ({exc.strerror or exc}); {_ALTERNATIVES}, "
            "or set HF_ENDPOINT to a mirror"
        ) from None


def _probe(budget: HubBudget) -> None:
    check_reachable(timeout=max(0.05, min(PROBE_TIMEOUT_S, budget.remaining())))


#: loggers held at WARNING while vramscope reads the hub: huggingface_hub logs each retry as a warning
#: (the CLI promises one line per error), and httpcore2's DEBUG traces print the response headers,
#: in which a misbehaving server may echo the Authorization header (the token) back
QUIET_LOGGERS = {"huggingface_hub": logging.ERROR, "httpx2": logging.WARNING, "httpcore2": logging.WARNING}
_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_quiet_saved: dict[str, int] = {}
_quiet_bars = False  # whether _quiet_hub turned huggingface_hub's progress bars off (and turns them on again)


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """Within: :data:`QUIET_LOGGERS` log nothing below their level, and huggingface_hub draws no progress
    bar (its sharded-header reads draw one on stderr); nested and concurrent uses restore once."""
    global _quiet_depth, _quiet_bars
    from huggingface_hub import constants
    from huggingface_hub import utils as hf_utils

    with _QUIET_LOCK:
        if _quiet_depth == 0:
            for name, level in QUIET_LOGGERS.items():
                log = logging.getLogger(name)
                _quiet_saved[name] = log.level
                log.setLevel(max(level, log.level))
            # HF_HUB_DISABLE_PROGRESS_BARS=0 asks for the bars explicitly (and the library warns on a change)
            _quiet_bars = constants.HF_HUB_DISABLE_PROGRESS_BARS is not False and not hf_utils.are_progress_bars_disabled()
            if _quiet_bars:
                hf_utils.disable_progress_bars()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, level in _quiet_saved.items():
                    logging.getLogger(name).setLevel(level)
                if _quiet_bars:
                    hf_utils.enable_progress_bars()


# --- config.json -------------------------------------------------------------------------------
def fetch_config(repo_id: str, revision: str | None = None, *, offline: bool = False,
                 budget: HubBudget | None = None) -> dict:
    hub = _hub()
    from .config_file import read_config

    try:
        with _local_only():
            path = hub.hf_hub_download(repo_id, "config.json", revision=revision, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - every hub failure becomes one clear error
        if offline:
            raise _translate(exc, repo_id) from exc
        budget = budget or HubBudget()

        def download() -> str:
            _probe(budget)
            return hub.hf_hub_download(repo_id, "config.json", revision=revision)

        try:
            with activity(f"reading {repo_id}/config.json from the Hugging Face hub…"), _quiet_hub():
                path = budget.run(download, _endpoint_where())
        except Exception as exc2:  # noqa: BLE001
            raise _translate(exc2, repo_id) from exc2
    return read_config(Path(path))


# --- safetensors headers -----------------------------------------------------------------------
def stored_from_header(header: object, where: str = "safetensors header") -> StoredWeights:
    """:class:`StoredWeights` from one file's raw safetensors header (its JSON, decoded), every value checked.

    The format (https://huggingface.co/docs/safetensors/index#format): a map of tensor name →
    ``{"dtype", "shape", "data_offsets"}``, plus an optional ``"__metadata__"`` map (ignored here).
    """
    if not isinstance(header, dict):
        raise ConfigError(f"{where}: a safetensors header is a JSON object, got {type(header).__name__}")
    tensors: dict[str, tuple] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise ConfigError(f"{where}: tensor {str(name)[:60]!r} is not an object with dtype, shape and "
                              "data_offsets")
        tensors[name] = (entry["dtype"], entry["shape"], entry["data_offsets"])
    return StoredWeights.from_tensors(tensors, where)


def _stored_from_meta(meta: object, repo_id: str) -> StoredWeights:
    """huggingface_hub's SafetensorsRepoMetadata → StoredWeights, through the same checks."""
    where = f"the safetensors headers of {repo_id}"
    files = getattr(meta, "files_metadata", None)
    if not isinstance(files, dict):
        raise ConfigError(f"{where}: no per-file headers")
    tensors: dict[str, tuple] = {}
    for file_name, file_meta in files.items():
        file_tensors = getattr(file_meta, "tensors", None)
        if not isinstance(file_tensors, dict):
            raise ConfigError(f"{where}: {str(file_name)[:80]} has no tensor table")
        for name, info in file_tensors.items():
            if name in tensors:
                raise ConfigError(f"{where}: tensor {str(name)[:60]!r} is stored in two files")
            row = (getattr(info, "dtype", None), getattr(info, "shape", None))
            offsets = getattr(info, "data_offsets", None)
            tensors[name] = (*row, offsets) if offsets is not None else row
    return StoredWeights.from_tensors(tensors, where)


def _cache_file(repo_id: str, revision: str | None) -> Path:
    safe = repo_id.replace("/", "__")
    return cache_dir() / "hub" / f"{safe}@{quote(revision or 'main', safe='')}.json"


def _read_cache(path: Path) -> StoredWeights | None:
    """The cached headers, or ``None`` when there is no usable entry (absent, not a regular file,
    too large, not JSON, too deeply nested, or failing StoredWeights' checks): it is refetched."""
    from .files import read_bounded

    try:
        data = json.loads(read_bounded(path, MAX_CACHE_BYTES, "vramscope cache entry"))
        return StoredWeights.from_dict(data, where=str(path))
    except (VramscopeError, ValueError, RecursionError, MemoryError):
        return None


def _write_cache(path: Path, stored: StoredWeights) -> None:
    """Best effort, and atomic: a reader never sees half an entry."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(stored.to_dict()))
        os.replace(tmp, path)
    except (OSError, ValueError):
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def fetch_stored(repo_id: str, revision: str | None = None, *, offline: bool = False,
                 budget: HubBudget | None = None) -> StoredWeights | None:
    """Per-tensor dtype and shape from the safetensors headers; ``None`` for non-safetensors repos."""
    cached = _cache_file(repo_id, revision)
    if cached.exists():
        stored = _read_cache(cached)
        if stored is not None:
            return stored
    if offline:
        return None  # not cached: the config alone still answers
    hub = _hub()
    budget = budget or HubBudget()

    def headers():
        try:
            _probe(budget)
        except OfflineError:
            return None  # config.json came from the HF cache; the config alone still answers
        return hub.get_safetensors_metadata(repo_id, revision=revision)

    try:
        with activity(f"reading the safetensors headers of {repo_id} (no weights are downloaded)…"), _quiet_hub():
            meta = budget.run(headers, _endpoint_where())
    except Exception as exc:  # noqa: BLE001
        err = _translate(exc, repo_id)
        if isinstance(err, (OfflineError, ConfigError)):
            raise err from exc
        if isinstance(err, ModelNotFoundError) and type(exc).__module__.startswith("huggingface_hub"):
            return None  # e.g. a repo with only .bin or GGUF files: the config still answers
        raise ConfigError(f"the safetensors headers of {repo_id} could not be read ({type(exc).__name__}); "
                          "they are malformed") from exc
    if meta is None:
        return None
    stored = _stored_from_meta(meta, repo_id)
    _write_cache(cached, stored)
    return stored


def spec_from_hub(repo_id: str, revision: str | None = None, *, offline: bool = False) -> ModelSpec:
    from ..families import spec_from_config

    budget = HubBudget()  # one deadline for config.json and the safetensors headers together
    config = fetch_config(repo_id, revision, offline=offline, budget=budget)
    spec = spec_from_config(config, model_id=repo_id, source="hub", where=f"{repo_id}/config.json")
    stored = fetch_stored(repo_id, revision, offline=offline, budget=budget)
    if stored is None:
        return replace(spec, assumptions=(*spec.assumptions, "stored tensor dtypes not read (offline, or no "
                                          "safetensors files): weights sized from config.json alone"))
    return replace(spec, stored=stored)
