"""A bare size as the seed documents use it: ``7B``, ``1.5b``, ``500M``, or an MoE total with its
active count (``56B-A14B``, ``56B/14B``, or ``active=``).

The counts are the user's numbers, exactly. Everything else — hidden size, layer count, heads,
vocabulary, experts — is *inferred* from the nearest Llama-style reference shape and stated as an
assumption, so that KV-cache and activation formulas have dimensions to work with. Two remainder
tensors absorb whatever integer dimensions cannot hit, so the inventory sums to the given counts.
"""

from __future__ import annotations

import math
import re

from .. import spec as S
from ..bounds import MAX_BARE_SIZE, validate_spec
from ..errors import ConfigError
from ..families._build import (
    AttnStyle,
    Inventory,
    attention_tensors,
    dense_mlp_tensors,
    routed_experts,
    router,
)

_SIZE = r"(\d{1,15}(?:\.\d{1,15})?)\s*([KMBT])"  # bounded digits: no float overflow
_PATTERN = re.compile(rf"^\s*{_SIZE}\s*(?:(?:-A|/|\s+A|-)\s*{_SIZE})?\s*$", re.IGNORECASE)
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}

# Reference shapes (size, hidden, heads, kv_heads, intermediate, vocab): two small generic ones, then
# real Llama-family models: Llama-3.2-1B, Llama-3.2-3B, Llama-3.1-8B, Llama-2-13B (GQA-8 here), Yi-34B, Llama-3.1-70B,
# Llama-3.1-405B (shared/model-configs and the catalog).
_REFERENCES = [
    (0.13e9, 768, 12, 12, 2048, 32000),  # small GPT-2/Llama-like shapes with a 32k vocabulary
    (0.5e9, 1024, 16, 8, 4096, 32000),
    (1.24e9, 2048, 32, 8, 8192, 128256),
    (3.21e9, 3072, 24, 8, 8192, 128256),
    (8.03e9, 4096, 32, 8, 14336, 128256),
    (13.0e9, 5120, 40, 8, 13824, 128256),
    (34.4e9, 7168, 56, 8, 20480, 128256),
    (70.6e9, 8192, 64, 8, 28672, 128256),
    (406e9, 16384, 128, 8, 53248, 128256),
]


def is_bare_size(text: str) -> bool:
    return bool(_PATTERN.match(text))


def parse_size(text: str) -> tuple[int, int | None]:
    """``"56B-A14B"`` → (56_000_000_000, 14_000_000_000); ``"7B"`` → (7_000_000_000, None)."""
    m = _PATTERN.match(text)
    if not m:
        raise ConfigError(f"{text!r} is not a model size; write e.g. 7B, 1.5B, 500M, or 56B-A14B for an MoE")
    total = round(float(m.group(1)) * _SCALE[m.group(2).upper()])
    active = round(float(m.group(3)) * _SCALE[m.group(4).upper()]) if m.group(3) else None
    return total, active


def _reference(params: float) -> tuple:
    return min(_REFERENCES, key=lambda r: abs(math.log(params / r[0])))


def spec_from_size(text: str, active: int | str | None = None, *, experts: int | None = None,
                   top_k: int = 2) -> S.ModelSpec:
    """An inferred Llama-like (or Mixtral-like, for MoE) spec with exactly the given counts."""
    total, act = parse_size(text)
    if active is not None:
        act = parse_size(active)[0] if isinstance(active, str) else int(active)
    if total < 1_000_000:
        raise ConfigError(f"model size {text!r} is too small: give at least 1M parameters")
    if total > MAX_BARE_SIZE:
        raise ConfigError(f"model size {text!r} is above the {MAX_BARE_SIZE // 10**12}T a bare size may name "
                          "(the largest published models have 1-2T); pass a model config for larger ones")
    if act is not None and act == total:
        act = None
    if act is not None and not 0 < act < total:
        raise ConfigError(f"active parameters ({act:,}) must be positive and smaller than the total ({total:,})")
    _, h, n_h, n_kv, inter, vocab = _reference(act or total)
    assumptions = [
        f"dimensions inferred from the size alone (Llama-style reference: hidden {h}, {n_h} heads, "
        f"{n_kv} KV heads, head_dim {h // n_h}, vocab {vocab}, untied embeddings); give a model id or "
        "config.json for exact figures"
    ]
    attn = S.Attention(S.ATTN_FULL, n_h, n_kv, h // n_h)
    emb = 2 * vocab * h
    attn_params = 2 * h * n_h * (h // n_h) + 2 * h * n_kv * (h // n_h) + 2 * h  # q,o,k,v + 2 norms
    inv = Inventory()
    if act is None:
        per_layer = attn_params + 3 * h * inter
        n_layers = (total - emb - h) // per_layer
        if n_layers < 1:
            raise ConfigError(f"cannot infer dimensions for {text!r}; give a model id or config.json")
        mlp = S.MLP(S.MLP_DENSE, intermediate_size=inter)
        assumptions.append(f"{n_layers} layers, dense SwiGLU MLP of width {inter}")
    else:
        # Layers and attention as for a dense model of the active size. With N non-expert
        # parameters, E experts of x parameters each (all layers), k active:
        #   total = N + E·x,  active = N + k·x   ⇒   x = (total − active)/(E − k)
        # and N ≤ active needs E ≥ k + k·(total − active)/(active − N_attn). The smallest such E
        # that divides (total − active) exactly is used; x is then split into an expert width
        # and an expert remainder tensor, and N into the attention stack and a remainder.
        n_layers = max(1, round((act - emb - h) / (attn_params + 3 * h * inter)))
        n_attn = emb + h + n_layers * attn_params
        if act <= n_attn:
            raise ConfigError(f"active parameters ({act:,}) are too few for an MoE of {total:,}; pass a model config")
        e_min = math.ceil(top_k + top_k * (total - act) / (act - n_attn - n_layers * h * 64))
        n_exp = experts or next((e for e in range(max(e_min, top_k + 1), max(e_min, top_k + 1) + 256)
                                 if (total - act) % (e - top_k) == 0), max(e_min, top_k + 1))
        per_expert = (total - act) // (n_exp - top_k)
        i_e = max(1, per_expert // (n_layers * 3 * h))
        mlp = S.MLP(S.MLP_MOE, num_experts=n_exp, top_k=top_k, expert_intermediate_size=i_e)
        assumptions.append(f"{n_layers} MoE layers, {n_exp} experts of width {i_e}, top-{top_k} routing")
    inv.embeddings("model.embed_tokens", vocab, h, False)
    layers = []
    for i in range(n_layers):
        lp = f"model.layers.{i}"
        inv.norm(f"{lp}.input_layernorm", h, i)
        inv.norm(f"{lp}.post_attention_layernorm", h, i)
        attention_tensors(inv, f"{lp}.self_attn", i, h, attn, AttnStyle())
        if mlp.kind == S.MLP_MOE:
            router(inv, f"{lp}.mlp.gate", i, h, mlp.num_experts)
            routed_experts(inv, f"{lp}.mlp.experts", i, h, mlp)
        else:
            dense_mlp_tensors(inv, f"{lp}.mlp", i, h, inter)
        layers.append(S.Layer(i, attn, mlp))
    inv.norm("model.norm", h)
    # Remainders so that the inventory sums to exactly the given counts.
    counts = S.count_params(inv.tensors)
    if act is None:
        rest = total - counts.total
        if rest:
            inv.add("inferred.remainder", (rest,), S.ROLE_OTHER, quantisable=True)
    else:
        e, k = mlp.num_experts, mlp.top_k
        expert_rest_per = (total - act) // (e - k) - n_layers * 3 * h * mlp.expert_intermediate_size
        dense_rest = (act - counts.active) - k * expert_rest_per
        if expert_rest_per:
            inv.add("inferred.expert_remainder", (e, abs(expert_rest_per)), S.ROLE_OTHER, quantisable=True,
                    experts=e, active_experts=k)
        if dense_rest:
            inv.add("inferred.remainder", (abs(dense_rest),), S.ROLE_OTHER, quantisable=True)
        if expert_rest_per < 0 or dense_rest < 0:
            raise ConfigError(
                f"cannot lay out an MoE with {total:,} total and {act:,} active parameters; "
                "pass experts= or a model config"
            )
    return _spec(text, layers, inv.tensors, h, vocab, assumptions)


def _spec(text: str, layers: list, tensors: list, h: int, vocab: int, assumptions: list[str]) -> S.ModelSpec:
    return validate_spec(S.ModelSpec(
        id=text.strip(),
        family="bare-size",
        architecture="inferred",
        hidden_size=h,
        vocab_size=vocab,
        layers=tuple(layers),
        tensors=tuple(tensors),
        max_position_embeddings=None,
        dtype="bfloat16",
        source="size",
        assumptions=tuple(assumptions),
    ))
