"""Ollama: its own memory estimate and its own decision of how many layers go to the GPU(s).

Ollama does not ask llama.cpp how much memory a model needs: before it starts a runner it
estimates weights, KV cache and compute graph from the GGUF's metadata and tensor sizes, and from
that estimate decides ``--n-gpu-layers`` and ``--tensor-split``. The decision is logged as one line,
``msg="offload to cuda"`` (``msg=offload library=cuda`` from v0.5.8 on) with ``layers.offload``,
``layers.split``, ``memory.required.full/partial/kv/allocations``, ``memory.weights.*`` and
``memory.graph.*``. This module re-derives that line in Python (written from reading the Go code;
nothing copied).

Modelled release: **Ollama v0.12.10** (``llm/memory.go`` as of commit
``4372d0bfefc7c705b5765177460605ebc8eef1f3``, the parent of ``f560bd077fcf`` which deleted it in
v0.12.11 — "llm: Use Ollama engine memory layouts for both old and new engines"; from v0.12.11 on
Ollama no longer estimates: it allocates the real buffers in the runner and fits layers to the
measured sizes, so there is no closed formula to model). Older releases differ in a few places that
change the logged numbers; ``release=`` selects them (each switch names the commit that changed it):

==========  ============================================================================  =========
since       change                                                                        commit
==========  ============================================================================  =========
v0.1.45     the ``offload to …`` line with memory.required.*; layers placed 0→N−1         7784ca33c
v0.3.10     llama full-offload graph = max(…, 4·batch·(embedding+vocab))                  2003d6015
v0.4.0      KV computed in ``GraphSize`` (same formula)                                   d07cf41a9
v0.5.0      KV cache type q8_0 / q4_0 (1 / 0.5 byte per element) with flash attention    1bdab9fdb
v0.6.1      memory.weights.repeating no longer includes the KV cache                      033cec232
v0.6.3      KV per layer (gemma3 sliding layers smaller); weights.total = layers+output   f66216e39
v0.7.0      layers placed N−1→0, overflow counted per layer; buffer = largest group       0478d440f
v0.7.1      buffer = blk.0 + its KV again; ollama-engine vision weights+graph placed with 3fe74fba4,
            the output layer instead of on GPU 0                                          d7555774
v0.12.11    memory.go removed (measured layouts)                                          f560bd077
==========  ============================================================================  =========

Defaults Ollama applies (``envconfig/config.go`` and ``server/sched.go`` at 4372d0b, unless noted):

* ``num_ctx``: ``OLLAMA_CONTEXT_LENGTH``, default 4096 from v0.6.7 (commits 424f64863, 44b466eeb),
  2048 before; at least 2048 for vision models; clamped to the model's trained context (v0.12). The current release (v0.33, fb307609) defaults by total VRAM instead:
  ≥ 47 GiB → 262144, ≥ 23 GiB → 32768, else 4096 (``server/routes.go``).
* ``num_parallel``: ``OLLAMA_NUM_PARALLEL``, default 1 from v0.10.0 (20c3266e9); before, when
  unset, ``defaultParallel`` in server/sched.go if the model fits: 2 in v0.6.7–v0.9.x (424f64863),
  4 in v0.2.0–v0.6.6 (9929751cc), else 1. The KV cache holds ``num_ctx × num_parallel`` cells
  (up to v0.11 the runner's ``--ctx-size`` already is that product).
* flash attention: ``OLLAMA_FLASH_ATTENTION``; the KV cache type ``OLLAMA_KV_CACHE_TYPE``
  (f16 / q8_0 / q4_0) only takes effect with flash attention on (otherwise f16).
* ``OLLAMA_GPU_OVERHEAD`` (bytes per GPU, default 0); a minimum of 457 MiB per CUDA/ROCm GPU and
  512 MiB on Metal (``ml/device.go MinimumMemory``).
* ``num_batch`` 512; ``num_gpu`` −1 (= decide); ``OLLAMA_SCHED_SPREAD`` spreads over all GPUs
  instead of the fewest that hold the whole model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ... import spec as S
from ...errors import VramscopeError

MIB = 1 << 20
GIB = 1 << 30

#: the release modelled by default (the last one with llm/memory.go)
MODELLED_RELEASE = "0.12.10"
MODELLED_COMMIT = "4372d0bfefc7c705b5765177460605ebc8eef1f3"
SOURCE = f"https://github.com/ollama/ollama/blob/{MODELLED_COMMIT}/llm/memory.go"

#: ml/device.go MinimumMemory at 4372d0b: 457 MiB for CUDA/ROCm, 512 MiB for Metal
#: (discover/gpu_darwin.go metalMinimumMemory in older releases)
MINIMUM_MEMORY = {"cuda": 457 * MIB, "rocm": 457 * MIB, "metal": 512 * MIB}
#: api/types.go DefaultOptions: NumBatch 512
DEFAULT_NUM_BATCH = 512
#: fs/ggml/ggml.go kvCacheBytesPerElement: bytes per KV element by OLLAMA_KV_CACHE_TYPE
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}
#: fs/ggml/ggml.go FlashAttention(): architectures with flash attention on unless OLLAMA_FLASH_ATTENTION
#: says otherwise, and the release that added each (85ccf7354 gpt-oss, 0bda72892 qwen3, c3c85aa06 gemma3,
#: 75e75d9af qwen3vl); before, flash attention was off unless OLLAMA_FLASH_ATTENTION=1
FLASH_BY_DEFAULT: dict[str, tuple[int, int, int]] = {
    "gptoss": (0, 11, 8), "gpt-oss": (0, 11, 8), "qwen3": (0, 12, 4), "qwen3moe": (0, 12, 4),
    "gemma3": (0, 12, 6), "qwen3vl": (0, 12, 8), "qwen3vlmoe": (0, 12, 8),
}


def parse_release(text: str) -> tuple[int, int, int]:
    """``"0.5.7"`` / ``"v0.12.10"`` → (0, 5, 7); one clear error for anything else."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:-rc\d+)?", str(text).strip())
    if not m:
        raise VramscopeError(f"Ollama release {text!r} is not a version like 0.12.10")
    rel = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    if rel < (0, 1, 45):
        raise VramscopeError(f"Ollama release {text}: only v0.1.45 and later log and are modelled "
                             "(the 'offload to …' estimate started there)")
    if rel >= (0, 12, 11):
        raise VramscopeError(f"Ollama release {text}: from v0.12.11 Ollama measures allocations instead "
                             f"of estimating; the estimate modelled here is v{MODELLED_RELEASE}'s or older")
    return rel


def default_parallel(release: tuple[int, int, int]) -> int:
    """``OLLAMA_NUM_PARALLEL`` unset, model fits: 1 from v0.10.0 (20c3266e9), ``defaultParallel``
    2 from v0.6.7 (424f64863), 4 from v0.2.0 (9929751cc), 1 before."""
    if release >= (0, 10, 0) or release < (0, 2, 0):
        return 1
    return 2 if release >= (0, 6, 7) else 4


def default_num_ctx(release: tuple[int, int, int]) -> int:
    """``OLLAMA_CONTEXT_LENGTH`` unset: 4096 from v0.6.7 (44b466eeb), 2048 before."""
    return 4096 if release >= (0, 6, 7) else 2048


def flash_attention_default(arch: str, release: str = MODELLED_RELEASE) -> bool:
    """Flash attention when OLLAMA_FLASH_ATTENTION is unset: on for the architectures of
    :data:`FLASH_BY_DEFAULT` from the release that added each, otherwise off."""
    since = FLASH_BY_DEFAULT.get(arch)
    return since is not None and parse_release(release) >= since


def supports_flash_attention(m: OllamaModel, release: str = MODELLED_RELEASE) -> bool:
    """``SupportsFlashAttention``: K and V heads of equal, non-zero width; not gemma2 (from v0.11.11,
    29ddfc2ca). Ollama silently runs without flash attention (and with an f16 cache) otherwise."""
    if m.arch == "gemma2" and parse_release(release) >= (0, 11, 11):
        return False
    return m.key_length != 0 and m.key_length == m.value_length


def kv_bytes_per_element(kv_type: str) -> float:
    """Bytes per K or V element of Ollama's estimate (``kvCacheBytesPerElement``): f16 2, q8_0 1,
    q4_0 0.5 — q8_0's real block is 34/32 bytes, Ollama rounds it to 1."""
    key = (kv_type or "f16").strip().lower()
    if key not in KV_BYTES_PER_ELEMENT:
        raise VramscopeError(f"unknown Ollama KV cache type {kv_type!r}: use one of "
                             f"{', '.join(KV_BYTES_PER_ELEMENT)} (OLLAMA_KV_CACHE_TYPE)")
    return KV_BYTES_PER_ELEMENT[key]


def human_bytes2(n: int) -> str:
    """format.HumanBytes2: binary units with one decimal ("8.2 GiB", "457.0 MiB", "0 B")."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def parse_human_bytes(text: str) -> int:
    """Inverse of :func:`human_bytes2` (to the printed precision): "8.2 GiB" → bytes."""
    m = re.fullmatch(r"\s*([\d.]+)\s*(B|KiB|MiB|GiB|TiB)\s*", text)
    if not m:
        raise ValueError(f"not a HumanBytes2 value: {text!r}")
    return round(float(m.group(1)) * {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": GIB, "TiB": GIB << 10}[m.group(2)])


# --- what Ollama reads from the GGUF --------------------------------------------------------------


@dataclass(frozen=True)
class OllamaModel:
    """The GGUF facts Ollama's estimate reads (``f.KV()`` and ``f.Tensors().GroupLayers()``).

    ``layer_bytes[i]`` = Σ bytes of the tensors named ``blk.i.*``; ``output_bytes`` the ``output``
    group (None when the embedding is tied and ``token_embd`` stands in for it).
    """

    arch: str
    block_count: int
    embedding: int
    heads: tuple[int, ...]
    heads_kv: tuple[int, ...]
    key_length: int
    value_length: int
    vocab: int
    layer_bytes: tuple[int, ...]
    token_embd_bytes: int
    output_bytes: int | None = None
    output_norm_bytes: int = 0
    sliding_window: int = 0
    ffn_gate_exps_bytes: int = 0  # blk.0.ffn_gate_exps.weight (the mixtral-8x22b graph branch)
    feed_forward_length: int = 0
    max_group_bytes: int = 0  # the largest GroupLayers group (v0.7.0's buffer layer)
    vision_weights: int = 0  # Σ "v" / "v.*" groups (VisionGraphSize)
    vision_graph: int = 0
    trained_ctx: int = 0
    name: str = ""

    @property
    def output_layer_bytes(self) -> int:
        """memoryLayerOutput: ``output_norm`` + (``output`` or, when tied, ``token_embd``)."""
        head = self.output_bytes if self.output_bytes is not None else self.token_embd_bytes
        return self.output_norm_bytes + head

    @property
    def heads_max(self) -> int:
        return max(self.heads, default=1) or 1

    @property
    def heads_min(self) -> int:
        return min(self.heads, default=1) or 1

    @property
    def heads_kv_max(self) -> int:
        return max(self.heads_kv, default=1) or 1

    @property
    def heads_kv_min(self) -> int:
        return min(self.heads_kv, default=1) or 1

    @property
    def embedding_heads(self) -> int:
        """EmbeddingHeadCountMax: embedding / HeadCountMin (the graph formulas' head width)."""
        return self.embedding // self.heads_min


#: HF model_type → GGUF general.architecture (what Ollama switches on)
_ARCH = {
    "llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
    "qwen3_moe": "qwen3moe", "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3",
    "gemma3_text": "gemma3", "deepseek_v2": "deepseek2", "deepseek_v3": "deepseek2", "phi3": "phi3",
    "phi": "phi2", "stablelm": "stablelm", "cohere": "command-r", "gpt_oss": "gptoss",
    "chatglm": "chatglm", "glm4": "glm4", "qwen2_vl": "qwen2vl", "qwen2_5_vl": "qwen25vl",
}  # fmt: skip


#: HF names of the vision→text projector (Ollama's converters name it ``mm.*``, outside the "v" groups)
_PROJECTOR = re.compile(r"multi_modal_projector|mm_projector|merger|\.connector\.")


def _f16_bytes(t: S.Tensor) -> int:
    """A vision tensor as Ollama's converter stores it: ≥2-D in F16, 1-D (norms, biases) in F32."""
    return math.prod(t.shape) * (2 if len(t.shape) >= 2 else 4)


def _vision_graph(arch: str, enc: S.Encoder | None) -> int:
    """VisionGraphSize's graph term (fs/ggml/ggml.go at 4372d0b) for gemma3 / mistral3:
    4 · (image² · channels + embedding · patch + patches² · heads), 3 channels."""
    if enc is None or not enc.patch_size or arch not in ("gemma3", "mistral3"):
        return 0
    patches = (enc.image_size // enc.patch_size) ** 2
    return 4 * (enc.image_size * enc.image_size * 3 + enc.hidden_size * enc.patch_size + patches * patches * enc.num_heads)


def model_from_spec(spec: S.ModelSpec, quant: str | None = "Q4_K_M", *, vision: bool = True) -> OllamaModel:
    """The :class:`OllamaModel` of ``spec`` stored as GGUF file type ``quant``.

    A spec read from a GGUF file uses its own tensor sizes and names (grouped as Ollama's
    ``GroupLayers`` does); a config-derived spec is planned with llama-quantize's rules
    (:func:`vramscope.formats.gguf_mix.plan`). Vision towers (Ollama keeps them in the model blob
    for its own engine: gemma3, mistral3, qwen2.5-vl …) are counted at F16 when ``vision``.
    """
    arch = _ARCH.get(spec.family.lower(), spec.family.lower())
    n = spec.num_layers
    groups: dict[str, int] = {}
    vision_bytes = 0
    ffn_exps0 = 0
    if spec.source == "gguf":
        items = [(t.name, t.nbytes or 0, t) for t in spec.tensors]
    else:
        from ...formats.gguf_mix import plan

        items = [(p.gguf_name, p.nbytes, p.tensor) for p in plan(quant or "Q4_K_M", spec)
                 if p.tensor.component != S.COMPONENT_MTP]
        if vision:  # the tower is "v.*"; the projector into the text model is "mm.*", which Ollama does not count
            items += [(("mm." if _PROJECTOR.search(t.name) else "v.") + t.name, _f16_bytes(t), t)
                      for t in spec.tensors if t.component == S.COMPONENT_VISION]
    for name, nbytes, t in items:
        if name.startswith("v.") or t.component == S.COMPONENT_VISION:
            if name.startswith("v.") or name == "v":
                vision_bytes += nbytes
            continue
        if t.layer is not None and t.component == S.COMPONENT_TEXT:
            key = f"blk.{t.layer}"
        elif t.role == S.ROLE_EMBED or name.startswith("token_embd"):
            key = "token_embd"
        elif t.role == S.ROLE_LM_HEAD or name == "output.weight":
            key = "output"
        elif t.role == S.ROLE_NORM and t.layer is None:
            key = "output_norm"
        else:
            key = name.split(".")[0]
        groups[key] = groups.get(key, 0) + nbytes
        if t.layer == 0 and name.endswith("ffn_gate_exps.weight"):
            ffn_exps0 += nbytes
    heads = tuple((layer.attention.num_heads if layer.attention else 0) for layer in spec.layers)
    heads_kv = tuple((layer.attention.num_kv_heads if layer.attention else 0) for layer in spec.layers)
    att = next((layer.attention for layer in spec.layers if layer.attention), None)
    hk = att.head_dim if att else 0
    hv = (att.v_head_dim or att.head_dim) if att else 0
    if att is not None and att.kv_lora_rank:  # MLA: GGUF key_length = nope + rope, value_length = v
        hk = (att.qk_nope_head_dim or 0) + (att.qk_rope_head_dim or 0)
    window = next((layer.attention.window for layer in spec.layers
                   if layer.attention and layer.attention.kind == S.ATTN_SLIDING and layer.attention.window), 0)
    enc = next((e for e in spec.encoders if e.kind == "vision"), None)
    mlp0 = spec.layers[0].mlp if spec.layers else None
    ff_len = (mlp0.expert_intermediate_size or mlp0.intermediate_size) if mlp0 else 0
    return OllamaModel(
        arch=arch, block_count=n, embedding=spec.hidden_size, heads=heads, heads_kv=heads_kv,
        key_length=hk, value_length=hv, vocab=spec.vocab_size,
        layer_bytes=tuple(groups.get(f"blk.{i}", 0) for i in range(n)),
        token_embd_bytes=groups.get("token_embd", 0), output_bytes=groups.get("output"),
        output_norm_bytes=groups.get("output_norm", 0), sliding_window=window or 0,
        ffn_gate_exps_bytes=ffn_exps0, feed_forward_length=ff_len, max_group_bytes=max(groups.values(), default=0),
        vision_weights=vision_bytes if vision else 0,
        vision_graph=_vision_graph(arch, enc) if vision and vision_bytes else 0,
        trained_ctx=spec.max_position_embeddings or 0, name=spec.id,
    )


# --- KV cache and graph (fs/ggml/ggml.go GraphSize) ---------------------------------------------


def kv_per_layer(m: OllamaModel, ctx: int, kv_type: str = "f16", *, parallel: int = 1,
                 batch: int = DEFAULT_NUM_BATCH, release: str = MODELLED_RELEASE) -> list[int]:
    """KV bytes per layer as Ollama estimates them; ``ctx`` = num_ctx × num_parallel cells.

    * v0.6.3+: ``ctx · (key_length + value_length) · head_count_kv[i] · bytes/element`` per layer;
      gemma3's sliding layers (all but every 6th) hold ``num_parallel · sliding_window + batch``
      cells; gpt-oss' even layers ``num_parallel · 4096 + batch``.
    * before: the total ``ctx · n_layer · (k + v) · head_count_kv · bytes`` (f16 = 2 before v0.5.0)
      split evenly, ``total / n_layer`` per layer (integer division as in Go).
    """
    rel = parse_release(release)
    bpe = kv_bytes_per_element(kv_type) if rel >= (0, 5, 0) else 2.0
    width = m.key_length + m.value_length
    n = m.block_count
    if rel < (0, 6, 3):
        total = int(ctx * n * width * m.heads_kv_max * bpe)
        return [total // n] * n if n else []
    kv = [int(ctx * width * hkv * bpe) if h and hkv else 0 for h, hkv in zip(m.heads, m.heads_kv, strict=True)]
    if m.arch == "gemma3" and m.sliding_window:
        cells = parallel * m.sliding_window + batch
        kv = [v if (i + 1) % 6 == 0 else int(cells * width * m.heads_kv_max * bpe) for i, v in enumerate(kv)]
    elif m.arch in ("gptoss", "gpt-oss"):
        per = width * m.heads_kv_max * bpe
        kv = [int(per) * ((parallel * 4096 + batch) if i % 2 == 0 else ctx) for i in range(n)]
    return kv


def graph_size(m: OllamaModel, ctx: int, batch: int, kv_total: int, *, parallel: int = 1,
               flash_attention: bool = False, release: str = MODELLED_RELEASE) -> tuple[int, int]:
    """(partial, full) compute-graph bytes: ``GraphSize``'s per-architecture formulas (4 bytes per
    f32 activation; ``9/16`` and ``105/128`` are Ollama's Q4 weight-size factors for the
    dequantised output/attention matrices). Architectures without a formula get
    ``partial = GQA · kv_total / 6`` and ``full = partial`` (``estimateGPULayers``)."""
    rel = parse_release(release)
    e, v, c, b = m.embedding, m.vocab, ctx, batch
    h, hkv, eh = m.heads_max, m.heads_kv_max, m.embedding_heads
    ehk = m.key_length
    full = partial = 0
    a = m.arch
    if a in ("llama", "llama4"):
        full = 4 * b * (1 + 4 * e + c * (1 + h))
        if rel >= (0, 3, 10):
            full = max(full, 4 * b * (e + v))
        partial = 4 * b * e + max(
            4 * b * (1 + e + max(c, e)) + e * e * 9 // 16 + 4 * c * (b * h + eh * hkv),
            4 * b * (e + v) + e * v * 105 // 128,
        )
        if m.ffn_gate_exps_bytes:  # mixtral (merged experts): the 8x22b branch
            ff = m.feed_forward_length
            partial = max(
                3 * m.ffn_gate_exps_bytes + 4 * b * (2 * ff + hkv + e + c + eh * hkv),
                4 * (c * b * h + c * eh * hkv + b * 1024 + eh * hkv * b),
            )
    elif a in ("gemma", "gemma2", "gemma3", "gemma3n"):
        full = max(4 * b * (e + v), 4 * b * (2 + c + c * h + 2 * e + 2 * ehk * h))
        partial = max(
            4 * e * b + e * v * 105 // 128 + 4 * v * b,
            4 * b * (2 * e + 1 + 2 * ehk * h + c + c * h) + 4 * ehk * c * 8 + e * ehk * h * 9 // 16,
        )
        if a == "gemma3n":
            full, partial = 4 * full, 4 * partial
    elif a == "command-r":
        full = max(4 * b * (e + v), 4 * b * (2 + 4 * e + c * (1 + h)))
        partial = max(4 * b * (e + v) + e * v * 105 // 128, 4 * b * (1 + 2 * e + c * (1 + h)) + 4 * e * c + e * e * 9 // 16)
    elif a == "qwen2":
        full = max(4 * b * (e + v), 4 * b * (1 + 2 * e + c + c * h))
        partial = max(4 * b * (e + v) + e * v * 105 // 128, 4 * (b * (1 + 2 * e + c * (1 + h)) + e * (1 + c)))
    elif a == "phi2":
        full = max(4 * b * (e + v), 4 * b * (1 + 4 * e + c + c * h))
        partial = max(4 * b * (2 * e + v) + e * v * 105 // 128, 4 * b * (2 + 3 * e + c + c * h))
    elif a == "stablelm":
        full = 4 * b * (c * (1 + h) + 3 * e + 2)
        partial = max(4 * b * (v + 2 * e), full)
    elif a == "deepseek2":
        full = max(4 * b * (3 * e + v), 4 * b * (3 * e + 2 + c * (1 + hkv) + 2 * ehk * hkv))
        partial = max(
            4 * b * (3 * e + v) + e * v * 105 // 128,
            4 * b * (2 * e + 1 + 2 * ehk * hkv + c + c * hkv) + 4 * ehk * c * hkv + e * ehk * hkv * 9 // 16,
        )
    elif a in ("gptoss", "gpt-oss"):
        partial = 2 * m.heads_max // m.heads_kv_min * kv_total // 6
        if flash_attention:
            partial = (4 * parallel + (c >> 10) + 110) * MIB
    if partial == 0:
        gqa = (m.heads_max // m.heads_kv_min) if rel >= (0, 6, 3) else (m.heads_max // m.heads_kv_max)
        partial = gqa * kv_total // 6
    if full == 0:
        full = partial
    return partial, full


# --- the layer-offload decision (llm/memory.go estimateGPULayers) ---------------------------------


@dataclass(frozen=True)
class Gpu:
    """One GPU as Ollama sees it: free memory (``memory.available``) and its library."""

    free: int
    library: str = "cuda"

    @property
    def minimum(self) -> int:
        return MINIMUM_MEMORY.get(self.library.lower(), 457 * MIB)


@dataclass
class OllamaEstimate:
    """What ``estimateGPULayers`` returns and logs (the ``offload to …`` line), in bytes."""

    layers_offload: int
    layers_model: int
    layers_requested: int
    split: list[int]
    available: list[int]
    gpu_overhead: int
    required_full: int
    required_partial: int
    required_kv: int
    allocations: list[int]
    weights_total: int
    weights_repeating: int
    weights_nonrepeating: int
    graph_full: int
    graph_partial: int
    projector_weights: int = 0
    projector_graph: int = 0
    kv_per_layer: list[int] = field(default_factory=list)
    buffer_layer: int = 0
    release: str = MODELLED_RELEASE
    library: str = "cuda"
    placed_layers: list[list[int]] = field(default_factory=list)  # per GPU, the blk indices it holds
    output_gpu: int | None = None  # the GPU holding the output layer (and an ollama-engine vision tower)
    overflow: int = 0  # what stays in host memory (full − partial)
    minimum: list[int] = field(default_factory=list)  # MinimumMemory of each GPU
    gpu_zero: int = 0  # the llama-engine projector (v0.7.1+) / vision (before) on the first GPU
    gpu_zero_index: int | None = None  # that first GPU with space
    last_extra: int = 0  # the ollama-engine vision weights + graph placed with the output (v0.7.1+)
    output_bytes: int = 0
    flash_attention: bool = False  # as used: requested and supported by the model
    kv_type: str = "f16"  # as used: f16 unless flash attention is on

    @property
    def fully_offloaded(self) -> bool:
        return self.layers_offload >= self.layers_model

    def log_fields(self) -> dict[str, object]:
        """The logged fields as Ollama prints them (HumanBytes2 strings; split "" for one GPU)."""
        return {
            "layers.requested": self.layers_requested,
            "layers.model": self.layers_model,
            "layers.offload": self.layers_offload,
            "layers.split": ",".join(map(str, self.split)) if len(self.split) > 1 else "",
            "memory.available": [human_bytes2(a) for a in self.available],
            "memory.gpu_overhead": human_bytes2(self.gpu_overhead),
            "memory.required.full": human_bytes2(self.required_full),
            "memory.required.partial": human_bytes2(self.required_partial),
            "memory.required.kv": human_bytes2(self.required_kv),
            "memory.required.allocations": [human_bytes2(a) for a in self.allocations],
            "memory.weights.total": human_bytes2(self.weights_total),
            "memory.weights.repeating": human_bytes2(self.weights_repeating),
            "memory.weights.nonrepeating": human_bytes2(self.weights_nonrepeating),
            "memory.graph.full": human_bytes2(self.graph_full),
            "memory.graph.partial": human_bytes2(self.graph_partial),
        }


def estimate_gpu_layers(m: OllamaModel, gpus: list[Gpu], *, ctx: int, parallel: int = 1,
                        num_batch: int = DEFAULT_NUM_BATCH, num_gpu: int = -1, kv_type: str = "f16",
                        flash_attention: bool = False, gpu_overhead: int = 0, projector_bytes: int = 0,
                        release: str = MODELLED_RELEASE) -> OllamaEstimate:
    """Ollama's estimate for ``m`` on ``gpus`` (one library), ``ctx`` = num_ctx × num_parallel.

    The decision (estimateGPULayers at 4372d0b; older releases where ``release`` says so):

    1. buffer layer = ``blk.0`` + its KV; ``GraphSize`` gives (partial, full) graphs — the partial
       graph on every GPU when several are used, the full one on Metal;
    2. a GPU takes part only if ``free ≥ overhead + max(graph) + minimum + 2 · buffer`` (+ the
       llama-engine projector on the first one); each starts at ``minimum + buffer``;
    3. layers N−1 … 0 (0 … N−1 before v0.7.0): layer i goes to ``gpus[i mod j]`` of the j still
       with space if ``free > overhead + allocated + max(graph) + layer``, else that GPU is dropped;
    4. the output layer (+ ollama-engine vision weights and graph) last, to ``gpus[count mod j]``;
    5. every GPU holding a layer adds the full graph if all N+1 layers fit, else the partial one.

    ``num_gpu`` ≥ 0 caps the layers (Ollama's ``num_gpu`` option). KV types other than f16 apply
    only with flash attention (Ollama ignores OLLAMA_KV_CACHE_TYPE without it), and flash attention
    only where the model supports it (:func:`supports_flash_attention`; Ollama also needs every GPU
    to support it — CUDA compute capability 7.0+, Metal — which is not modelled: the GPUs are assumed able).
    """
    rel = parse_release(release)
    if parallel < 1:
        raise VramscopeError(f"num_parallel must be at least 1 (got {parallel})")
    if ctx < 1:
        raise VramscopeError(f"the context must be at least 1 token (got {ctx})")
    kv_bytes_per_element(kv_type)  # validates
    flash_attention = flash_attention and supports_flash_attention(m, release)
    if not flash_attention or rel < (0, 5, 0):
        kv_type = "f16"
    n = m.block_count
    batch = min(ctx, num_batch)
    kv = kv_per_layer(m, ctx, kv_type, parallel=parallel, batch=batch, release=release)
    kv_total = sum(kv) if rel >= (0, 6, 3) else kv[0] * n if n else 0
    if rel < (0, 6, 3) and n:  # the old total before splitting (its remainder is logged)
        kv_total = int(ctx * n * (m.key_length + m.value_length) * m.heads_kv_max
                       * (kv_bytes_per_element(kv_type) if rel >= (0, 5, 0) else 2.0))
    partial, full = graph_size(m, ctx, batch, kv_total, parallel=parallel, flash_attention=flash_attention,
                               release=release)
    library = gpus[0].library.lower() if gpus else "cpu"
    if gpus and library == "metal":
        partial = full
    elif len(gpus) > 1:
        full = partial
    graph_max = max(partial, full)

    # projectors: a separate mmproj (llama engine) sits on GPU 0; before v0.7.1 the in-blob vision
    # tower (ollama engine) did too, from v0.7.1 it is placed with the output layer
    vision_w, vision_g = (m.vision_weights, m.vision_graph) if not projector_bytes else (0, 0)
    if rel >= (0, 7, 1):
        gpu_zero = projector_bytes
        last_extra = vision_w + vision_g
    else:
        gpu_zero = projector_bytes + vision_w + vision_g
        last_extra = 0

    if rel == (0, 7, 0):
        buffer = m.max_group_bytes + (kv[0] if kv else 0)
    else:
        buffer = (m.layer_bytes[0] if m.layer_bytes else 0) + (kv[0] if kv else 0)

    alloc = [0] * len(gpus)
    split = [0] * len(gpus)
    placed: list[list[int]] = [[] for _ in gpus]
    output_gpu: int | None = None
    with_space: list[int] = []
    overflow = 0
    for i, g in enumerate(gpus):
        gzo = gpu_zero if not with_space else 0
        if g.free < gpu_overhead + gzo + graph_max + g.minimum + 2 * buffer:
            continue
        with_space.append(i)
        alloc[i] += g.minimum + buffer
    zero_index = with_space[0] if with_space else None
    if with_space:
        alloc[with_space[0]] += gpu_zero
    elif rel >= (0, 7, 1):
        overflow += gpu_zero

    count = 0
    weights = 0
    layer = buffer
    order = range(n - 1, -1, -1) if rel >= (0, 7, 0) else range(n)
    for i in order:
        layer = m.layer_bytes[i] + kv[i]
        weights += m.layer_bytes[i] if rel >= (0, 6, 1) else layer
        if 0 <= num_gpu <= count:
            if rel >= (0, 7, 0):
                overflow += layer
            continue
        for j in range(len(with_space), 0, -1):
            gi = with_space[i % j]
            if gpus[gi].free > gpu_overhead + alloc[gi] + graph_max + layer:
                alloc[gi] += layer
                split[gi] += 1
                placed[gi].append(i)
                count += 1
                break
            del with_space[i % j]
        if not with_space and rel >= (0, 7, 0):
            overflow += layer
    fully = count >= n
    if not fully and rel < (0, 7, 0):
        overflow += (n - count) * layer

    output = m.output_layer_bytes
    last = output + last_extra
    if last > 0 and (rel >= (0, 7, 1) or num_gpu < 0 or count < num_gpu):
        if num_gpu < 0 or count < num_gpu:
            for j in range(len(with_space), 0, -1):
                gi = with_space[count % j]
                if gpus[gi].free > gpu_overhead + alloc[gi] + graph_max + last:
                    alloc[gi] += last
                    split[gi] += 1
                    output_gpu = gi
                    count += 1
                    break
        if count < n + 1:
            fully = False
            overflow += last

    for i in range(len(gpus)):
        if split[i] > 0:
            alloc[i] += full if fully else partial
    req_partial = sum(alloc)
    req_full = req_partial + overflow
    if rel >= (0, 6, 3):
        w_total, w_rep = weights + output, weights
    elif rel >= (0, 6, 1):
        w_total, w_rep = weights, weights
    else:
        w_total, w_rep = weights, weights - output
    if not gpus or count == 0:
        count, req_partial, split, placed, output_gpu = 0, 0, [0] * len(gpus), [[] for _ in gpus], None
        zero_index = None
    return OllamaEstimate(
        layers_offload=count, layers_model=n + 1, layers_requested=num_gpu, split=split,
        available=[g.free for g in gpus], gpu_overhead=gpu_overhead, required_full=req_full,
        required_partial=req_partial, required_kv=kv_total, allocations=alloc, weights_total=w_total,
        weights_repeating=w_rep, weights_nonrepeating=output, graph_full=full, graph_partial=partial,
        projector_weights=projector_bytes + vision_w, projector_graph=vision_g, kv_per_layer=kv,
        buffer_layer=buffer, release=".".join(map(str, rel)), library=library, placed_layers=placed,
        output_gpu=output_gpu, overflow=overflow, minimum=[g.minimum for g in gpus], gpu_zero=gpu_zero,
        output_bytes=output, flash_attention=flash_attention, kv_type=kv_type, gpu_zero_index=zero_index,
        last_extra=last_extra,
    )


def schedule(m: OllamaModel, gpus: list[Gpu], *, spread: bool = False, **kw) -> OllamaEstimate:
    """The GPUs the scheduler picks, then the estimate on them (server/sched.go
    ``pickBestFullFitByLibrary``), GPUs sorted by free memory:

    * v0.11.5+ (ea7657b54, "sched: Add support for grouping GPUs"): the fewest (1, 2, …) that hold
      all N+1 layers (``num_gpu`` layers when set);
    * before: a single GPU that holds them, else all GPUs;
    * all GPUs when none of these fits, or with ``OLLAMA_SCHED_SPREAD``.
    """
    ordered = sorted(gpus, key=lambda g: -g.free)
    rel = parse_release(kw.get("release", MODELLED_RELEASE))
    need = m.block_count + 1 if kw.get("num_gpu", -1) < 0 else kw["num_gpu"]
    if not spread:
        subsets = [ordered[:k] for k in range(1, len(ordered) + 1)] if rel >= (0, 11, 5) else [[g] for g in ordered]
        for subset in subsets:
            est = estimate_gpu_layers(m, subset, **kw)
            if est.layers_offload > 0 and est.layers_offload >= need:
                return est
    return estimate_gpu_layers(m, ordered, **kw)
