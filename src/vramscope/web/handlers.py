"""What the web page does, as pure functions: page inputs (a flat dict of text) → HTML and text.

The page calls :func:`compute` with every input's value; it reads the model, parses the active
tab's inputs into the keyword arguments of the Python API (:func:`inference_kwargs`,
:func:`training_kwargs` …), calls ``vramscope.estimate`` / ``fit`` / ``plan`` / ``export`` / the
PAI module, and renders the result. No memory formula lives here: every number on the page comes
from the API. Nothing raises out of :func:`compute`: bad input becomes a message on the page
(in the page's language), an unexpected failure an "internal error" box, and the server goes on.

Results are memoised on (tab, model, that tab's inputs, language), so that many people looking
at the same popular setups cost one estimate each.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..bounds import MAX_BARE_SIZE
from ..errors import InvariantError, VramscopeError
from ..sources.files import regular_file, short_text
from ..units import fmt_gib
from ..workload import MAX_BATCH, MAX_TOKENS
from . import render
from .i18n import t
from .state import DEFAULTS, TABS, encode, invalid_choices, normalize

log = logging.getLogger("vramscope.web")

MAX_UPLOAD_BYTES = 1 << 30  # 1 GiB: config.json files are KiB; small GGUF files fit, large ones are refused
LORA_METHODS = ("lora", "dora", "qlora")
TAB_PREFIX = {"infer": None, "train": "t_", "rl": "r_", "mm": "m_", "fit": "f_", "pai": "p_"}
INFER_FIELDS = ("engine", "weights", "kv", "batch", "context", "gpu", "gpus", "util", "ngl")
TABS_WITH_CODE = ("infer", "train")
MODEL_FIELDS = ("src", "model", "hub", "arch", "size", "active")
PAGE_FIELDS = ("tab", "lang")


def tab_fields(tab: str) -> tuple[str, ...]:
    """The inputs only one tab reads."""
    from .state import NAMES

    prefix = TAB_PREFIX[tab]
    return INFER_FIELDS if prefix is None else tuple(n for n in NAMES if n.startswith(prefix))

# label keys of fields that share another field's label
_LABEL_ALIASES = {"t_gpu": "gpu", "r_gpu": "gpu", "m_gpu": "gpu", "f_gpu": "gpu", "r_gpus": "t_gpus",
                  "f_gpus": "gpus", "f_batch": "batch", "f_context": "context", "f_engine": "engine",
                  "m_engine": "engine", "f_weights": "weights", "f_kv": "kv", "r_batch": "r_batch"}


class InputError(VramscopeError):
    """A page input that cannot be read; the message is already in the page's language."""


class Shown(VramscopeError):
    """A refusal already rendered as HTML (a message with a hint)."""

    def __init__(self, html: str) -> None:
        super().__init__(html)
        self.html = html


def label_key(name: str) -> str:
    """The i18n key of a field's label."""
    from .i18n import has

    if name in _LABEL_ALIASES:
        return _LABEL_ALIASES[name]
    if has(name):
        return name
    suffix = name.split("_", 1)[-1]
    return suffix if has(suffix) else name


# --- parsing page text into numbers --------------------------------------------------------------
def _raw(values: Mapping[str, Any], name: str) -> str:
    v = values.get(name, DEFAULTS.get(name, ""))
    return "" if v is None else str(v).strip()


def _field(values: Mapping[str, Any], name: str, lang: str, required: bool) -> tuple[str, str, str] | None:
    """(raw text, text without separators, label) of a number field; None when empty and optional."""
    raw = _raw(values, name)
    label = t(label_key(name), lang)
    if not raw:
        if required:
            raise InputError(t("err.empty", lang, label=label))
        return None
    return raw, raw.replace(",", "").replace("_", "").replace(" ", ""), label


def parse_int(values: Mapping[str, Any], name: str, lang: str, *, lo: int = 1, hi: int | None = None,
              tokens: bool = False, required: bool = True) -> int | None:
    """A whole number from a text field; ``tokens`` accepts ``32k`` (= 32768). Empty → None when not required."""
    field = _field(values, name, lang, required)
    if field is None:
        return None
    raw, text, label = field
    factor = 1
    if tokens and text[-1:] in ("k", "K"):
        factor, text = 1024, text[:-1]
    try:
        number = float(text)
    except ValueError:
        raise InputError(t("err.int", lang, label=label, value=raw)) from None
    if not math.isfinite(number) or number != int(number):
        raise InputError(t("err.int", lang, label=label, value=raw))
    value = int(number) * factor
    if value < lo:
        raise InputError(t("err.min", lang, label=label, min=lo, value=value))
    if hi is not None and value > hi:
        raise InputError(t("err.max", lang, label=label, max=hi, value=value))
    return value


def parse_float(values: Mapping[str, Any], name: str, lang: str, *, lo: float = 0.0, hi: float | None = None,
                lo_open: bool = False, required: bool = True) -> float | None:
    """A number from a text field; ``lo_open`` refuses ``lo`` itself (for "must be positive")."""
    field = _field(values, name, lang, required)
    if field is None:
        return None
    raw, text, label = field
    if text[-1:] in ("b", "B") and name in ("size", "active", "p_params", "p_active"):
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        raise InputError(t("err.number", lang, label=label, value=raw)) from None
    if not math.isfinite(value):
        raise InputError(t("err.number", lang, label=label, value=raw))
    if value < lo or (lo_open and value == lo):
        key = "err.positive" if lo_open else "err.min"
        raise InputError(t(key, lang, label=label, min=f"{lo:g}", value=f"{value:g}"))
    if hi is not None and value > hi:
        raise InputError(t("err.max", lang, label=label, max=f"{hi:g}", value=f"{value:g}"))
    return value


def parse_image_size(values: Mapping[str, Any], name: str, lang: str) -> tuple[int, int]:
    raw = _raw(values, name)
    m = re.fullmatch(r"\s*(\d{1,6})\s*[x×X*,]\s*(\d{1,6})\s*", raw)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise InputError(t("err.size", lang, label=t(label_key(name), lang), value=raw))
    return int(m.group(1)), int(m.group(2))


def gpu_kwargs(value: object) -> dict[str, str]:
    """A GPU field: a catalog name → ``gpu``; a memory size (starts with a digit: 24GiB, 80 GB) → ``gpu_memory``."""
    text = "" if value is None else str(value).strip()
    if not text:
        return {}
    return {"gpu_memory": text} if text[0].isdigit() else {"gpu": text}


def _plain_number(x: float) -> str:
    """7.0 → '7', 1.5 → '1.5', 0.0005 → '0.0005' (no exponent, for a bare size like 1.5B)."""
    from decimal import Decimal

    text = format(Decimal(repr(x)).normalize(), "f")
    return text


# --- the model -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRef:
    """How to load the chosen model again (hashable: the memo key)."""

    kind: str  # "ref" (catalog / hub / size) or "file"
    ref: str
    active: str | None = None
    stamp: tuple[int, int] = (0, 0)  # file size and mtime


def model_ref(values: Mapping[str, Any], file: str | None, lang: str, *,
              max_upload: int = MAX_UPLOAD_BYTES) -> ModelRef:
    """Which model the inputs name; raises InputError when an input is missing or unreadable."""
    src = values.get("src", "catalog")
    if src == "catalog":
        ref = _raw(values, "model")
        if not ref:
            raise InputError(t("err.no_model", lang))
        return ModelRef("ref", ref)
    if src == "hub":
        ref = _raw(values, "hub")
        if not ref:
            raise InputError(t("err.no_hub", lang))
        return ModelRef("ref", ref)
    if src == "file":
        if not file:
            raise InputError(t("err.no_file", lang))
        path = Path(str(file))
        name = short_text(path.name, 80)
        if path.suffix.lower() not in (".json", ".gguf"):
            raise InputError(t("err.file_type", lang, name=name))
        root = upload_root()
        if root is not None and not _inside(path, root):
            # gradio hands over only files it wrote to its upload folder; anything else is refused
            raise InputError(t("err.file_gone", lang))
        try:
            st = regular_file(path, "uploaded file")
        except VramscopeError:
            raise InputError(t("err.file_gone", lang)) from None
        if st.st_size > max_upload:
            raise InputError(t("err.file_big", lang, name=name, size=fmt_gib(st.st_size), limit=fmt_gib(max_upload)))
        return ModelRef("file", str(path), None, (st.st_size, int(st.st_mtime_ns)))
    # a bare size, as in the seed: Dense, or MoE with its active parameters
    total = parse_float(values, "size", lang, lo=0.0, lo_open=True, hi=MAX_BARE_SIZE / 1e9)
    active = None
    if values.get("arch") == "moe":
        if not _raw(values, "active"):
            raise InputError(t("err.moe_active", lang))
        a = parse_float(values, "active", lang, lo=0.0, lo_open=True, hi=MAX_BARE_SIZE / 1e9)
        if a > total:
            raise InputError(t("err.active_big", lang, active=f"{a:g}", total=f"{total:g}"))
        active = f"{_plain_number(a)}B"
    return ModelRef("ref", f"{_plain_number(total)}B", active)


#: ``vramscope web --allow-local DIR`` sets this (inherited by the worker processes): the one folder
#: whose files the Model field may name. Unset, the server reads no file it was not handed as an upload.
ALLOW_LOCAL_ENV = "VRAMSCOPE_WEB_ALLOW_LOCAL"
#: the folder uploads arrive in (set by the app from gradio's upload folder); an upload path outside
#: it is refused, so that no request can pass a server path off as an upload.
UPLOAD_ROOT_ENV = "VRAMSCOPE_WEB_UPLOAD_ROOT"


def allow_local() -> Path | bool:
    """The folder the Model field may read from, or False (the default: catalog, hub ids and sizes only)."""
    raw = os.environ.get(ALLOW_LOCAL_ENV, "").strip()
    return Path(raw) if raw else False


def upload_root() -> Path | None:
    raw = os.environ.get(UPLOAD_ROOT_ENV, "").strip()
    return Path(raw) if raw else None


def _inside(path: Path, root: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
    except (OSError, ValueError):
        return False


@lru_cache(maxsize=128)
def _load(ref: ModelRef):
    from ..sources import load_model

    if ref.kind == "file":
        path = Path(ref.ref)
        try:
            if path.suffix.lower() == ".json":
                from ..sources.config_file import spec_from_path

                return spec_from_path(path, model_id=f"upload:{short_text(path.name, 80)}")
            from ..sources.gguf_file import spec_from_gguf

            return spec_from_gguf(path)
        except VramscopeError as exc:
            # the server's temporary path means nothing to the user: show the file name
            raise type(exc)(str(exc).replace(str(path), short_text(path.name, 80))) from None
    return load_model(ref.ref, active=ref.active, files=allow_local())


def load_spec(ref: ModelRef):
    """The ModelSpec (memoised; failures are not cached, so a hub id can be retried)."""
    return _load(ref)


# --- keyword arguments of the Python API, one builder per tab ---------------------------------------
def inference_kwargs(values: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """``vramscope.estimate`` keywords of the Inference tab."""
    engine = values.get("engine", "hf")
    kw: dict[str, Any] = {"engine": engine,
                          "batch": parse_int(values, "batch", lang, lo=1, hi=MAX_BATCH),
                          "context": parse_int(values, "context", lang, lo=1, hi=MAX_TOKENS, tokens=True)}
    if _raw(values, "weights"):
        kw["weights"] = _raw(values, "weights")
    kv = _raw(values, "kv")
    if kv and kv != "auto":
        kw["kv_dtype"] = kv
    gpus = parse_int(values, "gpus", lang, lo=1, hi=1024)
    if gpus > 1:
        kw["gpus"] = gpus
    if engine == "vllm":
        kw["gpu_memory_utilization"] = parse_float(values, "util", lang, lo=0.0, lo_open=True, hi=1.0)
    if engine == "llamacpp":
        ngl = parse_int(values, "ngl", lang, lo=0, hi=10_000, required=False)
        if ngl is not None:
            kw["n_gpu_layers"] = ngl
    kw.update(gpu_kwargs(values.get("gpu")))
    return kw


def training_kwargs(values: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """``vramscope.estimate`` keywords of the Fine-tune & train tab."""
    method = values.get("t_method", "lora")
    kw: dict[str, Any] = {
        "method": method, "precision": values.get("t_precision", "bf16"), "optimizer": values.get("t_optimizer", "adamw"),
        "batch": parse_int(values, "t_batch", lang, lo=1, hi=MAX_BATCH),
        "seq_len": parse_int(values, "t_seq", lang, lo=1, hi=MAX_TOKENS, tokens=True),
        "grad_accum": parse_int(values, "t_accum", lang, lo=1, hi=1_000_000),
        "grad_ckpt": values.get("t_ckpt", "none"), "attn": values.get("t_attn", "sdpa"),
        "zero": int(values.get("t_zero", "0") or 0), "fsdp": values.get("t_fsdp", "none"),
        "offload": values.get("t_offload", "none"),
        "tp": parse_int(values, "t_tp", lang, lo=1, hi=1024), "pp": parse_int(values, "t_pp", lang, lo=1, hi=1024),
        "gpus": parse_int(values, "t_gpus", lang, lo=1, hi=100_000),
    }
    if method in LORA_METHODS:
        kw["lora_rank"] = parse_int(values, "t_rank", lang, lo=1, hi=65_536)
        kw["lora_targets"] = _raw(values, "t_targets") or "default"
    kw.update(gpu_kwargs(values.get("t_gpu")))
    return kw


def rl_kwargs(values: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """``vramscope.estimate`` keywords of the RL tab."""
    algo = values.get("r_algo", "grpo")
    kw: dict[str, Any] = {
        "rl": algo, "method": values.get("r_method", "lora"),
        "batch": parse_int(values, "r_batch", lang, lo=1, hi=MAX_BATCH),
        "prompt_len": parse_int(values, "r_prompt", lang, lo=1, hi=MAX_TOKENS, tokens=True),
        "completion_len": parse_int(values, "r_completion", lang, lo=1, hi=MAX_TOKENS, tokens=True),
        "grad_ckpt": values.get("r_ckpt", "none"),
        "gpus": parse_int(values, "r_gpus", lang, lo=1, hi=100_000),
    }
    if algo == "grpo":
        kw["num_generations"] = parse_int(values, "r_gens", lang, lo=1, hi=4096)
        if values.get("r_vllm") is True:
            kw["use_vllm"] = True
    beta = parse_float(values, "r_beta", lang, lo=0.0, hi=1e6, required=False)
    if beta is not None:
        kw["beta"] = beta
    kw.update(gpu_kwargs(values.get("r_gpu")))
    return kw


def multimodal_kwargs(values: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """``vramscope.estimate`` keywords of the Multimodal tab (images, video, audio per sequence)."""
    kw: dict[str, Any] = {
        "engine": values.get("m_engine", "hf"),
        "batch": parse_int(values, "m_batch", lang, lo=1, hi=MAX_BATCH),
        "prompt_len": parse_int(values, "m_prompt", lang, lo=0, hi=MAX_TOKENS, tokens=True),
        "gen_len": parse_int(values, "m_gen", lang, lo=0, hi=MAX_TOKENS, tokens=True),
        "images": parse_int(values, "m_images", lang, lo=0, hi=10_000),
        "video_seconds": parse_float(values, "m_video", lang, lo=0.0, hi=86_400),
        "audio_seconds": parse_float(values, "m_audio", lang, lo=0.0, hi=86_400),
    }
    if kw["images"]:
        kw["image_size"] = parse_image_size(values, "m_size", lang)
    if kw["video_seconds"]:
        fps = parse_float(values, "m_fps", lang, lo=0.0, lo_open=True, hi=240, required=False)
        if fps is not None:
            kw["fps"] = fps
    kw.update(gpu_kwargs(values.get("m_gpu")))
    return kw


def fit_kwargs(values: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """``vramscope.fit`` keywords of the Fit & plan tab (``plan`` takes them without the GPU)."""
    kw: dict[str, Any] = {"engine": values.get("f_engine", "vllm"),
                          "batch": parse_int(values, "f_batch", lang, lo=1, hi=MAX_BATCH),
                          "context": parse_int(values, "f_context", lang, lo=1, hi=MAX_TOKENS, tokens=True)}
    if _raw(values, "f_weights"):
        kw["weights"] = _raw(values, "f_weights")
    kv = _raw(values, "f_kv")
    if kv and kv != "auto":
        kw["kv_dtype"] = kv
    gpu = gpu_kwargs(values.get("f_gpu"))
    if not gpu:
        raise InputError(t("err.no_gpu", lang))
    kw.update(gpu)
    kw["gpus"] = parse_int(values, "f_gpus", lang, lo=1, hi=1024)
    return kw


def pai_inputs(values: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """The PAI quick calculator's inputs, checked (the seed's layout)."""
    moe = values.get("p_arch") == "moe"
    params = parse_float(values, "p_params", lang, lo=0.0, lo_open=True, hi=1e6)
    active = None
    if moe:
        if not _raw(values, "p_active"):
            raise InputError(t("err.moe_active", lang))
        active = parse_float(values, "p_active", lang, lo=0.0, lo_open=True, hi=1e6)
        if active > params:
            raise InputError(t("err.active_big", lang, active=f"{active:g}", total=f"{params:g}"))
    return {"params_b": params, "active_params_b": active, "is_moe": moe,
            "concurrency": parse_int(values, "p_concurrency", lang, lo=1, hi=MAX_BATCH),
            "seq_len": parse_int(values, "p_seq", lang, lo=1, hi=MAX_TOKENS, tokens=True),
            "precision_bytes": 4.0 if values.get("p_precision") == "32" else 2.0,
            "optimizer": values.get("p_optimizer", "Adam/AdamW"),
            "batch_size": parse_int(values, "p_batch", lang, lo=1, hi=MAX_BATCH)}


# --- one function per tab: (spec, values, lang) → (html, code) --------------------------------------
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
    html = render.estimate_html(est, lang)
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
    d = est.details
    extra = ""
    if "trainable_params" in d:
        text = t("trainable", lang, n=f"{d['trainable_params']:,}", phase=d.get("peak_phase", "?"))
        extra += f'<div class="vs-trainable">{render.e(text)}</div>'
    phases = d.get("phases") or {}
    if phases:
        text = " · ".join(f"{k} {fmt_gib(v)}" for k, v in phases.items())
        extra += f'<div class="vs-phases">{render.e(t("phases", lang, text=text))}</div>'
    html = render.estimate_html(est, lang, extra=extra, fits_heading="runs_on_train")
    target = "fsdp" if kw["fsdp"] != "none" else "deepspeed"
    code = _export(target, spec, dict(kw))
    return html, code


def rl_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import estimate

    kw = rl_kwargs(values, lang)
    est = estimate(spec, **kw)
    quick = est.details.get("quick_rules") or {}
    extra = ""
    if quick:
        items = [f"{k}: {fmt_gib(v)}" if isinstance(v, (int, float)) and v > 10_000 else f"{k}: {v}" for k, v in quick.items()]
        extra = f'<div class="vs-h">{render.e(t("rules", lang))}</div>{render.chips(items)}'
    return render.estimate_html(est, lang, extra=extra, fits_heading="runs_on_train"), ""


@lru_cache(maxsize=1)
def multimodal_catalog_models() -> tuple[str, ...]:
    """Catalog models with a vision or audio encoder (for the hint)."""
    from ..sources import catalog

    return tuple(e.id for e in catalog.entries() if e.spec().encoders)


def multimodal_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import estimate
    from ..estimators.multimodal import tokens_for

    kw = multimodal_kwargs(values, lang)
    try:
        tokens = tokens_for(spec, images=kw["images"], image_size=kw.get("image_size"),
                            video_seconds=kw["video_seconds"], fps=kw.get("fps"), audio_seconds=kw["audio_seconds"])
    except InvariantError:
        raise
    except VramscopeError as exc:
        hint = t("hint_vision", lang, models=", ".join(multimodal_catalog_models()))
        raise Shown(render.message("error", t("api_error", lang), str(exc)) + render.message("info", hint)) from None
    rows = [(render.e(p.rule), render.e(f"{p.llm_tokens:,}"), render.e(f"{p.encoder_tokens:,}"), render.e(p.detail))
            for p in tokens.parts]
    text_tokens = kw["prompt_len"] + kw["gen_len"]
    head = (f'<div class="vs-h">{render.e(t("tokens_heading", lang))}</div>'
            + render.table([t("rule_col", lang), t("llm_tokens", lang), t("enc_tokens", lang), t("details", lang)],
                           rows, numeric=(1, 2))
            + f'<div class="vs-mmtotal" data-tokens="{tokens.llm_tokens}">'
            + render.e(t("mm_total", lang, mm=f"{tokens.llm_tokens:,}", text=f"{text_tokens:,}",
                         total=f"{tokens.llm_tokens + text_tokens:,}")) + "</div>")
    est = estimate(spec, **kw)
    return render.estimate_html(est, lang, extra_top=head), ""


def fit_tab(spec, values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from ..api import fit, plan

    kw = fit_kwargs(values, lang)
    res = fit(spec, **kw)
    plan_kw = {k: v for k, v in kw.items() if k not in ("gpu", "gpu_memory", "gpus")}
    rows = plan(spec, **plan_kw)
    tokens = kw["context"]

    def n_tokens(n: int) -> str:
        return t("tokens_unit", lang, n=f"{n:,}") if n > 0 else t("nothing_fits", lang)

    kv = [(t("max_context", lang, batch=kw["batch"]), f'<span class="vs-big vs-maxctx" data-value="{res.max_context}">'
           f"{render.e(n_tokens(res.max_context))}</span>"),
          (t("max_batch", lang, tokens=f"{tokens:,}"), f'<span class="vs-big vs-maxbatch" data-value="{res.max_batch}">'
           f"{res.max_batch:,}</span>")]
    if res.max_n_gpu_layers is not None:
        kv.append((t("max_ngl", lang), f'<span class="vs-big vs-maxngl" data-value="{res.max_n_gpu_layers}">'
                                       f"{res.max_n_gpu_layers}</span>"))
    grid = "".join(f"<div>{render.e(k)}</div><div>{v}</div>" for k, v in kv)
    html = [f'<div class="vs-result" data-mode="fit"><div class="vs-h">'
            f'{render.e(t("fit_heading", lang, n=res.num_gpus, gpu=res.gpu))}</div><div class="vs-kv">{grid}</div>',
            f'<div class="vs-h">{render.e(t("plan_heading", lang))}</div>']
    if not rows:
        html.append(render.message("info", t("plan_none", lang)))
    else:
        body = [({"data-gpu": r["gpu"]}, render.e(r["gpu"]), str(r["count"]), f"{r['tp']}×{r['pp']}",
                 render.gib_span(r["per_gpu_bytes"], digits=1).replace(" GiB", ""),
                 f"{r['rent_usd_per_hour']:,.2f}" if r.get("rent_usd_per_hour") else "—",
                 f"{r['price_usd']:,.0f}" if r.get("price_usd") else "—") for r in rows[:20]]
        html.append(render.table([t(k, lang) for k in ("plan_gpu", "plan_count", "plan_layout", "plan_per_gpu",
                                                         "plan_rent", "plan_price")], body, numeric=(1, 3, 4, 5),
                                 cls="vs-plan"))
    html.append("</div>")
    return "".join(html), ""


def pai_tab(values: Mapping[str, Any], lang: str) -> tuple[str, str]:
    from .. import pai

    x = pai_inputs(values, lang)
    inference = pai.inference_table(x["params_b"], x["concurrency"])
    finetune = pai.finetune_table(x["params_b"], x["precision_bytes"], x["optimizer"], x["batch_size"],
                                  x["active_params_b"], x["is_moe"])

    def rows(results):
        out = []
        for r in results:
            total = pai.round_gb(r.total_gb)
            advice = pai.recommend_gpus(r.total_gb)[:3]
            gpus = ", ".join(a["gpu"] + (f" ×{a['count']}" if a["count"] > 1 else "") for a in advice) or "—"
            out.append(({"data-scenario": r.scenario}, render.e(t(f"pai.{r.scenario}", lang)),
                        f'<span class="vs-gb" data-gb="{r.total_gb:.6f}">{total:,.1f}</span>', render.e(gpus)))
        return out

    headers = [t("pai_scenario", lang), t("pai_need", lang), t("pai_gpus", lang)]
    html = ('<div class="vs-result" data-mode="pai">'
            f'<div class="vs-h">{render.e(t("pai_infer_heading", lang))}</div>'
            + render.table(headers, rows(inference), numeric=(1,), cls="vs-pai-infer")
            + f'<div class="vs-h">{render.e(t("pai_ft_heading", lang))}</div>'
            + render.table(headers, rows(finetune), numeric=(1,), cls="vs-pai-ft")
            + f'<div class="vs-note">{render.e(t("pai_seq_note", lang))}</div></div>')
    return html, ""


TAB_FUNCS: dict[str, Callable[..., tuple[str, str]]] = {
    "infer": inference_tab, "train": training_tab, "rl": rl_tab, "mm": multimodal_tab, "fit": fit_tab,
}


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
    """The inputs that a tab reads (its memo key)."""
    return tuple((n, values[n]) for n in tab_fields(tab))


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


__all__ = ["TABS", "InputError", "ModelRef", "Page", "compute", "fit_kwargs", "inference_kwargs", "model_ref",
           "multimodal_kwargs", "pai_inputs", "restore", "rl_kwargs", "training_kwargs"]
