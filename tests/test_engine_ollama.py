"""Ollama's own memory estimate and layer-offload decision (estimators/engines/ollama.py).

Two kinds of checks:

* every published Ollama server log in ``validation/published/ollama_logs.jsonl`` (the
  ``offload to cuda`` line copied from GitHub issues) is reproduced from the catalog model and the
  log's own inputs (free memory, ``--ctx-size``, ``--parallel``, release): ``layers.offload`` and
  ``layers.split`` exactly, the memory figures within the log's print precision or 1 %;
* the formulas by hand: KV per layer at q8_0, the llama graph, the placement over two GPUs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from vramscope.errors import VramscopeError
from vramscope.estimators.engines import ollama_memory as O
from vramscope.sources import load_model

MIB = 1 << 20
GIB = 1 << 30
LOGS = Path(__file__).resolve().parent.parent / "validation" / "published" / "ollama_logs.jsonl"
ROWS = [json.loads(line) for line in LOGS.read_text().splitlines() if line.strip()]

#: the memory figures compared (logged name → estimate attribute)
MEMORY = {
    "memory.required.full": "required_full",
    "memory.required.partial": "required_partial",
    "memory.required.kv": "required_kv",
    "memory.weights.total": "weights_total",
    "memory.weights.repeating": "weights_repeating",
    "memory.weights.nonrepeating": "weights_nonrepeating",
    "memory.graph.full": "graph_full",
    "memory.graph.partial": "graph_partial",
}


@cache
def _model(catalog_id: str, quant: str) -> O.OllamaModel:
    return O.model_from_spec(load_model(catalog_id), quant)


def _estimate(row: dict) -> O.OllamaEstimate:
    gpus = [O.Gpu(O.parse_human_bytes(a), row["library"]) for a in row["logged"]["memory.available"]]
    return O.estimate_gpu_layers(
        _model(row["catalog_model"], row["quant"]), gpus, ctx=row["ctx_size"], parallel=row["parallel"] or 1,
        num_gpu=row["num_gpu"], kv_type=row["kv_type"], flash_attention=row["flash_attention"],
        release=row["ollama_release"],
    )


def _tolerance(logged: str) -> float:
    """Half a printed digit (HumanBytes2 prints one decimal of the unit) or 1 %, whichever is larger."""
    unit = GIB if logged.endswith("GiB") else MIB if logged.endswith("MiB") else 1024
    return max(0.05 * unit + 1, 0.01 * O.parse_human_bytes(logged))


def test_the_validation_set_is_big_enough_and_sourced():
    assert len(ROWS) >= 5
    for row in ROWS:
        assert row["source"].startswith("https://github.com/"), row["id"]
        assert row["logged"]["layers.offload"] >= 0
    # partial offloads and several GPUs are both in the set, not only easy full fits
    assert any(r["logged"]["layers.offload"] < r["logged"]["layers.model"] for r in ROWS)
    assert any(len(r["logged"]["memory.available"]) > 1 for r in ROWS)
    assert {r["library"] for r in ROWS} >= {"cuda", "rocm", "metal"}


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_published_log_layer_decision(row):
    est = _estimate(row)
    logged = row["logged"]
    assert est.layers_model == logged["layers.model"]
    assert est.layers_offload == logged["layers.offload"], (est.layers_offload, logged["layers.offload"])
    assert est.log_fields()["layers.split"] == logged["layers.split"]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_published_log_memory_figures(row):
    est = _estimate(row)
    logged = row["logged"]
    for key, attr in MEMORY.items():
        want = logged[key]
        got = getattr(est, attr)
        assert abs(got - O.parse_human_bytes(want)) <= _tolerance(want), (key, O.human_bytes2(got), want)
    for got, want in zip(est.allocations, logged["memory.required.allocations"], strict=True):
        assert abs(got - O.parse_human_bytes(want)) <= _tolerance(want), ("allocations", O.human_bytes2(got), want)
    if "projector.weights" in logged:
        assert abs(est.projector_weights - O.parse_human_bytes(logged["projector.weights"])) <= _tolerance(
            logged["projector.weights"])
        assert abs(est.projector_graph - O.parse_human_bytes(logged["projector.graph"])) <= _tolerance(
            logged["projector.graph"])


#: figures that do not print identically, and why (all within 0.2 %)
KNOWN_DIFFERENCES = {
    # Ollama's DeepSeek-V3 blob was quantised by an older llama-quantize: 0.1 GiB of 385 GiB
    "ollama-8447-deepseek-v3-671b-24gb": {"memory.required.full", "memory.weights.total", "memory.weights.repeating"},
    # the HF config's vocab_size is 262208, Ollama's GGUF has the tokenizer's 262144 rows: +0.2 MiB
    "ollama-11819-gemma3-12b-ctx2048": {"memory.weights.nonrepeating", "memory.graph.full"},
    "ollama-12000-gemma3-12b-ctx8192": {"memory.weights.nonrepeating", "memory.graph.full"},
    # Ollama's qwen3:235b blob has 0.2 GiB more in its layers than today's Q4_K_M rules give
    "ollama-10810-qwen3-235b-5gpu": {"memory.required.full", "memory.required.partial", "memory.weights.total",
                                     "memory.weights.repeating"},
}


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_published_figures_print_identically(row):
    """Not only within tolerance: the HumanBytes2 strings match, except the few known above."""
    fields = _estimate(row).log_fields()
    differ = {key for key in MEMORY if fields[key] != row["logged"][key]}
    assert differ == KNOWN_DIFFERENCES.get(row["id"], set()), {k: (fields[k], row["logged"][k]) for k in differ}


# --- hand-derived formulas ------------------------------------------------------------------------


def _llama8b() -> O.OllamaModel:
    return _model("meta-llama/Llama-3.1-8B", "Q4_K_M")


def test_kv_per_layer_q8_0_by_hand():
    m = _llama8b()
    # Llama-3.1-8B: key_length = value_length = 128, 8 KV heads; q8_0 counts 1 byte per element:
    # 8192 cells × (128 + 128) × 8 × 1 B = 16 MiB per layer (f16: 32 MiB, q4_0: 8 MiB)
    assert O.kv_per_layer(m, 8192, "q8_0") == [16 * MIB] * 32
    assert O.kv_per_layer(m, 8192, "f16") == [32 * MIB] * 32
    assert O.kv_per_layer(m, 8192, "q4_0") == [8 * MIB] * 32
    # before v0.5.0 there was no quantised cache: f16 whatever is asked
    assert O.kv_per_layer(m, 8192, "q8_0", release="0.4.7") == [32 * MIB] * 32


def test_quantised_kv_needs_flash_attention():
    m = _llama8b()
    gpu = [O.Gpu(80 * GIB)]
    without = O.estimate_gpu_layers(m, gpu, ctx=8192, kv_type="q8_0", flash_attention=False)
    with_fa = O.estimate_gpu_layers(m, gpu, ctx=8192, kv_type="q8_0", flash_attention=True)
    assert without.required_kv == 32 * 32 * MIB  # f16: 32 layers × 32 MiB at 8192 cells
    assert with_fa.required_kv == 32 * 16 * MIB  # q8_0: 32 layers × 16 MiB


def test_llama_graph_size_by_hand():
    m = _llama8b()
    # embedding e=4096, heads h=32, KV heads 8, head width 128, vocab V=128256, ctx c=2048, batch b=512
    full = max(4 * 512 * (1 + 4 * 4096 + 2048 * (1 + 32)), 4 * 512 * (4096 + 128256))
    assert full == 271_056_896
    partial = 4 * 512 * 4096 + max(
        4 * 512 * (1 + 4096 + 4096) + 4096 * 4096 * 9 // 16 + 4 * 2048 * (512 * 32 + 128 * 8),  # 168,822,784
        4 * 512 * (4096 + 128256) + 4096 * 128256 * 105 // 128,  # 701,997,056
    )
    assert partial == 710_385_664
    assert O.graph_size(m, 2048, 512, kv_total=0) == (partial, full)
    # before v0.3.10 the full graph had no vocabulary term
    assert O.graph_size(m, 2048, 512, kv_total=0, release="0.2.8")[1] == 4 * 512 * (1 + 4 * 4096 + 2048 * 33)


def _toy(layers: int = 4) -> O.OllamaModel:
    """4 layers of 100 MiB, 1 MiB KV per layer at 1024 cells, a 50 MiB output; no graph formula
    (arch "toy"), so partial = full = GQA 1 × KV total / 6."""
    return O.OllamaModel(arch="toy", block_count=layers, embedding=256, heads=(4,) * layers, heads_kv=(4,) * layers,
                         key_length=64, value_length=64, vocab=1000, layer_bytes=(100 * MIB,) * layers,
                         token_embd_bytes=50 * MIB, output_bytes=50 * MIB)


def test_split_over_two_gpus_by_hand():
    m = _toy()
    kv_layer = 1024 * (64 + 64) * 4 * 2  # 1 MiB
    assert O.kv_per_layer(m, 1024) == [kv_layer] * 4
    graph = 4 * kv_layer // 6  # GQA 1 × KV total / 6 = 699,050 B
    layer = 100 * MIB + kv_layer  # 101 MiB
    minimum = 457 * MIB
    est = O.estimate_gpu_layers(m, [O.Gpu(1 * GIB), O.Gpu(1 * GIB)], ctx=1024)
    # layers 3, 2, 1, 0 go to gpus[i mod 2]: 3, 1 → GPU 1; 2, 0 → GPU 0; the output to gpus[4 mod 2] = GPU 0
    assert est.split == [3, 2]
    assert est.layers_offload == 5
    assert est.graph_partial == est.graph_full == graph
    # each GPU starts at minimum + one buffer layer (blk.0 + its KV), then its layers and the full graph
    assert est.allocations == [minimum + layer + 2 * layer + 50 * MIB + graph, minimum + layer + 2 * layer + graph]
    assert est.required_partial == est.required_full == sum(est.allocations)


def test_a_full_gpu_is_dropped_and_the_rest_goes_to_the_other():
    m = _toy()
    kv_layer = 1 * MIB
    graph = 4 * kv_layer // 6
    layer = 100 * MIB + kv_layer
    small, big = O.Gpu(700 * MIB), O.Gpu(1 * GIB)
    est = O.estimate_gpu_layers(m, [small, big], ctx=1024)
    # GPU 0 (700 MiB) qualifies (≥ graph + 457 MiB + 2 layers) and takes layer 2; layer 0 would need
    # 457 + 101 + 101 + 101 MiB + graph > 700 MiB, so GPU 0 is dropped and GPU 1 takes 3, 1, 0 and the output
    assert est.split == [1, 4]
    assert est.allocations[0] == 457 * MIB + 2 * layer + graph
    assert est.allocations[1] == 457 * MIB + 4 * layer + 50 * MIB + graph
    # before v0.7.0 layers were placed 0 → N−1: layer 0 → GPU 0, 1 → GPU 1, 2 → GPU 0 does not fit, …
    old = O.estimate_gpu_layers(m, [small, big], ctx=1024, release="0.5.7")
    assert old.split == [1, 4]


def test_partial_offload_overflow_and_graph():
    m = _toy()
    layer = 101 * MIB
    graph = 4 * MIB // 6
    gpu = O.Gpu(457 * MIB + 3 * layer + 10 * MIB)  # room for the buffer and two layers
    est = O.estimate_gpu_layers(m, [gpu], ctx=1024)
    assert est.layers_offload == 2 and not est.fully_offloaded
    assert est.required_partial == 457 * MIB + 3 * layer + graph  # the partial graph
    # the two layers left behind and the output count towards "full"
    assert est.required_full == est.required_partial + 2 * layer + 50 * MIB
    capped = O.estimate_gpu_layers(m, [O.Gpu(8 * GIB)], ctx=1024, num_gpu=1)
    assert capped.layers_offload == 1 and capped.layers_requested == 1


def test_no_gpu_room_means_no_layers():
    est = O.estimate_gpu_layers(_toy(), [O.Gpu(500 * MIB)], ctx=1024)
    assert est.layers_offload == 0 and est.required_partial == 0
    assert est.required_full == 4 * 101 * MIB + 50 * MIB


def test_scheduler_picks_gpus_as_the_release_did():
    row = next(r for r in ROWS if r["id"] == "ollama-8922-70b-q4_k_m-3gpu")
    m = _model(row["catalog_model"], row["quant"])
    three = [O.Gpu(O.parse_human_bytes("23.5 GiB"))] * 3
    # v0.5.7: no single 23.5 GiB GPU holds the 70B model, so all three (what the log shows)
    est = O.schedule(m, three, ctx=8192, parallel=4, release="0.5.7")
    assert len(est.allocations) == 3 and est.split == [27, 27, 27]
    # v0.11.5+ tries 1, 2, … GPUs: two hold it (the multi-GPU partial graph is 1.1 GiB per GPU)
    two = O.schedule(m, three, ctx=8192, parallel=4, release="0.12.10")
    assert len(two.allocations) == 2 and sum(two.split) == 81
    assert all(a < g.free for a, g in zip(two.allocations, three, strict=False))
    spread = O.schedule(m, three, ctx=8192, parallel=4, release="0.12.10", spread=True)
    assert len(spread.allocations) == 3


def test_defaults_by_release():
    assert O.default_num_ctx(O.parse_release("0.12.10")) == 4096
    assert O.default_num_ctx(O.parse_release("0.5.7")) == 2048
    assert O.default_parallel(O.parse_release("0.5.7")) == 4
    assert O.default_parallel(O.parse_release("0.9.2")) == 2
    assert O.default_parallel(O.parse_release("0.12.10")) == 1


def test_human_bytes2_matches_ollamas_format():
    assert O.human_bytes2(0) == "0 B"
    assert O.human_bytes2(457 * MIB) == "457.0 MiB"
    assert O.human_bytes2(int(8.2 * GIB)) == "8.2 GiB"
    assert O.human_bytes2(1019 * MIB + MIB // 2) == "1019.5 MiB"
    assert O.parse_human_bytes("1019.5 MiB") == 1019 * MIB + MIB // 2


@pytest.mark.parametrize(("kw", "needle"), [
    ({"kv_type": "q5_1"}, "unknown Ollama KV cache type"),
    ({"parallel": 0}, "num_parallel must be at least 1"),
    ({"release": "0.13.0"}, "measures allocations"),
    ({"release": "banana"}, "not a version"),
])
def test_bad_input_is_one_clear_line(kw, needle):
    with pytest.raises(VramscopeError) as e:
        O.estimate_gpu_layers(_toy(), [O.Gpu(8 * GIB)], ctx=1024, **kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_decision_does_not_hang_on_the_rounding_of_free_memory(row):
    """memory.available is printed to 0.1 GiB: the decision is the same anywhere in that band."""
    m = _model(row["catalog_model"], row["quant"])
    seen = set()
    for delta in (-0.0499, -0.025, 0.025, 0.0499):
        gpus = [O.Gpu(int(O.parse_human_bytes(a) + delta * GIB), row["library"]) for a in row["logged"]["memory.available"]]
        est = O.estimate_gpu_layers(m, gpus, ctx=row["ctx_size"], parallel=row["parallel"] or 1, num_gpu=row["num_gpu"],
                                    kv_type=row["kv_type"], flash_attention=row["flash_attention"],
                                    release=row["ollama_release"])
        seen.add((est.layers_offload, tuple(est.split)))
    assert len(seen) == 1 and next(iter(seen))[0] == row["logged"]["layers.offload"]


def test_the_release_matters_for_the_deepseek_log():
    """v0.7.0 placed layers from the last one down: DeepSeek-V3's three small dense layers come last
    and the big MoE layers first, so the same GPU holds 3 layers instead of v0.5.7's 5."""
    row = next(r for r in ROWS if r["id"] == "ollama-8447-deepseek-v3-671b-24gb")
    m = _model(row["catalog_model"], row["quant"])
    gpu = [O.Gpu(O.parse_human_bytes("23.3 GiB"))]
    assert O.estimate_gpu_layers(m, gpu, ctx=2048, release="0.5.7").layers_offload == 5
    assert O.estimate_gpu_layers(m, gpu, ctx=2048, release="0.12.10").layers_offload == 3


# --- the engine layer: defaults, environment, components -------------------------------------------

from vramscope.estimators.engines import ollama as E  # noqa: E402


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_components_add_up_to_each_logged_allocation(row):
    est = _estimate(row)
    m = _model(row["catalog_model"], row["quant"])
    parallel = row["parallel"] or 1
    r = E.OllamaRun(est, row["ctx_size"] // parallel, parallel, est.flash_attention, est.kv_type)
    for i, alloc in enumerate(est.allocations):
        assert sum(c.bytes for c in E.gpu_components(r, m, i)) == alloc
    assert sum(len(p) for p in est.placed_layers) + (est.output_gpu is not None) == est.layers_offload


def test_defaults_of_the_modelled_release():
    m = _llama8b()
    r = E.run(m, [O.Gpu(24 * GIB)], E.OllamaOptions())
    assert (r.num_ctx, r.parallel, r.flash_attention, r.kv_type) == (4096, 1, False, "f16")
    assert r.estimate.required_kv == 32 * 4096 * 256 * 8 * 2  # 512 MiB
    assert r.estimate.fully_offloaded


def test_old_default_parallel_four_when_it_fits_else_one():
    m = _llama8b()
    big = E.run(m, [O.Gpu(24 * GIB)], E.OllamaOptions(release="0.5.7"))
    assert (big.num_ctx, big.parallel) == (2048, 4)
    assert big.estimate.required_kv == 32 * 8192 * 256 * 8 * 2  # 2048 × 4 cells: 1 GiB
    small = E.run(m, [O.Gpu(5 * GIB)], E.OllamaOptions(release="0.5.7"))
    assert small.parallel == 1 and not small.estimate.fully_offloaded


def test_flash_attention_default_and_quantised_cache_for_gemma3():
    m = _model("google/gemma-3-12b-it", "Q4_K_M")
    on = E.run(m, [O.Gpu(24 * GIB)], E.OllamaOptions(kv_type="q8_0"))  # v0.12.10: gemma3 has FA by default
    assert on.flash_attention and on.kv_type == "q8_0"
    off = E.run(m, [O.Gpu(24 * GIB)], E.OllamaOptions(kv_type="q8_0", release="0.11.4"))
    assert not off.flash_attention and off.kv_type == "f16"
    assert off.estimate.required_kv == 2 * on.estimate.required_kv
    assert any("no effect without flash attention" in n for n in off.notes)


def test_deepseek_cannot_use_flash_attention():
    m = _model("deepseek-ai/DeepSeek-V3", "Q4_K_M")
    assert (m.key_length, m.value_length) == (192, 128)
    r = E.run(m, [O.Gpu(80 * GIB)], E.OllamaOptions(flash_attention=True, kv_type="q8_0"))
    assert not r.flash_attention and r.kv_type == "f16"


def test_environment_variables_as_ollama_reads_them():
    opts = E.options_from_env({"OLLAMA_CONTEXT_LENGTH": "8192", "OLLAMA_NUM_PARALLEL": "2",
                               "OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "Q8_0",
                               "OLLAMA_GPU_OVERHEAD": "536870912", "OLLAMA_SCHED_SPREAD": "true"})
    assert (opts.num_ctx, opts.parallel, opts.flash_attention, opts.kv_type, opts.gpu_overhead, opts.spread) == (
        8192, 2, True, "q8_0", 512 * MIB, True)
    # 0 / unset mean Ollama's default; a request option wins over the environment
    assert E.options_from_env({"OLLAMA_NUM_PARALLEL": "0"}).parallel is None
    assert E.options_from_env({"OLLAMA_CONTEXT_LENGTH": "8192"}, num_ctx=2048).num_ctx == 2048


def test_gpu_overhead_is_kept_free_on_every_gpu():
    m = _llama8b()
    plain = E.run(m, [O.Gpu(6 * GIB)], E.OllamaOptions())
    kept = E.run(m, [O.Gpu(6 * GIB)], E.OllamaOptions(gpu_overhead=1 * GIB))
    assert kept.estimate.layers_offload < plain.estimate.layers_offload
    assert kept.estimate.log_fields()["memory.gpu_overhead"] == "1.0 GiB"


@pytest.mark.parametrize(("env", "needle"), [
    ({"OLLAMA_NUM_PARALLEL": "abc"}, "OLLAMA_NUM_PARALLEL='abc' is not a whole number"),
    ({"OLLAMA_KV_CACHE_TYPE": "q5_1"}, "unknown Ollama KV cache type"),
])
def test_bad_environment_is_one_clear_line(env, needle):
    with pytest.raises(VramscopeError) as e:
        E.options_from_env(env)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_bad_options_are_one_clear_line():
    for kw, needle in (({"parallel": 0}, "num_parallel must be at least 1"), ({"num_ctx": 0}, "num_ctx must be"),
                       ({"kv_type": "int4"}, "unknown Ollama KV cache type"), ({"release": "1.x"}, "not a version")):
        with pytest.raises(VramscopeError, match=needle):
            E.OllamaOptions(**kw)


def test_a_load_reports_the_busiest_gpu_and_the_host_share():
    spec = load_model("meta-llama/Llama-3.3-70B-Instruct")
    res = E.estimate_load(spec, weights="Q4_K_M", gpu_free=[O.parse_human_bytes("23.5 GiB")] * 3,
                          opts=E.OllamaOptions(release="0.5.7", num_ctx=2048, parallel=4))
    e = res.run.estimate
    assert e.split == [27, 27, 27] and res.host_bytes == 0
    assert sum(c.bytes for c in res.components) == max(e.allocations) == e.allocations[res.gpu_index]
    assert res.details()["offload_log"]["memory.required.allocations"] == ["16.6 GiB", "15.5 GiB", "15.7 GiB"]
    small = E.estimate_load(spec, weights="Q4_K_M", gpu_free=[24 * GIB], opts=E.OllamaOptions())
    se = small.run.estimate
    assert 0 < se.layers_offload < se.layers_model and small.host_bytes == se.required_full - se.required_partial
    assert any("stay in host RAM" in a for a in small.assumptions)
    none = E.estimate_load(spec, weights="Q4_K_M", gpu_free=[], opts=E.OllamaOptions())
    assert none.components == () and none.host_bytes == none.run.estimate.required_full


def test_a_vramscope_workload_maps_to_ollamas_options():
    from vramscope.hardware import find_gpu
    from vramscope.workload import make_inference

    wl = make_inference(engine="llamacpp", context=8192, batch=2, kv_dtype="q8_0", weights="Q4_K_M")
    opts = E.options_from_workload(wl, flash_attention=True)
    assert (opts.num_ctx, opts.parallel, opts.kv_type, opts.num_gpu) == (8192, 2, "q8_0", -1)
    res = E.estimate_workload(load_model("meta-llama/Llama-3.1-8B"), wl, find_gpu("RTX 4090"), flash_attention=True)
    assert res.run.estimate.required_kv == 32 * 16384 * 256 * 8  # 8192 × 2 cells at 1 byte (q8_0)
    assert res.run.estimate.fully_offloaded
    with pytest.raises(VramscopeError, match="Ollama's KV cache types are f16, q8_0 and q4_0"):
        E.options_from_workload(make_inference(kv_dtype="fp8"))
    default = E.options_from_workload(make_inference())
    assert default.num_ctx is None and default.parallel is None  # Ollama's defaults


# --- through the registry: vramscope.estimate(engine="ollama") and the CLI --------------------------


def test_estimate_with_engine_ollama_is_ollamas_allocation():
    import vramscope

    est = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="ollama", gpu="RTX 4090", weights="Q4_K_M")
    from vramscope.hardware import find_gpu
    from vramscope.workload import make_inference

    direct = E.estimate_workload(load_model("meta-llama/Llama-3.1-8B"),
                                 make_inference(engine="ollama", weights="Q4_K_M"), find_gpu("RTX 4090"))
    assert est.per_gpu_bytes == direct.run.estimate.allocations[0]
    assert est.settings.layers_offload == 33 and est.settings.num_ctx == 4096
    assert {c.key for c in est.components} == {"weights", "kv_cache", "compute_graph", "ollama_reserve"}


@pytest.mark.parametrize(("args", "needle"), [
    (["--kv-dtype", "q5_1"], "Ollama's KV cache types are f16, q8_0 and q4_0"),
    (["-np", "0"], "n_parallel"),
    (["--tp", "2"], "does not apply to engine 'ollama'"),
])
def test_cli_bad_input_is_one_line_exit_2(args, needle):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"), "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, "-m", "vramscope", "estimate", "meta-llama/Llama-3.1-8B", "--engine", "ollama",
                        *args], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = [line for line in (p.stderr + p.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], lines


def test_fits_means_every_layer_on_the_gpu():
    import vramscope

    big = vramscope.estimate("meta-llama/Llama-3.3-70B-Instruct", engine="ollama", gpu="RTX 4090")
    assert big.fits is False and 0 < big.settings.layers_offload < big.settings.layers_model
    assert big.placement.host_weight_bytes > 0 and big.placement.host_kv_bytes > 0
    small = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="ollama", gpu="RTX 4090")
    assert small.fits is True and small.settings.layers_offload == small.settings.layers_model
