"""The web page in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs in this process on a free loopback port. Each test changes inputs the way a person
does and checks that the numbers on the page equal the Python API's for the same inputs; each tab
leaves a screenshot in build/screenshots/. Never downloads a browser: without /usr/bin/chromium
(`apt-get install chromium`) the tests are skipped.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

import vramscope
from vramscope.units import GiB, fmt_gib

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,  # a real browser and a gradio server
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} not installed (apt-get install chromium); .ci/run installs it"),
    # gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[dev]')")
pytest.importorskip("gradio", reason="gradio not installed (pip install -e '.[web]')")
expect = sync_api.expect

SHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
LLAMA = "meta-llama/Llama-3.1-8B"
MAX_UPLOAD = 64 * 1024
TIMEOUT = 20_000  # ms: one update is ~0.1 s; this only bounds a stuck page (a cold CI box is slower)
expect.set_options(timeout=TIMEOUT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    from vramscope.web import serve

    port = _free_port()
    demo = serve("127.0.0.1", port, block=False, max_upload=MAX_UPLOAD, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def contexts(browser):
    """One browser context per locale for the whole module, so the page's assets load once."""
    made: dict[str, object] = {}

    def _get(locale: str):
        if locale not in made:
            made[locale] = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        return made[locale]

    yield _get
    for ctx in made.values():
        ctx.close()


@pytest.fixture
def open_page(contexts, server):
    pages = []

    def _open(query: str = "", locale: str = "en-US", wait: str = "#out-infer .vs-total, #vs-model-info .vs-model"):
        page = contexts(locale).new_page()
        pages.append(page)
        page.set_default_timeout(TIMEOUT)
        page.goto(server + query)
        page.wait_for_selector(wait)
        return page

    yield _open
    for page in pages:
        page.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# --- driving the page ------------------------------------------------------------------------------
def fill(page, name: str, value: str) -> None:
    page.locator(f"#in-{name}").locator("input, textarea").first.fill(value)


def pick(page, name: str, label: str) -> None:
    """Choose a drop-down option by its shown label."""
    page.locator(f"#in-{name} input").first.click()
    page.locator(f'#in-{name} [role="option"][aria-label="{label}"]').click()


def radio(page, name: str, label: str) -> None:
    page.locator(f"#in-{name}").get_by_text(label, exact=True).click()


def tab(page, key: str) -> None:
    page.locator(f"#tab-{key}-button").click()
    expect(page.locator(f"#tab-{key}-button")).to_have_attribute("aria-selected", "true")


def expect_estimate(page, out: str, est) -> None:
    """The page's total, band and every component equal the API's estimate."""
    box = page.locator(f"#out-{out}")
    expect(box.locator(".vs-total")).to_have_text(fmt_gib(est.per_gpu_bytes))
    expect(box.locator(".vs-total")).to_have_attribute("data-bytes", str(est.per_gpu_bytes))
    expect(box.locator(".vs-band")).to_have_text(re.compile(re.escape(f"{fmt_gib(est.low_bytes)} – {fmt_gib(est.high_bytes)}")))
    for c in est.components:
        cell = box.locator(f'tr[data-name="{c.name}"] .vs-gib')
        expect(cell).to_have_text(f"{c.bytes / GiB:,.2f}")
    expect(box.locator("tr[data-name]")).to_have_count(len(est.components) + 1)  # + the total row


# --- the tabs ---------------------------------------------------------------------------------------
def test_inference_tab(open_page):
    page = open_page()
    expect_estimate(page, "infer", vramscope.estimate(LLAMA, engine="hf", batch=1, context=4096, gpu="RTX-4090-24GB"))
    pick(page, "model", "Qwen/Qwen3-8B")
    expect(page.locator("#vs-model-info .vs-model")).to_have_attribute("data-model", "Qwen/Qwen3-8B")
    pick(page, "engine", "vLLM")
    fill(page, "batch", "8")
    fill(page, "context", "8192")
    pick(page, "gpu", "H100-SXM-80GB")
    est = vramscope.estimate("Qwen/Qwen3-8B", engine="vllm", batch=8, context=8192, gpu="H100-SXM-80GB",
                             gpu_memory_utilization=0.9)
    expect_estimate(page, "infer", est)
    expect(page.locator("#out-infer .vs-fit")).to_have_text(re.compile("fits on 1 × NVIDIA H100"))
    expect(page.locator("#out-infer .vs-kvcap")).to_contain_text(f"{est.details['kv_capacity_tokens']:,} tokens")
    expect(page.locator("#out-infer .vs-speed")).to_contain_text(f"{est.details['speed']['decode_tokens_per_s']:,.0f} tok/s")
    expect(page.locator("#code-infer")).to_contain_text("vllm serve Qwen/Qwen3-8B --max-model-len 8192")
    expect(page).to_have_url(re.compile(r"model=Qwen%2FQwen3-8B&engine=vllm&batch=8&context=8192&gpu=H100-SXM-80GB"))
    shot(page, "inference")


def test_training_tab(open_page):
    page = open_page()
    tab(page, "train")
    pick(page, "t_method", "QLoRA (4-bit base)")
    fill(page, "t_batch", "2")
    fill(page, "t_seq", "1024")
    pick(page, "t_ckpt", "full")
    est = vramscope.estimate(LLAMA, method="qlora", precision="bf16", optimizer="adamw", batch=2, seq_len=1024,
                             grad_accum=1, grad_ckpt="full", attn="sdpa", zero=0, fsdp="none", offload="none", tp=1,
                             pp=1, gpus=1, lora_rank=16, lora_targets="default", gpu="H100-SXM-80GB")
    expect_estimate(page, "train", est)
    expect(page.locator("#out-train .vs-trainable")).to_contain_text(f"{est.details['trainable_params']:,}")
    expect(page.locator("#code-train")).to_contain_text('"train_micro_batch_size_per_gpu": 2')
    shot(page, "train")


def test_rl_tab(open_page):
    page = open_page()
    tab(page, "rl")
    est = vramscope.estimate(LLAMA, rl="grpo", method="lora", batch=8, prompt_len=512, completion_len=512,
                             grad_ckpt="none", gpus=1, num_generations=8, gpu="H100-SXM-80GB")
    expect_estimate(page, "rl", est)
    radio(page, "r_algo", "DPO")
    fill(page, "r_batch", "2")
    fill(page, "r_completion", "1024")
    est = vramscope.estimate(LLAMA, rl="dpo", method="lora", batch=2, prompt_len=512, completion_len=1024,
                             grad_ckpt="none", gpus=1, gpu="H100-SXM-80GB")
    expect_estimate(page, "rl", est)
    expect(page.locator("#in-r_gens")).to_be_hidden()  # GRPO only
    shot(page, "rl")


def test_multimodal_tab(open_page):
    from vramscope.estimators.multimodal import tokens_for

    vl = "Qwen/Qwen2.5-VL-7B-Instruct"
    page = open_page()
    tab(page, "mm")
    expect(page.locator("#out-mm [role=alert]")).to_contain_text("no vision encoder")  # Llama: text only
    pick(page, "model", vl)
    fill(page, "m_images", "2")
    fill(page, "m_size", "1280x720")
    fill(page, "m_audio", "0")
    fill(page, "m_video", "6")
    est = vramscope.estimate(vl, engine="hf", batch=1, prompt_len=512, gen_len=256, images=2, image_size=(1280, 720),
                             video_seconds=6.0, audio_seconds=0.0, gpu="RTX-4090-24GB")
    expect_estimate(page, "mm", est)
    tokens = tokens_for(vramscope.load_model(vl), images=2, image_size=(1280, 720), video_seconds=6.0)
    expect(page.locator("#out-mm .vs-mmtotal")).to_have_attribute("data-tokens", str(tokens.llm_tokens))
    shot(page, "multimodal")


def test_fit_and_plan_tab(open_page):
    page = open_page()
    tab(page, "fit")
    fill(page, "f_context", "16384")
    fill(page, "f_batch", "2")
    res = vramscope.fit(LLAMA, engine="vllm", batch=2, context=16384, gpu="RTX-4090-24GB", gpus=1)
    expect(page.locator("#out-fit .vs-maxctx")).to_have_text(f"{res.max_context:,} tokens")
    expect(page.locator("#out-fit .vs-maxbatch")).to_have_text(f"{res.max_batch:,}")
    rows = vramscope.plan(LLAMA, engine="vllm", batch=2, context=16384)
    expect(page.locator("#out-fit tr[data-gpu]").first).to_have_attribute("data-gpu", rows[0]["gpu"])
    expect(page.locator("#out-fit tr[data-gpu]")).to_have_count(min(20, len(rows)))
    shot(page, "fit")


def test_fit_tab_training_mode_draws_the_max_context_chart(open_page):
    page = open_page()
    tab(page, "fit")
    radio(page, "f_mode", "Training")
    fill(page, "f_seq", "4096")
    res = vramscope.fit(LLAMA, method="qlora", batch=1, seq_len=4096, grad_ckpt="full", gpu="RTX-4090-24GB")
    expect(page.locator("#out-fit .vs-maxseq")).to_have_text(f"{res.max_seq_len:,} tokens")
    expect(page.locator("#out-fit svg.vs-chart .vs-bar")).to_have_count(7)
    expect(page.locator('#out-fit .vs-bar[data-memory="24GiB"]')).to_have_attribute(
        "data-value", str(vramscope.fit(LLAMA, method="qlora", batch=1, seq_len=4096, grad_ckpt="full",
                                        gpu_memory="24GiB").max_seq_len))
    expect(page.locator("#out-fit tr[data-gpu]").first).to_be_visible()
    shot(page, "fit-training")


def test_pai_tab_in_the_seed_layout(open_page):
    from vramscope import pai

    page = open_page()
    tab(page, "pai")
    expect(page.locator("#out-pai .vs-pai-infer .vs-gb")).to_have_text(["18.2", "9.1", "4.6"])
    expect(page.locator("#out-pai .vs-pai-ft .vs-gb")).to_have_text(["86.8", "18.1", "11.1", "7.6"])
    expect(page.locator("#in-p_active")).to_be_hidden()  # Dense: no active parameters (as in the seed)
    radio(page, "p_arch", "MoE")
    fill(page, "p_params", "56")
    fill(page, "p_active", "14")
    fill(page, "p_batch", "3")
    rows = pai.finetune_table(56, 2.0, "Adam/AdamW", 3, 14, True)
    expect(page.locator("#out-pai .vs-pai-ft .vs-gb")).to_have_text([f"{pai.round_gb(r.total_gb):,.1f}" for r in rows])
    expect(page.locator("#out-pai .vs-pai-ft .vs-gb").nth(1)).to_have_text("148.1")  # the seed's Mixtral LoRA
    shot(page, "pai")


# --- language, URL, bad input -------------------------------------------------------------------------
def test_language_follows_the_browser_and_switches(open_page):
    page = open_page(locale="zh-CN")
    expect(page.locator("#tab-infer-button")).to_have_text("推理部署")
    expect(page.locator("#out-infer .vs-sub").first).to_have_text("每卡")
    expect(page.locator("#in-batch")).to_contain_text("并发序列数")
    shot(page, "inference-zh")
    radio(page, "lang", "English")
    expect(page.locator("#tab-infer-button")).to_have_text("Inference")
    expect(page.locator("#out-infer .vs-sub").first).to_have_text("per GPU")
    expect(page.locator("#in-batch")).to_contain_text("Concurrent sequences")
    expect(page).to_have_url(re.compile(r"\?lang=en$"))
    radio(page, "lang", "中文")
    expect(page.locator("#tab-pai-button")).to_have_text("PAI 快速计算器")
    assert "lang=" not in open_page(locale="en-GB").url  # the default language stays out of the link


def test_url_state_round_trip(open_page):
    query = "?tab=train&model=Qwen%2FQwen3-8B&t_method=full&t_precision=mixed&t_zero=3&t_gpus=8&t_batch=2"
    page = open_page(query, wait="#out-train .vs-total")
    expect(page.locator("#tab-train-button")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#in-t_batch input")).to_have_value("2")
    expect(page.locator("#in-model input")).to_have_value("Qwen/Qwen3-8B")
    expect(page.locator("#in-t_method input")).to_have_value("Full fine-tuning")
    kw = dict(method="full", precision="mixed", optimizer="adamw", seq_len=2048, grad_accum=1, grad_ckpt="none",
              attn="sdpa", zero=3, fsdp="none", offload="none", tp=1, pp=1, gpus=8, gpu="H100-SXM-80GB")
    expect_estimate(page, "train", vramscope.estimate("Qwen/Qwen3-8B", batch=2, **kw))
    fill(page, "t_batch", "4")
    expect(page).to_have_url(re.compile(r"t_batch=4"))
    expect_estimate(page, "train", vramscope.estimate("Qwen/Qwen3-8B", batch=4, **kw))
    url = page.url
    again = open_page(url[url.index("?"):], wait="#out-train .vs-total")
    expect(again.locator("#in-t_batch input")).to_have_value("4")
    expect_estimate(again, "train", vramscope.estimate("Qwen/Qwen3-8B", batch=4, **kw))


def test_the_headline_figure_is_picked_and_the_three_figures_shown(open_page):
    page = open_page()
    tab(page, "train")
    est = vramscope.estimate(LLAMA, method="lora", precision="bf16", optimizer="adamw", batch=1, seq_len=2048,
                             grad_accum=1, grad_ckpt="none", attn="sdpa", zero=0, fsdp="none", offload="none", tp=1,
                             pp=1, gpus=1, lora_rank=16, lora_targets="default", gpu="H100-SXM-80GB")
    m, box = est.memory, page.locator("#out-train")
    expect_estimate(page, "train", est)  # device memory (nvidia-smi) by default
    expect(box.locator(".vs-total")).to_have_attribute("data-figure", "device")
    for name, fig in (("allocated", m.allocated), ("reserved", m.reserved), ("device", m.device)):
        expect(box.locator(f'.vs-figures tr[data-figure="{name}"] .vs-gib')).to_have_text(f"{fig.bytes / GiB:,.2f}")
    expect(box.locator(".vs-figures tr.vs-headline")).to_have_attribute("data-figure", "device")
    radio(page, "report", "peak reserved (torch)")
    expect(box.locator(".vs-total")).to_have_attribute("data-bytes", str(m.reserved.bytes))
    expect(box.locator(".vs-total")).to_have_text(fmt_gib(m.reserved.bytes))
    expect(box.locator(".vs-kind")).to_have_text("peak reserved (torch)")
    expect(box.locator('tr[data-name="CUDA context"] .vs-out')).to_have_text("not in peak reserved (torch)")
    expect(page).to_have_url(re.compile(r"report=reserved"))
    shot(page, "train-reserved")
    radio(page, "lang", "中文")
    expect(page.locator("#in-report")).to_contain_text("峰值 allocated（torch）")
    expect(box.locator(".vs-kind")).to_have_text("峰值 reserved（torch）")
    radio(page, "report", "峰值 allocated（torch）")
    expect(box.locator(".vs-total")).to_have_attribute("data-bytes", str(m.allocated.bytes))
    tab(page, "infer")  # llama.cpp has no torch figure: the headline stays on device memory and says so
    pick(page, "engine", "llama.cpp")
    infer = page.locator("#out-infer")
    expect(infer.locator(".vs-total")).to_have_attribute("data-figure", "device")
    expect(infer.locator(".vs-msg")).to_contain_text("主数字显示设备显存")
    expect(infer.locator('.vs-figures tr[data-figure="allocated"]')).to_contain_text("—")


def test_bad_input_shows_a_message_and_the_page_recovers(open_page, tmp_path):
    page = open_page()
    alert = page.locator("#out-infer [role=alert]")
    fill(page, "batch", "-2")
    expect(alert).to_contain_text("must be at least 1, not -2")
    fill(page, "batch", "abc")
    expect(alert).to_contain_text("enter a whole number, not 'abc'")
    fill(page, "batch", "")
    expect(alert).to_contain_text("enter a value")
    fill(page, "batch", "2")
    expect_estimate(page, "infer", vramscope.estimate(LLAMA, engine="hf", batch=2, context=4096, gpu="RTX-4090-24GB"))
    shot(page, "bad-input-recovered")

    fill(page, "model", "no-such-model-zzz")
    page.keyboard.press("Enter")
    expect(page.locator("#vs-model-info [role=alert]")).to_contain_text("unknown model 'no-such-model-zzz'")

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00not a real header")
    radio(page, "src", "Upload config.json / GGUF")
    page.set_input_files("#in-file input[type=file]", str(bad))
    expect(page.locator("#vs-model-info [role=alert]")).to_contain_text("broken.gguf")
    expect(page.locator("#out-infer [role=alert]")).to_contain_text("GGUF")
    shot(page, "bad-gguf")


def test_oversized_upload_is_refused_with_a_message(open_page, tmp_path):
    page = open_page("?src=file", wait="#vs-model-info [role=alert]")
    expect(page.locator("#vs-model-info [role=alert]")).to_contain_text("Upload a config.json or a .gguf file")
    big = tmp_path / "big.gguf"
    big.write_bytes(b"\0" * (MAX_UPLOAD + 1))
    page.set_input_files("#in-file input[type=file]", str(big))
    expect(page.get_by_text(re.compile("exceed the maximum allowed size"))).to_be_visible()
    # the server still answers: a config.json upload works
    from conftest import catalog_config

    cfg = tmp_path / "config.json"
    import json

    cfg.write_text(json.dumps(catalog_config("Qwen__Qwen3-0.6B")))
    page.reload()
    page.wait_for_selector("#in-file input[type=file]", state="attached")
    page.set_input_files("#in-file input[type=file]", str(cfg))
    expect_estimate(page, "infer", vramscope.estimate(str(cfg), engine="hf", batch=1, context=4096, gpu="RTX-4090-24GB"))
