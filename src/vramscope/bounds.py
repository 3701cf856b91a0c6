"""The largest model vramscope will describe, and the checks that keep every input inside it.

Every dimension a source gives (config.json, GGUF metadata, a bare size, a safetensors header) is
checked against these bounds *before* anything is built from it, so that no input — however
hostile — makes vramscope allocate per-layer structures without end, overflow a float, or answer
with a negative or absurd figure. Each bound leaves one to two orders of magnitude of headroom over
the largest published model, so no real model meets it:

* layers — the deepest published LLMs have 126 (Llama-3.1-405B) to 160 layers; 2,048 is 12× that;
* width (hidden, intermediate, head_dim, ranks, state sizes) — the widest published FFN is 73,728
  (Grok-1's 32,768 hidden); 2^20 = 1,048,576;
* heads — 128 for Llama-3.1-405B / DeepSeek-V3; 16,384;
* experts — 384 for Kimi K2; 16,384;
* vocabulary — 262,144 for Gemma 3; 2^24 = 16,777,216;
* context (max_position_embeddings, sliding windows, chunks) — 10,485,760 for Llama 4 Scout; 2^30;
* parameters — 1.0 T for Kimi K2; 10^14 (100 T) in all, and bare sizes (``7B``) up to 5 T: the
  largest reference shape a bare size is laid out on (Llama-3.1-405B's, 3.2 B per layer) then still
  fits in 2,048 layers.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError, VramscopeError

MAX_LAYERS = 2048
MAX_WIDTH = 1 << 20
MAX_HEADS = 16384
MAX_EXPERTS = 16384
MAX_VOCAB = 1 << 24
MAX_CONTEXT = 1 << 30
MAX_PARAMS = 10**14
MAX_BARE_SIZE = 5 * 10**12
MAX_TENSORS = 1_000_000  # tensors in one inventory (DeepSeek-V3's HF checkpoint: ~91,000)
MAX_DIMS = 8  # dimensions of one tensor (GGML_MAX_DIMS is 4, safetensors has no limit)
MAX_NUMEL = 1 << 48  # elements of one tensor


def bound_for(key: str) -> tuple[int, str]:
    """(largest accepted value, what it bounds) for a config / GGUF key, judged by its name."""
    k = key.lower().rsplit(".", 1)[-1]
    if "vocab" in k:
        return MAX_VOCAB, "vocabulary size"
    if "expert" in k and "size" not in k and "length" not in k:
        return MAX_EXPERTS, "expert count"
    if "layer" in k or "block_count" in k or k in ("depth", "n_layer"):
        return MAX_LAYERS, "layer count"
    if ("head" in k and "dim" not in k and "length" not in k) or "group" in k:
        return MAX_HEADS, "head count"
    if any(w in k for w in ("position", "window", "context", "ctx", "seq_length", "chunk")):
        return MAX_CONTEXT, "context length"
    return MAX_WIDTH, "width"


def checked_int(value: Any, *, where: str, key: str, minimum: int = 1, maximum: int | None = None,
                error: type[VramscopeError] = ConfigError) -> int:
    """``value`` as an int when it is a finite integral number in [minimum, maximum], else ``error``.

    ``maximum`` defaults to :func:`bound_for` the key's name; the message names the bound.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{where}: '{key}' must be an integer, got {_show(value)}")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise error(f"{where}: '{key}' must be an integer, got {_show(value)}")
    number = int(value)
    if number < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise error(f"{where}: '{key}' must be {what}, got {number}")
    limit, what = (maximum, "bound") if maximum is not None else bound_for(key)
    if number > limit:
        raise error(f"{where}: '{key}' is {_show(number)}, above vramscope's {what} limit of {limit:,} "
                    "(no published model comes near it; is the file corrupt?)")
    return number


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_spec(spec: Any) -> Any:
    """Refuse a built :class:`~vramscope.spec.ModelSpec` that no estimate can be sound for.

    Sources check each value as they read it; this is the last line, over the whole structure:
    at least one layer, positive dimensions, every tensor shape made of positive ints, a positive
    parameter count no larger than :data:`MAX_PARAMS`, and active parameters within [1, total].
    Returns the spec unchanged.
    """
    where = f"{spec.id} ({spec.source})"
    n = spec.num_layers
    if not 1 <= n <= MAX_LAYERS:
        raise ConfigError(f"{where}: the model has {n:,} layers; vramscope reads models with 1 to {MAX_LAYERS:,}")
    for name, value, limit in (("hidden size", spec.hidden_size, MAX_WIDTH), ("vocabulary", spec.vocab_size, MAX_VOCAB)):
        if not isinstance(value, int) or not 1 <= value <= limit:
            raise ConfigError(f"{where}: {name} {value!r} is not an integer between 1 and {limit:,}")
    if len(spec.tensors) > MAX_TENSORS:
        raise ConfigError(f"{where}: {len(spec.tensors):,} tensors, above the limit of {MAX_TENSORS:,}")
    for t in spec.tensors:
        if (not isinstance(t.shape, tuple) or len(t.shape) > MAX_DIMS
                or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_NUMEL for d in t.shape)):
            raise ConfigError(f"{where}: tensor {t.name!r} has shape {t.shape!r}; dimensions must be positive integers "
                              "(no model stores an empty tensor)")
        if t.numel > MAX_NUMEL:
            raise ConfigError(f"{where}: tensor {t.name!r} has {t.numel:,} elements, above the limit of {MAX_NUMEL:,}")
        if t.nbytes is not None and t.nbytes < 0:
            raise ConfigError(f"{where}: tensor {t.name!r} has a negative byte size")
    for layer in spec.layers:
        _check_layer(where, layer)
    total, active = spec.params_total, spec.params_active
    if not 0 < total <= MAX_PARAMS:
        raise ConfigError(f"{where}: {total:,} parameters; vramscope describes models of 1 to {MAX_PARAMS:,} parameters")
    if not 0 < active <= total:
        raise ConfigError(f"{where}: {active:,} active parameters, outside 1 … {total:,} (the total)")
    return spec


def _check_layer(where: str, layer: Any) -> None:
    a, m, s = layer.attention, layer.mlp, layer.ssm
    bad: list[str] = []
    if a is not None:
        if not (1 <= a.num_heads <= MAX_HEADS and 1 <= a.num_kv_heads <= MAX_HEADS):
            bad.append(f"{a.num_heads} heads / {a.num_kv_heads} KV heads")
        for name in ("head_dim", "v_head_dim", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim"):
            v = getattr(a, name)
            if v is not None and not 1 <= v <= MAX_WIDTH:
                bad.append(f"{name} {v}")
        if a.qk_nope_head_dim is not None and not 0 <= a.qk_nope_head_dim <= MAX_WIDTH:
            bad.append(f"qk_nope_head_dim {a.qk_nope_head_dim}")
        for name in ("window", "chunk"):
            v = getattr(a, name)
            if v is not None and not 1 <= v <= MAX_CONTEXT:
                bad.append(f"{name} {v}")
    if not 0 <= m.intermediate_size <= MAX_WIDTH or not 0 <= m.expert_intermediate_size <= MAX_WIDTH:
        bad.append(f"MLP width {m.intermediate_size or m.expert_intermediate_size}")
    if m.kind == "moe" and not 1 <= m.top_k <= m.num_experts <= MAX_EXPERTS:
        bad.append(f"{m.num_experts} experts with top-{m.top_k} routing")
    if s is not None:
        for name in ("d_inner", "d_state", "d_conv"):
            v = getattr(s, name)
            if not 1 <= v <= MAX_WIDTH:
                bad.append(f"SSM {name} {v}")
        if s.num_heads < 0 or s.head_dim < 0 or s.dt_rank < 0 or s.n_groups < 1:
            bad.append("negative SSM heads / rank / groups")
    if bad:
        raise ConfigError(f"{where}: layer {layer.index} has impossible dimensions: {', '.join(bad)}")
