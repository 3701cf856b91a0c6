"""The API functions the presenters show through (vramscope.api, "the one door"), against
figures worked out by hand or taken from the sources they model."""

from __future__ import annotations

import json

import pytest

from vramscope import api
from vramscope.errors import FormatError, VramscopeError


def test_model_info_counts_and_bytes():
    info = api.model_info("meta-llama/Llama-3.1-8B", weights=["bf16", "fp8"])
    assert info.spec.params_total == 8_030_261_248  # Meta's model card: 8.03B
    rows = {r["format"]: r for r in info.weights}
    # the checkpoint's bf16 first (bf16 named again is the same row): 2 bytes per parameter
    assert list(rows) == ["bf16 (checkpoint)", "fp8"] and rows["bf16 (checkpoint)"]["bytes"] == 2 * 8_030_261_248
    # fp8: the 32 layers' Linear weights at 1 B — 32 × (2·4096² + 2·4096·1024 + 3·4096·14336) — plus one fp32
    # scale per tensor (7 × 32); embeddings, head (2 × 128256 × 4096) and 65 norms of 4096 stay bf16
    linear = 32 * (2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 14336)
    assert rows["fp8"]["quantised_bytes"] == linear + 4 * 7 * 32
    assert rows["fp8"]["unquantised_bytes"] == 2 * (2 * 128256 * 4096 + 65 * 4096)
    assert info.to_dict()["params_total"] == 8_030_261_248 and len(info.to_dict()["weights"]) == 2
    # a named format that does not exist is refused; a default one that does not apply becomes a row
    with pytest.raises(FormatError):
        api.model_info("meta-llama/Llama-3.1-8B", weights=["bogus-format"])


def test_weight_formats_and_catalogs():
    doc = api.weight_formats()
    names = {r["name"] for r in doc["formats"]}
    assert {"bf16", "fp8", "nf4-dq", "gptq-int4"} <= names and "Q4_K_M" in doc["gguf_file_types"]
    assert [g.id for g in api.gpu_catalog("h100 sxm")] == ["H100-SXM-80GB"]
    rows = api.catalog_models("llama 3.1 8b")
    assert any(r["id"] == "meta-llama/Llama-3.1-8B" and r["params_total"] == 8_030_261_248 for r in rows)
    assert "meta-llama/Llama-3.1-8B" in api.catalog_ids()
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in api.multimodal_catalog_ids()
    assert "meta-llama/Llama-3.1-8B" not in api.multimodal_catalog_ids()


def test_multimodal_tokens_once_and_the_estimate_agrees():
    # Qwen2.5-VL: smart_resize(1024, 1024, factor 28) → 1036 × 1036 (37 × 28); 14-pixel patches: 74 × 74,
    # merged 2 × 2 → 37 · 37 = 1369 LLM tokens
    res = api.estimate_multimodal("Qwen/Qwen2.5-VL-7B-Instruct", images=1, image_size=(1024, 1024),
                                  prompt_len=512, gen_len=256)
    assert res.tokens.llm_tokens == 37 * 37 == 1369
    assert res.estimate.details["multimodal_tokens"] == 1369 and res.text_tokens == 512 + 256


def test_pai_through_the_api_gives_the_seeds_numbers():
    tables = api.pai_tables(7)
    # seed 000: 7B inference 18.2 / 9.1 / 4.6 GB; fine-tuning full 86.8, LoRA 18.1 ("阿里云：18.1"),
    # QLoRA 8-bit 11.1, QLoRA 4-bit 7.6 ("阿里云：7.6")
    assert [r.shown_gb for r in tables["inference"]] == [18.2, 9.1, 4.6]
    assert [r.shown_gb for r in tables["finetune"]] == [86.8, 18.1, 11.1, 7.6]
    # 32-bit rows: weights and gradients at 4 B: 7 × 4 × 2 + 7 × 8 + 7 × 2 × 0.2 = 114.8
    assert api.pai_tables(7, precision="32")["finetune"][0].result.total_gb == pytest.approx(114.8)
    quick = api.pai_quick("7B", method="lora", gpu="RTX-4090")
    assert quick.chosen_row.scenario == "LoRA" and quick.doc["rows"][1]["total_gb_display"] == 18.1
    # the seed: "RTX 4090 (24GB): LoRA 18.6 GB ✅" — 18.1 × 1.2 = 21.7 ≤ the usable memory
    assert quick.doc["rows"][1]["fits"] is True and quick.doc["rows"][0]["fits"] is False
    with pytest.raises(VramscopeError):  # a VramscopeError
        api.pai_quick("7B", method="dora")


def test_the_pai_names_the_presenters_offer_are_the_modules_own():
    from vramscope import pai

    offered = (api.PAI_METHODS, api.PAI_PRECISIONS, api.PAI_OPTIMIZERS)
    assert offered == (tuple(pai.METHOD_ROWS), tuple(pai.PRECISION_BYTES), tuple(pai.OPTIMIZER_BYTES))


def test_lowest_zero_stage_is_the_lowest_that_fits():
    spec = api.load("meta-llama/Llama-3.1-8B")
    kw = api.lowest_zero_stage(spec, gpu="RTX-4090", method="full", gpus=8)
    ladder = list(api.ZERO_LADDER)
    step = ladder.index((kw["zero"], kw.get("offload")))
    assert step > 0
    fits = api.estimate(spec, gpu="RTX-4090", **kw)
    assert fits.fits and fits.per_gpu_bytes <= fits.gpu["usable_bytes"]
    zero, offload = ladder[step - 1]
    below = api.estimate(spec, gpu="RTX-4090", method="full", gpus=8, zero=zero, **({"offload": offload} if offload else {}))
    assert not below.fits


def test_deepspeed_buckets_are_hfs_auto_values():
    # transformers integrations/deepspeed.py: h², int(0.9 h²), 10 h; Llama-3.1-8B h = 4096
    assert api.deepspeed_auto_sizes("meta-llama/Llama-3.1-8B", 3) == {
        "reduce_bucket_size": 16_777_216, "stage3_prefetch_bucket_size": 15_099_494,
        "stage3_param_persistence_threshold": 40_960}
    assert api.deepspeed_auto_sizes("meta-llama/Llama-3.1-8B", 2) == {"reduce_bucket_size": 16_777_216}
    from vramscope.export import export

    cfg = json.loads(export("deepspeed", "meta-llama/Llama-3.1-8B", zero=3))["zero_optimization"]
    assert cfg["reduce_bucket_size"] == 16_777_216 and cfg["stage3_prefetch_bucket_size"] == 15_099_494
    assert cfg["stage3_param_persistence_threshold"] == 40_960


def test_inapplicable_options_name_the_engines_that_read_them():
    stray = api.inapplicable_options("hf", ["gpu_memory_utilization", "batch"])
    assert list(stray) == ["gpu_memory_utilization"] and "vllm" in stray["gpu_memory_utilization"]
    assert "gpus" in api.inapplicable_options("ollama", [], gpus=2)  # modelled on one GPU
    assert "gpus" not in api.inapplicable_options("llamacpp", [], gpus=2)  # llama.cpp splits layers over them
    assert api.inapplicable_options("vllm", ["tensor_split"])["tensor_split"] == ("llamacpp",)
    assert api.input_schema("training")["$ref"]
    with pytest.raises(VramscopeError):
        api.input_schema("bogus")
