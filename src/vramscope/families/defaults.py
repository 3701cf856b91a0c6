"""What Hugging Face transformers does when the user passes no option: the attention implementation
it picks and the dtype it loads the weights in.

Both read from transformers v5.23.0 (https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/modeling_utils.py):

* attention: ``PreTrainedModel.get_correct_attn_implementation`` asks for ``"sdpa"`` when no
  ``attn_implementation`` is given and falls back to ``"eager"`` when the model class cannot
  dispatch SDPA (``_sdpa_can_dispatch`` raises for ``_supports_sdpa = False``). In v5.23 two of the
  families read here set ``_supports_sdpa = False``: Gemma 2 (``Gemma2PreTrainedModel``: "sdpa does
  not support softcapping") and gpt-oss (``GptOssPreTrainedModel``: attention sinks), so they run
  eager attention — score matrices of b·n_h·s² — unless the user asks for flash / flex attention.
  Mamba models have no attention at all.
* dtype: ``from_pretrained`` sets ``dtype = "auto"`` when none is given, and ``_get_dtype`` then
  takes ``config.dtype`` (the config.json ``torch_dtype``): a checkpoint stored in float32 (OLMo 2,
  StarCoder 2-3B/15B, StarCoder) loads in float32, 4 bytes per parameter, unless the user passes
  ``dtype=torch.bfloat16``.

The estimator's HF engine sizes weights in the stored dtype when no weight format is given (the
same rule); these functions state the defaults and the one flag that changes each.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S

#: model_type → why transformers v5.23 falls back to eager attention for it (``_supports_sdpa = False``).
EAGER_BY_DEFAULT: dict[str, str] = {
    "gemma2": "Gemma2PreTrainedModel sets _supports_sdpa = False (SDPA has no logit soft-capping)",
    "gpt_oss": "GptOssPreTrainedModel sets _supports_sdpa = False (attention sinks)",
}
#: model_types without attention layers.
NO_ATTENTION = frozenset({"mamba", "mamba2"})
#: model_types transformers does not ship (remote code, never run by vramscope).
NOT_IN_TRANSFORMERS = frozenset({"chatglm", "yi"})


@dataclass(frozen=True)
class LibraryDefaults:
    """transformers' defaults for one model: ``attn_implementation`` (None: no attention layers or not a
    transformers model), ``dtype`` it loads the weights in, and one line per default with the flag that
    changes it."""

    attn_implementation: str | None
    dtype: str
    lines: tuple[str, ...]


def hf_defaults(spec: S.ModelSpec) -> LibraryDefaults:
    """transformers v5.23's attention implementation and load dtype for ``spec`` when the user sets neither."""
    model_type = str(spec.config.get("model_type") or spec.family)
    lines = []
    if model_type in NOT_IN_TRANSFORMERS:
        attn = None
        lines.append(f"model_type {model_type!r} is not a transformers model (remote code): no library default applies")
    elif model_type in NO_ATTENTION or not spec.attention_layers:
        attn = None
        lines.append("attention: none (a state-space model)")
    elif model_type in EAGER_BY_DEFAULT:
        attn = "eager"
        lines.append(f"attention: eager, transformers' default here ({EAGER_BY_DEFAULT[model_type]}); "
                     "--attn flash uses FlashAttention-2 instead")
    else:
        attn = "sdpa"
        lines.append("attention: sdpa, transformers' default; --attn eager for the eager implementation")
    dtype = spec.dtype
    if dtype == "float32":
        lines.append("weights: float32 as stored (from_pretrained's dtype='auto' follows the config's torch_dtype); "
                     "--weights bf16 loads them in bfloat16 (dtype=torch.bfloat16), half the bytes")
    else:
        lines.append(f"weights: {dtype} as stored (from_pretrained's dtype='auto' follows the config's torch_dtype)")
    return LibraryDefaults(attn, dtype, tuple(lines))
