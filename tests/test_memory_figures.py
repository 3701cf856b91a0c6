"""The three figures of an estimate (``Estimate.memory``): peak allocated (torch tensors), peak reserved
(+ the caching allocator's slack) and device memory (+ CUDA context and memory outside torch), each with
its band; null allocated / reserved for engines that are not torch; the invariants that tie them; and the
published-run comparison reading them."""

from __future__ import annotations

import dataclasses
import json

import pytest

import vramscope
from vramscope.estimators.result import CACHE, DRIVER, Component, MemoryFigures
from vramscope.exact import published_runs as pr
from vramscope.invariants import check_estimate
from vramscope.schema import EstimateDocument

H100 = "H100-SXM-80GB"
MiB = 1 << 20
CUDA_CONTEXT = 500 * MiB  # estimators/common.py: 500 MiB expected, 300–700 MiB band
#: LoRA r16 on q_proj, v_proj of Llama-3.1-8B (h 4096, KV width 1024, 32 layers): r·(in + out) per target
LORA_PARAMS = 32 * (16 * (4096 + 4096) + 16 * (4096 + 1024))  # = 6,815,744


def _by_key(est) -> dict[str, Component]:
    return {c.key: c for c in est.components}


def test_a_lora_estimate_splits_into_allocated_reserved_and_device():
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", method="lora", batch=2, seq_len=2048, gpu=H100)
    c = _by_key(est)
    # the tensors, by key: frozen bf16 base, fp32 adapters and their two AdamW moments, saved activations, the loss
    assert c["adapter_weights"].bytes == 4 * LORA_PARAMS == 27_262_976
    assert c["optimizer_states"].bytes == 8 * LORA_PARAMS
    tensors = ("frozen_weights", "adapter_weights", "optimizer_states", "activations", "logits_loss")
    assert set(c) == {*tensors, "allocator_slack", "cuda_context"}  # nothing else at this peak
    allocated = sum(c[k].bytes for k in tensors)
    reserved = allocated + c["allocator_slack"].bytes
    device = reserved + CUDA_CONTEXT
    m = est.memory
    assert (m.allocated.bytes, m.reserved.bytes, m.device.bytes) == (allocated, reserved, device)
    assert m.device.bytes == est.per_gpu_bytes and m.unavailable is None
    # each figure's band: the same components' low / high (the slack's low is 0, the context's 300–700 MiB)
    assert m.allocated.low_bytes == sum(c[k].lo for k in tensors)
    assert m.reserved.low_bytes == m.allocated.low_bytes
    assert m.reserved.high_bytes == sum(c[k].hi for k in tensors) + c["allocator_slack"].hi
    assert (m.device.low_bytes, m.device.high_bytes) == (m.reserved.low_bytes + 300 * MiB, m.reserved.high_bytes + 700 * MiB)
    assert (m.device.low_bytes, m.device.high_bytes) == (est.low_bytes, est.high_bytes)


def test_hf_inference_reserved_adds_five_percent_of_the_dynamic_tensors():
    est = vramscope.estimate("meta-llama/Llama-3.1-8B")
    c = _by_key(est)
    assert c["weights"].bytes == 2 * 8_030_261_248  # bf16 × Meta's parameter count
    dynamic = c["kv_cache"].bytes + c["prefill_activations"].bytes + c["logits"].bytes
    m = est.memory
    assert m.allocated.bytes == c["weights"].bytes + dynamic
    assert m.reserved.bytes - m.allocated.bytes == int(0.05 * dynamic)  # hf.py: ≈5% of KV + activations
    assert m.device.bytes - m.reserved.bytes == CUDA_CONTEXT


def test_vllm_graphs_are_reserved_and_non_torch_memory_is_device_only():
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="vllm", gpu=H100)
    c = _by_key(est)
    assert c["cuda_graphs"].memory == CACHE and c["non_torch_allocations"].memory == DRIVER
    m = est.memory
    assert m.reserved.bytes - m.allocated.bytes == c["cuda_graphs"].bytes
    assert m.device.bytes - m.reserved.bytes == c["non_torch_allocations"].bytes + CUDA_CONTEXT
    assert m.allocated.bytes == sum(c[k].bytes for k in ("weights", "profile_peak", "kv_cache"))


@pytest.mark.parametrize("engine,gpu", [("llamacpp", None), ("ollama", "RTX-4090")])
def test_engines_that_are_not_torch_have_no_allocated_or_reserved_figure(engine, gpu):
    kw = {"weights": "Q4_K_M"} if engine == "llamacpp" else {}
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", engine=engine, gpu=gpu, **kw)
    m = est.memory
    assert m.allocated is None and m.reserved is None  # never 0: the figure does not exist
    assert "not PyTorch" in m.unavailable and m.device.bytes == est.per_gpu_bytes
    doc = est.to_dict()["memory"]
    assert doc["allocated"] is None and doc["reserved"] is None and doc["unavailable"] == m.unavailable
    assert doc["device"] == {"bytes": est.per_gpu_bytes, "low_bytes": est.low_bytes, "high_bytes": est.high_bytes}
    with pytest.raises(ValueError, match="not PyTorch"):
        pr.figure(est.to_dict(), "allocated")


def test_the_json_names_the_figures_and_each_component_s_pool():
    est = vramscope.estimate("qwen3-8b", method="qlora", gpu="RTX-4090")
    doc = json.loads(est.to_json())
    assert list(doc["memory"]) == ["allocated", "reserved", "device", "unavailable"]
    assert doc["memory"]["device"]["bytes"] == doc["per_gpu_bytes"]
    pools = {c["key"]: c["memory"] for c in doc["components"]}
    assert pools["cuda_context"] == "driver" and pools["allocator_slack"] == "cache" and pools["frozen_weights"] == "allocated"
    EstimateDocument.model_validate(doc)


def test_the_invariants_refuse_unknown_pools_and_torch_cache_in_a_ggml_engine():
    est = vramscope.estimate("meta-llama/Llama-3.1-8B")
    bad = dataclasses.replace(est, components=(*est.components[:-1],
                                               dataclasses.replace(est.components[-1], memory="swap")))
    problems = check_estimate(bad)
    assert any("memory pool 'swap'" in p for p in problems)
    assert any("device figure" in p for p in problems)  # the stray pool is in no figure: device ≠ per-GPU
    gg = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="llamacpp", weights="Q4_K_M")
    slack = Component("allocator slack", 1, "", "allocator", key="allocator_slack", memory=CACHE)
    assert any("does not allocate through torch" in p
               for p in check_estimate(dataclasses.replace(gg, components=(*gg.components, slack))))
    assert check_estimate(est) == [] and check_estimate(gg) == []


def test_memory_figures_nest_for_any_mix_of_pools():
    comps = (Component("a", 10, "", "x", 5, 20), Component("b", 3, "", "x", 0, 6, memory=CACHE),
             Component("c", 7, "", "x", 7, 9, memory=DRIVER), Component("d", 2, "", "x", 1, 4, memory="unified"))
    m = MemoryFigures.of(comps)
    assert (m.allocated.bytes, m.reserved.bytes, m.device.bytes) == (10, 13, 22)
    assert (m.allocated.low_bytes, m.reserved.low_bytes, m.device.low_bytes) == (5, 5, 13)
    assert (m.allocated.high_bytes, m.reserved.high_bytes, m.device.high_bytes) == (20, 26, 39)
    with pytest.raises(KeyError, match="use one of allocated, reserved, device"):
        m.figure("total")


def test_published_runs_compare_each_kind_with_the_estimate_s_own_figure():
    # a document whose components say nothing: figure() must read the memory part, not re-split components
    doc = {"components": [], "memory": {"allocated": {"bytes": 1, "low_bytes": 0, "high_bytes": 2},
                                        "reserved": {"bytes": 3, "low_bytes": 2, "high_bytes": 4},
                                        "device": {"bytes": 5, "low_bytes": 4, "high_bytes": 6}, "unavailable": None}}
    assert [pr.figure(doc, k) for k in ("allocated", "active", "reserved", "reserved_minus_baseline", "device",
                                        "capacity")] == [(1, 0, 2), (1, 0, 2), (3, 2, 4), (3, 2, 4), (5, 4, 6), (5, 4, 6)]
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", method="lora", gpu=H100).to_dict()
    c = {x["key"]: x for x in est["components"]}
    assert pr.figure(est, "active")[0] == est["per_gpu_bytes"] - c["cuda_context"]["bytes"] - c["allocator_slack"]["bytes"]
    assert pr.figure(est, "reserved")[0] == est["per_gpu_bytes"] - CUDA_CONTEXT
    with pytest.raises(ValueError, match="unknown kind"):
        pr.figure(est, "total")


# --- the command line: --report picks the headline, all three figures under the table ---------------
def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:,.2f}"


def _cli(args, capsys, monkeypatch):
    from conftest import run_cli

    monkeypatch.setenv("COLUMNS", "240")
    return run_cli(["estimate", *args], capsys)


def test_the_table_headline_is_the_device_figure_by_default_and_names_it(capsys, monkeypatch):
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", method="lora", gpu=H100)
    code, out, _ = _cli(["meta-llama/Llama-3.1-8B", "--method", "lora", "--gpu", H100], capsys, monkeypatch)
    assert code == 0
    lines = out.splitlines()
    head = next(line for line in lines if "per GPU" in line)
    assert "per GPU — device" in head and _gib(est.per_gpu_bytes) in head
    m = est.memory
    for label, fig, source in (("peak allocated", m.allocated, "torch.cuda.max_memory_allocated"),
                               ("peak reserved", m.reserved, "torch.cuda.max_memory_reserved"),
                               ("device", m.device, "nvidia-smi")):
        line = next(x for x in lines if x.strip().startswith(label + " ") and "GiB" in x)
        assert f"{_gib(fig.bytes)} GiB ({_gib(fig.low_bytes)}–{_gib(fig.high_bytes)})" in " ".join(line.split())
        assert source in line and (("◀ headline" in line) == (label == "device"))
    assert "not in" not in out  # every component is in the device figure


def test_report_reserved_headlines_the_reserved_figure_and_marks_what_is_outside(capsys, monkeypatch):
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", method="lora", gpu=H100)
    code, out, _ = _cli(["meta-llama/Llama-3.1-8B", "--method", "lora", "--gpu", H100, "--report", "reserved"],
                        capsys, monkeypatch)
    assert code == 0
    head = next(line for line in out.splitlines() if "per GPU" in line)
    expected = est.per_gpu_bytes - CUDA_CONTEXT  # reserved: everything but the CUDA context
    assert "per GPU — peak reserved" in head and _gib(expected) in head
    assert "CUDA context (not in peak reserved)" in out
    assert "allocator slack (not in" not in out  # the slack is reserved memory
    marked = next(line for line in out.splitlines() if "◀ headline" in line)
    assert marked.strip().startswith("peak reserved")


@pytest.mark.parametrize("args,fragment", [
    (["--report", "nvml"], "unknown report 'nvml'; choose device"),
    (["--report", "reserved", "--json"], "--report picks the table's headline"),
    (["--engine", "llamacpp", "--weights", "Q4_K_M", "--report", "allocated"], "llama.cpp allocates through ggml"),
    (["--engine", "ollama", "--gpu", "RTX-4090", "--report", "reserved"], "use --report device"),
    (["--pai", "--report", "device"], "--report does not apply to --pai"),
])
def test_a_bad_report_is_one_line_and_exit_2(args, fragment, capsys, monkeypatch):
    code, out, err = _cli(["meta-llama/Llama-3.1-8B", *args], capsys, monkeypatch)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_llamacpp_prints_no_allocated_or_reserved_number(capsys, monkeypatch):
    code, out, _ = _cli(["meta-llama/Llama-3.1-8B", "--engine", "llamacpp", "--weights", "Q4_K_M"], capsys, monkeypatch)
    assert code == 0
    lines = [x for x in out.splitlines() if x.strip().startswith(("peak allocated", "peak reserved"))]
    assert len(lines) == 2 and all("—" in x and "GiB" not in x for x in lines)
    assert "not PyTorch" in out


def test_the_help_says_device_is_the_default(capsys, monkeypatch):
    code, out, _ = _cli(["--help"], capsys, monkeypatch)
    assert code == 0 and "--report" in out
    flat = " ".join(out.replace("│", " ").split())
    assert "device (default: what nvidia-smi shows" in flat


# --- the web page: the same choice, the three figures ------------------------------------------------
def _page(**changes):
    from vramscope.web import handlers
    from vramscope.web.state import DEFAULTS

    return handlers.compute({**DEFAULTS, **changes})


def test_the_page_headlines_the_chosen_figure_and_lists_all_three():
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", gpu="RTX-4090-24GB", batch=1, context=4096)
    m = est.memory
    page = _page()
    assert page.query == ""  # device is the default: not in the link
    assert f'class="vs-total" data-figure="device" data-bytes="{m.device.bytes}"' in page.html
    for name, fig in (("allocated", m.allocated), ("reserved", m.reserved), ("device", m.device)):
        assert f'data-figure="{name}"' in page.html and f'data-bytes="{fig.bytes}"' in page.html
    page = _page(report="allocated")
    assert page.query == "report=allocated"
    assert f'class="vs-total" data-figure="allocated" data-bytes="{m.allocated.bytes}"' in page.html
    assert "not in peak allocated (torch)" in page.html  # the slack and the CUDA context are outside it
    zh = _page(report="reserved", lang="zh")
    assert "峰值 reserved（torch）" in zh.html and "每卡的三个数字" in zh.html and "不计入" in zh.html


def test_the_page_shows_device_memory_for_llamacpp_and_says_why():
    page = _page(engine="llamacpp", report="reserved")
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="llamacpp", gpu="RTX-4090-24GB", batch=1, context=4096)
    assert page.ok and f'data-figure="device" data-bytes="{est.per_gpu_bytes}"' in page.html
    assert "has no peak reserved (torch) figure" in page.html and "does not allocate through PyTorch" in page.html


def test_an_unknown_report_in_a_link_is_said_not_silently_replaced():
    page = _page(report="nvml")
    assert not page.ok and "nvml" in page.html and "device" in page.html
