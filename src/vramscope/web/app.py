"""The gradio page: model picker, six tabs, results that follow every change, zh/en, state in the URL.

Wiring only — what each update shows is :func:`vramscope.web.handlers.compute`, run by a
:class:`~vramscope.web.workers.Computer` (in worker processes). Events:

* a change of one tab's own input → that tab's event (``api_name`` = the tab id), which carries only
  the page, model and tab inputs — gradio's cost per event grows with its inputs;
* a change of the model, the tab or the language → ``compute``, which carries every input and
  updates the model block and the active tab;
* after either, a script merges the update's part of the query into the address bar;
* the page load restores the inputs from the URL (and the browser's language), then computes;
* which inputs apply and the language's labels are set in the browser (CSS) or by a small
  unqueued event.

``trigger_mode="always_last"`` folds a burst of changes into one update. The update events take
their inputs raw (``preprocess=False``, ``postprocess=False``: gradio would otherwise spend a thread
hop per input, which under load is what made updates slow — ``benchmarks/web_load.py``). Each
update runs in a worker within its time and memory budget (:mod:`.workers`). This module imports
gradio; ``vramscope.web.serve`` imports it only when the web app starts.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# gradio's queue keeps a record of the last GRADIO_ANALYTICS_MAX_EVENTS events (default 10,000) and,
# after every event, rebuilds a pandas summary of all of them (GRADIO_ANALYTICS_CACHE_FREQUENCY=1) —
# tens of milliseconds of the server's one GIL per update once records pile up, and half a second
# to import pandas the first time. Only gradio's monitoring dashboard (off here) reads it: keep few
# records and never summarise (either can still be set from outside).
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "200")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**12))

import gradio as gr  # noqa: E402

from . import handlers  # noqa: E402
from .i18n import choices, t  # noqa: E402
from .render import CSS  # noqa: E402
from .state import (  # noqa: E402
    DEFAULTS,
    ENGINES,
    FIELDS,
    KV_CHOICES,
    LANGS,
    NAMES,
    PAI_OPTIMIZERS,
    SOURCES,
    TABS,
    WEIGHT_CHOICES,
    lang_of,
)
from .workers import Computer  # noqa: E402

CONCURRENCY = 8  # update events in flight at once (they wait on the workers, which compute one each)
QUEUE_SIZE = 2048  # waiting events beyond this are refused with a "queue full" message

# the URL follows the inputs (an update's keys merged in, in field order); replaceState, so that
# Back still leaves the page
URL_JS = """(payload) => {
  try {
    const p = JSON.parse(payload || '{}');
    if (!p.own) return [];
    const order = __ORDER__;
    const params = new URLSearchParams(window.location.search);
    for (const k of p.own) params.delete(k);
    for (const [k, v] of new URLSearchParams(p.q || '')) params.append(k, v);
    const entries = [...params.entries()].filter(([k]) => order.includes(k))
      .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
    const q = new URLSearchParams(entries).toString();
    const url = window.location.pathname + (q ? '?' + q : '') + window.location.hash;
    if (window.location.pathname + window.location.search + window.location.hash !== url) {
      window.history.replaceState(null, '', url);
    }
  } catch (e) {}
  return [];
}""".replace("__ORDER__", json.dumps(list(NAMES)))
BOOT_JS = "() => [window.location.search || '', (navigator.languages && navigator.languages[0]) || navigator.language || '']"
COPY_JS = "() => { try { navigator.clipboard.writeText(window.location.href); } catch (e) {} return []; }"

FIELDS_BY = {f.name: f for f in FIELDS}
_RESULT_TABS = TABS  # each has a result block; "infer" and "train" also a code block


class _UI:
    """Builds the inputs and remembers how to relabel them."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang
        self.inputs: dict[str, Any] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.static: list[tuple[Any, str, str]] = []  # (component, i18n key, how: heading | markdown | button | label | tab)

    def _register(self, name: str, comp, info: str | None = None, values=None, label: str | None = None):
        self.inputs[name] = comp
        self.meta[name] = {"label": label or handlers.label_key(name), "info": info, "choices": values}
        return comp

    def text(self, name: str, info: str | None = None, **kw):
        comp = gr.Textbox(value=DEFAULTS[name], label=t(handlers.label_key(name), self.lang),
                          info=t(info, self.lang) if info else None, elem_id=f"in-{name}", max_lines=1, **kw)
        return self._register(name, comp, info)

    def drop(self, name: str, values, custom: bool = False, info: str | None = None, translate: bool = True, **kw):
        opts = choices(name, values, self.lang) if translate else list(values)
        comp = gr.Dropdown(choices=opts, value=DEFAULTS[name], label=t(handlers.label_key(name), self.lang),
                           info=t(info, self.lang) if info else None, allow_custom_value=custom, filterable=True,
                           elem_id=f"in-{name}", **kw)
        return self._register(name, comp, info, values if translate else None)

    def radio(self, name: str, values, **kw):
        comp = gr.Radio(choices=choices(name, values, self.lang), value=DEFAULTS[name],
                        label=t(handlers.label_key(name), self.lang), elem_id=f"in-{name}", **kw)
        return self._register(name, comp, None, values)

    def check(self, name: str, **kw):
        comp = gr.Checkbox(value=DEFAULTS[name], label=t(handlers.label_key(name), self.lang), elem_id=f"in-{name}", **kw)
        return self._register(name, comp)

    def md(self, key: str, heading: bool = False, **kw):
        how = "heading" if heading else "markdown"
        comp = gr.Markdown(_md(key, self.lang, how), **kw)
        self.static.append((comp, key, how))
        return comp

    def relabel(self, lang: str) -> list[Any]:
        """Updates for every input and static text, in :meth:`relabel_targets` order."""
        out = []
        for name in self.inputs:
            m = self.meta[name]
            kw: dict[str, Any] = {"label": t(m["label"], lang)}
            if m["info"]:
                kw["info"] = t(m["info"], lang)
            if m["choices"] is not None:
                kw["choices"] = choices(name, m["choices"], lang)
            out.append(gr.update(**kw))
        for _comp, key, how in self.static:
            if how in ("markdown", "heading", "button"):
                out.append(gr.update(value=_md(key, lang, how)))
            elif how == "tab":
                out.append(gr.Tab(label=t(key, lang)))
            else:
                out.append(gr.update(label=t(key, lang)))
        return out

    def relabel_targets(self) -> list[Any]:
        return [*self.inputs.values(), *(c for c, _, _ in self.static)]


def _md(key: str, lang: str, how: str) -> str:
    return ("## " if how == "heading" else "") + t(key, lang)


def _catalog_ids() -> list[str]:
    from ..api import catalog_ids

    return catalog_ids()


def _gpu_ids() -> list[str]:
    from ..api import gpu_catalog

    return [g.id for g in gpu_catalog()]


# Which inputs apply (as the seed hides the active parameters of a Dense model) is decided in the
# browser: a script writes the six deciding values on <html data-vs-…>, and CSS hides the rest —
# no round trip to the server.
VIS_FIELDS = ("src", "arch", "engine", "t_method", "r_algo", "p_arch")
VIS_JS = """(src, arch, engine, method, algo, parch) => {
  const d = document.documentElement.dataset;
  d.vsSrc = src; d.vsArch = arch; d.vsEngine = engine; d.vsMethod = method; d.vsAlgo = algo; d.vsParch = parch;
  return [];
}"""
VIS_CSS = """
html:not([data-vs-src="hub"]) #in-hub, html:not([data-vs-src="file"]) #in-file,
html:not([data-vs-src="size"]) #vs-size-row, html[data-vs-src]:not([data-vs-src="catalog"]) #in-model,
html:not([data-vs-arch="moe"]) #in-active, html:not([data-vs-engine="vllm"]) #in-util,
html:not([data-vs-engine="llamacpp"]) #in-ngl,
html[data-vs-method]:not([data-vs-method="lora"]):not([data-vs-method="dora"]):not([data-vs-method="qlora"]) #in-t_rank,
html[data-vs-method]:not([data-vs-method="lora"]):not([data-vs-method="dora"]):not([data-vs-method="qlora"]) #in-t_targets,
html[data-vs-algo]:not([data-vs-algo="grpo"]) #in-r_gens, html[data-vs-algo]:not([data-vs-algo="grpo"]) #in-r_vllm,
html:not([data-vs-parch="moe"]) #in-p_active { display: none !important; }
"""


def upload_path(value: Any) -> str | None:
    """The server path of the uploaded file, from the File input's raw value.

    The update events skip gradio's per-input preprocessing (see :func:`build`), so the File input
    arrives as gradio's file record (``{"path": …, "orig_name": …}``) — already checked by gradio to
    lie in its upload folder — rather than as a path. A path given as plain text is not an upload.
    """
    if isinstance(value, dict):
        path = value.get("path")
        return path if isinstance(path, str) and path else None
    return None


def _lang_arg(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tab_event(key: str, names: tuple[str, ...], n_out: int, limit: int, computer: Computer):
    """The update of one tab from its own inputs (``names``, then the upload and the browser's language)."""

    def compute_tab(*args):
        values = {**DEFAULTS, **dict(zip(names, args[:-2], strict=True))}
        if values.get("tab") != key:  # a restore set this tab's inputs while another tab is showing
            return [gr.skip()] * (n_out + 1)
        page = computer.compute(values, upload_path(args[-2]), max_upload=limit, browser_lang=_lang_arg(args[-1]),
                                owned=names)
        return [page.html] + ([page.code.strip()] if n_out == 2 else []) + [page.url_update]

    compute_tab.__name__ = f"compute_{key}"
    return compute_tab


def _serving_inputs(ui: _UI, prefix: str, gpu_values) -> None:
    """The deployment inputs the Inference and Fit & plan tabs share (field names ``prefix + name``)."""
    with gr.Row():
        ui.drop(f"{prefix}engine", ENGINES)
        ui.drop(f"{prefix}weights", WEIGHT_CHOICES, custom=True)
        ui.drop(f"{prefix}kv", KV_CHOICES, custom=True)
    with gr.Row():
        ui.text(f"{prefix}batch")
        ui.text(f"{prefix}context")
        ui.drop(f"{prefix}gpu", gpu_values, custom=True, info="gpu.info")
        ui.text(f"{prefix}gpus")


def build(max_upload: int | None = None, computer: Computer | None = None) -> gr.Blocks:
    """The Blocks of the web app (not launched); updates are computed by ``computer`` (in-process by default)."""
    limit = handlers.MAX_UPLOAD_BYTES if max_upload is None else max_upload
    computer = computer or Computer(workers=0)
    ui = _UI("en")
    gpu_values = ["", *_gpu_ids()]
    # uploads older than a day are removed from gradio's cache (checked every hour)
    with gr.Blocks(title=t("title", "en"), analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        with gr.Row():
            with gr.Column(scale=5):
                ui.md("title", heading=True, elem_id="vs-title")
            with gr.Column(scale=2, min_width=220):
                ui.radio("lang", LANGS, container=True)
            with gr.Column(scale=3, min_width=300):
                # the figure an estimate's headline shows: device (nvidia-smi, the default) | reserved | allocated
                ui.radio("report", FIELDS_BY["report"].choices, container=True)
            with gr.Column(scale=1, min_width=120):
                copy = gr.Button(t("copy_link", "en"), size="sm", elem_id="copy-link")
                ui.static.append((copy, "copy_link", "button"))
        ui.md("subtitle")
        tab_box = ui.text("tab", visible="hidden")
        qs_box = gr.Textbox(value="", visible="hidden", elem_id="vs-query")
        boot_q = gr.Textbox(value="", visible="hidden")
        boot_lang = gr.Textbox(value="", visible="hidden", elem_id="vs-browser-lang")

        # --- the model ---------------------------------------------------------------------------
        with gr.Group(elem_id="vs-model-picker"):
            ui.radio("src", SOURCES)
            # one of these four shows, by the source (VIS_CSS)
            ui.drop("model", _catalog_ids(), custom=True, info="model.info", translate=False)
            ui.text("hub", info="hub.info", placeholder="Qwen/Qwen3-8B")
            upload = gr.File(label=t("file", "en"), elem_id="in-file", type="filepath", height=140)
            ui.static.append((upload, "file", "label"))
            with gr.Row(elem_id="vs-size-row"):
                ui.radio("arch", ("dense", "moe"))
                ui.text("size")
                ui.text("active", placeholder="14")
        model_info = gr.HTML(elem_id="vs-model-info")

        # --- tabs ----------------------------------------------------------------------------------
        outputs: dict[str, Any] = {}
        tab_objs: dict[str, Any] = {}
        with gr.Tabs(selected=DEFAULTS["tab"], elem_id="vs-tabs") as tabs:
            with gr.Tab(t("tab_infer", "en"), id="infer", elem_id="tab-infer") as tab_objs["infer"]:
                _serving_inputs(ui, "", gpu_values)
                with gr.Row():
                    ui.text("util")
                    ui.text("ngl")
                outputs["infer"] = gr.HTML(elem_id="out-infer")
                outputs["infer_code"] = gr.Code(language="shell", label=t("export", "en"), elem_id="code-infer",
                                                interactive=False, lines=2)
                ui.static.append((outputs["infer_code"], "export", "label"))
            with gr.Tab(t("tab_train", "en"), id="train", elem_id="tab-train") as tab_objs["train"]:
                with gr.Row():
                    ui.drop("t_method", FIELDS_BY["t_method"].choices)
                    ui.drop("t_recipe", FIELDS_BY["t_recipe"].choices, info="t_recipe.info")
                    ui.drop("t_precision", FIELDS_BY["t_precision"].choices)
                    ui.drop("t_optimizer", FIELDS_BY["t_optimizer"].choices)
                    ui.text("t_rank")
                    ui.text("t_targets", info="t_targets.info")
                with gr.Row():
                    ui.text("t_batch")
                    ui.text("t_seq")
                    ui.text("t_accum")
                    ui.drop("t_ckpt", FIELDS_BY["t_ckpt"].choices)
                    ui.drop("t_attn", FIELDS_BY["t_attn"].choices)
                with gr.Row():
                    ui.drop("t_zero", FIELDS_BY["t_zero"].choices)
                    ui.drop("t_fsdp", FIELDS_BY["t_fsdp"].choices)
                    ui.drop("t_offload", FIELDS_BY["t_offload"].choices)
                    ui.text("t_tp")
                    ui.text("t_pp")
                with gr.Row():
                    ui.text("t_gpus", info="t_gpus.info")
                    ui.drop("t_gpu", gpu_values, custom=True, info="gpu.info")
                outputs["train"] = gr.HTML(elem_id="out-train")
                outputs["train_code"] = gr.Code(label=t("export_train", "en"), elem_id="code-train", interactive=False,
                                                lines=4)
                ui.static.append((outputs["train_code"], "export_train", "label"))
            with gr.Tab(t("tab_rl", "en"), id="rl", elem_id="tab-rl") as tab_objs["rl"]:
                with gr.Row():
                    ui.radio("r_algo", FIELDS_BY["r_algo"].choices)
                    ui.drop("r_method", FIELDS_BY["r_method"].choices)
                    ui.text("r_gens")
                    ui.text("r_batch")
                with gr.Row():
                    ui.text("r_prompt")
                    ui.text("r_completion")
                    ui.text("r_beta")
                    ui.drop("r_ckpt", FIELDS_BY["r_ckpt"].choices)
                with gr.Row():
                    ui.check("r_vllm")
                    ui.text("r_gpus", info="t_gpus.info")
                    ui.drop("r_gpu", gpu_values, custom=True, info="gpu.info")
                outputs["rl"] = gr.HTML(elem_id="out-rl")
            with gr.Tab(t("tab_mm", "en"), id="mm", elem_id="tab-mm") as tab_objs["mm"]:
                ui.md("mm_intro")
                with gr.Row():
                    ui.text("m_images")
                    ui.text("m_size")
                    ui.text("m_video")
                    ui.text("m_fps")
                    ui.text("m_audio")
                with gr.Row():
                    ui.text("m_prompt")
                    ui.text("m_gen")
                    ui.text("m_batch")
                    ui.drop("m_engine", FIELDS_BY["m_engine"].choices)
                    ui.drop("m_gpu", gpu_values, custom=True, info="gpu.info")
                outputs["mm"] = gr.HTML(elem_id="out-mm")
            with gr.Tab(t("tab_fit", "en"), id="fit", elem_id="tab-fit") as tab_objs["fit"]:
                ui.md("fit_intro")
                with gr.Row():
                    ui.radio("f_mode", FIELDS_BY["f_mode"].choices)
                    ui.drop("f_method", FIELDS_BY["f_method"].choices)
                    ui.text("f_seq")
                    ui.drop("f_ckpt", FIELDS_BY["f_ckpt"].choices)
                _serving_inputs(ui, "f_", gpu_values)
                outputs["fit"] = gr.HTML(elem_id="out-fit")
            with gr.Tab(t("tab_pai", "en"), id="pai", elem_id="tab-pai") as tab_objs["pai"]:
                ui.md("pai_intro")
                with gr.Row():
                    ui.radio("p_arch", ("dense", "moe"))
                    ui.text("p_params")
                    ui.text("p_active")
                    ui.text("p_concurrency")
                    ui.text("p_seq")
                with gr.Row():
                    ui.radio("p_precision", FIELDS_BY["p_precision"].choices)
                    ui.drop("p_optimizer", PAI_OPTIMIZERS)
                    ui.text("p_batch")
                outputs["pai"] = gr.HTML(elem_id="out-pai")
        for key, tab in tab_objs.items():
            ui.static.append((tab, f"tab_{key}", "tab"))

        # --- events --------------------------------------------------------------------------------
        # A change of one tab's own input updates that tab through its own event, which carries only
        # the model, page and tab inputs (gradio's cost per event grows with its inputs); a change
        # of the model, the tab or the language goes through "compute", which carries everything.
        field_comps = [ui.inputs[n] for n in NAMES]
        all_outputs = [model_info, outputs["infer"], outputs["infer_code"], outputs["train"], outputs["train_code"],
                       outputs["rl"], outputs["mm"], outputs["fit"], outputs["pai"], qs_box]

        def compute(*args):
            values = dict(zip(NAMES, args[:-2], strict=True))
            page = computer.compute(values, upload_path(args[-2]), max_upload=limit, browser_lang=_lang_arg(args[-1]))
            skip = gr.skip()
            out = [page.model_html]
            for tab in _RESULT_TABS:
                mine = tab == page.tab
                out.append(page.html if mine else skip)
                if tab in handlers.TABS_WITH_CODE:
                    out.append(page.code.strip() if mine else skip)
            out.append(page.url_update)
            return out

        # preprocess=False / postprocess=False: gradio 6 hands every input's preprocess (and every
        # output's postprocess) to a thread of its own — some 80 thread hops for "compute" — and
        # under load each hop waits for the server's GIL; that, not the estimates, made the slow
        # updates (benchmarks/web_load.py). The raw values are what the handlers want anyway:
        # text, booleans and choice values, all checked by state.normalize (an unknown choice
        # falls back to its default), and the upload's file record (upload_path). Gradio still
        # checks that an uploaded file lies in its upload folder before this runs.
        common = dict(trigger_mode="always_last", show_progress="minimal", concurrency_limit=CONCURRENCY,
                      concurrency_id="compute", preprocess=False, postprocess=False)
        shared = [*handlers.PAGE_FIELDS, *handlers.MODEL_FIELDS]
        gr.on([ui.inputs[n].change for n in shared] + [upload.change], compute,
              inputs=[*field_comps, upload, boot_lang], outputs=all_outputs, api_name="compute",
              **common).then(None, [qs_box], None, js=URL_JS, api_visibility="private")

        for key in _RESULT_TABS:
            names = (*shared, *handlers.tab_fields(key))
            tab_outputs = [outputs[key]] + ([outputs[f"{key}_code"]] if key in handlers.TABS_WITH_CODE else [])

            gr.on([ui.inputs[n].change for n in handlers.tab_fields(key)], _tab_event(key, names, len(tab_outputs), limit, computer),
                  inputs=[ui.inputs[n] for n in names] + [upload, boot_lang], outputs=[*tab_outputs, qs_box],
                  api_name=key, **common).then(None, [qs_box], None, js=URL_JS, api_visibility="private")

        for key, tab in tab_objs.items():
            tab.select(None, None, [tab_box], js=f"() => '{key}'", api_visibility="private")

        vis_inputs = [ui.inputs[n] for n in VIS_FIELDS]
        gr.on([c.change for c in vis_inputs], None, inputs=vis_inputs, outputs=None, js=VIS_JS,
              api_visibility="private")

        ui.inputs["lang"].change(ui.relabel, [ui.inputs["lang"]], ui.relabel_targets(), api_visibility="private",
                                 show_progress="hidden", queue=False)
        copy.click(None, None, None, js=COPY_JS, api_visibility="private")

        def restore(query: str, browser_lang: str, request: gr.Request):
            accept = request.headers.get("accept-language") if request is not None else None
            values = handlers.restore(query, browser_lang, accept)
            home = lang_of(browser_lang or accept)
            return [values[n] for n in NAMES] + [gr.Tabs(selected=values["tab"]), home]

        restored = demo.load(restore, [boot_q, boot_lang], [*field_comps, tabs, boot_lang], js=BOOT_JS,
                             api_visibility="private", show_progress="hidden")
        restored.then(None, vis_inputs, None, js=VIS_JS, api_visibility="private")
        restored.then(
            compute, inputs=[*field_comps, upload, boot_lang], outputs=all_outputs, api_visibility="private",
            show_progress="hidden", concurrency_id="compute", preprocess=False,
            postprocess=False).then(None, [qs_box], None, js=URL_JS, api_visibility="private")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo



def _stop_on_sigterm() -> None:
    """``kill`` stops the server as Ctrl-C does (gradio closes, the workers are shut down)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def launch(host: str = "127.0.0.1", port: int = 7860, *, block: bool = True, max_upload: int | None = None,
           quiet: bool = False, workers: int | None = None, computer: Computer | None = None) -> gr.Blocks:
    """Build and start the app; ``block=False`` returns at once (tests, benchmarks) — close with ``demo.close()``.

    ``workers``: processes that compute the updates (default :func:`~.workers.default_workers`), each
    request within the budget of :class:`~.workers.Budget` (``VRAMSCOPE_WEB_TIMEOUT``,
    ``VRAMSCOPE_WEB_MEMORY``); ``computer`` replaces them (tests). Uploads over ``max_upload``
    bytes are refused by gradio while they arrive (HTTP 413; the part written so far is deleted).
    """
    limit = handlers.env_max_upload() if max_upload is None else max_upload
    if computer is None:
        from gradio.utils import get_upload_folder

        # the workers accept an upload only from gradio's upload folder (handlers.upload_root)
        computer = Computer(workers, env={handlers.UPLOAD_ROOT_ENV: get_upload_folder()})
    computer.start()
    demo = build(limit, computer)
    close = demo.close

    def close_all(*args, **kwargs):
        computer.close()
        return close(*args, **kwargs)

    demo.close = close_all
    if block:
        _stop_on_sigterm()
    try:
        demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet, css=CSS + VIS_CSS,
                    max_file_size=limit, ssr_mode=False, show_error=False, footer_links=["api"])
    finally:
        if block:
            computer.close()
    return demo


__all__ = ["TABS", "build", "launch"]
