"""Workloads: what the user runs, as validated, immutable value objects (no formulas here).

Field names follow the engines: vLLM's ``max_model_len`` / ``gpu_memory_utilization`` /
``max_num_seqs`` / ``kv_cache_dtype`` (here ``kv_dtype``), llama.cpp's ``n_gpu_layers`` (``-ngl``),
``n_ctx``, ``n_batch`` / ``n_ubatch``, SGLang's ``mem_fraction_static``. Validation errors are
raised as :class:`~vramscope.errors.VramscopeError` with the field named.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import VramscopeError

Engine = Literal["hf", "vllm", "llamacpp", "sglang"]
ENGINES: tuple[str, ...] = ("hf", "vllm", "llamacpp", "sglang")

MAX_TOKENS = 100_000_000  # no model has a context beyond this; larger values are typos
MAX_BATCH = 1_000_000


class Inference(BaseModel):
    """An inference deployment of one model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Engine = "hf"
    weights: str | None = Field(None, description="weight format (bf16, fp8, nf4, awq, Q4_K_M …); None = as stored")
    kv_dtype: str = "auto"
    batch: int = Field(1, ge=1, le=MAX_BATCH, description="concurrent sequences")
    prompt_len: int = Field(1024, ge=0, le=MAX_TOKENS)
    gen_len: int = Field(256, ge=0, le=MAX_TOKENS)
    context: int | None = Field(None, ge=1, le=MAX_TOKENS, description="tokens per sequence (prompt + generated)")
    # parallelism
    tp: int = Field(1, ge=1, le=1024)
    pp: int = Field(1, ge=1, le=1024)
    ep: int = Field(1, ge=1, le=1024)
    # vLLM / SGLang
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0)
    max_model_len: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_num_seqs: int | None = Field(None, ge=1, le=MAX_BATCH)
    max_num_batched_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    block_size: int = Field(16, ge=1, le=4096)
    enforce_eager: bool = False
    mem_fraction_static: float | None = Field(None, gt=0.0, le=1.0)
    # llama.cpp
    n_gpu_layers: int | None = Field(None, ge=0, le=10_000, description="-ngl; None = all layers")
    n_batch: int = Field(2048, ge=1, le=MAX_TOKENS)
    n_ubatch: int = Field(512, ge=1, le=MAX_TOKENS)
    flash_attn: bool = True
    n_parallel: int = Field(1, ge=1, le=4096)
    kv_offload: bool = True
    # HF transformers
    cache: Literal["dynamic", "static"] = "dynamic"
    attn_impl: Literal["eager", "sdpa", "flash"] = "sdpa"
    # multimodal inputs per sequence
    images: int = Field(0, ge=0, le=10_000)
    image_size: tuple[int, int] | None = None
    video_seconds: float = Field(0.0, ge=0.0, le=86_400)
    fps: float | None = Field(None, gt=0.0, le=240)
    audio_seconds: float = Field(0.0, ge=0.0, le=86_400)

    @model_validator(mode="after")
    def _check(self) -> Inference:
        if self.context is None and self.prompt_len + self.gen_len < 1:
            raise ValueError("the context (prompt + generated tokens) must be at least 1 token")
        if self.n_ubatch > self.n_batch:
            raise ValueError(f"n_ubatch ({self.n_ubatch}) cannot exceed n_batch ({self.n_batch})")
        if self.image_size is not None and min(self.image_size) <= 0:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        return self

    @property
    def tokens(self) -> int:
        """Text tokens per sequence: ``context`` when given, else prompt + generated."""
        return self.context if self.context is not None else self.prompt_len + self.gen_len

    @property
    def num_gpus(self) -> int:
        return self.tp * self.pp


def make_inference(**kwargs) -> Inference:
    """Build an :class:`Inference`, turning pydantic's errors into one clear VramscopeError."""
    try:
        return Inference(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as exc:
        raise VramscopeError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "workload"
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        parts.append(f"{where}: {msg}" + (f" (got {value!r})" if where != "workload" and not isinstance(value, dict) else ""))
    return "invalid workload: " + "; ".join(parts)


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


class Training(BaseModel):
    """A training / fine-tuning / RL run of one model (per-GPU view; names follow HF, PEFT, TRL, DeepSpeed).

    ``batch`` is the micro-batch per GPU (HF ``per_device_train_batch_size``; for GRPO it counts
    completions, as TRL does), ``seq_len`` the tokens per sequence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = "full"
    precision: Precision = "bf16"
    optimizer: Optimizer = "adamw"
    optimizer_impl: Literal["fused", "foreach", "forloop"] = "fused"
    optimizer_in_backward: bool = False
    batch: int = Field(1, ge=1, le=MAX_BATCH, description="micro-batch per GPU")
    seq_len: int = Field(2048, ge=1, le=MAX_TOKENS)
    grad_accum: int = Field(1, ge=1, le=1_000_000)
    grad_ckpt: Literal["none", "full", "selective", "offload"] = "none"
    attn: Literal["eager", "sdpa", "flash"] = "sdpa"
    padding: bool = Field(False, description="padded batches with an attention mask (SDPA then repeats K/V)")
    loss: Literal["hf", "chunked", "fused"] = Field("hf", description="hf: fp32 logits + CE; chunked: 8 chunks; fused: Liger/CCE")
    # PEFT
    lora_rank: int = Field(16, description="LoRA rank r")
    lora_targets: str = Field("default", description="comma-separated module names, 'all-linear', or 'default' (PEFT's)")
    lora_dtype: Literal["fp32", "bf16"] = "fp32"
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    quant: Literal["nf4", "fp4", "int8"] = Field("nf4", description="QLoRA base format")
    double_quant: bool = True
    trainable_layers: int = Field(2, ge=0, le=100_000, description="freeze: the last N layers train")
    num_virtual_tokens: int = Field(20, ge=1, le=100_000, description="prefix / prompt / p-tuning")
    galore_rank: int = Field(128, ge=1, le=100_000)
    # parallelism (per-GPU view)
    gpus: int | None = Field(None, ge=1, le=100_000, description="total GPUs; default tp·pp·cp·dp")
    dp: int | None = Field(None, ge=1, le=100_000)
    tp: int = Field(1, ge=1, le=1024)
    pp: int = Field(1, ge=1, le=1024)
    ep: int = Field(1, ge=1, le=1024)
    cp: int = Field(1, ge=1, le=1024)
    sequence_parallel: bool = True
    zero: int = Field(0, description="DeepSpeed ZeRO stage 0-3")
    fsdp: Literal["none", "full", "grad-op", "hybrid"] = "none"
    fsdp_node_gpus: int = Field(8, ge=1, le=1024, description="HYBRID_SHARD shards within a node of this many GPUs")
    offload: Literal["none", "optimizer", "params"] = "none"
    ddp_bucket_view: bool = Field(False, description="DDP gradient_as_bucket_view (HF default False)")
    # RL / preference
    rl: Literal["grpo", "dpo", "ppo"] | None = None
    num_generations: int = Field(8, ge=1, le=4096)
    prompt_len: int = Field(512, ge=1, le=MAX_TOKENS, description="RL prompt tokens")
    completion_len: int = Field(512, ge=1, le=MAX_TOKENS, description="RL max_completion_length")
    beta: float | None = Field(None, ge=0.0, description="KL coefficient; GRPO: reference model only when > 0")
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0.0, le=1.0)
    precompute_ref_log_probs: bool = False

    @model_validator(mode="after")
    def _check(self) -> Training:
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
        return self

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


def make_training(**kwargs) -> Training:
    """Build a :class:`Training`, turning pydantic's errors into one clear VramscopeError."""
    try:
        return Training(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as exc:
        raise VramscopeError(_describe(exc).replace("invalid workload", "invalid training workload")) from None
