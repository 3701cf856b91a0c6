"""What the web page does, as pure functions (no gradio): the names the app, the workers and the
tests call, gathered from the three modules that do the work —

* :mod:`.parse` — the page's inputs read into the Python API's keywords (errors in the user's words);
* :mod:`.tabs` — one function per tab: its call of :mod:`vramscope.api`, rendered by :mod:`.render`;
* :mod:`.page` — :func:`compute` (one update: model block, result, code, URL; memoised; never raises)
  and :func:`restore` (a link back into the inputs).

No memory formula lives in any of them: every number on the page comes from the API.
"""

from __future__ import annotations

from .page import (
    Page,
    _load,
    _model_cached,
    _tab_cached,
    compute,
    env_max_upload,
    load_spec,
    restore,
    tab_items,
)
from .parse import (
    ALLOW_LOCAL_ENV,
    MAX_UPLOAD_BYTES,
    MODEL_FIELDS,
    PAGE_FIELDS,
    UPLOAD_ROOT_ENV,
    InputError,
    ModelRef,
    allow_local,
    fit_kwargs,
    gpu_kwargs,
    inference_kwargs,
    label_key,
    model_ref,
    multimodal_kwargs,
    pai_inputs,
    parse_float,
    parse_image_size,
    parse_int,
    rl_kwargs,
    tab_fields,
    training_kwargs,
    upload_root,
)
from .state import TABS
from .tabs import (
    TAB_FUNCS,
    TABS_WITH_CODE,
    Shown,
    fit_tab,
    inference_tab,
    multimodal_tab,
    pai_tab,
    rl_tab,
    training_tab,
)

__all__ = ["ALLOW_LOCAL_ENV", "MAX_UPLOAD_BYTES", "MODEL_FIELDS", "PAGE_FIELDS", "TABS", "TABS_WITH_CODE",
           "TAB_FUNCS", "UPLOAD_ROOT_ENV", "InputError", "ModelRef", "Page", "Shown", "_load", "_model_cached",
           "_tab_cached", "allow_local", "compute", "env_max_upload", "fit_kwargs", "fit_tab", "gpu_kwargs",
           "inference_kwargs", "inference_tab", "label_key", "load_spec", "model_ref", "multimodal_kwargs",
           "multimodal_tab", "pai_inputs", "pai_tab", "parse_float", "parse_image_size", "parse_int", "restore",
           "rl_kwargs", "rl_tab", "tab_fields", "tab_items", "training_kwargs", "training_tab", "upload_root"]
