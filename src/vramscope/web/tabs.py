"""One function per tab: (model, the tab's inputs, language) → (result HTML, code box).

Each reads its inputs through :mod:`.parse`, makes its call of :mod:`vramscope.api` (one estimate,
or fit and plan, or the PAI tables), and hands the answer to :mod:`.render`. No formula and no HTML
here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from ..errors import InvariantError, MultimodalError, VramscopeError
from . import render
from .parse import (
    fit_kwargs,
    inference_kwargs,
    multimodal_kwargs,
    pai_inputs,
    rl_kwargs,
    training_kwargs,
)

#: the tabs whose result comes with a command line or config
TABS_WITH_CODE = ("infer", "train")


class Shown(VramscopeError):
    """A refusal already rendered as HTML (a message with a hint)."""

    def __init__(self, html: str) -> None:
        super().__init__(html)
        self.html = html


def _export(target: str, spec, kw: dict[str, Any]) -> str:
    from ..export import export

    try:
        return export(target, spec, **kw)
    except InvariantError:
        raise  # a bug: the internal-error box, not a comment in the snippet
    except VramscopeError as exc:
        return f"# {target}: {exc}"


def inference_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import estimate

    kw = inference_kwargs(values, lang)
    est = estimate(spec, **kw)
    html = render.estimate_html(est, lang, report=values.get("report", "device"))
    export_kw = {k: v for k, v in kw.items() if k != "engine"}
    if kw["engine"] == "llamacpp":
        code = _export("llamacpp", spec, export_kw)
    else:
        export_kw.pop("n_gpu_layers", None)
        code = _export("vllm", spec, export_kw)
        if kw["engine"] == "hf":
            code = "# the same workload served by vLLM\n" + code
    return html, code


def training_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import estimate

    kw = training_kwargs(values, lang)
    est = estimate(spec, **kw)
    html = render.estimate_html(est, lang, extra=render.training_extra(est.details, lang), fits_heading="runs_on_train",
                                report=values.get("report", "device"))
    target = "fsdp" if est.workload["fsdp"] != "none" else "deepspeed"
    code = _export(target, spec, dict(kw))
    return html, code


def rl_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import estimate

    est = estimate(spec, **rl_kwargs(values, lang))
    extra = render.quick_rules(est.details.get("quick_rules") or {}, lang)
    return render.estimate_html(est, lang, extra=extra, fits_heading="runs_on_train",
                                report=values.get("report", "device")), ""


@lru_cache(maxsize=1)
def multimodal_catalog_models() -> tuple[str, ...]:
    """Catalog models with a vision or audio encoder (for the hint)."""
    from ..api import multimodal_catalog_ids

    return multimodal_catalog_ids()


def multimodal_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import estimate_multimodal

    kw = multimodal_kwargs(values, lang)
    try:
        res = estimate_multimodal(spec, **kw)
    except MultimodalError as exc:  # the model has no such encoder (or an input is out of bounds): say which have
        raise Shown(render.multimodal_refusal(str(exc), multimodal_catalog_models(), lang)) from None
    head = render.multimodal_tokens(res.tokens, kw["prompt_len"] + kw["gen_len"], lang)
    return render.estimate_html(res.estimate, lang, extra_top=head, report=values.get("report", "device")), ""


#: the memory sizes of the training max-context chart (Unsloth's table's cards)
CHART_SIZES = ("8GiB", "12GiB", "16GiB", "24GiB", "40GiB", "48GiB", "80GiB")


def fit_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import fit, fit_table, plan

    kw = fit_kwargs(values, lang)
    if "method" in kw:
        gpu_less = {k: v for k, v in kw.items() if k not in ("gpu", "gpu_memory", "gpus")}
        res = fit(spec, **kw)
        rows = plan(spec, gpus=None, **gpu_less)
        chart = fit_table(spec, list(CHART_SIZES), gpus=kw.get("gpus"), **gpu_less)
        return render.fit_training_html(res, rows, chart, lang=lang), ""
    res = fit(spec, **kw)
    rows = plan(spec, **{k: v for k, v in kw.items() if k not in ("gpu", "gpu_memory", "gpus")})
    return render.fit_html(res, rows, batch=kw["batch"], tokens=kw["context"], lang=lang), ""


def pai_tab(values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import pai_tables

    x = pai_inputs(values, lang)
    tables = pai_tables(x["params_b"], active_params_b=x["active_params_b"], is_moe=x["is_moe"],
                        concurrency=x["concurrency"], precision=x["precision"], optimizer=x["optimizer"],
                        batch_size=x["batch_size"])
    return render.pai_html(tables, lang), ""


TAB_FUNCS: dict[str, Callable[..., tuple[str, str]]] = {
    "infer": inference_tab, "train": training_tab, "rl": rl_tab, "mm": multimodal_tab, "fit": fit_tab,
}
