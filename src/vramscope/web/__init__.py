"""The web calculator (``vramscope web``): a gradio page over the Python API.

* :mod:`.state` — the page's inputs and their URL form (encode / decode);
* :mod:`.i18n` — the English and Chinese strings;
* :mod:`.parse` — the inputs read into the API's keywords, errors in the user's words;
* :mod:`.tabs` — one function per tab: its call of :mod:`vramscope.api`, handed to :mod:`.render`;
* :mod:`.page` — one update of the page (memoised, never raises) and a link read back;
* :mod:`.handlers` — those three's names in one place (what the app, workers and tests call);
* :mod:`.render` — all the HTML of the results;
* :mod:`.workers` — the processes that compute the updates;
* :mod:`.app` — the gradio Blocks and the launcher (imports gradio).

gradio is an optional extra (``pip install 'vramscope[web]'``), imported only by :func:`serve`.
"""

from __future__ import annotations

from ..errors import VramscopeError

INSTALL_HINT = "the web app needs gradio: pip install 'vramscope[web]'"


def serve(host: str = "127.0.0.1", port: int = 7860, *, block: bool = True, max_upload: int | None = None,
          quiet: bool = False, workers: int | None = None, allow_local: str | None = None):
    """Start the web app on http://host:port; returns the gradio Blocks (at once when ``block=False``).

    ``allow_local`` is the one folder whose files the Model field may name (``vramscope web
    --allow-local DIR``); None (the default): the server reads no file it was not handed as an upload.
    """
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise VramscopeError(INSTALL_HINT) from None
    if not 0 < port < 65536:
        raise VramscopeError(f"--port must be between 1 and 65535, got {port}")
    import os

    from .parse import ALLOW_LOCAL_ENV

    if allow_local is not None:
        os.environ[ALLOW_LOCAL_ENV] = str(allow_local)  # read by the handlers, inherited by the worker processes
    else:
        os.environ.pop(ALLOW_LOCAL_ENV, None)
    from .app import launch

    try:
        return launch(host, port, block=block, max_upload=max_upload, quiet=quiet, workers=workers)
    except OSError as exc:
        why = "the port is in use" if "empty port" in str(exc) else str(exc)
        raise VramscopeError(f"cannot serve on {host}:{port}: {why}; pass another --port (or --host)") from None


__all__ = ["INSTALL_HINT", "serve"]
