"""The web page's pure handlers: inputs → the Python API's numbers, and a message for bad input."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vramscope
from vramscope import pai
from vramscope.units import GiB, fmt_gib
from vramscope.web import handlers as H
from vramscope.web import i18n
from vramscope.web.state import DEFAULTS, FIELDS, NAMES

LLAMA = "meta-llama/Llama-3.1-8B"


def page(tab: str = "infer", file=None, max_upload: int = H.MAX_UPLOAD_BYTES, **changes) -> H.Page:
    return H.compute({**DEFAULTS, "tab": tab, **changes}, file, max_upload=max_upload)


def shown_bytes(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-bytes="(\d+)"', html)]


def assert_shows(html: str, est) -> None:
    """The page shows the estimate's total and every component, to the byte and as GiB text."""
    assert f'data-bytes="{est.per_gpu_bytes}">{fmt_gib(est.per_gpu_bytes)}<' in html
    for c in est.components:
        row = re.search(rf'<tr data-name="{re.escape(c.name)}">(.*?)</tr>', html)
        assert row, c.name
        assert f'data-bytes="{c.bytes}">{c.bytes / GiB:,.2f}<' in row.group(1)
    assert f'data-low="{est.low_bytes}" data-high="{est.high_bytes}"' in html


# --- each tab equals the API ------------------------------------------------------------------------
def test_inference_defaults_equal_the_api():
    p = page()
    assert p.ok and p.tab == "infer" and p.query == ""
    kw = H.inference_kwargs(DEFAULTS)
    assert kw == {"engine": "hf", "batch": 1, "context": 4096, "gpu": "RTX-4090-24GB"}
    est = vramscope.estimate(LLAMA, **kw)
    assert_shows(p.html, est)
    assert "fits on 1 × NVIDIA GeForce RTX 4090 24GB" in p.html
    assert "vllm serve meta-llama/Llama-3.1-8B --max-model-len 4096" in p.code
    assert LLAMA in p.model_html and "8,030,261,248" in p.model_html


def test_inference_vllm_llamacpp_and_custom_gpu_memory():
    p = page(model="Qwen/Qwen3-8B", engine="vllm", batch="8", context="8k", gpu="H100-SXM-80GB", gpus="2", util="0.85",
             kv="fp8")
    est = vramscope.estimate("Qwen/Qwen3-8B", engine="vllm", batch=8, context=8192, gpu="H100-SXM-80GB", gpus=2,
                             gpu_memory_utilization=0.85, kv_dtype="fp8")
    assert_shows(p.html, est)
    assert "--tensor-parallel-size 2" in p.code and "--kv-cache-dtype fp8" in p.code
    p = page(engine="llamacpp", weights="Q4_K_M", ngl="20", gpu="16GiB")
    est = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", n_gpu_layers=20, batch=1, context=4096,
                             gpu_memory="16GiB")
    assert_shows(p.html, est)
    assert p.code.startswith("llama-server") and "-ngl 20" in p.code


def test_training_tab_equals_the_api():
    p = page("train", t_method="qlora", t_batch="2", t_seq="1024", t_rank="32", t_targets="all-linear")
    est = vramscope.estimate(LLAMA, method="qlora", precision="bf16", optimizer="adamw", batch=2, seq_len=1024,
                             grad_accum=1, grad_ckpt="none", attn="sdpa", zero=0, fsdp="none", offload="none", tp=1,
                             pp=1, gpus=1, lora_rank=32, lora_targets="all-linear", gpu="H100-SXM-80GB")
    assert p.ok
    assert_shows(p.html, est)
    assert f"{est.details['trainable_params']:,}" in p.html
    assert '"train_micro_batch_size_per_gpu": 2' in p.code  # the DeepSpeed config


def test_training_zero3_and_fsdp_export():
    p = page("train", t_method="full", t_precision="mixed", t_zero="3", t_gpus="8")
    est = vramscope.estimate(LLAMA, method="full", precision="mixed", optimizer="adamw", batch=1, seq_len=2048,
                             grad_accum=1, grad_ckpt="none", attn="sdpa", zero=3, fsdp="none", offload="none", tp=1,
                             pp=1, gpus=8, gpu="H100-SXM-80GB")
    assert_shows(p.html, est)
    assert '"stage": 3' in p.code
    p = page("train", t_method="lora", t_fsdp="full", t_gpus="4", t_ckpt="full")
    assert p.ok and "distributed_type: FSDP" in p.code and "fsdp_activation_checkpointing: true" in p.code


def test_rl_tab_equals_the_api():
    p = page("rl", r_algo="grpo", r_gens="4", r_batch="4", r_vllm=True, r_beta="0.04")
    est = vramscope.estimate(LLAMA, rl="grpo", method="lora", batch=4, prompt_len=512, completion_len=512,
                             grad_ckpt="none", gpus=1, num_generations=4, use_vllm=True, beta=0.04, gpu="H100-SXM-80GB")
    assert p.ok
    assert_shows(p.html, est)
    p = page("rl", r_algo="dpo", r_method="full", r_batch="2")
    est = vramscope.estimate(LLAMA, rl="dpo", method="full", batch=2, prompt_len=512, completion_len=512,
                             grad_ckpt="none", gpus=1, gpu="H100-SXM-80GB")
    assert_shows(p.html, est)


def test_multimodal_tab_tokens_and_memory():
    from vramscope.estimators.multimodal import tokens_for

    vl = "Qwen/Qwen2.5-VL-7B-Instruct"
    p = page("mm", model=vl, m_images="2", m_size="1280x720", m_video="10", m_audio="0")
    est = vramscope.estimate(vl, engine="hf", batch=1, prompt_len=512, gen_len=256, images=2, image_size=(1280, 720),
                             video_seconds=10.0, audio_seconds=0.0, gpu="RTX-4090-24GB")
    assert p.ok
    assert_shows(p.html, est)
    tokens = tokens_for(vramscope.load_model(vl), images=2, image_size=(1280, 720), video_seconds=10.0)
    assert f'data-tokens="{tokens.llm_tokens}"' in p.html
    assert est.details["multimodal_tokens"] == tokens.llm_tokens


def test_multimodal_tab_without_an_encoder_says_which_models_have_one():
    p = page("mm")  # Llama has no vision encoder
    assert not p.ok and "no vision encoder" in p.html and "Qwen/Qwen2.5-VL-7B-Instruct" in p.html


def test_fit_tab_equals_fit_and_plan():
    p = page("fit", f_context="16384", f_batch="2")
    res = vramscope.fit(LLAMA, engine="vllm", batch=2, context=16384, gpu="RTX-4090-24GB", gpus=1)
    assert p.ok
    assert f'data-value="{res.max_context}">{res.max_context:,} tokens' in p.html
    assert f'data-value="{res.max_batch}">{res.max_batch:,}<' in p.html
    rows = vramscope.plan(LLAMA, engine="vllm", batch=2, context=16384)
    assert re.findall(r'<tr data-gpu="([^"]+)"', p.html) == [r["gpu"] for r in rows[:20]]
    assert "fit needs a GPU" not in p.html
    assert "Choose a GPU" in page("fit", f_gpu="").html


def test_fit_tab_training_mode_equals_fit_table_and_plan():
    """Training mode: the longest sequence and micro-batch are vramscope.fit's, the chart's bars are
    fit_table's over the seven card sizes, the setups are the training plan's (rent first)."""
    from vramscope.api import fit_table
    from vramscope.web.tabs import CHART_SIZES

    p = page("fit", f_mode="train", f_method="qlora", f_seq="4096", f_batch="1", f_ckpt="full")
    assert p.ok, p.html
    kw = dict(method="qlora", batch=1, seq_len=4096, grad_ckpt="full")
    res = vramscope.fit(LLAMA, gpu="RTX-4090-24GB", gpus=1, **kw)
    assert f'class="vs-big vs-maxseq" data-value="{res.max_seq_len}">{res.max_seq_len:,} tokens' in p.html
    assert f'class="vs-big vs-maxmicro" data-value="{res.max_micro_batch}">' in p.html
    bars = re.findall(r'<g class="vs-bar" data-memory="([^"]+)" data-value="(\d+)"', p.html)
    assert bars == [(r["memory"], str(r["max_seq_len"])) for r in fit_table(LLAMA, list(CHART_SIZES), **kw)]
    rows = vramscope.plan(LLAMA, **kw)
    assert re.findall(r'<tr data-gpu="([^"]+)"', p.html) == [r["gpu"] for r in rows[:20]]
    zh = page("fit", lang="zh", f_mode="train")
    assert "各显存容量下的最长序列" in zh.html and "可训练的方案" in zh.html
    assert "Choose a GPU" in page("fit", f_mode="train", f_gpu="").html


def test_pai_tab_reproduces_the_seed_tables():
    p = page("pai")
    gb = [float(x) for x in re.findall(r'class="vs-gb" data-gb="[^"]+">([\d,.]+)<', p.html)]
    assert gb == [18.2, 9.1, 4.6, 86.8, 18.1, 11.1, 7.6]  # seed 000; LoRA per its formula (pai.py docstring)
    moe = page("pai", p_arch="moe", p_params="56", p_active="14", p_batch="3")
    assert "148.1" in moe.html  # the seed's Mixtral LoRA example
    expected = pai.finetune_table(56, 2.0, "Adam/AdamW", 3, 14, True)
    for row in expected:
        assert f'data-gb="{row.total_gb:.6f}"' in moe.html
    advice = pai.recommend_gpus(pai.inference_table(7)[0].total_gb)[:3]
    assert all(a["gpu"] in p.html for a in advice)
    assert "Check this input" in page("pai", p_arch="moe", p_active="").html


# --- bad input becomes a message ----------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "text"), [
    ({"batch": "-3"}, "must be at least 1, not -3"),
    ({"batch": "abc"}, "enter a whole number, not 'abc'"),
    ({"batch": ""}, "enter a value"),
    ({"batch": "2.5"}, "enter a whole number"),
    ({"context": "1e400"}, "enter a whole number"),
    ({"gpus": "0"}, "must be at least 1"),
    ({"engine": "vllm", "util": "1.5"}, "must be at most 1"),
    ({"engine": "vllm", "util": "nan"}, "enter a number"),
    ({"weights": "no-such-format"}, "no-such-format"),
    ({"gpu": "RTX-9999"}, "RTX-9999"),
])
def test_bad_inference_input_is_a_message(changes, text):
    p = page(**changes)
    assert not p.ok and 'role="alert"' in p.html and text in p.html.replace("&#x27;", "'")
    assert "Traceback" not in p.html


def test_bad_model_inputs():
    assert "unknown model" in page(model="no-such-model-zzz").model_html
    assert "Pick a model" in page(model="").html
    assert "Enter a Hugging Face id" in page(src="hub", hub="").html
    assert "active parameters" in page(src="size", arch="moe", size="56", active="").html.lower()
    assert "cannot exceed" in page(src="size", arch="moe", size="14", active="56").html
    assert "Parameters (B): must be more than 0, not -7" in page(src="size", size="-7").html
    assert "Upload a config.json" in page(src="file").html


def test_hub_id_offline_is_a_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    p = page(src="hub", hub="some-org/not-cached-model-zzz")
    assert not p.ok and "not-cached-model-zzz" in p.model_html and 'role="alert"' in p.model_html


def test_bare_size_dense_and_moe():
    p = page(src="size", size="7")
    assert p.ok and vramscope.load_model("7B").params_total == 7_000_000_000
    assert_shows(p.html, vramscope.estimate("7B", engine="hf", batch=1, context=4096, gpu="RTX-4090-24GB"))
    p = page(src="size", arch="moe", size="56B", active="14")
    assert_shows(p.html, vramscope.estimate("56B", active="14B", engine="hf", batch=1, context=4096,
                                            gpu="RTX-4090-24GB"))


def test_uploads(tmp_path, write_json):
    from conftest import catalog_config

    cfg = write_json(catalog_config("Qwen__Qwen3-0.6B"))
    p = page(src="file", file=str(cfg))
    assert p.ok and "upload:config.json" in p.model_html
    assert_shows(p.html, vramscope.estimate(str(cfg), engine="hf", batch=1, context=4096, gpu="RTX-4090-24GB"))

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    p = page(src="file", file=str(bad))
    assert not p.ok and "broken.gguf" in p.model_html and str(tmp_path) not in p.model_html
    assert 'role="alert"' in p.model_html

    big = tmp_path / "big.gguf"
    big.write_bytes(b"\0" * 5000)
    p = page(src="file", file=str(big), max_upload=1000)
    assert "over the" in p.html and "upload limit" in p.html

    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    assert "upload a config.json (.json) or a GGUF" in page(src="file", file=str(txt)).html

    assert "no longer on the server" in page(src="file", file=str(tmp_path / "gone.json")).html
    bad_json = write_json("{not json", name="bad.json")
    assert "malformed JSON" in page(src="file", file=str(bad_json)).model_html


def test_messages_follow_the_language():
    p = page(lang="zh", batch="abc")
    assert "请检查输入" in p.html and "请输入整数" in p.html
    p = page(lang="zh")
    assert "每卡" in p.html and "权重" in p.html and "放得下" in p.html
    assert "per GPU" in page(lang="en").html


def test_an_unexpected_failure_is_a_message_not_an_exception(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(H, "inference_tab", boom)
    monkeypatch.setitem(H.TAB_FUNCS, "infer", boom)
    p = page(batch="7")  # not memoised yet
    assert not p.ok and "Internal error (RuntimeError)" in p.html and "kaboom" in p.html


_text = st.one_of(st.sampled_from(["", "-1", "0", "abc", "1e9", "nan", "inf", "1,024", "32k", "9" * 30, " ", "1.5",
                                   "RTX-4090-24GB", "24GiB", "x"]), st.text(max_size=12))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tab=st.sampled_from(["infer", "train", "rl", "mm", "fit", "pai"]),
       values=st.fixed_dictionaries({}, optional={f.name: _text for f in FIELDS if not f.choices and not f.is_bool
                                                  and f.name not in ("model", "hub")}))
def test_compute_never_raises(tab, values):
    p = H.compute({**DEFAULTS, **values, "tab": tab})
    assert p.tab == tab and isinstance(p.html, str) and p.html


# --- i18n, restore, labels ------------------------------------------------------------------------
def test_every_field_has_a_label_in_both_languages():
    for name in NAMES:
        key = H.label_key(name)
        assert i18n.has(key), name
        assert i18n.t(key, "en") and i18n.t(key, "zh")
    for key, (en, zh) in i18n.TEXT.items():
        assert en and zh, key
        assert set(re.findall(r"{(\w+)", en)) == set(re.findall(r"{(\w+)", zh)), key


def test_choice_labels():
    assert i18n.choice_label("engine", "llamacpp") == "llama.cpp"
    assert i18n.choice_label("f_engine", "hf", "zh") == "HF transformers"
    assert i18n.choice_label("r_method", "full", "zh") == "全参微调"
    assert i18n.choice_label("t_ckpt", "none", "zh") == "关闭"
    assert i18n.choice_label("m_gpu", "", "en") == "none"
    assert i18n.choice_label("t_zero", "2") == "2"


def test_restore_picks_the_language():
    assert H.restore("?batch=4", "zh-CN")["lang"] == "zh"
    assert H.restore("?batch=4&lang=en", "zh-CN")["lang"] == "en"
    assert H.restore("", "", "zh-TW,zh;q=0.9")["lang"] == "zh"
    assert H.restore("", None, None)["lang"] == "en"
    assert H.restore("?batch=4", "en")["batch"] == "4"


def test_importing_the_web_package_and_cli_does_not_import_gradio():
    code = ("import sys, vramscope.cli, vramscope.web, vramscope.web.handlers; "
            "assert 'gradio' not in sys.modules, 'gradio imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_worker_process_gives_the_same_page_and_survives_a_dead_worker():
    from vramscope.web.workers import Computer

    values = {**DEFAULTS, "batch": "3"}
    computer = Computer(workers=1)
    try:
        assert computer.compute(values) == H.compute(values)
        pool = computer._get_pool()
        for proc in list(pool._processes.values()):  # kill the worker: the next update still answers
            proc.kill()
            proc.join()
        assert computer.compute(values) == H.compute(values)
        assert computer.compute({**values, "batch": "4"}).ok
    finally:
        computer.close()
    assert Computer(workers=0).compute(values) == H.compute(values)
