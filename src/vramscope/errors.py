"""The one exception family of vramscope.

Every problem caused by the user's input (a model that cannot be found, a malformed config,
an unknown format name, an impossible workload) is raised as a :class:`VramscopeError` subclass
with a message that says what is wrong and how to fix it. Presenters (CLI, web) show the message
and exit with status 2; they never show a traceback unless asked to.
"""

from __future__ import annotations


class VramscopeError(Exception):
    """Base class: a clear, actionable problem with what the user asked for."""


class ConfigError(VramscopeError):
    """A model config (config.json, GGUF metadata, catalog entry) is malformed or inconsistent."""


class UnsupportedModelError(VramscopeError):
    """The model's architecture is not one vramscope can describe."""


class ModelNotFoundError(VramscopeError):
    """A model reference matches nothing: not in the catalog, not a file, not reachable on the hub."""


class FormatError(VramscopeError):
    """An unknown or inapplicable weight / KV-cache format name."""


class GGUFError(VramscopeError):
    """A GGUF file that cannot be read (corrupt, truncated, or not GGUF)."""


class OfflineError(ModelNotFoundError):
    """The Hugging Face hub is needed but cannot be reached."""


class InvariantError(VramscopeError):
    """An estimate that breaks one of its own invariants (:mod:`vramscope.invariants`): a bug in
    vramscope, not in the input. The message lists each violation and ends with "please report"."""
