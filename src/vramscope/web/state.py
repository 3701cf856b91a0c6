"""The page's inputs as one flat, string-valued state, and its URL form (the query string).

Every input of the web page is a :class:`Field` here: its URL key, its default, and, for fixed
choices, the values it may take. :func:`encode` writes only what differs from the defaults (short,
readable links), :func:`decode` reads any query string back — unknown keys are ignored, a value
outside a field's choices falls back to the default, overlong text is cut — so that a shared or
hand-edited link always restores a valid page. Numbers stay text: the handlers parse and check
them and say what is wrong, so a link with ``batch=-3`` restores ``-3`` and shows the message.

No gradio here: this module is imported by unit tests and by the handlers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from ..api import PAI_OPTIMIZERS, REPORTS, engine_names, training_choices

_TRAINING = training_choices()
METHODS, PRECISIONS, OPTIMIZERS = _TRAINING["methods"], _TRAINING["precisions"], _TRAINING["optimizers"]
RECIPES = ("", *_TRAINING["recipes"])  # "" = no framework recipe

MAX_VALUE_CHARS = 200  # a model id or a number never needs more; longer URL values are cut

TABS = ("infer", "train", "rl", "mm", "fit", "pai")
SOURCES = ("catalog", "hub", "file", "size")
LANGS = ("en", "zh")
ENGINES = engine_names()
TRUE = ("1", "true", "yes", "on")

#: weight formats offered in the drop-downs ("" = as stored); any other name can be typed
WEIGHT_CHOICES = ("", "bf16", "fp16", "fp32", "fp8", "fp8-block", "int8", "w8a8", "nf4", "nf4-dq", "gptq-int4",
                  "gptq-int8", "awq", "mxfp4", "nvfp4", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K",
                  "IQ4_XS", "IQ2_XS")
KV_CHOICES = ("auto", "bf16", "fp16", "fp8", "fp8_e5m2", "q8_0", "q4_0")

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B"
DEFAULT_GPU = "RTX-4090-24GB"
DEFAULT_TRAIN_GPU = "H100-SXM-80GB"


@dataclass(frozen=True)
class Field:
    """One input: URL key, default (text or bool) and, for closed choices, the allowed values."""

    name: str
    default: str | bool
    choices: tuple[str, ...] = ()

    @property
    def is_bool(self) -> bool:
        return isinstance(self.default, bool)


def _f(name: str, default: str | bool, choices: tuple[str, ...] = ()) -> Field:
    return Field(name, default, choices)


FIELDS: tuple[Field, ...] = (
    # page
    _f("tab", "infer", TABS),
    _f("lang", "en", LANGS),
    _f("report", REPORTS[0], REPORTS),  # the per-GPU figure an estimate's headline shows (device: nvidia-smi)
    # the model (shared by every tab but the PAI one)
    _f("src", "catalog", SOURCES),
    _f("model", DEFAULT_MODEL),
    _f("hub", ""),
    _f("arch", "dense", ("dense", "moe")),
    _f("size", "7"),
    _f("active", ""),
    # inference
    _f("engine", "hf", ENGINES),
    _f("weights", ""),
    _f("kv", "auto"),
    _f("batch", "1"),
    _f("context", "4096"),
    _f("gpu", DEFAULT_GPU),
    _f("gpus", "1"),
    _f("util", "0.9"),
    _f("ngl", ""),
    # fine-tune & train
    _f("t_method", "lora", METHODS),
    _f("t_recipe", "", RECIPES),
    _f("t_precision", "bf16", PRECISIONS),
    _f("t_optimizer", "adamw", OPTIMIZERS),
    _f("t_rank", "16"),
    _f("t_targets", "default"),
    _f("t_batch", "1"),
    _f("t_seq", "2048"),
    _f("t_accum", "1"),
    _f("t_ckpt", "none", ("none", "full", "selective", "offload")),
    _f("t_attn", "sdpa", ("sdpa", "flash", "eager")),
    _f("t_zero", "0", ("0", "1", "2", "3")),
    _f("t_fsdp", "none", ("none", "full", "grad-op", "hybrid")),
    _f("t_offload", "none", ("none", "optimizer", "params")),
    _f("t_tp", "1"),
    _f("t_pp", "1"),
    _f("t_gpus", "1"),
    _f("t_gpu", DEFAULT_TRAIN_GPU),
    # RL
    _f("r_algo", "grpo", ("grpo", "dpo", "ppo")),
    _f("r_method", "lora", ("lora", "qlora", "full")),
    _f("r_gens", "8"),
    _f("r_batch", "8"),
    _f("r_prompt", "512"),
    _f("r_completion", "512"),
    _f("r_beta", ""),
    _f("r_vllm", False),
    _f("r_ckpt", "none", ("none", "full", "selective")),
    _f("r_gpus", "1"),
    _f("r_gpu", DEFAULT_TRAIN_GPU),
    # multimodal
    _f("m_images", "1"),
    _f("m_size", "1024x1024"),
    _f("m_video", "0"),
    _f("m_fps", ""),
    _f("m_audio", "0"),
    _f("m_prompt", "512"),
    _f("m_gen", "256"),
    _f("m_batch", "1"),
    _f("m_engine", "hf", ("hf", "vllm", "sglang")),
    _f("m_gpu", DEFAULT_GPU),
    # fit & plan
    _f("f_mode", "infer", ("infer", "train")),
    _f("f_method", "qlora", METHODS),
    _f("f_seq", "2048"),
    _f("f_ckpt", "full", ("none", "full", "selective", "offload")),
    _f("f_engine", "vllm", ENGINES),
    _f("f_weights", ""),
    _f("f_kv", "auto"),
    _f("f_batch", "1"),
    _f("f_context", "8192"),
    _f("f_gpu", DEFAULT_GPU),
    _f("f_gpus", "1"),
    # the seed's PAI quick calculator
    _f("p_arch", "dense", ("dense", "moe")),
    _f("p_params", "7"),
    _f("p_active", ""),
    _f("p_concurrency", "1"),
    _f("p_seq", "2048"),
    _f("p_precision", "16", ("16", "32")),
    _f("p_optimizer", "Adam/AdamW", PAI_OPTIMIZERS),
    _f("p_batch", "1"),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
DEFAULTS: dict[str, str | bool] = {f.name: f.default for f in FIELDS}


def clean(field: Field, value: object) -> str | bool:
    """A value as the page holds it: bool for checkboxes, text otherwise; closed choices checked."""
    if field.is_bool:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in TRUE
    text = "" if value is None else str(value)
    # lone surrogates (a non-UTF-8 name) cannot go into a link or an HTML page: each becomes U+FFFD
    text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text.strip()[:MAX_VALUE_CHARS])
    if field.choices and text not in field.choices:
        return field.default
    return text


def invalid_choices(values: Mapping[str, object]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(field, value, choices) of every closed-choice field given a value that is not a choice.

    :func:`normalize` puts the default in their place (a stale link still opens); the page says so.
    """
    bad = []
    for f in FIELDS:
        if f.choices and not f.is_bool and f.name in values and values[f.name] is not None:
            text = str(values[f.name]).strip()
            if text and text not in f.choices:
                bad.append((f.name, text[:MAX_VALUE_CHARS], tuple(f.choices)))
    return bad


def normalize(values: Mapping[str, object]) -> dict[str, str | bool]:
    """Every field, in order: the given value cleaned, or the default where none was given."""
    return {f.name: clean(f, values[f.name]) if f.name in values else f.default for f in FIELDS}


def encode(values: Mapping[str, object], defaults: Mapping[str, object] | None = None,
           only: Iterable[str] | None = None) -> str:
    """The query string (without ``?``) of the fields that differ from their defaults, in field order.

    ``defaults`` overrides some defaults: the page passes the browser's language, so that the link
    names a language only when the reader chose another one. ``only`` limits it to those fields.
    """
    base = {**DEFAULTS, **(defaults or {})}
    keep = None if only is None else set(only)
    pairs = []
    for name, value in normalize(values).items():
        if value == base[name] or (keep is not None and name not in keep):
            continue
        pairs.append((name, ("1" if value else "0") if isinstance(value, bool) else value))
    return urlencode(pairs)


def decode(query: str | None) -> dict[str, str | bool]:
    """Every field from a query string (``?a=1&b=2`` or ``a=1&b=2``); defaults for what is absent."""
    text = (query or "").strip()
    if text.startswith("?"):
        text = text[1:]
    found: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key in BY_NAME and key not in found:
            found[key] = value
    return normalize(found)


def lang_of(text: str | None) -> str:
    """``zh``, ``zh-CN``, ``zh-Hans-TW`` … → ``zh``; anything else (``en-US``, empty) → ``en``.

    Also reads an Accept-Language header: the first language listed decides.
    """
    first = (text or "").split(",")[0].split(";")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"
