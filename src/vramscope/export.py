"""Ready-to-run command lines and configs for a planned setup.

A presenter, like the CLI and the web page (which both show its output): it renders what
:mod:`vramscope.api` answers — the workload, the longest context, the largest ``-ngl``, the lowest
ZeRO stage that fits, HF's DeepSpeed bucket sizes — as each program spells it, and imports nothing
below the API (``tests/test_architecture.py``).

* ``vllm``: ``vllm serve`` with ``--max-model-len``, ``--gpu-memory-utilization``,
  ``--tensor-parallel-size`` / ``--pipeline-parallel-size``, ``--kv-cache-dtype``, ``--max-num-seqs``;
  when a GPU is given and no context was asked for, the longest ``--max-model-len`` that fits the batch.
* ``llamacpp``: ``llama-server`` with ``-ngl`` (the largest that fits on the GPU when one is
  given), ``-c``, ``-np``, ``-ctk`` / ``-ctv``, ``-fa``, ``-ub``.
* ``deepspeed``: a DeepSpeed JSON config (ZeRO stage, offload, micro-batch, accumulation, bf16/fp16,
  HF's bucket sizes); with a GPU and no ``zero`` given, the lowest stage (then optimizer offload)
  that fits.
* ``fsdp``: an ``accelerate`` config (YAML) for FSDP with the sharding strategy, the decoder-layer
  class to wrap, offload and activation checkpointing.
"""

from __future__ import annotations

import shlex
from typing import Any

from .errors import VramscopeError

TARGETS = ("vllm", "llamacpp", "deepspeed", "fsdp")


def export(target: str, model: str, *, gpu=None, gpu_memory=None, gpus=None, active=None, **workload: Any) -> str:
    """The command line (``vllm``, ``llamacpp``) or config (``deepspeed`` JSON, ``fsdp`` accelerate YAML)."""
    from .api import inference_workload, load, max_context, max_gpu_layers, resolve_gpu

    target = target.lower().replace(".", "").replace("-", "")
    if target not in TARGETS:
        raise VramscopeError(f"unknown export target {target!r}; use one of {', '.join(TARGETS)}")
    if target in ("deepspeed", "fsdp"):
        return export_training(target, model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **workload)
    spec = load(model, active=active)
    wl = inference_workload(gpus, {**workload, "engine": target})
    g = resolve_gpu(gpu, gpu_memory)
    if target == "vllm":
        max_len = wl.max_model_len or wl.context
        if max_len is None and g is not None:
            max_len = max_context(spec, wl, g)
            if max_len <= 0:
                raise VramscopeError(f"{spec.id} does not fit on {wl.num_gpus} × {g.id} with vLLM at this batch")
        args = ["vllm", "serve", spec.id, "--max-model-len", str(max_len or wl.tokens),
                "--gpu-memory-utilization", str(wl.gpu_memory_utilization)]
        if wl.tp > 1:
            args += ["--tensor-parallel-size", str(wl.tp)]
        if wl.pp > 1:
            args += ["--pipeline-parallel-size", str(wl.pp)]
        if wl.ep > 1:
            args += ["--enable-expert-parallel"]
        if wl.kv_dtype != "auto":
            args += ["--kv-cache-dtype", wl.kv_dtype]
        if wl.max_num_seqs:
            args += ["--max-num-seqs", str(wl.max_num_seqs)]
        if wl.weights in ("fp8",):
            args += ["--quantization", "fp8"]
        return shlex.join(args)
    ngl = wl.n_gpu_layers
    if ngl is None and g is not None:
        ngl = max_gpu_layers(spec, wl, g)
        if ngl < 0:
            raise VramscopeError(f"not even the KV cache and compute buffer fit on {g.id}; try --no-kv-offload")
    model_arg = spec.id if spec.source == "gguf" else f"{spec.id.split('/')[-1]}-{wl.weights or 'Q4_K_M'}.gguf"
    slots = max(wl.n_parallel, wl.batch)  # as engines.llamacpp: `batch` concurrent sequences need that many slots
    args = ["llama-server", "-m", model_arg, "-c", str(wl.tokens * slots), "-ngl",
            str(spec.num_layers + 1 if ngl is None else ngl), "-ub", str(wl.n_ubatch)]
    if slots > 1:
        args += ["-np", str(slots)]
    if wl.kv_dtype != "auto":
        args += ["-ctk", wl.kv_dtype, "-ctv", wl.kv_dtype]
    args += ["-fa", "on" if wl.flash_attn else "off"]
    if not wl.kv_offload:
        args += ["--no-kv-offload"]
    return shlex.join(args)


def export_training(target: str, model: str, *, gpu=None, gpu_memory=None, gpus=None, active=None,
                    **training: Any) -> str:
    """A DeepSpeed JSON or an accelerate FSDP YAML for the training workload."""
    import json

    from .api import deepspeed_auto_sizes, load, lowest_zero_stage, resolve_gpu, training_workload

    spec = load(model, active=active)
    g = resolve_gpu(gpu, gpu_memory)
    training.setdefault("method", "full")
    if gpus is not None:
        training["gpus"] = gpus
    if target == "deepspeed" and "zero" not in training and g is not None:
        training = lowest_zero_stage(spec, gpu=g, **training)
    if target == "fsdp" and training.get("fsdp", "none") == "none":
        training["fsdp"] = "full"
    tr = training_workload(**training)
    half = {"bf16": "bf16", "mixed": "bf16", "fp8": "bf16", "fp16": "fp16", "mixed-fp16": "fp16"}.get(tr.precision)
    if target == "deepspeed":
        buckets = deepspeed_auto_sizes(spec, tr.zero)
        zero: dict[str, Any] = {"stage": tr.zero, "overlap_comm": True, "contiguous_gradients": True,
                                "reduce_bucket_size": buckets["reduce_bucket_size"]}
        if tr.zero == 3:
            zero |= {"stage3_prefetch_bucket_size": buckets["stage3_prefetch_bucket_size"],
                     "stage3_param_persistence_threshold": buckets["stage3_param_persistence_threshold"],
                     "stage3_gather_16bit_weights_on_model_save": True}
        if tr.offload in ("optimizer", "params"):
            zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if tr.offload == "params":
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
        cfg = {
            "train_micro_batch_size_per_gpu": tr.batch,
            "gradient_accumulation_steps": tr.grad_accum,
            "train_batch_size": tr.batch * tr.grad_accum * tr.data_parallel,
            "bf16": {"enabled": half == "bf16"},
            "fp16": {"enabled": half == "fp16"},
            "zero_optimization": zero,
            "gradient_clipping": 1.0,
        }
        return json.dumps(cfg, indent=2)
    layer_cls = spec.architecture.replace("ForCausalLM", "DecoderLayer").replace("ForConditionalGeneration", "DecoderLayer")
    strategy = {"full": "FULL_SHARD", "grad-op": "SHARD_GRAD_OP", "hybrid": "HYBRID_SHARD"}[tr.fsdp]
    nodes = max(1, -(-tr.num_gpus // tr.fsdp_node_gpus))
    lines = [
        "compute_environment: LOCAL_MACHINE",
        "distributed_type: FSDP",
        f"mixed_precision: {half or 'no'}",
        f"num_machines: {nodes}",
        f"num_processes: {tr.num_gpus}",
        "machine_rank: 0",
        "fsdp_config:",
        "  fsdp_version: 1",
        f"  fsdp_sharding_strategy: {strategy}",
        "  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP",
        f"  fsdp_transformer_layer_cls_to_wrap: {layer_cls}",
        "  fsdp_backward_prefetch: BACKWARD_PRE",
        f"  fsdp_offload_params: {'true' if tr.offload == 'params' else 'false'}",
        f"  fsdp_activation_checkpointing: {'true' if tr.grad_ckpt != 'none' else 'false'}",
        "  fsdp_state_dict_type: SHARDED_STATE_DICT",
        "  fsdp_cpu_ram_efficient_loading: true",
        "  fsdp_sync_module_states: true",
        f"  fsdp_use_orig_params: {'true' if tr.peft else 'false'}",
        "use_cpu: false",
    ]
    return "\n".join(lines)
