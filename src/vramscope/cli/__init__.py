"""The ``vramscope`` command line (typer + rich). A presenter: no formula lives here.

* :mod:`.entry` — the typer app and :func:`main` (one line and exit 2 for a user error, 3 for a bug);
* :mod:`.options` — the shared options and the refusals of what does not apply, in the flags' words;
* :mod:`.commands` — one function per command: options → one call of :mod:`vramscope.api` → show;
* :mod:`.show` — what each answer looks like (rich tables, or JSON).

Like every presenter it imports only ``vramscope.api``, ``errors`` and ``units`` (and, to start the
server, ``vramscope.web``; for ``measure``, the harness ``vramscope.exact.measure``):
``tests/test_architecture.py``.
"""

from __future__ import annotations

import os

# The CLI process is ours: skip pydantic's plugin discovery (an entry-point scan of every installed
# distribution, ~15 ms per start) — vramscope uses no pydantic plugin.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from . import commands  # noqa: E402  (registers the commands on ``app``)
from .entry import INTERNAL_ERROR, app, main  # noqa: E402

__all__ = ["INTERNAL_ERROR", "app", "commands", "main"]
