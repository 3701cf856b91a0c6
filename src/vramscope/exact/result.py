"""What a trace reports (no torch needed to read one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: what a storage can hold, in display order
CATEGORIES = ("parameters", "buffers", "gradients", "optimizer", "kv_cache", "weight_copies", "activations",
              "temporaries")


@dataclass(frozen=True)
class TraceResult:
    """The peak of a traced workload, in bytes as the CUDA caching allocator would count them.

    * ``peak_bytes`` — the highest sum of live tensor storages (each rounded up to 512 B), over
      the whole step: ``torch.cuda.max_memory_allocated`` for the same tensors, without the CUDA
      context, cuBLAS workspaces, kernels' internal scratch or the allocator's reserve.
    * ``categories`` — that peak split by what the storages hold: ``parameters``, ``buffers``,
      ``gradients`` (``.grad`` of trainable parameters), ``optimizer`` (optimizer state),
      ``kv_cache``, ``weight_copies`` (autocast's cached low-precision copies of fp32 weights),
      ``activations`` (created in the forward / prefill / decode pass and still alive) and
      ``temporaries`` (created in backward or the optimizer step: activation gradients,
      recomputed activations, optimizer intermediates). The values sum to ``peak_bytes``.
    * ``phase`` — where the peak happened: forward, backward, optimizer, prefill or decode.
    * ``param_bytes``, ``grad_bytes``, ``optimizer_bytes`` — those categories at the peak
      (gradients are 0 when the peak is in the forward pass: ``zero_grad(set_to_none=True)``).
    * ``phase_peaks`` / ``phase_categories`` — the peak of every phase and its breakdown (the
      optimizer-step peak shows gradients and optimizer state side by side).
    * ``final_categories`` — what is still alive when the workload ends (the KV cache after the
      last decode step; parameters and optimizer state after a training step).
    * ``extrapolated`` / ``traced_layers`` — whether the figures were extrapolated from traces of
      fewer decoder layers, and the layer counts traced.
    """

    model: str
    workload: str  # "training" or "inference"
    peak_bytes: int
    categories: dict[str, int]
    phase: str
    param_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    trainable_params: int
    total_params: int
    num_layers: int
    extrapolated: bool
    traced_layers: tuple[int, ...]
    seconds: float
    phase_peaks: dict[str, int] = field(default_factory=dict)
    phase_categories: dict[str, dict[str, int]] = field(default_factory=dict)
    final_categories: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["traced_layers"] = list(self.traced_layers)
        d["notes"] = list(self.notes)
        return d
