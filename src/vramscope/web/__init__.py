"""The web calculator (``vramscope web``): a gradio page over the Python API.

* :mod:`.state` — the page's inputs and their URL form (encode / decode);
* :mod:`.i18n` — the English and Chinese strings;
* :mod:`.handlers` — pure functions from the inputs to what the page shows (no gradio);
* :mod:`.render` — HTML of the results;
* :mod:`.workers` — the processes that compute the updates;
* :mod:`.app` — the gradio Blocks and the launcher (imports gradio).

gradio is an optional extra (``pip install 'vramscope[web]'``), imported only by :func:`serve`.
"""

from __future__ import annotations

from ..errors import VramscopeError

INSTALL_HINT = "the web app needs gradio: pip install 'vramscope[web]'"
#: ``vramscope web --allow-local DIR`` sets this (inherited by the worker processes): the one folder
#: whose files the Model field may name. Unset, the server reads no file it was not handed as an upload.
ALLOW_LOCAL_ENV = "VRAMSCOPE_WEB_ALLOW_LOCAL"
#: the folder uploads arrive in (set by the app from gradio's upload folder); an upload path outside
#: it is refused, so that no request can pass a server path off as an upload.
UPLOAD_ROOT_ENV = "VRAMSCOPE_WEB_UPLOAD_ROOT"


def serve(host: str = "127.0.0.1", port: int = 7860, *, block: bool = True, max_upload: int | None = None,
          quiet: bool = False, workers: int | None = None):
    """Start the web app on http://host:port; returns the gradio Blocks (at once when ``block=False``)."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise VramscopeError(INSTALL_HINT) from None
    if not 0 < port < 65536:
        raise VramscopeError(f"--port must be between 1 and 65535, got {port}")
    from .app import launch

    try:
        return launch(host, port, block=block, max_upload=max_upload, quiet=quiet, workers=workers)
    except OSError as exc:
        why = "the port is in use" if "empty port" in str(exc) else str(exc)
        raise VramscopeError(f"cannot serve on {host}:{port}: {why}; pass another --port (or --host)") from None


__all__ = ["ALLOW_LOCAL_ENV", "INSTALL_HINT", "UPLOAD_ROOT_ENV", "serve"]
