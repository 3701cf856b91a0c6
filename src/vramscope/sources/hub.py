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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ModelNotFoundError, OfflineError, VramscopeError
from ..progress import activity
from ..spec import ModelSpec, StoredWeights

# bytes per element of safetensors dtypes (safetensors format spec)
DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1, "F4": 0.5,
}


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



def fetch_stored(repo_id: str, revision: str | None = None, *, offline: bool = False) -> StoredWeights | None:
    """Per-tensor dtype and shape from the safetensors headers; ``None`` for non-safetensors repos."""
    safe = repo_id.replace("/", "__")
    cached = cache_dir() / "hub" / f"{safe}@{revision or 'main'}.json"
    if cached.is_file():
        try:
            data = json.loads(cached.read_text())
            return StoredWeights.from_dict(data)
        except (ValueError, KeyError, TypeError):
            pass  # a broken cache entry is refetched
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
        return None  # e.g. a repo with only .bin or GGUF files: the config still answers
    tensors = {}
    for file_meta in meta.files_metadata.values():
        for name, info in file_meta.tensors.items():
            tensors[name] = (info.dtype, tuple(info.shape))
    stored = StoredWeights.from_tensors(tensors, DTYPE_BYTES)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(stored.to_dict()))
    except OSError:
        pass  # caching is best effort
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
