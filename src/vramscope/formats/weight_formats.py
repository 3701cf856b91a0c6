"""Weight formats: exact stored bytes per tensor, including scales and zero points.

A format decides, tensor by tensor, how many bytes it takes. Weight-only quantisers (bitsandbytes,
GPTQ, AWQ, FP8, MXFP4/NVFP4) replace the matrices of Linear layers inside the decoder
(``Tensor.quantisable``) and keep everything else — embeddings, the output head, norms, biases,
MoE routers, SSM conv/A/D, vision towers — in 16-bit (``keep_bits``). GGUF presets follow
llama.cpp's own per-tensor rules (``gguf_mix``). Sources for each layout are in ``FORMATS``
below and in ``shared/reference/formulas.md`` §2.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from math import ceil

from ..errors import FormatError
from ..spec import COMPONENT_MTP, ModelSpec, Tensor
from .stored_bytes import WeightBytes

# --- per-tensor byte counts of the quantised layouts ------------------------------------------
# Each takes (numel, rows, cols, lead) where a Linear weight is (rows=out, cols=in) and `lead` is
# the number of stacked matrices (experts; 1 otherwise).

ByteFn = Callable[[int, int, int, int], float]


def _dense(bits: float) -> ByteFn:
    return lambda numel, rows, cols, lead: numel * bits / 8


def _fp8_per_tensor(numel: int, rows: int, cols: int, lead: int) -> float:
    """FP8 e4m3/e5m2 with one fp32 scale per matrix."""
    return numel + 4 * lead


def _fp8_per_channel(numel: int, rows: int, cols: int, lead: int) -> float:
    """FP8 with one fp32 scale per output row (compressed-tensors channel strategy)."""
    return numel + 4 * rows * lead


def _fp8_block(block: int = 128) -> ByteFn:
    """FP8 with one fp32 ``weight_scale_inv`` per block×block tile (DeepSeek-V3: 128×128)."""
    return lambda numel, rows, cols, lead: numel + 4 * ceil(rows / block) * ceil(cols / block) * lead


def _int8_rowwise(numel: int, rows: int, cols: int, lead: int) -> float:
    """int8 weight + one fp32 scale per output row: bitsandbytes LLM.int8 (``CB`` + ``SCB``) and
    W8A8 per-channel checkpoints."""
    return numel + 4 * rows * lead


def _bnb4(double_quant: bool) -> ByteFn:
    """bitsandbytes NF4/FP4, blocksize 64 (``functional.quantize_4bit``): 4-bit codes + one fp32
    absmax per 64 (4.5 bits); with double quant the absmax is 8-bit per 64 with one fp32 scale per
    256 absmax values: 4 + 8/64 + 32/(64·256) = 4.127 bits (QLoRA paper §3)."""
    if double_quant:
        return lambda numel, rows, cols, lead: numel / 2 + numel / 64 + 4 * numel / (64 * 256)
    return lambda numel, rows, cols, lead: numel / 2 + 4 * numel / 64


def _gptq(bits: int, group: int, g_idx: bool) -> ByteFn:
    """GPTQ / AWQ: packed ``bits``-bit qweight, packed ``bits``-bit zeros and fp16 scales per group of
    ``group`` input columns and output row; GPTQ adds an int32 ``g_idx`` per input column.
    bits/weight = b + 16/g + b/g (+ 32/out). group -1 = one group per row (whole input)."""

    def fn(numel: int, rows: int, cols: int, lead: int) -> float:
        g = cols if group <= 0 else group
        groups = ceil(cols / g) * rows * lead
        nbytes = numel * bits / 8 + groups * 2 + groups * bits / 8
        if g_idx:
            nbytes += 4 * cols * lead
        return nbytes

    return fn


def _microscaled(block: int, scale_bytes: int, tensor_scale: int = 0) -> ByteFn:
    """4-bit E2M1 values with one scale per ``block`` elements: MXFP4 (E8M0 per 32 → 4.25 bits,
    OCP MX spec) and NVFP4 (E4M3 per 16 + one fp32 global scale → 4.5 bits)."""
    return lambda numel, rows, cols, lead: numel / 2 + scale_bytes * numel / block + tensor_scale * lead


@dataclass(frozen=True)
class WeightFormat:
    """A named way of storing weights."""

    name: str
    description: str
    bytes_fn: ByteFn | None = None  # bytes of a quantised tensor; None = plain dtype for all
    bits: float = 16.0  # nominal bits per quantised element incl. scales (for display)
    keep_bits: int = 16  # bits of tensors the format leaves unquantised
    aliases: tuple[str, ...] = ()
    gguf_preset: str | None = None  # llama.cpp file type (Q4_K_M …) handled by gguf_mix
    skip: tuple[str, ...] = field(default=())  # glob patterns of tensor names left unquantised
    experts_only: bool = False  # quantise only routed-expert tensors (gpt-oss MXFP4)
    source: str = ""

    @property
    def quantised(self) -> bool:
        return self.bytes_fn is not None or self.gguf_preset is not None

    def quantises(self, t: Tensor) -> bool:
        if not self.quantised or not t.quantisable:
            return False
        if self.experts_only and not t.experts:
            return False
        return not any(fnmatch.fnmatchcase(t.name, pat) for pat in self.skip)

    def tensor_bytes(self, t: Tensor) -> float:
        """Bytes this tensor takes in this format (fractional for packed sub-byte layouts)."""
        if self.bytes_fn is None or not self.quantises(t):
            return t.numel * self.keep_bits / 8
        lead = t.shape[0] if t.experts else 1
        rows, cols = (t.shape[-2], t.shape[-1]) if len(t.shape) >= 2 else (1, t.shape[0])
        return self.bytes_fn(t.numel, rows, cols, lead)


def _fmt(name, description, fn=None, bits=16.0, keep=16, aliases=(), source="") -> WeightFormat:
    return WeightFormat(name, description, fn, bits, keep, tuple(aliases), source=source)


_BNB = "bitsandbytes functional.quantize_4bit / Linear8bitLt (formulas.md §2.1)"

#: The built-in formats. GGUF presets (Q4_K_M …) are added from ``gguf_mix`` on lookup.
FORMATS: dict[str, WeightFormat] = {
    f.name: f
    for f in [
        _fmt("fp32", "32-bit float, every tensor", None, 32, 32, ("float32", "f32")),
        _fmt("bf16", "bfloat16, every tensor", None, 16, 16, ("bfloat16",)),
        _fmt("fp16", "float16, every tensor", None, 16, 16, ("float16", "half", "f16")),
        _fmt("fp8", "FP8 e4m3 weights, one fp32 scale per tensor (vLLM --quantization fp8)",
             _fp8_per_tensor, 8, aliases=("fp8_e4m3", "fp8-e4m3", "float8_e4m3fn")),
        _fmt("fp8_e5m2", "FP8 e5m2 weights, one fp32 scale per tensor", _fp8_per_tensor, 8,
             aliases=("fp8-e5m2", "float8_e5m2")),
        _fmt("fp8-channel", "FP8 e4m3 weights, one fp32 scale per output channel", _fp8_per_channel, 8.008,
             aliases=("fp8_per_channel",)),
        _fmt("fp8-block", "FP8 e4m3 with 128×128 block scales (DeepSeek-V3 checkpoints)", _fp8_block(128),
             8.002, aliases=("fp8_block", "fp8-block128")),
        _fmt("int8", "bitsandbytes LLM.int8 (int8 + fp32 row scale)", _int8_rowwise, 8.008,
             aliases=("llm.int8", "bnb-int8", "8bit", "load_in_8bit"), source=_BNB),
        _fmt("w8a8", "int8 weights with per-channel fp32 scales (W8A8 / SmoothQuant checkpoints)", _int8_rowwise,
             8.008, aliases=("w8a8-int8", "int8-w8a8")),
        _fmt("nf4", "bitsandbytes NF4, blocksize 64, no double quant (4.5 bits)", _bnb4(False), 4.5,
             aliases=("bnb-nf4",), source=_BNB),
        _fmt("nf4-dq", "bitsandbytes NF4 with double quantisation (4.127 bits) — QLoRA's default",
             _bnb4(True), 4.127, aliases=("nf4_dq", "nf4-double-quant", "qlora", "bnb-nf4-dq"), source=_BNB),
        _fmt("fp4", "bitsandbytes FP4, blocksize 64 (4.5 bits)", _bnb4(False), 4.5, aliases=("bnb-fp4",),
             source=_BNB),
        _fmt("fp4-dq", "bitsandbytes FP4 with double quantisation (4.127 bits)", _bnb4(True), 4.127,
             aliases=("fp4_dq",), source=_BNB),
        _fmt("gptq-int4", "GPTQ 4-bit, group 128, with g_idx (≈4.16 bits)", _gptq(4, 128, True), 4.156,
             aliases=("gptq", "gptq-4bit", "gptq-int4-g128")),
        _fmt("gptq-int4-g32", "GPTQ 4-bit, group 32", _gptq(4, 32, True), 4.625),
        _fmt("gptq-int4-g64", "GPTQ 4-bit, group 64", _gptq(4, 64, True), 4.3125),
        _fmt("gptq-int8", "GPTQ 8-bit, group 128", _gptq(8, 128, True), 8.1875, aliases=("gptq-8bit", "gptq-int8-g128")),
        _fmt("gptq-int3", "GPTQ 3-bit, group 128", _gptq(3, 128, True), 3.148),
        _fmt("awq", "AWQ 4-bit GEMM, group 128 (≈4.16 bits; AutoAWQ WQLinear_GEMM buffers)", _gptq(4, 128, False),
             4.156, aliases=("awq-int4", "awq-4bit", "awq-int4-g128")),
        _fmt("mxfp4", "OCP MXFP4: E2M1 + one E8M0 scale per 32 (4.25 bits)", _microscaled(32, 1), 4.25),
        _fmt("nvfp4", "NVIDIA NVFP4: E2M1 + E4M3 scale per 16 + fp32 tensor scale (4.5 bits)",
             _microscaled(16, 1, 4), 4.5),
    ]
}

_ALIASES = {alias.lower(): f.name for f in FORMATS.values() for alias in (f.name, *f.aliases)}


def format_names() -> list[str]:
    """Every format name accepted by :func:`get_format` (GGUF presets included)."""
    from . import gguf_mix  # lazily (no cycle): its tables cost import time most estimates do not need

    return list(FORMATS) + list(gguf_mix.PRESETS)


def get_format(name: str) -> WeightFormat:
    """Look a format up by name or alias, case-insensitively (``Q4_K_M``, ``nf4``, ``bfloat16`` …)."""
    if not isinstance(name, str) or not name.strip():
        raise FormatError("a weight format name is required, e.g. bf16, fp8, nf4, gptq-int4, awq, Q4_K_M")
    key = name.strip().lower().replace(" ", "")
    if key in _ALIASES:
        return FORMATS[_ALIASES[key]]
    from . import gguf_mix

    preset = gguf_mix.find_preset(name.strip())
    if preset is not None:
        return WeightFormat(preset, f"llama.cpp GGUF file type {preset} (per-tensor mixture)",
                            gguf_preset=preset, bits=0.0)
    raise FormatError(
        f"unknown weight format {name!r}. Known formats: {', '.join(FORMATS)}; "
        f"GGUF file types: {', '.join(gguf_mix.PRESETS)}"
    )


def _first(q: dict, *keys: str, default: int) -> int:
    """The first of ``keys`` present and not null in a quantization config, as an int."""
    return next((int(q[k]) for k in keys if q.get(k) is not None), default)


def checkpoint_format(spec: ModelSpec) -> WeightFormat:
    """The format the checkpoint itself is stored in, from its ``quantization_config`` and dtype.

    DeepSeek-V3 (``quant_method: fp8``, ``weight_block_size: [128, 128]``) → FP8 with block scales;
    gpt-oss (``mxfp4`` with ``modules_to_not_convert``) → MXFP4 experts, the rest bf16;
    AWQ / GPTQ configs → their bits and group size. Unquantised checkpoints → their dtype.
    """
    q = spec.quantization or {}
    method = str(q.get("quant_method", "")).lower()
    skip = tuple(
        pat if pat.endswith("*") else pat + "*"
        for pat in (q.get("modules_to_not_convert") or q.get("ignore") or [])
        if isinstance(pat, str)
    )
    if method == "fp8":
        block = q.get("weight_block_size")
        if isinstance(block, list) and block:
            base = WeightFormat("fp8-block", f"checkpoint FP8 ({q.get('fmt') or 'e4m3'}) with {block[0]}×{block[-1]} block scales",
                                _fp8_block(int(block[0])), 8.002)
        else:
            base = FORMATS["fp8"]
        return WeightFormat(base.name, base.description, base.bytes_fn, base.bits, skip=skip)
    if method == "mxfp4":
        return WeightFormat("mxfp4", "checkpoint MXFP4 (MoE experts), other tensors bf16", _microscaled(32, 1),
                            4.25, skip=skip, experts_only=not skip)
    if method in ("gptq", "awq"):
        # keys as transformers' GPTQConfig / AwqConfig name them (AutoAWQ writes w_bit / q_group_size);
        # a key given as null takes the library default (4 bits, group 128); sources type-checked them
        bits = _first(q, "bits", "w_bit", default=4)
        group = _first(q, "group_size", "q_group_size", default=128)
        return WeightFormat(f"{method}-int{bits}-g{group}", f"checkpoint {method.upper()} {bits}-bit group {group}",
                            _gptq(bits, group, method == "gptq"), bits + 16 / max(group, 1) + bits / max(group, 1),
                            skip=skip)
    if method == "bitsandbytes":
        if q.get("load_in_4bit"):
            dq = bool(q.get("bnb_4bit_use_double_quant"))
            return get_format(("nf4" if (q.get("bnb_4bit_quant_type") or "nf4") == "nf4" else "fp4") + ("-dq" if dq else ""))
        return FORMATS["int8"]
    dtype = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}.get(spec.dtype, "bf16")
    return FORMATS[dtype]


def weight_bytes(spec: ModelSpec, fmt: WeightFormat | str) -> WeightBytes:
    """Σ over the tensor inventory of each tensor's bytes in ``fmt`` (formulas.md §2.1)."""
    if isinstance(fmt, str):
        fmt = get_format(fmt)
    if fmt.gguf_preset is not None:
        from . import gguf_mix

        return gguf_mix.preset_weight_bytes(fmt.gguf_preset, spec)
    total = quant = qparams = mtp = 0.0
    by_component: dict[str, float] = {}
    for t in spec.tensors:
        nbytes = fmt.tensor_bytes(t)
        if t.component == COMPONENT_MTP:
            mtp += nbytes
            continue
        total += nbytes
        by_component[t.component] = by_component.get(t.component, 0) + nbytes
        if fmt.quantises(t):
            quant += nbytes
            qparams += t.numel
    label = f"{fmt.keep_bits}-bit" if fmt.quantised else fmt.name
    by_type = {fmt.name: ceil(quant), label: ceil(total - quant)} if fmt.quantised else {fmt.name: ceil(total)}
    return WeightBytes(
        format=fmt.name,
        total=ceil(total),
        quantised=ceil(quant),
        unquantised=ceil(total - quant),
        quantised_params=int(qparams),
        by_component={k: ceil(v) for k, v in by_component.items()},
        by_type=by_type,
        mtp=ceil(mtp),
    )
