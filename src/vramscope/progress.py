"""Announcing slow operations (a hub fetch, a trace) without printing from the library.

The library wraps anything that may take a second or more in ``with activity("…"):``; a presenter
(the CLI) installs a listener that shows it — a spinner on stderr — and library users see nothing
unless they install one themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

Listener = Callable[[str], AbstractContextManager]
_listener: Listener | None = None


def set_listener(listener: Listener | None) -> Listener | None:
    """Install ``listener(message) -> context manager`` (``None`` removes it); returns the previous one."""
    global _listener
    previous, _listener = _listener, listener
    return previous


@contextmanager
def activity(message: str) -> Iterator[None]:
    with _listener(message) if _listener is not None else nullcontext():
        yield
