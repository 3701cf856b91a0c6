"""A local ``config.json`` or a model directory holding one."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError, ModelNotFoundError
from ..spec import ModelSpec
from .files import read_bounded, regular_file

#: a config.json is a few KiB (the largest in the catalog, Phi-3.5-mini with its long-RoPE factor lists, is 4.5 KiB); 4 MiB leaves
#: room for configs that inline long per-layer lists, and refuses weights or other large files at once
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def read_config(path: Path) -> dict:
    """Parse a config.json, turning every way it can be broken into one ConfigError.

    The read is bounded (:data:`MAX_CONFIG_BYTES`, regular files only, never blocking).
    """
    raw = read_bounded(path, MAX_CONFIG_BYTES, "config.json")
    return parse_config(raw, str(path))


def parse_config(raw: bytes, where: str) -> dict:
    """A config.json's bytes → its top-level object, or one ConfigError saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not a UTF-8 text file (is it a weights file?)") from None
    if not text.strip():
        raise ConfigError(f"{where}: the file is empty")
    try:
        data = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's 4,300-digit limit
        raise ConfigError(f"{where}: unreadable JSON: {str(exc)[:120]}") from None
    except RecursionError:  # json's scanner refuses nesting deeper than the interpreter's recursion limit
        raise ConfigError(f"{where}: JSON nested too deeply to be a model config") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
    return data


def _constant(name: str) -> float:
    """``NaN`` / ``Infinity`` are not JSON, but Python's json accepts them; keep them as floats so
    the typed getters name the key they sit in (``'head_dim' must be an integer, got inf``)."""
    return float(name.lower().replace("infinity", "inf"))


def spec_from_path(path: Path, model_id: str | None = None) -> ModelSpec:
    """ModelSpec from a config.json file, or from a directory containing config.json."""
    from ..families import spec_from_config

    if path.is_dir():
        path = path / "config.json"
        try:
            regular_file(path, "config.json")
        except ModelNotFoundError:
            raise ModelNotFoundError(f"{path.parent} is a directory without a config.json (nor a .gguf file)") from None
    data = read_config(path)
    name = model_id or (path.parent.name if path.name == "config.json" else path.stem)
    return spec_from_config(data, model_id=name, source="config", where=str(path))
