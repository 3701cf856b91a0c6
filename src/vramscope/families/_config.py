"""Validated reads of a config.json dictionary.

Every read says which file and key it came from, so a bad value becomes a one-line error such as
``config.json: 'hidden_size' must be a positive integer, got -4096``. Reads that fall back to a
default record an assumption, so nothing assumed is silent.
"""

from __future__ import annotations

from typing import Any

from ..bounds import checked_int
from ..errors import ConfigError

_MISSING = object()


class Cfg:
    """A config dictionary with typed, validated getters."""

    def __init__(self, data: Any, where: str = "config.json", assumptions: list[str] | None = None):
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data = data
        self.where = where
        self.assumptions = assumptions if assumptions is not None else []

    def with_defaults(self, defaults: dict[str, Any], family: str) -> Cfg:
        """This config with the family's transformers config-class defaults under it.

        transformers fills every key a config.json leaves out from its config class; so do we,
        and each default that is used is recorded as an assumption.
        """
        missing = {k: v for k, v in defaults.items() if self.data.get(k) is None}
        if not missing:
            return self
        for k, v in missing.items():
            self.assumptions.append(f"{self.where} has no '{k}': using the {family} default {v}")
        return Cfg({**self.data, **missing}, self.where, self.assumptions)

    # --- sub-configs ---------------------------------------------------------------------------
    def sub(self, key: str, *, required: bool = False) -> Cfg | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise ConfigError(f"{self.where}: missing '{key}' (a nested config object is required)")
            return None
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}: '{key}' must be an object, got {type(value).__name__}")
        return Cfg(value, f"{self.where} → {key}", self.assumptions)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key)
        return default if value is None else value

    # --- typed getters ---------------------------------------------------------------------------
    def _lookup(self, keys: tuple[str, ...]) -> tuple[str, Any]:
        for key in keys:
            if self.data.get(key) is not None:
                return key, self.data[key]
        return keys[0], _MISSING

    def int(
        self,
        *keys: str,
        default: Any = _MISSING,
        minimum: int = 1,
        maximum: int | None = None,
        assume: str | None = None,
    ) -> int:
        """A positive (or ``>= minimum``) integer from the first of ``keys`` that is present.

        With ``default`` the value is optional; ``assume`` (a sentence) is recorded when the
        default is used. A value must be a finite integral number; ``maximum`` defaults to the
        bound of the key's kind (:func:`vramscope.bounds.bound_for`: layers, heads, width …).
        """
        key, value = self._lookup(keys)
        if value is _MISSING:
            if default is _MISSING:
                names = " or ".join(f"'{k}'" for k in keys)
                raise ConfigError(f"{self.where}: missing {names}; this field is required for this architecture")
            if assume:
                self.assumptions.append(assume)
            return default
        return checked_int(value, where=self.where, key=key, minimum=minimum, maximum=maximum)

    def opt_int(self, *keys: str, minimum: int = 1, maximum: int | None = None) -> int | None:
        key, value = self._lookup(keys)
        if value is _MISSING:
            return None
        return self.int(key, minimum=minimum, maximum=maximum)

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}: '{key}' must be true or false, got {value!r}")
        return value

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigError(f"{self.where}: '{key}' must be a string, got {value!r}")
        return value

    def int_list(self, key: str) -> list[int] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise ConfigError(f"{self.where}: '{key}' must be a list of non-negative integers, got {value!r}")
        return value

    def str_list(self, key: str, length: int | None = None) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}: '{key}' must be a list of strings, got {value!r}")
        if length is not None and len(value) != length:
            raise ConfigError(
                f"{self.where}: '{key}' has {len(value)} entries but the model has {length} layers"
            )
        return value

    def dtype(self) -> str:
        """The stored dtype (``torch_dtype``, or ``dtype`` in transformers ≥ 4.56 configs)."""
        value = self.data.get("torch_dtype") or self.data.get("dtype")
        if value is None:
            return "bfloat16"
        if not isinstance(value, str):
            raise ConfigError(f"{self.where}: 'torch_dtype' must be a string, got {value!r}")
        return value.removeprefix("torch.")

    def head_dim(self, hidden: int, heads: int, key: str = "head_dim") -> int:
        """The config's ``head_dim`` when present, else hidden/heads (stated as an assumption)."""
        if self.has(key):
            return self.int(key)
        if hidden % heads:
            raise ConfigError(
                f"{self.where}: hidden_size {hidden} is not divisible by num_attention_heads {heads} "
                f"and no '{key}' is given"
            )
        return hidden // heads
