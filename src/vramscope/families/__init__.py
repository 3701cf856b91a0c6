"""Config.json → :class:`~vramscope.spec.ModelSpec`, dispatched on ``model_type``.

Supported families are listed in :data:`SUPPORTED`. A config whose ``model_type`` is unknown but
which has the fields of a Llama-like decoder is read by a generic fallback that records what it
assumed (its KV figure is then a Llama-like guess); anything else is an
:class:`~vramscope.errors.UnsupportedModelError` naming what is missing and the supported families.
A config is only ever read as data: an ``auto_map`` (remote code) is named in the message, never run.
What transformers itself defaults to for a model (attention implementation, load dtype) is in
:mod:`.defaults`.
"""

from __future__ import annotations

from typing import Any

from .. import spec as S
from ..bounds import MAX_WIDTH, validate_spec
from ..errors import ConfigError, UnsupportedModelError
from ._config import Cfg
from .classic import build_falcon, build_gpt_bigcode, build_gpt_neox, build_phi
from .deepseek import build_deepseek
from .hybrid import (
    build_falcon_h1,
    build_granitemoehybrid,
    build_llama4_text,
    build_minimax,
    build_nemotron_h,
    build_qwen3_next,
)
from .multimodal import build_gemma3_mm, build_qwen_vl
from .ssm import build_jamba, build_mamba, build_mamba2
from .transformer import ALIASES, SPECIAL, STYLES, TextModel, build_decoder

#: family readers of their own module, by model_type.
READERS = {"gpt_bigcode": build_gpt_bigcode, "gpt_neox": build_gpt_neox, "falcon": build_falcon, "phi": build_phi,
           "llama4_text": build_llama4_text, "qwen3_next": build_qwen3_next, "falcon_h1": build_falcon_h1,
           "nemotron_h": build_nemotron_h, "granitemoehybrid": build_granitemoehybrid,
           "minimax": build_minimax}

#: model_type values read natively (the generic fallback handles other Llama-like configs).
SUPPORTED: tuple[str, ...] = tuple(
    sorted(
        set(STYLES)
        | set(SPECIAL)
        | set(ALIASES)
        | set(READERS)
        | {"llama4", "deepseek_v2", "deepseek_v3", "mamba", "mamba2", "jamba", "qwen2_vl", "qwen2_5_vl", "gemma3"}
    )
)

_GENERIC_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")


def _architecture(cfg: Cfg, default: str) -> str:
    archs = cfg.raw("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0]
    return default


def spec_from_config(config: Any, *, model_id: str, source: str = "config", where: str = "config.json") -> S.ModelSpec:
    """Build the ModelSpec of the model described by a parsed ``config.json``."""
    assumptions: list[str] = []
    cfg = Cfg(config, where, assumptions)
    model_type = cfg.str("model_type")
    if model_type is None:
        raise ConfigError(f"{where}: no 'model_type'; is this a Hugging Face config.json?")
    family = model_type
    encoders: tuple[S.Encoder, ...] = ()
    n_mtp = 0
    text: TextModel
    dtype_cfg = cfg
    if model_type in ("deepseek_v2", "deepseek_v3"):
        text, n_mtp = build_deepseek(cfg)
    elif model_type == "mamba":
        text = build_mamba(cfg)
    elif model_type == "mamba2":
        text = build_mamba2(cfg)
    elif model_type == "jamba":
        text = build_jamba(cfg)
    elif model_type in ("qwen2_vl", "qwen2_5_vl"):
        text, enc = build_qwen_vl(cfg, v25=model_type == "qwen2_5_vl")
        encoders = (enc,)
    elif model_type == "gemma3" and cfg.has("vision_config"):
        text, enc = build_gemma3_mm(cfg)
        encoders = (enc,)
    elif model_type == "gemma3":
        text = build_decoder(cfg.sub("text_config") or cfg, STYLES["gemma3_text"])
    elif model_type in SPECIAL:
        text = SPECIAL[model_type](cfg)
    elif model_type == "llama4":
        text = build_llama4_text(cfg.sub("text_config", required=True))
        if cfg.has("vision_config"):
            assumptions.append("Llama 4's vision encoder is not modelled: parameters and memory are the "
                               "language model's (text_config) only")
    elif model_type in READERS:
        text = READERS[model_type](cfg)
    elif model_type in STYLES or ALIASES.get(model_type):
        text = build_decoder(cfg, STYLES[ALIASES.get(model_type) or model_type])
    elif all(cfg.has(k) for k in _GENERIC_FIELDS):
        family = "generic"
        assumptions.append(
            f"model_type {model_type!r} is not a known family: read as a Llama-like decoder "
            "(q/k/v/o without biases, gated MLP gate/up/down, two RMSNorms per layer, full attention), "
            "so its KV-cache figure is a Llama-like guess" + _remote_code(cfg, ": ")
        )
        text = build_decoder(cfg, STYLES["llama"])
    else:
        missing = [k for k in _GENERIC_FIELDS if not cfg.has(k)]
        raise UnsupportedModelError(
            f"{where}: model_type {model_type!r} is not supported{_remote_code(cfg, ' (', ')')} and the config "
            f"lacks {', '.join(missing)} needed to read it as a Llama-like decoder. "
            f"Supported model types: {', '.join(SUPPORTED)}"
        )
    quant = _quantization(cfg)
    return validate_spec(S.ModelSpec(
        id=model_id,
        family=family,
        architecture=_architecture(cfg, model_type),
        hidden_size=text.hidden_size,
        vocab_size=text.vocab_size,
        layers=text.layers,
        tensors=tuple(text.tensors),
        tie_word_embeddings=text.tied,
        max_position_embeddings=text.max_position_embeddings,
        dtype=dtype_cfg.dtype(),
        quantization=quant,
        encoders=encoders,
        num_mtp_layers=n_mtp,
        source=source,
        assumptions=tuple(dict.fromkeys(assumptions)),
        config=config,
    ))


def _remote_code(cfg: Cfg, before: str = "", after: str = "") -> str:
    """A clause saying that the config's ``auto_map`` names remote code and that it was not run ('' without one).

    ``auto_map`` maps Auto classes to Python files in the model repository (transformers runs them only
    with ``trust_remote_code=True``); vramscope reads config.json as data and never imports them.
    """
    auto_map = cfg.raw("auto_map")
    if not isinstance(auto_map, dict) or not auto_map:
        return ""
    refs = [v if isinstance(v, str) else str(v) for v in auto_map.values()][:2]
    return (f"{before}its auto_map names remote code ({', '.join(r[:60] for r in refs)}), which vramscope "
            f"never runs{after}")


def _quantization(cfg: Cfg) -> dict | None:
    """The checkpoint's ``quantization_config``, with every key the weight formats read type-checked.

    transformers' quantizer configs (``utils/quantization_config.py``) define these keys; a value of
    the wrong type would otherwise surface as a TypeError when the weights are sized.
    """
    q = cfg.sub("quantization_config")
    if q is None:
        return None
    q.str("quant_method")
    q.str("fmt")
    q.str("bnb_4bit_quant_type")
    for key in ("modules_to_not_convert", "ignore"):
        q.str_list(key)
    for key in ("load_in_4bit", "load_in_8bit", "bnb_4bit_use_double_quant"):
        q.bool(key, False)
    for key in ("bits", "w_bit"):
        q.opt_int(key, maximum=16)
    for key in ("group_size", "q_group_size"):
        q.opt_int(key, minimum=-1)
    block = q.int_list("weight_block_size")
    if block is not None and not (1 <= len(block) <= 2 and all(1 <= b <= MAX_WIDTH for b in block)):
        raise ConfigError(f"{q.where}: 'weight_block_size' must be one or two positive block sizes, got {block!r}")
    return q.data
