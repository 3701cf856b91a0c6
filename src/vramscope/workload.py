"""Workloads: what the user runs, as validated, immutable value objects (no formulas here).

Workloads are ``msgspec`` structs: validated (types, bounds, choices, unknown names) when built by
:func:`make_inference` / :func:`make_training` or :meth:`_Workload.replace`, with a JSON Schema from
``msgspec.json.schema``. (msgspec imports in a few ms where pydantic takes ~100 ms, and every CLI
call builds a workload; the output document's schema in :mod:`vramscope.schema` stays pydantic.)

Field names follow the engines: vLLM's ``max_model_len`` / ``gpu_memory_utilization`` /
``max_num_seqs`` / ``kv_cache_dtype`` (here ``kv_dtype``), llama.cpp's ``n_gpu_layers`` (``-ngl``),
``n_ctx``, ``n_batch`` / ``n_ubatch``, SGLang's ``mem_fraction_static`` / ``chunked_prefill_size`` /
``max_running_requests`` / ``page_size``. Validation errors are
raised as :class:`~vramscope.errors.VramscopeError` with the field named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from .errors import VramscopeError

Engine = Literal["hf", "vllm", "llamacpp", "sglang", "ollama"]
ENGINES: tuple[str, ...] = ("hf", "vllm", "llamacpp", "sglang", "ollama")

MAX_TOKENS = 100_000_000  # no model has a context beyond this; larger values are typos
MAX_BATCH = 1_000_000


class _Workload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Shared behaviour of the workload structs (immutable; validated when built through
    :func:`_build`)."""

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied, validated like a fresh workload."""
        return _build(type(self), {**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return cls.__struct_fields__

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return msgspec.json.schema(cls)


# msgspec's wording -> ours (the value given is appended from the input, not msgspec's type name)
_HUMAN = (("Expected `int`", "must be a whole number"), ("Expected `float`", "must be a number"),
          ("Expected `str`", "must be text"), ("Expected `bool`", "must be true or false"),
          ("Expected `array | null`", "must be a (width, height) pair"),
          ("Expected `array`", "must be a (width, height) pair"))


def _build(cls, values: dict[str, Any]):
    """``cls(**values)`` with msgspec's validation (lax: "3" and 3.0 are accepted for an int), its
    errors turned into one :class:`VramscopeError` line naming the field and the value given."""
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise VramscopeError(_describe(cls, str(exc), values)) from None


def _describe(cls, message: str, values: dict[str, Any]) -> str:
    kind = "invalid training workload" if cls.__name__ == "Training" else "invalid workload"
    text, _, where = message.partition(" - at `$.")
    field = where.rstrip("`").split(".")[0].split("[")[0]
    if text.startswith("Object contains unknown field"):
        name = text.split("`")[1]
        return f"{kind}: unknown option {name!r}; valid options: {', '.join(cls.__struct_fields__)}"
    if not field:  # raised by __post_init__: already a full sentence
        return f"{kind}: {text}"
    text = text.split(", got ")[0]
    if text.startswith("Invalid enum value"):
        text = "must be one of " + ", ".join(map(str, _choices(cls, field)))
    for raw, human in _HUMAN:
        if text.startswith(raw):
            text = human + text[len(raw):]
            break
    given = f" (got {values[field]!r})" if field in values else ""
    return f"{kind}: {field}: {text.strip()}{given}"


def _choices(cls, field: str) -> tuple:
    import typing

    hint = typing.get_type_hints(cls, include_extras=True).get(field)
    found: list = []

    def walk(t):
        if typing.get_origin(t) is Literal:
            found.extend(typing.get_args(t))
        for arg in typing.get_args(t):
            if not isinstance(arg, Meta):
                walk(arg)

    walk(hint)
    return tuple(found)


class Inference(_Workload):
    """An inference deployment of one model."""

    engine: Engine = "hf"
    weights: Annotated[str, Meta(description="weight format (bf16, fp8, nf4, awq, Q4_K_M …); None = as stored")] | None = None
    kv_dtype: str = "auto"
    batch: Annotated[int, Meta(ge=1, le=MAX_BATCH, description="concurrent sequences")] = 1
    prompt_len: Annotated[int, Meta(ge=0, le=MAX_TOKENS)] = 1024
    gen_len: Annotated[int, Meta(ge=0, le=MAX_TOKENS)] = 256
    context: Annotated[int, Meta(ge=1, le=MAX_TOKENS, description="tokens per sequence (prompt + generated)")] | None = None
    # parallelism
    tp: Annotated[int, Meta(ge=1, le=1024)] = 1
    pp: Annotated[int, Meta(ge=1, le=1024)] = 1
    ep: Annotated[int, Meta(ge=1, le=1024)] = 1
    # vLLM / SGLang
    gpu_memory_utilization: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.9
    max_model_len: Annotated[int, Meta(ge=1, le=MAX_TOKENS)] | None = None
    max_num_seqs: Annotated[int, Meta(ge=1, le=MAX_BATCH)] | None = None
    max_num_batched_tokens: Annotated[int, Meta(ge=1, le=MAX_TOKENS)] | None = None
    block_size: Annotated[int, Meta(ge=1, le=4096)] = 16
    enforce_eager: bool = False
    # vLLM by release (estimators/engines/vllm_releases.py)
    vllm_version: Annotated[str, Meta(description="vLLM release, e.g. 0.10.1.1; None = the default release")] | None = None
    vllm_entrypoint: Literal["serve", "llm"] = "serve"
    vllm_sampler: Literal["auto", "flashinfer", "pytorch"] = "auto"
    kv_cache_memory: Annotated[int, Meta(ge=1, le=1 << 50, description="vLLM --kv-cache-memory-bytes: the KV pool per GPU")] | None = None
    cpu_offload_gb: Annotated[float, Meta(ge=0.0, le=1 << 20, description="vLLM --cpu-offload-gb: weights per GPU kept on the host")] = 0.0
    # SGLang (server_args names; None = SGLang's own default, chosen per GPU where it does)
    mem_fraction_static: Annotated[float, Meta(gt=0.0, le=1.0)] | None = None
    chunked_prefill_size: Annotated[int, Meta(ge=1, le=MAX_TOKENS, description="SGLang --chunked-prefill-size: tokens per prefill chunk")] | None = None
    max_running_requests: Annotated[int, Meta(ge=1, le=MAX_BATCH, description="SGLang --max-running-requests: request slots (req_to_token pool)")] | None = None
    page_size: Annotated[int, Meta(ge=1, le=4096, description="SGLang --page-size: the token pool is a whole number of pages")] | None = None
    # llama.cpp
    n_gpu_layers: Annotated[int, Meta(ge=0, le=10_000, description="-ngl; None = all layers")] | None = None
    n_batch: Annotated[int, Meta(ge=1, le=MAX_TOKENS)] = 2048
    n_ubatch: Annotated[int, Meta(ge=1, le=MAX_TOKENS)] = 512
    flash_attn: bool = True
    n_parallel: Annotated[int, Meta(ge=1, le=4096)] = 1
    kv_offload: bool = True
    kv_unified: Annotated[bool, Meta(description="llama.cpp --kv-unified: one KV buffer shared by the slots "
                                     "(default false: n_ctx / slots cells per slot)")] = False
    tensor_split: Annotated[tuple[float, ...], Meta(description="llama.cpp --tensor-split: proportions per GPU; "
                                                    "None = even (llama.cpp: by free memory)")] | None = None
    split_mode: Annotated[Literal["layer", "row", "none"], Meta(description="llama.cpp --split-mode")] = "layer"
    main_gpu: Annotated[int, Meta(ge=0, le=15, description="llama.cpp --main-gpu (the one GPU of --split-mode none)")] = 0
    # HF transformers
    cache: Literal["dynamic", "static"] = "dynamic"
    attn_impl: Literal["eager", "sdpa", "flash"] = "sdpa"
    # multimodal inputs per sequence
    images: Annotated[int, Meta(ge=0, le=10_000)] = 0
    image_size: tuple[int, int] | None = None
    video_seconds: Annotated[float, Meta(ge=0.0, le=86_400)] = 0.0
    fps: Annotated[float, Meta(gt=0.0, le=240)] | None = None
    audio_seconds: Annotated[float, Meta(ge=0.0, le=86_400)] = 0.0

    def __post_init__(self) -> None:
        if self.context is None and self.prompt_len + self.gen_len < 1:
            raise ValueError("the context (prompt + generated tokens) must be at least 1 token")
        if self.n_ubatch > self.n_batch:
            raise ValueError(f"n_ubatch ({self.n_ubatch}) cannot exceed n_batch ({self.n_batch})")
        if self.image_size is not None and min(self.image_size) <= 0:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        if self.tensor_split is not None:
            ts = self.tensor_split
            if not ts or len(ts) > 16:
                raise ValueError(f"tensor_split takes one proportion per GPU (1 to 16 of them), got {len(ts)}")
            if any(not (x >= 0) or x == float("inf") for x in ts) or sum(ts) <= 0:
                raise ValueError("tensor_split proportions must be finite, >= 0 and not all 0 (e.g. 3,1), "
                                 f"got {','.join(f'{x:g}' for x in ts)}")

    @property
    def tokens(self) -> int:
        """Text tokens per sequence: ``context`` when given, else prompt + generated."""
        return self.context if self.context is not None else self.prompt_len + self.gen_len

    @property
    def num_gpus(self) -> int:
        return self.tp * self.pp


# Which engine reads which Inference field is each engine's fact: the engine registry
# (``estimators.engines``, ``Engine.options``) holds it; ``api.inapplicable_options`` asks it.


def make_inference(**kwargs) -> Inference:
    """Build a validated :class:`Inference` (None values mean "the default")."""
    return _build(Inference, {k: v for k, v in kwargs.items() if v is not None})


# --- training ---------------------------------------------------------------------------------
Method = Literal["full", "freeze", "lora", "dora", "qlora", "prefix", "prompt", "ptuning", "galore"]
METHODS: tuple[str, ...] = ("full", "freeze", "lora", "dora", "qlora", "prefix", "prompt", "ptuning", "galore")
Precision = Literal["fp32", "bf16", "fp16", "mixed", "mixed-fp16", "fp8"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "mixed", "mixed-fp16", "fp8")
OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "adamw-8bit", "paged-adamw-8bit", "paged-adamw", "adafactor", "sgd",
                               "sgd-momentum", "rmsprop", "lion", "muon")
Optimizer = Literal["adamw", "adam", "adamw-8bit", "paged-adamw-8bit", "paged-adamw", "adafactor", "sgd",
                    "sgd-momentum", "rmsprop", "lion", "muon"]
RL_KINDS: tuple[str, ...] = ("grpo", "dpo", "ppo")
#: the optimizers bitsandbytes implements (states on the GPU; the paged ones in CUDA unified memory)
BNB_OPTIMIZERS: tuple[str, ...] = ("adamw-8bit", "paged-adamw-8bit", "paged-adamw")


class Training(_Workload):
    """A training / fine-tuning / RL run of one model (per-GPU view; names follow HF, PEFT, TRL, DeepSpeed).

    ``batch`` is the micro-batch per GPU (HF ``per_device_train_batch_size``; for GRPO it counts
    completions, as TRL does), ``seq_len`` the tokens per sequence.
    """

    method: Method = "full"
    precision: Precision = "bf16"
    optimizer: Optimizer = "adamw"
    optimizer_impl: Literal["fused", "foreach", "forloop"] = "fused"
    optimizer_in_backward: bool = False
    batch: Annotated[int, Meta(ge=1, le=MAX_BATCH, description="micro-batch per GPU")] = 1
    seq_len: Annotated[int, Meta(ge=1, le=MAX_TOKENS)] = 2048
    grad_accum: Annotated[int, Meta(ge=1, le=1_000_000)] = 1
    grad_ckpt: Annotated[Literal["none", "full", "selective", "offload"], Meta(description="None: off, except GRPO (TRL's GRPOConfig defaults to gradient_checkpointing=True)")] | None = None
    attn: Literal["eager", "sdpa", "flash"] = "sdpa"
    padding: Annotated[bool, Meta(description="padded batches with an attention mask (SDPA then repeats K/V)")] = False
    loss: Annotated[Literal["hf", "chunked", "fused"], Meta(description="hf: fp32 logits + CE; chunked: 8 chunks; fused: Liger/CCE")] = "hf"
    compile: Annotated[bool, Meta(description="torch.compile (Inductor): AOTAutograd's min-cut partitioner recomputes "
                                  "pointwise ops in backward instead of saving their outputs")] = False
    # PEFT
    lora_rank: Annotated[int, Meta(description="LoRA rank r")] = 16
    lora_targets: Annotated[str, Meta(description="comma-separated module names (lm_head, embed_tokens included), 'all-linear' "
                                     "(the decoder's Linears, not the head: PEFT's rule), or 'default' (PEFT's)")] = "default"
    lora_dtype: Literal["fp32", "bf16"] = "fp32"
    lora_dropout: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.0
    quant: Annotated[Literal["nf4", "fp4", "int8"], Meta(description="QLoRA base format")] = "nf4"
    double_quant: bool = True
    kbit_prepare: Annotated[bool, Meta(description="QLoRA: peft.prepare_model_for_kbit_training (which TRL's trainers "
                                       "call for 4/8-bit models) casts every non-quantised parameter to fp32")] = True
    trainable_layers: Annotated[int, Meta(ge=0, le=100_000, description="freeze: the last N layers train")] = 2
    num_virtual_tokens: Annotated[int, Meta(ge=1, le=100_000, description="prefix / prompt / p-tuning")] = 20
    galore_rank: Annotated[int, Meta(ge=1, le=100_000)] = 128
    # parallelism (per-GPU view)
    gpus: Annotated[int, Meta(ge=1, le=100_000, description="total GPUs; default tp·pp·cp·dp")] | None = None
    dp: Annotated[int, Meta(ge=1, le=100_000)] | None = None
    tp: Annotated[int, Meta(ge=1, le=1024)] = 1
    pp: Annotated[int, Meta(ge=1, le=1024)] = 1
    ep: Annotated[int, Meta(ge=1, le=1024)] = 1
    cp: Annotated[int, Meta(ge=1, le=1024)] = 1
    sequence_parallel: bool = True
    zero: Annotated[int, Meta(description="DeepSpeed ZeRO stage 0-3")] = 0
    zero_config: Annotated[Literal["hf-auto", "defaults"], Meta(description="DeepSpeed bucket sizes: hf-auto: a config "
                           "file whose sizes are 'auto' (HF fills h², 0.9·h², 10·h); defaults: an accelerate config "
                           "without a DeepSpeed file, so DeepSpeed's own defaults (5e8, 5e7, 1e5)")] = "hf-auto"
    fsdp: Literal["none", "full", "grad-op", "hybrid"] = "none"
    fsdp_node_gpus: Annotated[int, Meta(ge=1, le=1024, description="HYBRID_SHARD shards within a node of this many GPUs")] = 8
    offload: Literal["none", "optimizer", "params"] = "none"
    ddp_bucket_view: Annotated[bool, Meta(description="DDP gradient_as_bucket_view (HF default False)")] = False
    # RL / preference
    rl: Literal["grpo", "dpo", "ppo"] | None = None
    num_generations: Annotated[int, Meta(ge=1, le=4096)] = 8
    prompt_len: Annotated[int, Meta(ge=1, le=MAX_TOKENS, description="RL prompt tokens")] = 512
    completion_len: Annotated[int, Meta(ge=1, le=MAX_TOKENS, description="RL max_completion_length")] = 512
    beta: Annotated[float, Meta(ge=0.0, description="KL coefficient; GRPO: reference model only when > 0")] | None = None
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_gpu_memory_utilization: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.3
    precompute_ref_log_probs: bool = False

    def __post_init__(self) -> None:
        if self.grad_ckpt is None:
            msgspec.structs.force_setattr(self, "grad_ckpt", "full" if self.rl == "grpo" else "none")
        if self.lora_rank <= 0:
            raise ValueError(f"lora_rank must be a positive integer (LoRA rank r), got {self.lora_rank}")
        if self.lora_rank > 65_536:
            raise ValueError(f"lora_rank {self.lora_rank} is larger than any layer; typical ranks are 8-256")
        if self.zero not in (0, 1, 2, 3):
            raise ValueError(f"DeepSpeed ZeRO has stages 0, 1, 2 and 3; got {self.zero}")
        if self.zero and self.fsdp != "none":
            raise ValueError("choose DeepSpeed ZeRO or FSDP, not both")
        if self.offload == "params" and not (self.zero == 3 or self.fsdp in ("full", "hybrid")):
            raise ValueError("parameter offload needs ZeRO-3 or FSDP full/hybrid sharding (zero=3 or fsdp=full)")
        if (self.method in ("lora", "dora", "qlora") and self.loss == "fused"
                and "lm_head" in self.lora_targets.replace(" ", ",").split(",")):
            # Liger's fused linear cross-entropy is handed ``self.lm_head.weight`` — PEFT's lora.Linear
            # returns its base weight there — and never calls the head module, so the head's adapter
            # would get no gradient (liger_kernel/transformers/model/llama.py lce_forward,
            # linkedin/Liger-Kernel@f7a7b5df30edf77873859b8a2c0dc4259e532909)
            raise ValueError("a LoRA on lm_head does not train under fused linear cross-entropy (Liger/CCE read "
                             "lm_head.weight and skip the adapter): use loss=hf or chunked, or drop lm_head")
        if self.optimizer in BNB_OPTIMIZERS and self.zero and self.offload != "none":
            # DeepSpeedEngine._configure_optimizer (deepspeed/runtime/engine.py @007cca6): under ZeRO-Offload a
            # client optimizer that is not DeepSpeedCPUAdam / CPULion raises ZeRORuntimeException while
            # zero_force_ds_cpu_optimizer keeps its default (true); and the states cannot both page in CUDA
            # unified memory and live on the host
            raise ValueError(f"{self.optimizer} is a bitsandbytes optimizer whose states live on the GPU"
                             f"{' (paged in unified memory)' if self.optimizer.startswith('paged') else ''}, and "
                             f"offload={self.offload} moves the optimizer states to the host with DeepSpeed's CPU Adam: "
                             "DeepSpeed refuses a client optimizer under ZeRO-Offload (zero_force_ds_cpu_optimizer); "
                             "choose one (--optimizer adamw with the offload, or no --offload)")
        if self.optimizer_in_backward and self.grad_accum > 1:
            raise ValueError("optimizer-in-backward frees each gradient at once, so it cannot accumulate gradients "
                             "(grad_accum must be 1)")
        model_par = self.tp * self.pp * self.cp
        if self.gpus is not None:
            if self.gpus % model_par:
                raise ValueError(f"{self.gpus} GPUs are not divisible by tp×pp×cp = {model_par}")
            if self.dp is not None and self.dp * model_par != self.gpus:
                raise ValueError(f"dp×tp×pp×cp = {self.dp * model_par} does not equal gpus = {self.gpus}")
        if self.ep > 1 and self.data_parallel * self.tp % self.ep:
            raise ValueError(f"expert parallel size {self.ep} must divide dp×tp = {self.data_parallel * self.tp}")
        if self.seq_len % self.cp:
            raise ValueError(f"context parallel size {self.cp} must divide seq_len {self.seq_len}")

    @property
    def data_parallel(self) -> int:
        if self.dp is not None:
            return self.dp
        if self.gpus is not None:
            return self.gpus // (self.tp * self.pp * self.cp)
        return 1

    @property
    def num_gpus(self) -> int:
        return self.data_parallel * self.tp * self.pp * self.cp

    @property
    def peft(self) -> bool:
        return self.method in ("lora", "dora", "qlora", "prefix", "prompt", "ptuning")


# Training fields that only some methods / RL algorithms read (the estimators ignore them otherwise).
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    "lora_rank": ("lora", "dora", "qlora"),
    "lora_targets": ("lora", "dora", "qlora"),
    "lora_dtype": ("lora", "dora", "qlora"),
    "lora_dropout": ("lora", "dora", "qlora"),
    "quant": ("qlora",),
    "double_quant": ("qlora",),
    "kbit_prepare": ("qlora",),
    "trainable_layers": ("freeze",),
    "num_virtual_tokens": ("prefix", "prompt", "ptuning"),
    "galore_rank": ("galore",),
}
RL_OPTIONS: dict[str, tuple[str, ...]] = {
    "num_generations": ("grpo",),
    "beta": ("grpo",),
    "use_vllm": ("grpo",),
    "vllm_mode": ("grpo",),
    "vllm_gpu_memory_utilization": ("grpo",),
    "prompt_len": ("grpo", "ppo"),
    "completion_len": ("grpo", "ppo"),
    "precompute_ref_log_probs": ("dpo",),
}


def training_inapplicable(method: str, rl: str | None, given) -> dict[str, str]:
    """The fields in ``given`` that a ``method`` / ``rl`` run does not read, each with where it applies."""
    out: dict[str, str] = {}
    for k in given:
        if k in METHOD_OPTIONS and method not in METHOD_OPTIONS[k]:
            out[k] = "--method " + "|".join(METHOD_OPTIONS[k])
        elif k in RL_OPTIONS and rl not in RL_OPTIONS[k]:
            out[k] = "--rl " + "|".join(RL_OPTIONS[k])
        elif k == "seq_len" and rl in ("grpo", "ppo"):
            out[k] = "training and --rl dpo (GRPO / PPO sequences are --prompt-len + --completion-len)"
        elif k in ("vllm_mode", "vllm_gpu_memory_utilization") and not given.get("use_vllm"):
            out[k] = "--use-vllm"
    return out


def make_training(**kwargs) -> Training:
    """Build a validated :class:`Training` (None values mean "the default")."""
    return _build(Training, {k: v for k, v in kwargs.items() if v is not None})
