"""Inference estimate: dispatch to the engine module and assemble the :class:`Estimate`."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..errors import VramscopeError
from ..spec import ModelSpec
from ..workload import ENGINES, Inference
from .result import Estimate


def _gpu_dict(gpu) -> dict[str, Any] | None:
    if gpu is None:
        return None
    return {"id": gpu.id, "name": gpu.name, "memory_bytes": gpu.memory_bytes, "usable_bytes": gpu.usable_bytes}


def estimate_inference(spec: ModelSpec, wl: Inference, gpu=None) -> Estimate:
    """Memory per GPU of serving ``spec`` as ``wl`` describes, on ``gpu`` (a hardware.GPU) if given."""
    if wl.engine not in ENGINES:
        raise VramscopeError(f"unknown engine {wl.engine!r}; use one of {', '.join(ENGINES)}")
    engine = import_module(f".engines.{wl.engine}", __package__)
    comps, s = engine.components(spec, wl, gpu)
    details = dict(s.details)
    host = int(details.pop("host_bytes", 0))
    est = Estimate(
        model={"id": spec.id, "family": spec.family, "params_total": spec.params_total,
               "params_active": spec.params_active, "weights_format": s.weights.format},
        mode="inference",
        engine=wl.engine,
        workload=wl.to_dict(),
        components=tuple(comps),
        num_gpus=wl.num_gpus,
        gpu=_gpu_dict(gpu),
        assumptions=tuple(dict.fromkeys(s.assumptions)),
        details=details,
        host_bytes=host,
    )
    if gpu is not None and "fits" not in est.details:
        est.details["fits"] = est.per_gpu_bytes <= gpu.usable_bytes
        est.details["fit_limit_bytes"] = gpu.usable_bytes
    from ..invariants import checked

    return checked(est)
