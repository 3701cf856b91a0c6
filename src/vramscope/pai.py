"""The seed's PAI quick mode ("GPU显存计算器 v3.1", seed ``000_*``): Alibaba Cloud PAI's
rule-of-thumb formulas, exactly as the seed writes them. Labelled as rules of thumb everywhere;
numbers are decimal GB (parameters in billions × bytes), as in the seed.

Inference (any model; MoE by its total parameters):
    weights W = P·b (b = 2 / 1 / 0.5 bytes for 16 / 8 / 4-bit)
    activations = 10 % W,  KV cache = 10 % W × concurrency,  other = 10 % W
Fine-tuning (P_eff = active parameters for MoE activations, total otherwise):
    full   : P·p + P·p (gradients) + P·opt + P_eff·2·0.20·batch
    LoRA   : P·p + 0.01P·2 + 0.01P·2 + 0.01P·opt + P_eff·2·f·batch,  f = 0.23 (batch 1) else 0.35
    QLoRA  : P·q + the same LoRA terms + P_eff·2·f·batch,            f = 0.23 (batch 1) else 0.20 (8-bit) / 0.125 (4-bit)
    opt bytes per parameter: Adam/AdamW 8, SGD+Momentum 4, RMSProp 4, SGD 0

Discrepancies in the seed, where vramscope follows the formulas (as the seed says to). The formula
text gives the LoRA optimizer as "0.01P × 8 GB (Adam)"; with it the seed's own figures come out —
QLoRA 8-bit 7B 11.1, Mixtral LoRA 148.1 (4.48 = 0.56 × 8), 671B LoRA "实际 1500.2" and QLoRA 4-bit
"实际 443.8", and PAI's "阿里云 18.1" and "7.6" for 7B LoRA / QLoRA 4-bit. Only the 7B LoRA and
QLoRA 4-bit worked examples (18.6 and 8.1) use 1.12 GB for that term — 0.14 GB of LoRA *weights* × 8
instead of 0.07B parameters × 8 — an arithmetic slip; vramscope gives 18.1 and 7.6 there (and 1500.2,
not the example's 1553.9, for 671B LoRA).

Totals are shown rounded half-up to 0.1 GB as the seed does (7B 4-bit inference: 4.55 → 4.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import VramscopeError

OPTIMIZER_BYTES = {"Adam/AdamW": 8.0, "SGD+Momentum": 4.0, "RMSProp": 4.0, "SGD": 0.0}
_OPT_ALIASES = {"adam": "Adam/AdamW", "adamw": "Adam/AdamW", "adam/adamw": "Adam/AdamW",
                "sgd+momentum": "SGD+Momentum", "sgd-momentum": "SGD+Momentum", "momentum": "SGD+Momentum",
                "rmsprop": "RMSProp", "sgd": "SGD"}
METHODS = ("full", "lora", "qlora-8bit", "qlora-4bit")
LORA_FRACTION = 0.01  # "LoRA参数量 = P × 1%"
INFERENCE_SHARE = 0.10  # activations, KV per request and "other" are each 10 % of the weights


def round_gb(value: float, digits: int = 1) -> float:
    """Half-up rounding as the seed's tables show it (4.55 → 4.6; plain round() gives 4.5)."""
    from decimal import ROUND_HALF_UP, Decimal

    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(round(value, 9))).quantize(q, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PAIResult:
    """One row of the seed's tables: components and total in decimal GB."""

    scenario: str
    components: dict[str, float] = field(default_factory=dict)

    @property
    def total_gb(self) -> float:
        return sum(self.components.values())

    def __float__(self) -> float:
        return self.total_gb

    def __getitem__(self, key: str) -> float:
        return self.total_gb if key == "total" else self.components[key]

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "components_gb": {k: round(v, 4) for k, v in self.components.items()},
                "total_gb": round(self.total_gb, 4), "total_gb_display": round_gb(self.total_gb),
                "rule": "Alibaba Cloud PAI rule of thumb (seed v3.1), decimal GB"}


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise VramscopeError(f"{name} must be a number, got {value!r}") from None
    if v != v or v < 0 or (v == 0 and not allow_zero) or v > 1e6:
        raise VramscopeError(f"{name} must be a positive number of a sensible size, got {value!r}")
    return v


def _optimizer(name: str) -> float:
    key = _OPT_ALIASES.get(str(name).strip().lower(), str(name).strip())
    if key not in OPTIMIZER_BYTES:
        raise VramscopeError(f"unknown optimizer {name!r}; the PAI mode knows {', '.join(OPTIMIZER_BYTES)}")
    return OPTIMIZER_BYTES[key]


def _effective(params: float, active: float | None, is_moe: bool) -> float:
    if is_moe:
        if active is None:
            raise VramscopeError("an MoE model needs its active parameters (active_params_b)")
        a = _positive("active_params_b", active)
        if a > params:
            raise VramscopeError(f"active parameters ({a}B) cannot exceed the total ({params}B)")
        return a
    return params


def inference(params_b: float, precision_bytes: float = 2.0, concurrency: int = 1) -> PAIResult:
    """W·(1 + 10 % + 10 %·concurrency + 10 %): 7B at 16-bit → 18.2 GB."""
    p = _positive("model_params_b", params_b)
    b = _positive("precision_bytes", precision_bytes)
    c = _positive("num_concurrent", concurrency)
    w = p * b
    return PAIResult(f"inference ({int(b * 8)}-bit)", {
        "weights": w, "activations": w * INFERENCE_SHARE, "kv_cache": w * INFERENCE_SHARE * c, "other": w * INFERENCE_SHARE,
    })


def _lora_terms(p: float, opt: float) -> dict[str, float]:
    lora = p * LORA_FRACTION
    return {"lora_params": lora * 2.0, "lora_gradients": lora * 2.0, "lora_optimizer": lora * opt}


def finetune(method: str, params_b: float, precision_bytes: float = 2.0, optimizer: str = "Adam/AdamW",
             batch_size: int = 1, active_params_b: float | None = None, is_moe: bool = False) -> PAIResult:
    """One of the seed's four fine-tuning rows (full, lora, qlora-8bit, qlora-4bit)."""
    p = _positive("model_params_b", params_b)
    b = _positive("precision_bytes", precision_bytes)
    batch = _positive("batch_size", batch_size)
    opt = _optimizer(optimizer)
    eff = _effective(p, active_params_b, is_moe)
    one = batch == 1
    if method == "full":
        comps = {"weights": p * b, "gradients": p * b, "optimizer": p * opt, "activations": eff * 2.0 * 0.20 * batch}
        return PAIResult("full fine-tuning", comps)
    if method == "lora":
        comps = {"weights": p * b, **_lora_terms(p, opt), "activations": eff * 2.0 * (0.23 if one else 0.35) * batch}
        return PAIResult("LoRA", comps)
    if method in ("qlora-8bit", "qlora-4bit"):
        q, factor = (1.0, 0.20) if method == "qlora-8bit" else (0.5, 0.125)
        comps = {"weights": p * q, **_lora_terms(p, opt), "activations": eff * 2.0 * (0.23 if one else factor) * batch}
        return PAIResult(f"QLoRA ({'8' if q == 1.0 else '4'}-bit)", comps)
    raise VramscopeError(f"unknown PAI method {method!r}; use one of {', '.join(METHODS)}")


def inference_table(params_b: float, concurrency: int = 1) -> list[PAIResult]:
    """The seed's inference table: 16-, 8- and 4-bit rows."""
    return [inference(params_b, b, concurrency) for b in (2.0, 1.0, 0.5)]


def finetune_table(params_b: float, precision_bytes: float = 2.0, optimizer: str = "Adam/AdamW", batch_size: int = 1,
                   active_params_b: float | None = None, is_moe: bool = False) -> list[PAIResult]:
    """The seed's fine-tuning table: full, LoRA, QLoRA 8-bit, QLoRA 4-bit."""
    return [finetune(m, params_b, precision_bytes, optimizer, batch_size, active_params_b, is_moe) for m in METHODS]


def recommend_gpus(total_gb: float, margin: float = 0.20, max_gpus: int = 8) -> list[dict[str, Any]]:
    """The seed's GPU advice: catalog GPUs whose memory holds the result plus a 20 % margin,
    with how many are needed (the memory split evenly), fewest GPUs first, then smallest card."""
    from .hardware import gpus

    need = _positive("total_gb", total_gb) * 1e9 * (1 + margin)
    out = []
    for g in gpus():
        usable = g.usable_bytes
        count = next((n for n in range(1, max_gpus + 1) if usable * n >= need), None)
        if count is not None:
            out.append({"gpu": g.id, "count": count, "memory_gb": round(usable / 1e9, 1),
                        "headroom_gb": round((usable * count - need / (1 + margin)) / 1e9, 1)})
    return sorted(out, key=lambda r: (r["count"], r["memory_gb"]))


def gpu_check(total_gb: float, memory_bytes: int, count: int = 1, margin: float = 0.20) -> dict[str, Any]:
    """One row against a chosen GPU setup, as the seed's worked examples read it ("RTX 4090 (24GB):
    LoRA 18.6 GB ✅, full 87 GB ❌"): it fits when the result plus the seed's 20 % margin is within the
    GPUs' memory (split evenly); the headroom is the memory left without the margin."""
    memory_gb = memory_bytes * count / 1e9
    return {"fits": total_gb * (1 + margin) <= memory_gb, "headroom_gb": round(memory_gb - total_gb, 1),
            "memory_gb": round(memory_gb, 1)}


class AliyunGPUCalculator:
    """The seed's interface (``from gpu_memory_calculator import AliyunGPUCalculator``), so its
    examples run unchanged apart from the import. Each method returns a :class:`PAIResult`
    (``float(result)`` or ``result["total"]`` is the total in GB)."""

    @staticmethod
    def calculate_inference(model_params_b: float, precision_bytes: float = 2.0, num_concurrent: int = 1,
                            **_: Any) -> PAIResult:
        return inference(model_params_b, precision_bytes, num_concurrent)

    @staticmethod
    def calculate_full_finetune(model_params_b: float, precision_bytes: float = 2.0, optimizer: str = "Adam/AdamW",
                                batch_size: int = 1, seq_length: int = 2048, active_params_b: float | None = None,
                                is_moe: bool = False) -> PAIResult:
        return finetune("full", model_params_b, precision_bytes, optimizer, batch_size, active_params_b, is_moe)

    @staticmethod
    def calculate_lora(model_params_b: float, precision_bytes: float = 2.0, optimizer: str = "Adam/AdamW",
                       batch_size: int = 1, seq_length: int = 2048, active_params_b: float | None = None,
                       is_moe: bool = False) -> PAIResult:
        return finetune("lora", model_params_b, precision_bytes, optimizer, batch_size, active_params_b, is_moe)

    @staticmethod
    def calculate_qlora(model_params_b: float, precision_bytes: float = 2.0, optimizer: str = "Adam/AdamW",
                        batch_size: int = 1, seq_length: int = 2048, active_params_b: float | None = None,
                        is_moe: bool = False, quant_bits: int = 4) -> PAIResult:
        if quant_bits not in (4, 8):
            raise VramscopeError(f"quant_bits must be 4 or 8, got {quant_bits!r}")
        return finetune(f"qlora-{quant_bits}bit", model_params_b, precision_bytes, optimizer, batch_size,
                        active_params_b, is_moe)

    calculate_full = calculate_full_finetune
    calculate_qlora_4bit = staticmethod(lambda *a, **k: AliyunGPUCalculator.calculate_qlora(*a, quant_bits=4, **k))
    calculate_qlora_8bit = staticmethod(lambda *a, **k: AliyunGPUCalculator.calculate_qlora(*a, quant_bits=8, **k))


# --- the quick mode as the presenters show it (``vramscope estimate --pai`` and the web's PAI tab) ----
#: method names the quick mode has a fine-tuning row for → that row of :func:`finetune_table`
#: (``qlora`` is the seed's default QLoRA, the 4-bit row)
METHOD_ROWS = {"full": 0, "lora": 1, "qlora-8bit": 2, "qlora": 3, "qlora-4bit": 3}
#: precisions the seed's fine-tuning rows take → its ``precision_bytes`` (its "FP32 / FP16/BF16" choice)
PRECISION_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}
NOTE = "Alibaba Cloud PAI rule of thumb (seed v3.1), decimal GB; not the architecture-aware estimate"


def precision_bytes(precision: str | int | None) -> float:
    """The seed's ``precision_bytes``: 4 for fp32, 2 for bf16 / fp16, or a bit width / 8 (the web
    page offers 32 and 16); None → 2 (the seed's default, 16-bit)."""
    if precision is None:
        return 2.0
    key = str(precision).strip().lower()
    if key in PRECISION_BYTES:
        return PRECISION_BYTES[key]
    if key in ("16", "32"):
        return int(key) / 8
    raise VramscopeError(f"the PAI formulas take precision {' | '.join(PRECISION_BYTES)} or a bit width 32 | 16 "
                         f"(precision_bytes 4 or 2), not {precision}")


def method_row(method: str | None) -> int:
    """The row of the table a method reads: the fine-tuning row of ``method``, or the first (16-bit
    inference, or full fine-tuning) when none is given — the row whose GPUs the seed recommends."""
    if method is None:
        return 0
    key = method.lower()
    if key not in METHOD_ROWS:
        raise VramscopeError(f"the PAI quick mode has no row for method {method}; it has "
                             + ", ".join(METHOD_ROWS) + " (qlora = 4-bit)")
    return METHOD_ROWS[key]


@dataclass(frozen=True)
class Row:
    """One row as shown: the result, its total rounded as the seed shows it, and the GPUs it advises."""

    result: PAIResult
    gpus: tuple[dict[str, Any], ...]

    @property
    def shown_gb(self) -> float:
        return round_gb(self.result.total_gb)


def tables(params_b: float, *, active_params_b: float | None = None, is_moe: bool = False, concurrency: int = 1,
           precision: str | int | None = None, optimizer: str = "Adam/AdamW", batch_size: int = 1,
           advise: int = 3) -> dict[str, tuple[Row, ...]]:
    """Both of the seed's tables (``inference``, ``finetune``), each row with its first ``advise``
    GPU recommendations (:func:`recommend_gpus`)."""
    b = precision_bytes(precision)

    def rows(results: list[PAIResult]) -> tuple[Row, ...]:
        return tuple(Row(r, tuple(recommend_gpus(r.total_gb)[:advise])) for r in results)

    return {"inference": rows(inference_table(params_b, concurrency)),
            "finetune": rows(finetune_table(params_b, b, optimizer, batch_size, active_params_b, is_moe))}


@dataclass(frozen=True)
class Quick:
    """The quick mode for one model: the table the method reads, the row it chose, and the document."""

    rows: tuple[PAIResult, ...]
    chosen: int
    doc: dict[str, Any]
    gpu_id: str | None = None
    count: int = 1

    @property
    def chosen_row(self) -> PAIResult:
        return self.rows[self.chosen]


def quick(model_id: str, params_total: int, params_active: int, is_moe: bool, *, method: str | None = None,
          optimizer: str | None = None, batch: int = 1, precision: str | None = None,
          gpu_id: str | None = None, usable_bytes: int | None = None, count: int = 1) -> Quick:
    """The seed's table for a model: inference without a method, fine-tuning with one (its
    precision and optimizer), GPUs recommended for the method's row (20 % margin), and each row
    judged against a chosen GPU setup when one is given (:func:`gpu_check`)."""
    chosen = method_row(method)
    if method is None and optimizer is not None:
        raise VramscopeError("optimizer applies to the PAI fine-tuning rows: give a method (full, lora, qlora)")
    p, a = params_total / 1e9, params_active / 1e9
    if method is None:
        rows = inference_table(p, batch)
    else:
        rows = finetune_table(p, precision_bytes(precision), optimizer or "Adam/AdamW", batch,
                              a if is_moe else None, is_moe)
    doc: dict[str, Any] = {"model": model_id, "params_b": round(p, 3), "active_params_b": round(a, 3),
                           "rows": [r.to_dict() for r in rows],
                           "recommended_gpus": recommend_gpus(rows[chosen].total_gb)[:10], "note": NOTE}
    if usable_bytes is not None:
        if isinstance(count, bool) or count < 1:
            raise VramscopeError(f"gpus must be a whole number >= 1 (got {count!r})")
        doc["gpu"] = {"id": gpu_id, "count": count, "memory_bytes": usable_bytes}
        for row, r in zip(doc["rows"], rows, strict=True):
            row.update(gpu_check(r.total_gb, usable_bytes, count))
    return Quick(tuple(rows), chosen, doc, gpu_id, count)
