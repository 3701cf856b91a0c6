"""KV-cache dtypes: bytes per cached element as each engine stores them.

Sources: vLLM ``--kv-cache-dtype`` (auto = model dtype; fp8 / fp8_e4m3 / fp8_e5m2 = 1 byte with
per-tensor scales, ``vllm/config/cache.py``); llama.cpp ``-ctk/-ctv`` GGML types (q8_0 34 bytes per
32, q4_0 18 per 32 …, ``ggml-common.h``); formulas.md §3.6.
"""

from __future__ import annotations

from ..errors import FormatError

#: name → bytes per element
KV_DTYPES: dict[str, float] = {
    "fp32": 4.0, "float32": 4.0, "f32": 4.0,
    "bf16": 2.0, "bfloat16": 2.0,
    "fp16": 2.0, "float16": 2.0, "f16": 2.0, "half": 2.0,
    "fp8": 1.0, "fp8_e4m3": 1.0, "fp8_e5m2": 1.0, "int8": 1.0,
    "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32, "q4_1": 20 / 32, "q4_0": 18 / 32, "iq4_nl": 18 / 32,
    "nvfp4": 0.5 + 1 / 16,
}  # fmt: skip

_DTYPE_BYTES = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}


def kv_bytes_per_element(kv_dtype: str, model_dtype: str = "bfloat16") -> float:
    """Bytes per cached K or V element; ``auto`` follows the model's dtype (fp32 checkpoints are
    served in bf16 by vLLM and llama.cpp, so auto never exceeds 2 bytes there)."""
    key = (kv_dtype or "auto").strip().lower()
    if key == "auto":
        return min(_DTYPE_BYTES.get(model_dtype, 2.0), 2.0)
    if key not in KV_DTYPES:
        raise FormatError(f"unknown KV-cache dtype {kv_dtype!r}; use auto or one of {', '.join(KV_DTYPES)}")
    return KV_DTYPES[key]
