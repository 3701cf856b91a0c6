"""`ModelSpec`: the memory-relevant description of a model, and the one place parameters are counted.

A `ModelSpec` is immutable. It holds

* the per-layer structure that memory formulas need (attention kind and head geometry, MLP or MoE
  layout, SSM state geometry), read from the model's own config — never ``hidden / heads`` when
  the config says otherwise;
* a **tensor inventory**: every parameter tensor with its name, shape, role and whether weight
  quantisers replace it. Total and active parameter counts are sums over this inventory
  (:func:`count_params`), so a count and a weight-byte figure can never disagree.

Names follow Hugging Face transformers (``model.layers.0.self_attn.q_proj.weight``); roles are
stack-neutral words that the weight formats (``formats/``) use to decide what they quantise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from math import prod

# --- roles ----------------------------------------------------------------------------------
# A role says what a tensor *is*; formats decide from it what they quantise.
ROLE_EMBED = "embed"  # token embedding (input)
ROLE_LM_HEAD = "lm_head"  # output projection (absent when tied to the embedding)
ROLE_NORM = "norm"  # RMSNorm / LayerNorm weights and biases
ROLE_BIAS = "bias"  # biases of linear layers
ROLE_ROUTER = "router"  # MoE gate (router) weight
ROLE_ATTN_Q = "attn_q"
ROLE_ATTN_K = "attn_k"
ROLE_ATTN_V = "attn_v"
ROLE_ATTN_QKV = "attn_qkv"  # fused q,k,v (Phi-3, ChatGLM, ViT blocks)
ROLE_ATTN_O = "attn_o"
ROLE_ATTN_Q_A = "attn_q_a"  # MLA low-rank projections
ROLE_ATTN_Q_B = "attn_q_b"
ROLE_ATTN_KV_A = "attn_kv_a"
ROLE_ATTN_KV_B = "attn_kv_b"
ROLE_ATTN_SINKS = "attn_sinks"  # gpt-oss per-head sink logits
ROLE_FFN_GATE = "ffn_gate"
ROLE_FFN_UP = "ffn_up"
ROLE_FFN_GATE_UP = "ffn_gate_up"  # fused gate+up (Phi-3, GLM, gpt-oss experts)
ROLE_FFN_DOWN = "ffn_down"
ROLE_SSM_IN = "ssm_in"
ROLE_SSM_CONV = "ssm_conv"
ROLE_SSM_X = "ssm_x"
ROLE_SSM_DT = "ssm_dt"
ROLE_SSM_A = "ssm_a"
ROLE_SSM_D = "ssm_d"
ROLE_SSM_OUT = "ssm_out"
ROLE_VISION = "vision"  # any tensor of a vision tower / projector
ROLE_AUDIO = "audio"
ROLE_OTHER = "other"

#: roles of matrices that weight-only quantisers (bitsandbytes, GPTQ, AWQ, FP8) replace.
LINEAR_ROLES = frozenset(
    {
        ROLE_ATTN_Q,
        ROLE_ATTN_K,
        ROLE_ATTN_V,
        ROLE_ATTN_QKV,
        ROLE_ATTN_O,
        ROLE_ATTN_Q_A,
        ROLE_ATTN_Q_B,
        ROLE_ATTN_KV_A,
        ROLE_ATTN_KV_B,
        ROLE_FFN_GATE,
        ROLE_FFN_UP,
        ROLE_FFN_GATE_UP,
        ROLE_FFN_DOWN,
        ROLE_SSM_IN,
        ROLE_SSM_X,
        ROLE_SSM_DT,
        ROLE_SSM_OUT,
    }
)

COMPONENT_TEXT = "text"
COMPONENT_VISION = "vision"
COMPONENT_AUDIO = "audio"
COMPONENT_MTP = "mtp"  # DeepSeek multi-token-prediction layer: stored, not loaded by HF

# --- attention / mlp / ssm kinds -------------------------------------------------------------
ATTN_FULL = "full"
ATTN_SLIDING = "sliding"
ATTN_CHUNKED = "chunked"
ATTN_MLA = "mla"
ATTN_LINEAR = "linear"
ATTENTION_KINDS = (ATTN_FULL, ATTN_SLIDING, ATTN_CHUNKED, ATTN_MLA, ATTN_LINEAR)

MLP_DENSE = "dense"
MLP_MOE = "moe"
MLP_NONE = "none"

SSM_MAMBA1 = "mamba1"
SSM_MAMBA2 = "mamba2"
SSM_GATED_DELTANET = "gated_deltanet"
# MiniMax lightning attention: a decayed linear-attention state of heads × head_dim × head_dim per sequence
# and no convolution (d_inner = heads·head_dim, d_state = head_dim, d_conv = 1, so the Mamba-1 state rule
# d_inner·d_state + d_inner·(d_conv − 1) gives exactly heads·head_dim²)
SSM_LIGHTNING = "lightning"


@dataclass(frozen=True)
class Attention:
    """Geometry of one attention layer.

    ``head_dim`` is the per-head width of Q and K (for MLA: ``qk_nope_head_dim + qk_rope_head_dim``);
    ``v_head_dim`` the width of V when it differs (MLA). ``window`` is the sliding-window length in
    tokens for ``sliding`` layers, ``chunk`` the chunk length for ``chunked`` (Llama 4) layers.
    """

    kind: str
    num_heads: int
    num_kv_heads: int
    head_dim: int
    v_head_dim: int | None = None
    window: int | None = None
    chunk: int | None = None
    # MLA (DeepSeek-V2/V3): low-rank q and compressed kv
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    qk_nope_head_dim: int | None = None

    @property
    def head_dim_v(self) -> int:
        return self.v_head_dim if self.v_head_dim is not None else self.head_dim


@dataclass(frozen=True)
class MLP:
    """Feed-forward block: dense (gated SwiGLU/GeGLU or plain) or mixture of experts."""

    kind: str
    intermediate_size: int = 0  # dense MLP width (0 for pure MoE layers)
    gated: bool = True
    activation: str = "silu"
    num_experts: int = 0  # routed experts E
    top_k: int = 0  # experts per token k
    expert_intermediate_size: int = 0
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0  # total width of the shared expert(s)


@dataclass(frozen=True)
class SSM:
    """A state-space mixer (Mamba / Mamba2 / Gated DeltaNet) whose state is constant per sequence."""

    kind: str
    d_inner: int
    d_state: int
    d_conv: int
    dt_rank: int = 0  # mamba1
    num_heads: int = 0  # mamba2 / gated deltanet
    head_dim: int = 0
    n_groups: int = 1


@dataclass(frozen=True)
class Layer:
    """One decoder layer: a token mixer (attention or SSM, or neither) and an MLP."""

    index: int
    attention: Attention | None
    mlp: MLP
    ssm: SSM | None = None

    @property
    def mixer(self) -> str:
        if self.attention is not None:
            return "attention"
        if self.ssm is not None:
            return "ssm"
        return "none"


@dataclass(frozen=True)
class Tensor:
    """One parameter tensor.

    ``experts`` > 0 marks a stacked routed-expert tensor whose leading dimension indexes the
    experts; ``active_experts`` of them take part in each token (``numel * active_experts /
    experts`` active parameters). ``dtype`` / ``nbytes`` are the stored type and exact byte size
    when the source knows them (safetensors header, GGUF), else ``None``.
    """

    name: str
    shape: tuple[int, ...]
    role: str
    layer: int | None = None
    quantisable: bool = False
    component: str = COMPONENT_TEXT
    experts: int = 0
    active_experts: int = 0
    dtype: str | None = None
    nbytes: int | None = None

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def active_numel(self) -> float:
        if self.experts:
            return self.numel * self.active_experts / self.experts
        return float(self.numel)


@dataclass(frozen=True)
class Encoder:
    """A non-text tower feeding the language model (vision transformer + merger, audio encoder)."""

    kind: str  # "vision" | "audio"
    name: str  # e.g. "qwen2_vl_vit", "siglip"
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    patch_size: int = 0
    image_size: int = 0  # fixed input resolution (SigLIP/CLIP); 0 = dynamic (Qwen-VL)
    spatial_merge_size: int = 1
    temporal_patch_size: int = 1
    tokens_per_image: int = 0  # fixed LLM tokens per image (Gemma 3: 256); 0 = dynamic
    window_size: int = 0  # Qwen2.5-VL windowed attention (pixels)
    full_attention_layers: tuple[int, ...] = ()
    out_hidden_size: int = 0  # width of the merger output (= LLM hidden)


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts derived from a tensor inventory."""

    total: int
    active: int
    by_component: dict[str, int]
    mtp: int
    embedding: int  # input embedding + output head (once when tied)


def count_params(tensors: Iterable[Tensor]) -> ParamCounts:
    """Count parameters over a tensor inventory.

    total  = Σ numel over every tensor except the MTP component (reported as ``mtp``; HF does not
             load it and the published totals exclude it).
    active = Σ numel of non-expert tensors + Σ numel·k/E of routed-expert tensors, i.e. what one
             token touches (embedding and head included, as the published active counts do).
    """
    total = 0
    active = 0.0
    mtp = 0
    embedding = 0
    by_component: dict[str, int] = {}
    for t in tensors:
        n = t.numel
        if t.component == COMPONENT_MTP:
            mtp += n
            continue
        total += n
        active += t.active_numel
        by_component[t.component] = by_component.get(t.component, 0) + n
        if t.role in (ROLE_EMBED, ROLE_LM_HEAD):
            embedding += n
    return ParamCounts(
        total=total, active=round(active), by_component=by_component, mtp=mtp, embedding=embedding
    )


# --- what a checkpoint stores ----------------------------------------------------------------
# Bits per element of every safetensors dtype: the format's ``Dtype`` enum and ``Dtype::bitsize``
# in https://github.com/huggingface/safetensors/blob/main/safetensors/src/tensor.rs (F4 and F6
# are the OCP microscaling element types, packed below a byte; C64 is a complex of two F32).
SAFETENSORS_DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
    "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
# vramscope's bounds on a safetensors header (one or more files). Tensor count, dimensions and
# elements per tensor are bounds.py's (MAX_TENSORS, MAX_DIMS, MAX_NUMEL); in addition:
MAX_STORED_BYTES = 1 << 52  # 4 PiB in all: 2,000x Kimi K2's ~2 TB of bf16 weights
MAX_TENSOR_NAME_CHARS = 1024  # transformers names run to ~100 characters


def _shown(value: object, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _stored_int(value: object, limit: int) -> int | None:
    """``value`` when it is an int (not a bool) in [0, limit], else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        return None
    return value


@dataclass(frozen=True)
class StoredWeights:
    """What a checkpoint actually stores (from its safetensors headers): dtype and shape per tensor.

    Parameter counts still come from the inventory (the structural description); this says how
    many bytes the checkpoint's own files hold and in which dtypes, e.g. FP8 weights with fp32
    block scales, or MXFP4 experts stored as U8 blocks plus scales.

    Build it with :meth:`from_tensors` (or :meth:`from_dict` for vramscope's own cache): both
    check every value — a known safetensors dtype, a shape of at most ``MAX_DIMS`` non-negative
    ints, byte offsets that match dtype × shape — and raise :class:`~vramscope.errors.ConfigError`
    naming the tensor, so no header is ever misread (an unknown dtype is refused, not guessed).
    """

    tensors: tuple[tuple[str, str, tuple[int, ...]], ...]  # (name, dtype, shape)
    bytes_by_dtype: dict[str, int]
    total_bytes: int
    total_elements: int

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, tuple], where: str = "safetensors header") -> StoredWeights:
        """From ``{name: (dtype, shape)}`` or ``{name: (dtype, shape, (begin, end))}``, every value checked.

        ``(begin, end)`` are the tensor's byte offsets in its file, when known: they must span
        exactly the tensor's bytes (the rule safetensors itself enforces when it loads a file).
        """
        from .bounds import MAX_DIMS, MAX_NUMEL, MAX_TENSORS
        from .errors import ConfigError

        if not isinstance(tensors, Mapping):
            raise ConfigError(f"{where}: expected a map of tensor names, got {type(tensors).__name__}")
        if len(tensors) > MAX_TENSORS:
            raise ConfigError(f"{where}: {len(tensors):,} tensors, above vramscope's limit of {MAX_TENSORS:,}")
        rows = []
        by_dtype: dict[str, int] = {}
        elements = total = 0
        for name, entry in tensors.items():
            if not isinstance(name, str) or not name or len(name) > MAX_TENSOR_NAME_CHARS:
                raise ConfigError(f"{where}: tensor name {_shown(name)} is not a name of 1 to "
                                  f"{MAX_TENSOR_NAME_CHARS:,} characters")
            label = f"{where}: tensor {_shown(name)}"
            if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
                raise ConfigError(f"{label} is {_shown(entry)}, not (dtype, shape[, offsets])")
            dtype, shape = entry[0], entry[1]
            if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPE_BITS:
                raise ConfigError(f"{label} has dtype {_shown(dtype)}, which is not a safetensors dtype "
                                  f"({', '.join(SAFETENSORS_DTYPE_BITS)})")
            if not isinstance(shape, (list, tuple)) or len(shape) > MAX_DIMS:
                raise ConfigError(f"{label} has shape {_shown(shape)}; a shape is a list of at most "
                                  f"{MAX_DIMS} dimensions")
            dims = tuple(_stored_int(d, MAX_NUMEL) for d in shape)
            if None in dims:
                raise ConfigError(f"{label} has shape {_shown(shape)}; dimensions must be integers from 0 "
                                  f"to {MAX_NUMEL:,}")
            numel = 1
            for d in dims:
                numel *= d  # at most 8 factors below 2**48 each: cheap even before the bound below
            if numel > MAX_NUMEL:
                raise ConfigError(f"{label} has {numel:,} elements, above vramscope's limit of {MAX_NUMEL:,}")
            bits = numel * SAFETENSORS_DTYPE_BITS[dtype]
            if bits % 8:
                raise ConfigError(f"{label}: {numel:,} {dtype} elements do not fill whole bytes")
            nbytes = bits // 8
            if len(entry) == 3:
                offsets = entry[2]
                ends = (tuple(_stored_int(o, MAX_STORED_BYTES) for o in offsets)
                        if isinstance(offsets, (list, tuple)) and len(offsets) == 2 else (None,))
                if None in ends or ends[1] - ends[0] != nbytes:
                    raise ConfigError(f"{label} has data_offsets {_shown(offsets)}; they must be two byte "
                                      f"offsets {nbytes:,} bytes apart ({dtype} × {list(dims)})")
            elements += numel
            total += nbytes
            if total > MAX_STORED_BYTES:
                raise ConfigError(f"{where}: more than {MAX_STORED_BYTES:,} bytes of tensors, above vramscope's "
                                  "limit (is the header corrupt?)")
            by_dtype[dtype] = by_dtype.get(dtype, 0) + nbytes
            rows.append((name, dtype, dims))
        rows.sort()
        return cls(tuple(rows), by_dtype, total, elements)

    def to_dict(self) -> dict:
        return {"tensors": [[n, d, list(s)] for n, d, s in self.tensors], "bytes_by_dtype": self.bytes_by_dtype,
                "total_bytes": self.total_bytes, "total_elements": self.total_elements}

    @classmethod
    def from_dict(cls, data: object, where: str = "stored-weights cache") -> StoredWeights:
        """The inverse of :meth:`to_dict`, validated as :meth:`from_tensors` validates a header; the
        totals must be the ones the tensors add up to (a cache entry that disagrees is corrupt)."""
        from .errors import ConfigError

        rows = data.get("tensors") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ConfigError(f"{where}: not a stored-weights record")
        tensors: dict[str, tuple] = {}
        for row in rows:
            if not isinstance(row, list) or len(row) != 3 or not isinstance(row[0], str) or row[0] in tensors:
                raise ConfigError(f"{where}: row {_shown(row)} is not a distinct [name, dtype, shape]")
            tensors[row[0]] = (row[1], row[2])
        stored = cls.from_tensors(tensors, where)
        if (data.get("bytes_by_dtype"), data.get("total_bytes"), data.get("total_elements")) != (
                stored.bytes_by_dtype, stored.total_bytes, stored.total_elements):
            raise ConfigError(f"{where}: its totals do not match its tensors")
        return stored


@dataclass(frozen=True)
class ModelSpec:
    """Everything about a model that GPU memory depends on.

    ``dtype`` is the checkpoint's stored dtype (config ``torch_dtype`` / ``dtype``);
    ``quantization`` the checkpoint's own ``quantization_config`` (e.g. DeepSeek-V3's block FP8,
    gpt-oss's MXFP4), ``None`` for plain checkpoints. ``assumptions`` lists every value that was
    not read from the source but assumed (a default, an inferred dimension).
    """

    id: str
    family: str
    architecture: str
    hidden_size: int
    vocab_size: int
    layers: tuple[Layer, ...]
    tensors: tuple[Tensor, ...]
    tie_word_embeddings: bool = False
    max_position_embeddings: int | None = None
    dtype: str = "bfloat16"
    quantization: dict | None = None
    encoders: tuple[Encoder, ...] = ()
    num_mtp_layers: int = 0
    source: str = "config"
    assumptions: tuple[str, ...] = ()
    stored: StoredWeights | None = None  # hub: the safetensors headers, when read
    config: dict = field(default_factory=dict, compare=False, repr=False)

    # --- structure ---------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def is_moe(self) -> bool:
        return any(layer.mlp.kind == MLP_MOE for layer in self.layers)

    @property
    def attention_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.attention is not None)

    @property
    def ssm_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.ssm is not None)

    @property
    def layer_kinds(self) -> dict[str, int]:
        """How many layers of each (mixer kind, mlp kind): e.g. {"full+dense": 32}."""
        kinds: dict[str, int] = {}
        for layer in self.layers:
            mixer = layer.attention.kind if layer.attention else (layer.ssm.kind if layer.ssm else "none")
            key = f"{mixer}+{layer.mlp.kind}"
            kinds[key] = kinds.get(key, 0) + 1
        return kinds

    # --- parameter counts (all derived from the tensor inventory) -----------------------------
    @cached_property
    def counts(self) -> ParamCounts:
        return count_params(self.tensors)

    @property
    def params_total(self) -> int:
        return self.counts.total

    @property
    def params_active(self) -> int:
        return self.counts.active

    @property
    def params_mtp(self) -> int:
        return self.counts.mtp

    def summary(self) -> dict:
        """A JSON-ready summary of the spec (used by `vramscope models --json` and the API)."""
        return {
            "id": self.id,
            "family": self.family,
            "architecture": self.architecture,
            "params_total": self.params_total,
            "params_active": self.params_active,
            "params_mtp": self.params_mtp,
            "params_by_component": dict(self.counts.by_component),
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "vocab_size": self.vocab_size,
            "layer_kinds": self.layer_kinds,
            "tie_word_embeddings": self.tie_word_embeddings,
            "max_position_embeddings": self.max_position_embeddings,
            "dtype": self.dtype,
            "quantization": self.quantization,
            "encoders": [e.name for e in self.encoders],
            "source": self.source,
            "stored_bytes": self.stored.total_bytes if self.stored else None,
            "assumptions": list(self.assumptions),
        }
