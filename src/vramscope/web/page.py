"""One update of the page: every input → the model block, the active tab's result and code, the URL.

:func:`compute` reads the model (memoised), runs the active tab (:mod:`.tabs`, memoised on the
tab, the model, that tab's inputs and the language, so that many people looking at the same popular
setups cost one estimate each) and never raises: bad input becomes a message on the page (in the
page's language), an unexpected failure an "internal error" box, and the server goes on.
:func:`restore` reads a link back into the inputs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..api import short_text
from ..errors import InvariantError, VramscopeError
from . import render
from .i18n import t
from .parse import (
    MAX_UPLOAD_BYTES,
    MODEL_FIELDS,
    PAGE_FIELDS,
    REPORT_TABS,
    InputError,
    ModelRef,
    allow_local,
    label_key,
    model_ref,
    tab_fields,
)
from .state import encode, invalid_choices, normalize
from .tabs import TAB_FUNCS, TABS_WITH_CODE, Shown, pai_tab

log = logging.getLogger("vramscope.web")


# --- the model -----------------------------------------------------------------------------------------
@lru_cache(maxsize=128)
def _load(ref: ModelRef):
    from ..api import load, load_file, short_text

    if ref.kind == "file":
        # the server's temporary path means nothing to the user: errors show the file's name
        return load_file(ref.ref, name=short_text(Path(ref.ref).name, 80))
    return load(ref.ref, active=ref.active, files=allow_local())


def load_spec(ref: ModelRef):
    """The ModelSpec (memoised; failures are not cached, so a hub id can be retried)."""
    return _load(ref)


# --- the page ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    """What one update shows: the model block, the active tab's result (and its code), the URL query."""

    tab: str
    model_html: str
    html: str
    code: str
    query: str
    ok: bool = True
    owned: tuple[str, ...] = ()  # the URL keys ``query`` speaks for (empty: all)

    @property
    def url_update(self) -> str:
        """What the page's script merges into the address bar: ``{"own": [keys], "q": query}``."""
        import json

        from .state import NAMES

        return json.dumps({"own": list(self.owned or NAMES), "q": self.query})


def tab_items(values: Mapping[str, Any], tab: str) -> tuple[tuple[str, Any], ...]:
    """The inputs that a tab reads (its memo key); an estimate's tab also reads the headline figure."""
    names = (*tab_fields(tab), "report") if tab in REPORT_TABS else tab_fields(tab)
    return tuple((n, values[n]) for n in names)


def _guard(fn: Callable[[], tuple[str, str]], lang: str) -> tuple[str, str, bool]:
    """Run one tab; bad input and API refusals become messages, anything else an internal-error box."""
    try:
        html, code = fn()
        return html, code, True
    except InputError as exc:
        return render.message("error", t("fix_input", lang), str(exc)), "", False
    except Shown as exc:
        return exc.html, "", False
    except VramscopeError as exc:
        if not isinstance(exc, InvariantError):  # an unsound estimate is a bug, shown and logged as one
            return render.message("error", t("api_error", lang), str(exc)), "", False
        log.exception("web handler failed")
        return render.message("error", t("internal_error", lang, kind=type(exc).__name__), str(exc)[:500]), "", False
    except MemoryError:
        raise  # the worker answers it with the memory-budget message and is replaced (web/workers.py)
    except Exception as exc:  # never let one request's surprise take the page (or the server) down
        log.exception("web handler failed")
        return render.message("error", t("internal_error", lang, kind=type(exc).__name__), str(exc)[:500]), "", False


@lru_cache(maxsize=1024)
def _tab_cached(tab: str, ref: ModelRef | None, items: tuple, lang: str) -> tuple[str, str, bool]:
    values = dict(items)
    if tab == "pai":
        return _guard(lambda: pai_tab(values, lang), lang)
    return _guard(lambda: TAB_FUNCS[tab](load_spec(ref), values, lang), lang)


@lru_cache(maxsize=256)
def _model_cached(ref: ModelRef, lang: str) -> tuple[str, str | None]:
    """(model HTML, error message or None)."""
    try:
        spec = load_spec(ref)
    except VramscopeError as exc:
        return render.message("error", t("model_error", lang), str(exc)), str(exc)
    except MemoryError:
        raise  # see _guard
    except Exception as exc:
        log.exception("loading a model failed")
        return render.message("error", t("internal_error", lang, kind=type(exc).__name__), str(exc)[:500]), str(exc)
    return render.model_html(spec, lang), None


def compute(values: Mapping[str, Any], file: str | None = None, *, max_upload: int = MAX_UPLOAD_BYTES,
            browser_lang: str | None = None, owned: tuple[str, ...] | None = None) -> Page:
    """Everything one change of the page shows. Never raises, but for MemoryError (which the worker
    running it turns into the memory-budget message, :mod:`.workers`).

    ``browser_lang`` (``en`` / ``zh``, or a browser language tag) is the language the page opens in
    without a ``lang`` in the link; the query names the language only when it differs. ``owned``
    limits the query to those keys (an update that was given only some of the inputs).
    """
    try:
        v = normalize(values)
    except Exception as exc:  # pragma: no cover - normalize accepts anything
        return Page("infer", "", render.message("error", "internal error", str(exc)), "", "", False)
    lang, tab = str(v["lang"]), str(v["tab"])
    from .state import lang_of

    query = encode(v, {"lang": lang_of(browser_lang)} if browser_lang else None, only=owned)
    ref = None
    title = "model_error"
    try:
        ref = model_ref(v, file, lang, max_upload=max_upload)
        model_html, model_error = _model_cached(ref, lang)
    except InputError as exc:
        title = "fix_input"
        model_html, model_error = render.message("error", t(title, lang), str(exc)), str(exc)
    except Exception as exc:  # pragma: no cover - model_ref only raises InputError
        log.exception("reading the model inputs failed")
        model_html, model_error = render.message("error", t("internal_error", lang, kind=type(exc).__name__), str(exc)), str(exc)
    bad = [b for b in invalid_choices(values) if b[0] in (*MODEL_FIELDS, *PAGE_FIELDS, *tab_fields(tab))]
    if bad:  # a value the page cannot offer (sent through the API, or a stale link): said, never replaced silently
        name, value, choices = bad[0]
        msg = t("err.choice", lang, label=t(label_key(name), lang), value=short_text(value, 60),
                choices=", ".join(choices))
        html, code, ok = render.message("error", t("fix_input", lang), msg), "", False
    elif tab == "pai":
        html, code, ok = _tab_cached("pai", None, tab_items(v, "pai"), lang)
    elif model_error is not None:
        html, code, ok = render.message("error", t(title, lang), model_error), "", False
    else:
        html, code, ok = _tab_cached(tab, ref, tab_items(v, tab), lang)
    if not ok and tab in TABS_WITH_CODE:
        code = "# " + t("no_command", lang)
    return Page(tab, model_html, html, code, query, ok, tuple(owned or ()))


def restore(query: str | None, browser_lang: str | None = None, accept_language: str | None = None) -> dict[str, Any]:
    """The inputs a URL asks for; the language from the URL, else the browser's, else Accept-Language."""
    from urllib.parse import parse_qsl

    from .state import decode, lang_of

    values = decode(query)
    has_lang = any(k == "lang" and v in ("en", "zh") for k, v in parse_qsl((query or "").lstrip("?")))
    if not has_lang:
        values["lang"] = lang_of(browser_lang or accept_language)
    return values


def env_max_upload() -> int:
    """The upload limit: ``VRAMSCOPE_WEB_MAX_UPLOAD`` (bytes or a size like 200MiB), else 1 GiB."""
    raw = os.environ.get("VRAMSCOPE_WEB_MAX_UPLOAD")
    if not raw:
        return MAX_UPLOAD_BYTES
    from ..units import parse_bytes

    return parse_bytes(raw if not raw.isdigit() else f"{raw}B")
