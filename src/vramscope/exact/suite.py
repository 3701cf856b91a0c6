"""The named suites of GPU measurement cases (plain data; no imports beyond the standard library).

A case is a small dict: ``name``, ``model`` (a catalog id), ``kind`` (``inference`` or ``train``),
optional ``overrides`` (config keys replaced, e.g. fewer layers so a full MoE step fits one GPU)
and the workload's parameters:

* inference — ``batch``, ``prompt_len``, ``gen_len`` (decode steps: ``generate`` runs with
  ``max_new_tokens = min_new_tokens = gen_len + 1``, so the cache ends at ``prompt_len + gen_len``
  tokens, as in ``vramscope trace --inference``), ``attn``, ``dtype``;
* train — ``method`` (full | lora | qlora), ``precision`` (bf16 | mixed | fp32), ``optimizer``
  (adamw | sgd | sgd_momentum), ``optimizer_impl`` (fused | foreach | forloop), ``batch``,
  ``seq_len``, ``attn``, ``grad_ckpt``, ``lora_rank``, ``lora_targets``, ``steps``.

Sizes are chosen so that every case fits an 80 GB H100 (the largest: Qwen3-30B-A3B inference,
61 GB of bf16 weights).
"""

from __future__ import annotations

from typing import Any

Case = dict[str, Any]

L1B, L3B, L8B = "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-3B", "meta-llama/Llama-3.1-8B"
Q05, Q7, Q3_8 = "Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen3-8B"
QMOE, Q3MOE, MIXTRAL = "Qwen/Qwen1.5-MoE-A2.7B", "Qwen/Qwen3-30B-A3B", "mistralai/Mixtral-8x7B-v0.1"
MISTRAL, GEMMA2, GEMMA3 = "mistralai/Mistral-7B-v0.1", "google/gemma-2-2b", "google/gemma-3-1b-it"
PHI3, DSV2L = "microsoft/Phi-3-mini-4k-instruct", "deepseek-ai/DeepSeek-V2-Lite"
QKVO = ["q_proj", "k_proj", "v_proj", "o_proj"]


def _inf(name: str, model: str, batch: int, prompt_len: int, gen_len: int, attn: str = "sdpa", **kw: Any) -> Case:
    return dict(name=name, model=model, kind="inference", batch=batch, prompt_len=prompt_len, gen_len=gen_len,
                attn=attn, dtype=kw.pop("dtype", "bf16"), **kw)


def _train(name: str, model: str, method: str, batch: int, seq_len: int, **kw: Any) -> Case:
    case = dict(name=name, model=model, kind="train", method=method, precision=kw.pop("precision", "bf16"),
                optimizer=kw.pop("optimizer", "adamw"), optimizer_impl=kw.pop("optimizer_impl", "fused"),
                batch=batch, seq_len=seq_len, attn=kw.pop("attn", "sdpa"), grad_ckpt=kw.pop("grad_ckpt", False),
                steps=kw.pop("steps", 3))
    if method in ("lora", "qlora"):
        case.update(lora_rank=kw.pop("lora_rank", 16), lora_targets=kw.pop("lora_targets", ["q_proj", "v_proj"]))
    case.update(kw)
    return case


DEFAULT: list[Case] = [
    # --- HF inference: prefill + decode, several batches and lengths, eager vs SDPA -------------
    _inf("inf-llama3.2-1b-b1-p512", L1B, 1, 512, 64),
    _inf("inf-llama3.2-1b-b8-p2048", L1B, 8, 2048, 64),
    _inf("inf-llama3.2-1b-b8-p2048-eager", L1B, 8, 2048, 64, attn="eager"),
    _inf("inf-llama3.1-8b-b1-p1024", L8B, 1, 1024, 128),
    _inf("inf-llama3.1-8b-b4-p4096", L8B, 4, 4096, 64),
    _inf("inf-llama3.1-8b-b4-p4096-eager", L8B, 4, 4096, 64, attn="eager"),
    _inf("inf-llama3.1-8b-b16-p2048", L8B, 16, 2048, 32),
    _inf("inf-qwen2.5-0.5b-b32-p1024", Q05, 32, 1024, 32),
    _inf("inf-qwen2.5-7b-b8-p4096", Q7, 8, 4096, 64),
    _inf("inf-qwen3-8b-b4-p8192", Q3_8, 4, 8192, 32),
    _inf("inf-phi3-mini-b8-p2048", PHI3, 8, 2048, 64),
    # sliding-window models
    _inf("inf-mistral-7b-b2-p8192-sliding", MISTRAL, 2, 8192, 64),
    _inf("inf-gemma2-2b-b4-p4096-sliding", GEMMA2, 4, 4096, 64, attn="eager"),
    _inf("inf-gemma3-1b-b8-p4096-sliding", GEMMA3, 8, 4096, 64),
    # MoE / MLA
    _inf("inf-qwen1.5-moe-b4-p2048", QMOE, 4, 2048, 64),
    _inf("inf-qwen3-30b-a3b-b1-p2048", Q3MOE, 1, 2048, 32),
    _inf("inf-deepseek-v2-lite-b4-p2048", DSV2L, 4, 2048, 32),
    # --- full training: pure bf16, mixed, fp32, SGD, gradient checkpointing --------------------
    _train("train-qwen2.5-0.5b-full-bf16-b8-s1024", Q05, "full", 8, 1024),
    _train("train-qwen2.5-0.5b-full-mixed-b8-s1024", Q05, "full", 8, 1024, precision="mixed"),
    _train("train-qwen2.5-0.5b-full-fp32-b4-s1024", Q05, "full", 4, 1024, precision="fp32"),
    _train("train-qwen2.5-0.5b-full-bf16-foreach-b8-s1024", Q05, "full", 8, 1024, optimizer_impl="foreach"),
    _train("train-llama3.2-1b-full-bf16-b4-s2048", L1B, "full", 4, 2048),
    _train("train-llama3.2-1b-full-mixed-b4-s2048", L1B, "full", 4, 2048, precision="mixed"),
    _train("train-llama3.2-1b-full-bf16-ckpt-b4-s2048", L1B, "full", 4, 2048, grad_ckpt=True),
    _train("train-llama3.2-1b-full-bf16-sgd-b4-s2048", L1B, "full", 4, 2048, optimizer="sgd"),
    _train("train-llama3.2-1b-full-bf16-eager-b2-s2048", L1B, "full", 2, 2048, attn="eager"),
    _train("train-llama3.2-3b-full-bf16-ckpt-b2-s2048", L3B, "full", 2, 2048, grad_ckpt=True),
    _train("train-gemma3-1b-full-mixed-b4-s2048-sliding", GEMMA3, "full", 4, 2048, precision="mixed"),
    _train("train-gemma2-2b-full-bf16-ckpt-b2-s2048-sliding", GEMMA2, "full", 2, 2048, attn="eager", grad_ckpt=True),
    # --- LoRA -------------------------------------------------------------------------------
    _train("train-llama3.1-8b-lora16-qkvo-b4-s2048", L8B, "lora", 4, 2048, lora_targets=QKVO),
    _train("train-llama3.1-8b-lora16-qv-b1-s4096", L8B, "lora", 1, 4096),
    _train("train-llama3.1-8b-lora16-all-ckpt-b2-s2048", L8B, "lora", 2, 2048, lora_targets="all-linear",
           grad_ckpt=True),
    _train("train-qwen2.5-7b-lora64-all-b2-s2048", Q7, "lora", 2, 2048, lora_rank=64, lora_targets="all-linear"),
    _train("train-llama3.2-1b-lora16-qkvo-eager-b4-s2048", L1B, "lora", 4, 2048, attn="eager", lora_targets=QKVO),
    _train("train-mistral-7b-lora16-ckpt-b1-s8192-sliding", MISTRAL, "lora", 1, 8192, grad_ckpt=True),
    # --- QLoRA (bitsandbytes NF4 + double quantisation, bf16 compute) ------------------------
    _train("train-llama3.1-8b-qlora16-all-ckpt-b4-s2048", L8B, "qlora", 4, 2048, lora_targets="all-linear",
           grad_ckpt=True),
    _train("train-qwen2.5-0.5b-qlora16-qv-b8-s1024", Q05, "qlora", 8, 1024),
    # --- MoE --------------------------------------------------------------------------------
    _train("train-qwen1.5-moe-lora16-qkvo-b2-s1024", QMOE, "lora", 2, 1024, lora_targets=QKVO),
    _train("train-qwen1.5-moe-4l-full-bf16-b2-s1024", QMOE, "full", 2, 1024, overrides={"num_hidden_layers": 4}),
    _train("train-mixtral-2l-full-bf16-b1-s1024", MIXTRAL, "full", 1, 1024, overrides={"num_hidden_layers": 2}),
]

SUITES: dict[str, list[Case]] = {
    "default": DEFAULT,
    # a quick smoke run: one case of each kind
    "smoke": [c for c in DEFAULT if c["name"] in (
        "inf-llama3.2-1b-b1-p512", "train-qwen2.5-0.5b-full-bf16-b8-s1024", "train-qwen2.5-0.5b-qlora16-qv-b8-s1024",
        "train-llama3.2-1b-lora16-qkvo-eager-b4-s2048", "inf-qwen1.5-moe-b4-p2048")],
}


def get_suite(name: str) -> list[Case]:
    """The cases of suite ``name`` (a KeyError names the suites that exist)."""
    try:
        return [dict(c) for c in SUITES[name]]
    except KeyError:
        raise KeyError(f"unknown suite {name!r}; suites: {', '.join(SUITES)}") from None
