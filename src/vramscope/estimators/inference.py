"""Inference estimate: ask the engine registry for the engine's estimate and assemble the :class:`Estimate`."""

from __future__ import annotations

from typing import Any

from ..spec import ModelSpec
from ..workload import Inference
from .engines import engine
from .result import Estimate


def _gpu_dict(gpu) -> dict[str, Any] | None:
    if gpu is None:
        return None
    return {"id": gpu.id, "name": gpu.name, "memory_bytes": gpu.memory_bytes, "usable_bytes": gpu.usable_bytes}


def estimate_inference(spec: ModelSpec, wl: Inference, gpu=None) -> Estimate:
    """Memory per GPU of serving ``spec`` as ``wl`` describes, on ``gpu`` (a hardware.GPU) if given."""
    r = engine(wl.engine).estimate(spec, wl, gpu)  # estimators/engines/{hf,vllm,llamacpp,sglang}.py
    est = Estimate(
        model={"id": spec.id, "family": spec.family, "params_total": spec.params_total,
               "params_active": spec.params_active, "weights_format": r.weights_format},
        mode="inference",
        engine=wl.engine,
        workload=wl.to_dict(),
        components=r.components,
        num_gpus=wl.num_gpus,
        gpu=_gpu_dict(gpu),
        assumptions=tuple(dict.fromkeys(r.assumptions)),
        host_bytes=r.host_bytes,
        fit=r.fit,
        kv=r.kv,
        settings=r.settings,
        placement=r.placement,
        no_torch=r.no_torch,
    )
    from ..invariants import checked

    return checked(est)
