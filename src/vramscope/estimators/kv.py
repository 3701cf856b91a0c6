"""KV cache and recurrent state, per attention kind and per engine (formulas.md §3).

Per layer and token, on one GPU:

* MHA/GQA/MQA: ``2 · n_kv_per_gpu · d_h · e`` with ``n_kv_per_gpu = max(1, n_kv // tp)`` — KV heads
  are replicated when TP exceeds them (vLLM ``num_kv_heads = max(1, total // tp)``);
* MLA: every engine caches the compressed latent ``(kv_lora_rank + qk_rope_head_dim) · e`` (no
  factor 2, replicated on every TP rank) — vLLM, SGLang, llama.cpp, and HF transformers 5.x, whose
  DeepSeek-V2/V3 attention updates the cache "while the latent KV is still compressed" and expands
  it with ``kv_b_proj`` at every step (``modeling_deepseek_v2.py``; the exact-mode trace of
  DeepSeek-V2-Lite holds 0.23 GiB of cache at b4 × 2112 tokens, the latent's figure). transformers
  4.x cached decompressed per-head K (nope + rope) and V, ``n_h · (d_qk + d_v) · e``
  (:func:`decompressed_mla_bytes_per_token`, the HF estimate's high band);
* sliding-window layers hold at most the window, chunked layers at most the chunk (plus the batch
  in flight for vLLM / SGLang / llama.cpp, see :meth:`KVGroup.tokens_held`);
* SSM layers hold a constant state per sequence (:func:`ssm_state_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from .. import spec as S
from ..formats.kv_dtypes import kv_bytes_per_element


@dataclass(frozen=True)
class KVPolicy:
    """How an engine caches attention; each engine module owns its policy (``engines/*.py`` ``KV``).

    ``latent_mla``: MLA layers cache the compressed latent (every engine today; transformers 4.x
    cached decompressed K/V, :data:`engines.hf.KV_4X`). ``sliding_holds_batch``: sliding-window
    layers keep ``window − 1 + chunk budget`` tokens (vLLM ``SlidingWindowSpec``, SGLang, llama.cpp
    ``n_swa + n_ubatch``) rather than the window (HF's sliding caches).
    """

    name: str
    latent_mla: bool = True
    sliding_holds_batch: bool = False


#: The bytes per token of every engine's policy today: they cache MLA's latent and differ only in what a
#: sliding layer holds, which bytes per token do not see (``engines.hf.KV_4X`` is the exception). The
#: default of :func:`kv_bytes_per_token` / :func:`kv_groups`; a sequence's bytes need the engine's policy.
LATENT_CACHE = KVPolicy("any engine")


@dataclass(frozen=True)
class KVGroup:
    """Attention layers that cache alike: kind, window, and bytes per cached token on one GPU."""

    kind: str
    layers: int
    bytes_per_token: float  # all layers of the group together
    window: int | None = None

    def tokens_held(self, context: int, policy: KVPolicy, *, chunk_budget: int = 0, block: int = 1) -> int:
        """Tokens this group keeps per sequence at ``context`` tokens.

        vLLM keeps ``window − 1 + max_num_batched_tokens`` for sliding layers (``SlidingWindowSpec``)
        and ``chunk + max_num_batched_tokens`` for chunked ones; llama.cpp ``n_swa + n_ubatch``;
        HF's sliding caches keep the window (``policy.sliding_holds_batch`` says which).
        """
        if self.kind == S.ATTN_SLIDING and self.window:
            cap = self.window - 1 + chunk_budget if policy.sliding_holds_batch else self.window
            held = min(context, cap)
        elif self.kind == S.ATTN_CHUNKED and self.window:
            held = min(context, self.window + chunk_budget)
        else:
            held = context
        return ceil(held / block) * block


def decompressed_mla_bytes_per_token(attn: S.Attention, e: float, tp: int = 1) -> float:
    """MLA cached as decompressed K and V per head (transformers 4.x): ``n_h/tp · (d_qk + d_v) · e``."""
    return max(1, attn.num_heads // tp) * (attn.head_dim + attn.head_dim_v) * e


def layer_kv_bytes_per_token(attn: S.Attention, policy: KVPolicy, e: float, tp: int = 1) -> float:
    """Bytes one attention layer caches per token on one GPU (KV heads split over TP, at least one)."""
    if attn.kind == S.ATTN_MLA and policy.latent_mla:
        return (attn.kv_lora_rank + attn.qk_rope_head_dim) * e
    if attn.kind == S.ATTN_MLA:
        return decompressed_mla_bytes_per_token(attn, e, tp)
    if attn.kind == S.ATTN_LINEAR:
        return 0.0
    return max(1, attn.num_kv_heads // tp) * (attn.head_dim + attn.head_dim_v) * e


def kv_groups(spec: S.ModelSpec, policy: KVPolicy = LATENT_CACHE, kv_dtype: str = "auto", tp: int = 1,
              layers: tuple[S.Layer, ...] | None = None) -> list[KVGroup]:
    """Attention layers grouped by (kind, window) with their summed bytes per token."""
    e = kv_bytes_per_element(kv_dtype, spec.dtype)
    groups: dict[tuple[str, int | None], list[float]] = {}
    for layer in layers if layers is not None else spec.layers:
        attn = layer.attention
        if attn is None:
            continue
        kind = attn.kind if attn.kind in (S.ATTN_SLIDING, S.ATTN_CHUNKED) else S.ATTN_FULL
        key = (kind, attn.window or attn.chunk)
        groups.setdefault(key, []).append(layer_kv_bytes_per_token(attn, policy, e, tp))
    return [KVGroup(kind, len(v), sum(v), window) for (kind, window), v in groups.items()]


def kv_bytes_per_token(spec: S.ModelSpec, policy: KVPolicy = LATENT_CACHE, kv_dtype: str = "auto",
                       tp: int = 1) -> float:
    """Bytes per token over all attention layers, as if every layer held the token (no window cap)."""
    return sum(g.bytes_per_token for g in kv_groups(spec, policy, kv_dtype, tp))


def kv_bytes_per_sequence(groups: list[KVGroup], context: int, policy: KVPolicy, *, chunk_budget: int = 0,
                          block: int = 1) -> float:
    """KV bytes one sequence of ``context`` tokens holds: Σ groups of tokens held × bytes per token."""
    return sum(g.bytes_per_token * g.tokens_held(context, policy, chunk_budget=chunk_budget, block=block)
               for g in groups)


def sequence_kv_formula(groups: list[KVGroup], context: int, policy: KVPolicy, *, chunk_budget: int = 0,
                        block: int = 1) -> str:
    """The text of :func:`kv_bytes_per_sequence`: tokens held × bytes per token, per group of layers,
    e.g. ``1,280 tokens × 98,304 B/token (full layers) + 1,040 tokens × 32,768 B/token (sliding 1024)``."""
    from ..units import fmt_num

    terms = []
    for g in groups:
        held = g.tokens_held(context, policy, chunk_budget=chunk_budget, block=block)
        where = "" if len(groups) == 1 and g.kind == S.ATTN_FULL else (
            f" ({g.layers} {g.kind} layers" + (f", window {g.window}" if g.window else "") + ")")
        terms.append(f"{held:,} tokens × {fmt_num(g.bytes_per_token)} B/token{where}")
    return " + ".join(terms) or "0 B"


def ssm_state_bytes(spec: S.ModelSpec, e: float = 2.0, tp: int = 1, layers: tuple[S.Layer, ...] | None = None) -> float:
    """Recurrent state per sequence on one GPU: constant in the context length.

    Mamba-1: conv ``d_in·(d_conv − 1)`` + ssm ``d_in·d_state``; Mamba-2: conv
    ``(d_in + 2·groups·d_state)·(d_conv − 1)`` + ssm ``heads·head_dim·d_state``
    (vLLM ``mamba_utils.py``; state dtype = model dtype unless ``mamba_ssm_cache_dtype`` says fp32).
    """
    total = 0.0
    for layer in layers if layers is not None else spec.layers:
        ssm = layer.ssm
        if ssm is None:
            continue
        if ssm.kind == S.SSM_GATED_DELTANET:
            # Qwen3-Next (vLLM mamba_utils): conv (2·d_k·n_k + d_v·n_v)·(k − 1), state n_v·d_v·d_k, with
            # n_k = n_groups, d_k = d_state, n_v = num_heads, d_v = head_dim in our SSM fields
            conv = (2 * ssm.d_state * ssm.n_groups + ssm.head_dim * ssm.num_heads) * (ssm.d_conv - 1)
            state = ssm.num_heads * ssm.head_dim * ssm.d_state
        elif ssm.kind == S.SSM_MAMBA2:
            conv = (ssm.d_inner + 2 * ssm.n_groups * ssm.d_state) * (ssm.d_conv - 1)
            state = ssm.num_heads * ssm.head_dim * ssm.d_state
        else:
            conv = ssm.d_inner * (ssm.d_conv - 1)
            state = ssm.d_inner * ssm.d_state
        total += (conv + state) * e / tp
    return total
