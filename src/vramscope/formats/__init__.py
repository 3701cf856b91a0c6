"""Storage formats by stage: weight formats (bits per element incl. scales; what stays unquantised,
:mod:`.weight_formats`), llama.cpp's GGUF type mixtures (:mod:`.gguf_mix`, :mod:`.gguf_types`), the
bytes they add up to (:mod:`.stored_bytes`) and KV-cache dtypes (:mod:`.kv_dtypes`)."""

from .stored_bytes import WeightBytes
from .weight_formats import (
    FORMATS,
    WeightFormat,
    checkpoint_format,
    format_names,
    get_format,
    weight_bytes,
)

__all__ = [
    "FORMATS",
    "WeightBytes",
    "WeightFormat",
    "checkpoint_format",
    "format_names",
    "get_format",
    "weight_bytes",
]
