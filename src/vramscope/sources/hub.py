"""A Hugging Face hub id: its config.json plus the safetensors headers (dtype and shape of every
stored tensor), read through ``huggingface_hub`` without downloading weights.

config.json goes through ``hf_hub_download`` and is read from the HF cache first (a model read once
works offline and instantly; delete it from the HF cache to refresh it); the safetensors metadata is
cached by vramscope as JSON under ``$VRAMSCOPE_CACHE`` (default ``~/.cache/vramscope``).

Before any network call the hub's host is probed with a 3 s TCP connect: without it, an offline
machine waits ~25 s through huggingface_hub's five retries (and prints each one) before failing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlparse

from ..errors import ConfigError, ModelNotFoundError, OfflineError, VramscopeError
from ..progress import activity
from ..spec import ModelSpec, StoredWeights

#: largest vramscope cache entry read back (DeepSeek-V3's ~91,000 tensors take ~8 MB)
MAX_CACHE_BYTES = 64 << 20


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


def _translate(exc: Exception, repo_id: str) -> VramscopeError:
    """Map huggingface_hub / network exceptions to one clear VramscopeError."""
    from huggingface_hub import errors as hf_errors

    name = type(exc).__name__
    # LocalEntryNotFoundError (offline, not cached) subclasses EntryNotFoundError: test it first.
    if isinstance(exc, hf_errors.GatedRepoError):
        return ModelNotFoundError(
            f"{repo_id} is gated: accept its license on huggingface.co and set HF_TOKEN, "
            "or pass a local config.json"
        )
    if isinstance(exc, (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError)):
        return ModelNotFoundError(f"{repo_id} was not found on the Hugging Face hub (check the spelling)")
    if isinstance(exc, (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError)) or name in (
        "ConnectionError", "ConnectTimeout", "ReadTimeout", "ConnectError",
    ):
        return OfflineError(
            f"cannot reach the Hugging Face hub to read {repo_id} (offline, or HF_HUB_OFFLINE=1) and it is "
            "not in the local cache; use a catalog name (vramscope models), a local config.json, or a GGUF file"
        )
    if isinstance(exc, hf_errors.EntryNotFoundError):
        return ModelNotFoundError(f"{repo_id} has no config.json on the hub")
    return ModelNotFoundError(f"could not read {repo_id} from the Hugging Face hub: {exc}")


PROBE_TIMEOUT_S = 3.0


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
            f"cannot reach the Hugging Face hub at {host}:{port} ({exc.strerror or exc}); use a catalog name "
            "(vramscope models), a local config.json, or a GGUF file, or set HF_ENDPOINT to a mirror"
        ) from None


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """huggingface_hub logs each retry as a warning; the CLI promises one line per error."""
    log = logging.getLogger("huggingface_hub")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def fetch_config(repo_id: str, revision: str | None = None, *, offline: bool = False) -> dict:
    hub = _hub()
    from .config_file import read_config

    try:
        path = hub.hf_hub_download(repo_id, "config.json", revision=revision, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - every hub failure becomes one clear error
        if offline:
            raise _translate(exc, repo_id) from exc
        check_reachable()
        try:
            with activity(f"reading {repo_id}/config.json from the Hugging Face hub…"), _quiet_hub():
                path = hub.hf_hub_download(repo_id, "config.json", revision=revision)
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


def fetch_stored(repo_id: str, revision: str | None = None, *, offline: bool = False) -> StoredWeights | None:
    """Per-tensor dtype and shape from the safetensors headers; ``None`` for non-safetensors repos."""
    cached = _cache_file(repo_id, revision)
    if cached.exists():
        stored = _read_cache(cached)
        if stored is not None:
            return stored
    if offline:
        return None  # not cached: the config alone still answers
    try:
        check_reachable()
    except OfflineError:
        return None  # config.json came from the HF cache; the config alone still answers
    hub = _hub()
    try:
        with activity(f"reading the safetensors headers of {repo_id} (no weights are downloaded)…"), _quiet_hub():
            meta = hub.get_safetensors_metadata(repo_id, revision=revision)
    except Exception as exc:  # noqa: BLE001
        err = _translate(exc, repo_id)
        if isinstance(err, OfflineError):
            raise err from exc
        if isinstance(exc, ValueError | TypeError | AttributeError | KeyError):
            raise ConfigError(f"the safetensors headers of {repo_id} could not be read ({type(exc).__name__}); "
                              "they are malformed") from exc
        return None  # e.g. a repo with only .bin or GGUF files: the config still answers
    stored = _stored_from_meta(meta, repo_id)
    _write_cache(cached, stored)
    return stored


def spec_from_hub(repo_id: str, revision: str | None = None, *, offline: bool = False) -> ModelSpec:
    from ..families import spec_from_config

    config = fetch_config(repo_id, revision, offline=offline)
    spec = spec_from_config(config, model_id=repo_id, source="hub", where=f"{repo_id}/config.json")
    stored = fetch_stored(repo_id, revision, offline=offline)
    if stored is None:
        return replace(spec, assumptions=(*spec.assumptions, "stored tensor dtypes not read (offline, or no "
                                          "safetensors files): weights sized from config.json alone"))
    return replace(spec, stored=stored)
