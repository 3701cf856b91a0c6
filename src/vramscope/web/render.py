"""HTML for the results: the stacked bar, the component table, fit and speed lines, messages.

All of the page's result HTML is written here (the tabs of :mod:`.tabs` only call these). A
presenter only: it formats what an :class:`~vramscope.estimators.result.Estimate` (or the PAI /
fit / plan results) already holds and computes nothing about memory. Every GiB figure is written
with :func:`vramscope.units.fmt_gib` and carries its exact byte count in a ``data-bytes``
attribute, so a test can compare the page with the Python API byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from ..units import GiB, fmt_count, fmt_gib
from .i18n import CATEGORY_COLORS, component_name, t

CSS = """
.vs-result { font-size: 14px; line-height: 1.45; }
.vs-head { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; margin: 4px 0 10px; }
.vs-total { font-size: 26px; font-weight: 700; }
.vs-band, .vs-sub { opacity: .8; }
.vs-fit { font-weight: 600; padding: 2px 8px; border-radius: 6px; }
.vs-ok { background: #dff3e6; color: #17633a; }
.vs-bad { background: #fbe1e1; color: #9b1c1c; }
.vs-bar { position: relative; display: flex; height: 30px; border-radius: 6px; overflow: hidden;
          background: rgba(128,128,128,.15); margin: 6px 0 4px; }
.vs-seg { height: 100%; min-width: 1px; }
.vs-cap { position: absolute; top: -3px; bottom: -3px; width: 0; border-left: 3px dashed #c62828; }
.vs-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12.5px; margin-bottom: 10px; }
.vs-dot { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.vs-table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 13px; }
.vs-table th, .vs-table td { border-bottom: 1px solid rgba(128,128,128,.25); padding: 4px 8px; text-align: left;
                             vertical-align: top; }
.vs-table td.vs-num, .vs-table th.vs-num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.vs-table tr.vs-sum td { font-weight: 700; border-top: 2px solid rgba(128,128,128,.5); }
.vs-table code { font-size: 12px; white-space: pre-wrap; }
.vs-note { opacity: .7; font-size: 12px; }
.vs-chips { display: flex; flex-wrap: wrap; gap: 4px 6px; margin: 4px 0 10px; }
.vs-chip { border: 1px solid rgba(128,128,128,.4); border-radius: 10px; padding: 0 8px; font-size: 12.5px; }
.vs-msg { border-radius: 8px; padding: 10px 14px; margin: 6px 0; }
.vs-error { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; }
.vs-info { background: rgba(79,123,217,.1); border: 1px solid rgba(79,123,217,.35); }
.vs-kv { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 6px 0 10px; }
.vs-kv .vs-big { font-size: 20px; font-weight: 700; }
.vs-h { font-weight: 700; margin: 12px 0 4px; }
.vs-figures tr.vs-headline td { font-weight: 700; }
.vs-kind { opacity: .8; font-size: 13px; }
.vs-model { font-size: 13.5px; }
.vs-model b { font-size: 15px; }
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def gib_span(nbytes: int | float, cls: str = "vs-gib", digits: int = 2) -> str:
    return f'<span class="{cls}" data-bytes="{int(nbytes)}">{e(fmt_gib(nbytes, digits))}</span>'


def message(kind: str, title: str, text: str = "") -> str:
    """A message box: ``kind`` is ``error`` or ``info``."""
    body = f"<b>{e(title)}</b>" + (f": {e(text)}" if text else "")
    role = ' role="alert"' if kind == "error" else ""
    return f'<div class="vs-msg vs-{kind}"{role} data-kind="{e(kind)}">{body}</div>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (), cls: str = "") -> str:
    """An HTML table; cells are already-escaped HTML; ``numeric`` column indexes are right-aligned."""
    num = set(numeric)
    head = "".join(f'<th class="vs-num">{h}</th>' if i in num else f"<th>{h}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        attrs = ""
        if isinstance(row, tuple) and row and isinstance(row[0], dict):
            attrs = " ".join(f'{k}="{e(v)}"' for k, v in row[0].items())
            row = row[1:]
        cells = "".join(f'<td class="vs-num">{c}</td>' if i in num else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr {attrs}>{cells}</tr>" if attrs else f"<tr>{cells}</tr>")
    return f'<table class="vs-table {cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def bar(components: Sequence[Any], lang: str, capacity: int | None = None) -> str:
    """The stacked bar of the components (widths ∝ bytes), with the GPU's memory as a dashed line."""
    total = sum(max(0, c.bytes) for c in components)
    scale = max(total, capacity or 0, 1)
    segs = []
    for c in components:
        if c.bytes <= 0:
            continue
        color = CATEGORY_COLORS.get(c.category, "#999")
        width = 100.0 * c.bytes / scale
        title = f"{component_name(c, lang)}: {fmt_gib(c.bytes)}"
        segs.append(f'<div class="vs-seg" style="width:{width:.3f}%;background:{color}" title="{e(title)}"></div>')
    cap = ""
    if capacity:
        cap = f'<div class="vs-cap" style="left:calc({100.0 * capacity / scale:.3f}% - 2px)" title="GPU {e(fmt_gib(capacity))}"></div>'
    legend = "".join(
        f'<span><span class="vs-dot" style="background:{CATEGORY_COLORS.get(c.category, "#999")}"></span>'
        f"{e(component_name(c, lang))} {e(fmt_gib(c.bytes, 1))}</span>"
        for c in components if c.bytes > 0)
    return f'<div class="vs-bar" role="img" aria-label="memory by component">{"".join(segs)}{cap}</div>' \
           f'<div class="vs-legend">{legend}</div>'


def components_table(components: Sequence[Any], per_gpu: int, low: int, high: int, lang: str,
                     report: str = "device") -> str:
    """The components with their bands and formulas; with a headline other than device, the components
    outside that figure are marked (the total row is the device figure, the sum of them all)."""
    from ..api import REPORT_POOLS

    rows = []
    for c in components:
        note = f'<div class="vs-note">{e(c.note)}</div>' if c.note else ""
        out = "" if c.memory in REPORT_POOLS[report] else \
            f' <span class="vs-note vs-out">{e(t("not_in", lang, figure=t(f"report.{report}", lang)))}</span>'
        rows.append(({"data-name": c.name},
                     e(component_name(c, lang)) + out, gib_span(c.bytes).replace(" GiB", ""),
                     f"{e(f'{c.lo / GiB:,.2f}')} – {e(f'{c.hi / GiB:,.2f}')}", f"<code>{e(c.formula)}</code>{note}"))
    rows.append(({"class": "vs-sum", "data-name": "total"}, e(t("total", lang)),
                 gib_span(per_gpu).replace(" GiB", ""), f"{low / GiB:,.2f} – {high / GiB:,.2f}", ""))
    return table([t("component", lang), t("gib", lang), t("low_high", lang), t("formula", lang)], rows, numeric=(1, 2))


def shown_figure(est: Any, report: str) -> str:
    """The figure the headline shows: ``report``, or device where the engine has no such figure (not torch)."""
    return report if est.memory.figure(report) is not None else "device"


def headline(est: Any, lang: str, report: str = "device") -> str:
    """The per-GPU figure ``report`` names (device memory by default) with its kind and band, and whether
    the estimate fits the chosen GPU(s) (always by the engine's rule on device memory)."""
    kind = shown_figure(est, report)
    fig = est.memory.figure(kind)
    parts = [f'<span class="vs-total" data-figure="{kind}" data-bytes="{fig.bytes}">{e(fmt_gib(fig.bytes))}</span>'
             f' <span class="vs-sub">{e(t("per_gpu", lang))}</span>'
             f' <span class="vs-kind">{e(t(f"report.{kind}", lang))}</span>',
             f'<span class="vs-band" data-low="{fig.low_bytes}" data-high="{fig.high_bytes}">{e(t("band", lang))} '
             f"{e(fmt_gib(fig.low_bytes))} – {e(fmt_gib(fig.high_bytes))}</span>"]
    if est.num_gpus > 1:
        total = fig.bytes * est.num_gpus
        parts.append(f'<span class="vs-sub">{e(t("total_n", lang, total=fmt_gib(total), n=est.num_gpus))}</span>')
    if est.gpu:
        key = "fits" if est.fits else "no_fit"
        cls = "vs-ok" if est.fits else "vs-bad"
        text = t(key, lang, n=est.num_gpus, gpu=est.gpu.get("name", est.gpu.get("id")),
                 mem=fmt_gib(est.gpu.get("usable_bytes", est.gpu["memory_bytes"])))
        parts.append(f'<span class="vs-fit {cls}" data-fits="{str(bool(est.fits)).lower()}">{e(text)}</span>')
    out = f'<div class="vs-head">{"".join(parts)}</div>'
    if kind != report:  # llama.cpp / Ollama: no torch figure to show
        out += message("info", t("report_fallback", lang, engine=t(f"engine.{est.engine}", lang),
                                 figure=t(f"report.{report}", lang)))
    return out


def figures(est: Any, lang: str, report: str = "device") -> str:
    """The three per-GPU figures — peak allocated, peak reserved, device — each with its band and what it
    is; the headline's row marked. An engine that is not torch shows — and why."""
    m = est.memory
    kind = shown_figure(est, report)
    rows = []
    for name in ("allocated", "reserved", "device"):
        fig = m.figure(name)
        what = "figure.device.native" if name == "device" and m.unavailable else f"figure.{name}"
        label = e(t(f"report.{name}", lang)) + (f' <span class="vs-note">◀ {e(t("headline_mark", lang))}</span>'
                                                 if name == kind else "")
        attrs = {"data-figure": name, **({"class": "vs-headline"} if name == kind else {})}
        if fig is None:
            rows.append((attrs, label, "—", "—", e(t("no_torch", lang, engine=t(f"engine.{est.engine}", lang)))))
        else:
            rows.append((attrs, label, gib_span(fig.bytes).replace(" GiB", ""),
                         f"{fig.low_bytes / GiB:,.2f} – {fig.high_bytes / GiB:,.2f}", e(t(what, lang))))
    return (f'<div class="vs-h">{e(t("figures", lang))}</div>'
            + table([t("figure", lang), t("gib", lang), t("low_high", lang), t("what", lang)], rows, numeric=(1, 2),
                    cls="vs-figures"))


def chips(items: Iterable[str]) -> str:
    return '<div class="vs-chips">' + "".join(f'<span class="vs-chip">{e(x)}</span>' for x in items) + "</div>"


def fits_on(rows: Sequence[dict], lang: str, heading_key: str = "runs_on", limit: int = 60) -> str:
    if not rows:
        return f'<div class="vs-h">{e(t(heading_key, lang))}</div><div class="vs-fits" data-count="0">{e(t("none_fit", lang))}</div>'
    labels = [r["gpu"] + (f" ×{r['count']}" if r.get("count", 1) > 1 else "") for r in rows[:limit]]
    more = f" … (+{len(rows) - limit})" if len(rows) > limit else ""
    return (f'<div class="vs-h">{e(t(heading_key, lang))}</div><div class="vs-fits" data-count="{len(rows)}">'
            f"{chips(labels)}{e(more)}</div>")


def speed(d: dict | None, lang: str) -> str:
    if not d or not d.get("decode_tokens_per_s"):
        return ""
    prefill = d.get("prefill_seconds")
    text = t("speed_line", lang, prefill=f"{prefill:.2f}" if prefill is not None else "—",
             decode=f"{d['decode_tokens_per_s']:,.0f}", per_seq=f"{d['decode_tokens_per_s_per_seq']:,.1f}")
    return f'<div class="vs-h">{e(t("speed", lang))}</div><div class="vs-speed">{e(text)}</div>'


def assumptions(items: Sequence[str], lang: str) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{e(a)}</li>" for a in items)
    return f'<details class="vs-assumptions"><summary>{e(t("assumptions", lang))} ({len(items)})</summary><ul>{lis}</ul></details>'


def rules_of_thumb(rules: Sequence[dict], lang: str) -> str:
    if not rules:
        return ""
    rows = [(e(r["rule"]), gib_span(r["bytes"], digits=1), e(f"{r['ratio_to_detailed']:.2f}"), e(r["source"]))
            for r in rules]
    return (f'<div class="vs-h">{e(t("rules", lang))}</div>'
            + table([t("rule", lang), t("gib", lang), t("ratio", lang), t("source", lang)], rows, numeric=(1, 2)))


def estimate_html(est: Any, lang: str, *, extra_top: str = "", extra: str = "", fits_heading: str = "runs_on",
                  report: str = "device") -> str:
    """The full result block of an estimate; its headline is the figure ``report`` names (device memory
    as nvidia-smi shows it by default), the three figures beside it."""
    d = est.details
    capacity = None
    if est.gpu:
        capacity = est.gpu.get("usable_bytes", est.gpu["memory_bytes"])
    out = [f'<div class="vs-result" data-mode="{e(est.mode)}" data-engine="{e(est.engine)}">', extra_top,
           headline(est, lang, report), figures(est, lang, report), bar(est.components, lang, capacity),
           components_table(est.components, est.per_gpu_bytes, est.low_bytes, est.high_bytes, lang,
                            shown_figure(est, report))]
    if "kv_capacity_tokens" in d and d.get("max_concurrency") is not None:
        text = t("kv_capacity", lang, tokens=f"{d['kv_capacity_tokens']:,}", len=f"{d.get('max_model_len') or 0:,}",
                 conc=f"{d['max_concurrency']:.2f}")
        out.append(f'<div class="vs-kvcap">{e(text)}</div>')
    if est.host_bytes:
        key = "host_training" if est.training is not None else "host"
        out.append(f'<div class="vs-host">{e(t(key, lang, mem=fmt_gib(est.host_bytes)))}</div>')
    out.append(extra)
    out.append(speed(d.get("speed"), lang))
    out.append(fits_on(d.get("fits_on") or [], lang, fits_heading))
    out.append(rules_of_thumb(d.get("rules_of_thumb") or [], lang))
    out.append(assumptions(est.assumptions, lang))
    out.append("</div>")
    return "".join(x for x in out if x)


def model_html(spec: Any, lang: str) -> str:
    """One block describing the loaded model."""
    active = t("active_part", lang, active=f"{fmt_count(spec.params_active)} ({spec.params_active:,})") if spec.is_moe else ""
    line1 = t("model_line", lang, id=spec.id, family=spec.family, arch=spec.architecture, source=spec.source)
    line2 = t("params_line", lang, total=f"{fmt_count(spec.params_total)} ({spec.params_total:,})", active=active,
              layers=spec.num_layers, hidden=spec.hidden_size, vocab=f"{spec.vocab_size:,}")
    return (f'<div class="vs-model" data-model="{e(spec.id)}" data-params="{spec.params_total}"><b>{e(line1)}</b>'
            f"<div>{e(line2)}</div>{assumptions(spec.assumptions, lang)}</div>")


# --- what each tab adds around an estimate, and the fit / PAI results ---------------------------------
def training_extra(d: dict, lang: str) -> str:
    """The trainable parameters (and the phase of the peak) and every phase's memory of a training estimate."""
    extra = ""
    if "trainable_params" in d:
        text = t("trainable", lang, n=f"{d['trainable_params']:,}", phase=d.get("peak_phase", "?"))
        extra += f'<div class="vs-trainable">{e(text)}</div>'
    phases = d.get("phases") or {}
    if phases:
        text = " · ".join(f"{k} {fmt_gib(v)}" for k, v in phases.items())
        extra += f'<div class="vs-phases">{e(t("phases", lang, text=text))}</div>'
    return extra


def quick_rules(quick: dict, lang: str) -> str:
    """The RL estimate's quick rules as chips (byte counts as GiB, other values as they are)."""
    if not quick:
        return ""
    items = [f"{k}: {fmt_gib(v)}" if isinstance(v, (int, float)) and v > 10_000 else f"{k}: {v}" for k, v in quick.items()]
    return f'<div class="vs-h">{e(t("rules", lang))}</div>{chips(items)}'


def multimodal_refusal(text: str, models: Sequence[str], lang: str) -> str:
    """Why the model takes no such input, and the catalog models that do."""
    return message("error", t("api_error", lang), text) + message("info", t("hint_vision", lang, models=", ".join(models)))


def multimodal_tokens(tokens: Any, text_tokens: int, lang: str) -> str:
    """The tokens each modality adds (rule, LLM and encoder tokens, the arithmetic) and the sequence's total."""
    rows = [(e(p.rule), e(f"{p.llm_tokens:,}"), e(f"{p.encoder_tokens:,}"), e(p.detail)) for p in tokens.parts]
    return (f'<div class="vs-h">{e(t("tokens_heading", lang))}</div>'
            + table([t("rule_col", lang), t("llm_tokens", lang), t("enc_tokens", lang), t("details", lang)],
                    rows, numeric=(1, 2))
            + f'<div class="vs-mmtotal" data-tokens="{tokens.llm_tokens}">'
            + e(t("mm_total", lang, mm=f"{tokens.llm_tokens:,}", text=f"{text_tokens:,}",
                  total=f"{tokens.llm_tokens + text_tokens:,}")) + "</div>")


def fit_html(res: Any, rows: Sequence[dict], *, batch: int, tokens: int, lang: str, limit: int = 20) -> str:
    """The Fit & plan tab: the longest context, the largest batch (and -ngl), then the cheapest GPU setups."""

    def n_tokens(n: int) -> str:
        return t("tokens_unit", lang, n=f"{n:,}") if n > 0 else t("nothing_fits", lang)

    kv = [(t("max_context", lang, batch=batch), f'<span class="vs-big vs-maxctx" data-value="{res.max_context}">'
           f"{e(n_tokens(res.max_context))}</span>"),
          (t("max_batch", lang, tokens=f"{tokens:,}"), f'<span class="vs-big vs-maxbatch" data-value="{res.max_batch}">'
           f"{res.max_batch:,}</span>")]
    if res.max_n_gpu_layers is not None:
        kv.append((t("max_ngl", lang), f'<span class="vs-big vs-maxngl" data-value="{res.max_n_gpu_layers}">'
                                       f"{res.max_n_gpu_layers}</span>"))
    grid = "".join(f"<div>{e(k)}</div><div>{v}</div>" for k, v in kv)
    html = [f'<div class="vs-result" data-mode="fit"><div class="vs-h">'
            f'{e(t("fit_heading", lang, n=res.num_gpus, gpu=res.gpu))}</div><div class="vs-kv">{grid}</div>',
            f'<div class="vs-h">{e(t("plan_heading", lang))}</div>']
    if not rows:
        html.append(message("info", t("plan_none", lang)))
    else:
        body = [({"data-gpu": r["gpu"]}, e(r["gpu"]), str(r["count"]), f"{r['tp']}×{r['pp']}",
                 gib_span(r["per_gpu_bytes"], digits=1).replace(" GiB", ""),
                 f"{r['rent_usd_per_hour']:,.2f}" if r.get("rent_usd_per_hour") else "—",
                 f"{r['price_usd']:,.0f}" if r.get("price_usd") else "—") for r in rows[:limit]]
        html.append(table([t(k, lang) for k in ("plan_gpu", "plan_count", "plan_layout", "plan_per_gpu",
                                                "plan_rent", "plan_price")], body, numeric=(1, 3, 4, 5),
                          cls="vs-plan"))
    html.append("</div>")
    return "".join(html)


def fit_training_html(res: Any, rows: Sequence[dict], chart: Sequence[dict], *, lang: str, limit: int = 20) -> str:
    """The Fit & plan tab in training mode: the longest sequence, the largest micro-batch, the
    max-context chart per memory size, then the cheapest setups that train the run (one cost basis)."""
    w = res.workload
    kv = [(t("max_seq", lang, batch=w["batch"]), f'<span class="vs-big vs-maxseq" data-value="{res.max_seq_len}">'
           f"{e(t('tokens_unit', lang, n=f'{res.max_seq_len:,}') if res.max_seq_len else t('nothing_fits', lang))}</span>"),
          (t("max_micro", lang, tokens=f"{w['seq_len']:,}"), f'<span class="vs-big vs-maxmicro" '
           f'data-value="{res.max_micro_batch}">{res.max_micro_batch:,}</span>')]
    grid = "".join(f"<div>{e(k)}</div><div>{v}</div>" for k, v in kv)
    html = [f'<div class="vs-result" data-mode="fit-train"><div class="vs-h">'
            f'{e(t("fit_heading", lang, n=res.num_gpus, gpu=res.gpu))}</div><div class="vs-kv">{grid}</div>',
            f'<div class="vs-h">{e(t("chart_heading", lang, batch=w["batch"]))}</div>', context_chart(chart, lang, w["batch"]),
            f'<div class="vs-h">{e(t("plan_train_heading", lang))}</div>']
    if not rows:
        html.append(message("info", t("plan_none", lang)))
    else:
        body = [({"data-gpu": r["gpu"]}, e(r["gpu"]), str(r["count"]), e(r["changes"] if r["changes"] != "as given"
                                                                          else t("as_given", lang)),
                 gib_span(r["per_gpu_bytes"], digits=1).replace(" GiB", ""),
                 f"{r['rent_usd_per_hour']:,.2f}" if r.get("rent_usd_per_hour") else "—") for r in rows[:limit]]
        html.append(table([t(k, lang) for k in ("plan_gpu", "plan_count", "plan_changes", "plan_per_gpu", "plan_rent")],
                          body, numeric=(1, 3, 4), cls="vs-plan vs-plan-train"))
    html.append("</div>")
    return "".join(html)


def context_chart(rows: Sequence[dict], lang: str, batch: int, width: int = 560, bar: int = 22) -> str:
    """A horizontal bar chart (inline SVG) of the longest sequence per GPU memory size."""
    top = max((r["max_seq_len"] for r in rows), default=0) or 1
    label_w, gap = 70, 6
    height = len(rows) * (bar + gap)
    parts = [f'<svg class="vs-chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'aria-label="{e(t("chart_heading", lang, batch=batch))}">']
    for i, r in enumerate(rows):
        y = i * (bar + gap)
        n = r["max_seq_len"]
        w = int((width - label_w - 110) * n / top)
        text = t("tokens_unit", lang, n=f"{n:,}") if n else t("nothing_fits", lang)
        parts.append(f'<g class="vs-bar" data-memory="{e(r["memory"])}" data-value="{n}">'
                     f'<text x="0" y="{y + bar - 6}" font-size="13">{e(r["memory"])}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar}" fill="#4f7cff"></rect>'
                     f'<text x="{label_w + w + 6}" y="{y + bar - 6}" font-size="13">{e(text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def pai_html(tables: dict[str, Sequence[Any]], lang: str) -> str:
    """The seed's two PAI tables (:func:`vramscope.api.pai_tables`): scenario, GB as the seed rounds it, GPUs."""

    def rows(results: Sequence[Any]) -> list:
        out = []
        for row in results:
            r = row.result
            gpus = ", ".join(a["gpu"] + (f" ×{a['count']}" if a["count"] > 1 else "") for a in row.gpus) or "—"
            out.append(({"data-scenario": r.scenario}, e(t(f"pai.{r.scenario}", lang)),
                        f'<span class="vs-gb" data-gb="{r.total_gb:.6f}">{row.shown_gb:,.1f}</span>', e(gpus)))
        return out

    headers = [t("pai_scenario", lang), t("pai_need", lang), t("pai_gpus", lang)]
    return ('<div class="vs-result" data-mode="pai">'
            f'<div class="vs-h">{e(t("pai_infer_heading", lang))}</div>'
            + table(headers, rows(tables["inference"]), numeric=(1,), cls="vs-pai-infer")
            + f'<div class="vs-h">{e(t("pai_ft_heading", lang))}</div>'
            + table(headers, rows(tables["finetune"]), numeric=(1,), cls="vs-pai-ft")
            + f'<div class="vs-note">{e(t("pai_seq_note", lang))}</div></div>')
