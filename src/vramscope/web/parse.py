"""The page's inputs read into the Python API's keywords, with every error in the user's words.

Each tab's text inputs become the keyword arguments of one API call (:func:`inference_kwargs`,
:func:`training_kwargs` …); the model inputs a :class:`ModelRef`. A number that cannot be read, is
missing or out of range raises :class:`InputError` with the field's label and the page's language.
No estimate is made here and no HTML written.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import input_limits, regular_file, short_text
from ..errors import VramscopeError
from ..units import fmt_gib
from .i18n import t
from .state import DEFAULTS

_LIMITS = input_limits()
MAX_BATCH: int = _LIMITS["batch"]
MAX_TOKENS: int = _LIMITS["tokens"]
MAX_BARE_SIZE: int = _LIMITS["bare_size"]  # parameters of the largest bare size (5T)

MAX_UPLOAD_BYTES = 1 << 30  # 1 GiB: config.json files are KiB; small GGUF files fit, large ones are refused
LORA_METHODS = ("lora", "dora", "qlora")
TAB_PREFIX = {"infer": None, "train": "t_", "rl": "r_", "mm": "m_", "fit": "f_", "pai": "p_"}
INFER_FIELDS = ("engine", "weights", "kv", "batch", "context", "gpu", "gpus", "util", "ngl")
MODEL_FIELDS = ("src", "model", "hub", "arch", "size", "active")
PAGE_FIELDS = ("tab", "lang", "report")
#: the tabs whose result is an estimate: their headline shows the figure ``report`` names
REPORT_TABS = ("infer", "train", "rl", "mm")


def tab_fields(tab: str) -> tuple[str, ...]:
    """The inputs only one tab reads."""
    from .state import NAMES

    prefix = TAB_PREFIX[tab]
    return INFER_FIELDS if prefix is None else tuple(n for n in NAMES if n.startswith(prefix))

# label keys of fields that share another field's label
_LABEL_ALIASES = {"t_gpu": "gpu", "r_gpu": "gpu", "m_gpu": "gpu", "f_gpu": "gpu", "r_gpus": "t_gpus",
                  "f_gpus": "gpus", "f_batch": "batch", "f_context": "context", "f_engine": "engine",
                  "m_engine": "engine", "f_weights": "weights", "f_kv": "kv", "r_batch": "r_batch",
                  "f_method": "t_method", "f_seq": "t_seq", "f_ckpt": "t_ckpt"}


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
    recipe = values.get("t_recipe") or ""
    if recipe:
        # with a framework recipe, an input left at the page's default is "not given": the recipe's
        # value applies; an input the user changed wins, as a flag does on the command line
        for key, name in RECIPE_INPUTS.items():
            if key in kw and str(values.get(name, DEFAULTS[name])).strip() == str(DEFAULTS[name]):
                del kw[key]
        kw["recipe"] = recipe
    kw.update(gpu_kwargs(values.get("t_gpu")))
    return kw


#: the training tab's inputs a framework recipe may fill: estimate keyword -> input
RECIPE_INPUTS = {"precision": "t_precision", "optimizer": "t_optimizer", "grad_ckpt": "t_ckpt", "attn": "t_attn",
                 "zero": "t_zero", "fsdp": "t_fsdp", "offload": "t_offload", "lora_rank": "t_rank",
                 "lora_targets": "t_targets"}


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
    """``vramscope.fit`` keywords of the Fit & plan tab (``plan`` takes them without the GPU): in
    training mode the method, micro-batch, sequence length and checkpointing, else the serving inputs."""
    if values.get("f_mode") == "train":
        kw = {"method": values.get("f_method", "qlora"),
              "batch": parse_int(values, "f_batch", lang, lo=1, hi=MAX_BATCH),
              "seq_len": parse_int(values, "f_seq", lang, lo=1, hi=MAX_TOKENS, tokens=True),
              "grad_ckpt": values.get("f_ckpt", "full")}
        return {**kw, **_fit_gpus(values, lang)}
    kw = {"engine": values.get("f_engine", "vllm"),
                          "batch": parse_int(values, "f_batch", lang, lo=1, hi=MAX_BATCH),
                          "context": parse_int(values, "f_context", lang, lo=1, hi=MAX_TOKENS, tokens=True)}
    if _raw(values, "f_weights"):
        kw["weights"] = _raw(values, "f_weights")
    kv = _raw(values, "f_kv")
    if kv and kv != "auto":
        kw["kv_dtype"] = kv
    return {**kw, **_fit_gpus(values, lang)}


def _fit_gpus(values: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The Fit & plan tab's GPU (required: a fit is for a GPU) and GPU count, both modes."""
    gpu = gpu_kwargs(values.get("f_gpu"))
    if not gpu:
        raise InputError(t("err.no_gpu", lang))
    return {**gpu, "gpus": parse_int(values, "f_gpus", lang, lo=1, hi=1024)}


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
            "precision": values.get("p_precision", "16"),  # bits: the seed's 32 / 16 (pai.precision_bytes)
            "optimizer": values.get("p_optimizer", "Adam/AdamW"),
            "batch_size": parse_int(values, "p_batch", lang, lo=1, hi=MAX_BATCH)}
