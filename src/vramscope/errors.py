"""The one exception family of vramscope.

Every problem caused by the user's input (a model that cannot be found, a malformed config,
an unknown format name, an impossible workload) is raised as a :class:`VramscopeError` subclass
with a message that says what is wrong and how to fix it. Presenters (CLI, web) show the message
and exit with status 2; they never show a traceback unless asked to. Anything else that reaches a
presenter is a bug in vramscope (CLI exit 3, the web's internal-error box), and so is an
:class:`InvariantError`.

    VramscopeError
    ├── ConfigError            a config.json / GGUF metadata / catalog entry that is malformed
    ├── GGUFError              a GGUF file that cannot be read
    ├── UnsupportedModelError  an architecture vramscope cannot describe
    ├── ModelNotFoundError     a reference that names nothing
    │   └── OfflineError       the hub is needed but cannot be reached
    ├── FormatError            an unknown or inapplicable weight / KV-cache format
    ├── UnknownGPUError        a GPU name that matches no catalog entry (or several)
    ├── WorkloadError          an impossible workload: an option that does not apply, a bad value
    │   └── MultimodalError    images / video / audio the model cannot take (or out of bounds)
    ├── MeasureError           the measurement harness cannot run (no CUDA, unknown case)
    └── InvariantError         an unsound estimate: a bug in vramscope, not in the input

``tests/test_errors.py`` checks that every exception raised in the package is one of these, or
one of the few internal ones listed there that never reach a presenter.
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


class UnknownGPUError(VramscopeError):
    """A GPU name that matches no built-in entry (or matches several)."""


class WorkloadError(VramscopeError):
    """A workload that cannot run as given: an option the engine, method or mode does not read, a
    value out of its range, a layout that does not divide."""


class MultimodalError(WorkloadError):
    """Images, video or audio that the model cannot take (no such encoder), or out of bounds."""


class MeasureError(VramscopeError):
    """The measurement harness (``vramscope measure``) cannot run: no CUDA, no torch, an unknown case."""


class InvariantError(VramscopeError):
    """An estimate that breaks one of its own invariants (:mod:`vramscope.invariants`): a bug in
    vramscope, not in the input. The message lists each violation and ends with "please report"."""
