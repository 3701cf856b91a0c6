"""What a model's weights add up to in a storage format (the result of
:func:`~vramscope.formats.weight_formats.weight_bytes`; GGUF file types extend it in
:mod:`.gguf_mix`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightBytes:
    """Stored weight bytes of a model in a format."""

    format: str
    total: int  # every tensor of the model (MTP excluded)
    quantised: int  # bytes of the tensors the format quantised
    unquantised: int
    quantised_params: int
    by_component: dict[str, int]
    by_type: dict[str, int]  # GGUF: bytes per GGML type; else {"quantised": …, "16-bit": …}
    mtp: int = 0  # DeepSeek MTP layers, stored but not loaded by default

    @property
    def bits_per_quantised_weight(self) -> float:
        return 8 * self.quantised / self.quantised_params if self.quantised_params else 0.0
