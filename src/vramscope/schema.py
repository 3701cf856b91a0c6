"""The JSON document ``vramscope estimate --json`` prints, as a pydantic model: ``vramscope schema``
prints its JSON Schema, and the tests validate real output against it, so the two cannot drift."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .estimators.result import (
    FIGURE_MEANS,
    Fit,
    GPUCount,
    HFSettings,
    KVCapacity,
    LlamaCppSettings,
    OllamaSettings,
    Placement,
    RuleOfThumb,
    SGLangSettings,
    Speed,
    TrainingStep,
    VLLMSettings,
)


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    family: str
    params_total: int = Field(ge=0)
    params_active: int = Field(ge=0)
    weights_format: str


class ComponentDoc(BaseModel):
    key: str = Field(description="stable snake_case identifier (weights, kv_cache, cuda_context …)")
    name: str = Field(description="English display name")
    category: str
    memory: Literal["allocated", "cache", "driver", "unified"] = Field(
        description="the pool its bytes live in: allocated (torch tensors), cache (reserved by torch's caching "
        "allocator beyond its tensors), driver (outside torch: CUDA context, non-torch memory), unified "
        "(managed pages resident on the device)")
    bytes: int = Field(description="expected bytes on one GPU")
    low_bytes: int
    high_bytes: int
    formula: str
    note: str = ""


class FigureDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bytes: int = Field(description="expected bytes on one GPU")
    low_bytes: int
    high_bytes: int


class MemoryDoc(BaseModel):
    """The three figures of one GPU: allocated ≤ reserved ≤ device."""

    model_config = ConfigDict(extra="forbid")
    allocated: FigureDoc | None = Field(description=FIGURE_MEANS["allocated"] + "; null for an engine that is not torch")
    reserved: FigureDoc | None = Field(description=FIGURE_MEANS["reserved"] + "; null for an engine that is not torch")
    device: FigureDoc = Field(description=FIGURE_MEANS["device"] + "; equals per_gpu_bytes / low_bytes / high_bytes")
    unavailable: str | None = Field(description="why allocated / reserved are null (llama.cpp, Ollama: not torch)")


class GPUDoc(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    memory_bytes: int


class LegacyDetails(BaseModel):
    """LEGACY view: the typed parts (``fit``, ``kv``, ``settings``, ``placement``, ``speed``, ``training``,
    ``runs_on``) under the flat paths scripts read before they were typed."""

    model_config = ConfigDict(extra="forbid")
    fits: bool | None = None
    fit_limit_bytes: int | None = None
    kv_bytes_per_token: float | None = None
    kv_bytes_needed: int | None = None
    gpu_memory_budget_bytes: int | None = None
    kv_cache_bytes: int | None = None
    kv_capacity_tokens: int | None = None
    num_gpu_blocks: int | None = None
    max_concurrency: float | None = None
    tokens_per_sequence: int | None = None
    multimodal_tokens: int | None = None
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    max_model_len: int | None = None
    block_size: int | None = None
    mem_fraction_static: float | None = None
    chunked_prefill_size: int | None = None
    n_ctx: int | None = None
    n_gpu_layers: int | None = None
    host_weight_bytes: int | None = None
    host_kv_bytes: int | None = None
    data_parallel: int | None = None
    shard_degree: int | None = None
    pipeline_stage: int | None = None
    phases: dict[str, int] | None = None
    peak_phase: str | None = None
    states: dict[str, int] | None = None
    model_states_bytes: int | None = None
    activations_bytes: int | None = None
    logits_loss_bytes: int | None = None
    trainable_params: int | None = None
    trainable_params_per_gpu: int | None = None
    adapter_params: int | None = None
    lora_targets: list[str] | None = None
    tokens_per_micro_batch: int | None = None
    quick_rules: dict[str, int] | None = None
    rules_of_thumb: list[RuleOfThumb] | None = None
    speed: Speed | None = None
    fits_on: list[GPUCount] | None = None


class EstimateDocument(BaseModel):
    """One estimate: memory per GPU by component, with its band and the assumptions behind it."""

    model_config = ConfigDict(extra="forbid")
    model: ModelInfo
    mode: str
    engine: str
    workload: dict[str, Any]
    num_gpus: int = Field(ge=1)
    per_gpu_bytes: int
    total_bytes: int
    low_bytes: int
    high_bytes: int
    memory: MemoryDoc = Field(description="peak allocated, peak reserved and device memory per GPU")
    host_bytes: int = 0
    components: list[ComponentDoc]
    gpu: GPUDoc | None
    fits: bool | None
    fit: Fit | None = Field(description="the verdict by the engine's rule (None without a GPU)")
    kv: KVCapacity | None = Field(description="KV bytes per token and, for vLLM / SGLang with a GPU, the pool")
    settings: HFSettings | VLLMSettings | SGLangSettings | LlamaCppSettings | OllamaSettings | None = Field(
        description="the engine's settings as resolved (inference)")
    placement: Placement | None = Field(description="what is kept in host RAM (llama.cpp -ngl)")
    speed: Speed | None = Field(description="roofline speed estimate (inference with a GPU)")
    training: TrainingStep | None = Field(description="training / RL: phases, peak phase, model states, counts")
    runs_on: list[GPUCount] | None = Field(description="catalog GPUs that run the workload, with count and layout")
    details: LegacyDetails
    assumptions: list[str]


def estimate_schema() -> dict[str, Any]:
    return EstimateDocument.model_json_schema()
