"""Framework presets (``--recipe``, ``recipe=``): each preset's values against the framework's cited
defaults, flag-over-preset precedence, the assumptions that name the source, bad names and the
combinations a framework refuses (one line, exit 2)."""

from __future__ import annotations

import json
import re

import pytest

import vramscope as v
from conftest import run_cli
from vramscope.errors import VramscopeError
from vramscope.recipes import RECIPE_NAMES, RECIPES, Run, apply_recipe

MODEL = "llama-3.1-8b"


def filled(name: str, **given) -> dict:
    """What the preset adds to ``given`` (the given keys removed)."""
    out, _ = apply_recipe(name, given)
    return {k: val for k, val in out.items() if k not in given}


# --- each preset's values, as the cited code / configs set them ----------------------------------------
# The expected dicts are written from the sources (file and line in vramscope/recipes.py), not from the module.
PEFT_LORA = {"lora_rank": 8, "lora_dropout": 0.0, "lora_dtype": "fp32"}  # LoraConfig r=8, dropout 0; autocast_adapter_dtype


def test_hf_trainer():
    base = {"optimizer": "adamw", "optimizer_impl": "fused", "attn": "sdpa", "loss": "hf", "precision": "bf16",
            "grad_ckpt": "none"}
    assert filled("hf-trainer", method="full") == base
    assert filled("hf-trainer", method="full", batch=4) == {**base, "padding": True}  # DataCollatorWithPadding
    assert filled("hf-trainer", method="lora") == {**base, **PEFT_LORA}
    assert filled("hf-trainer", method="qlora") == {**base, **PEFT_LORA, "kbit_prepare": False}


def test_trl_sft():
    base = {"optimizer": "adamw", "optimizer_impl": "fused", "attn": "sdpa", "precision": "mixed", "grad_ckpt": "full",
            "loss": "fused"}  # float32 load + bf16=True; gradient_checkpointing=True; chunked_nll
    assert filled("trl", method="full") == base
    assert filled("trl", method="lora", batch=2) == {**base, **PEFT_LORA, "padding": True}
    # QLoRA: adapters cast to bf16 after get_peft_model; the float32 load keeps non-quantised params fp32
    assert filled("trl", method="qlora") == {**base, **PEFT_LORA, "lora_dtype": "bf16", "kbit_prepare": True}
    # ZeRO-3, bf16 base: get_peft_model(autocast_adapter_dtype=False)
    assert filled("trl", method="lora", zero=3, gpus=8)["lora_dtype"] == "bf16"
    assert filled("trl", method="lora", zero=2, gpus=8)["lora_dtype"] == "fp32"


TT_COMMON = {"attn": "sdpa", "padding": True, "precision": "bf16", "loss": "chunked", "optimizer": "adamw",
             "optimizer_impl": "fused", "grad_ckpt": "full"}
TT_LORA = {"lora_rank": 8, "lora_dropout": 0.0, "lora_dtype": "bf16",
           "lora_targets": "q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"}


def test_torchtune_single_device_configs():
    # 8B_lora_single_device.yaml / 8B_qlora_single_device.yaml
    assert filled("torchtune", method="lora") == {**TT_COMMON, **TT_LORA}
    assert filled("torchtune", method="qlora") == {**TT_COMMON, **TT_LORA, "quant": "nf4", "double_quant": True,
                                                   "kbit_prepare": False}
    # 8B_full_single_device.yaml: bitsandbytes PagedAdamW8bit stepped in backward
    assert filled("torchtune", method="full") == {**TT_COMMON, "optimizer": "paged-adamw-8bit",
                                                  "optimizer_in_backward": True}


def test_torchtune_distributed_configs():
    # 8B_full.yaml: AdamW(fused), no optimizer-in-backward; FSDP2 fully_shard
    assert filled("torchtune", method="full", gpus=8) == {**TT_COMMON, "optimizer_in_backward": False, "fsdp": "full"}
    # 8B_lora.yaml: activation checkpointing off
    assert filled("torchtune", method="lora", gpus=2) == {**TT_COMMON, **TT_LORA, "grad_ckpt": "none", "fsdp": "full"}


def test_unsloth():
    base = {"attn": "flash", "loss": "fused", "grad_ckpt": "offload", "optimizer": "adamw-8bit", "precision": "bf16",
            "padding": False}
    lora = {"lora_rank": 16, "lora_dropout": 0.0, "lora_dtype": "fp32",
            "lora_targets": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"}
    assert filled("unsloth", method="lora", batch=4) == {**base, **lora}
    assert filled("unsloth", method="qlora") == {**base, **lora, "quant": "nf4", "double_quant": True, "kbit_prepare": False}


def test_axolotl():
    base = {"optimizer": "adamw", "optimizer_impl": "fused", "attn": "sdpa", "precision": "bf16", "grad_ckpt": "none",
            "loss": "hf"}
    assert filled("axolotl", method="lora") == {**base, "lora_dropout": 0.0, "lora_dtype": "fp32"}  # no lora_r default
    qlora = filled("axolotl", method="qlora", batch=2)
    assert qlora == {**base, "lora_dropout": 0.0, "lora_dtype": "fp32", "padding": True, "quant": "nf4",
                     "double_quant": True, "kbit_prepare": True}
    # prepare_model_for_kbit_training is skipped under ZeRO-3 and QLoRA + FSDP
    assert filled("axolotl", method="qlora", zero=3, gpus=2)["kbit_prepare"] is False
    assert filled("axolotl", method="qlora", fsdp="full", gpus=2)["kbit_prepare"] is False


def test_llamafactory():
    base = {"optimizer": "adamw", "optimizer_impl": "fused", "attn": "sdpa", "grad_ckpt": "full", "loss": "hf"}
    lora = {"lora_rank": 8, "lora_dropout": 0.0, "lora_targets": "all-linear", "lora_dtype": "fp32"}
    assert filled("llamafactory", method="lora") == {**base, "precision": "bf16", **lora}
    assert filled("llamafactory", method="full") == {**base, "precision": "mixed"}  # trainable params cast to fp32
    assert filled("llamafactory", method="qlora")["kbit_prepare"] is False
    assert filled("llamafactory", method="lora", zero=3, gpus=4)["lora_dtype"] == "bf16"


def test_every_value_is_a_valid_option_with_a_pinned_source():
    from vramscope.workload import Training

    for rec in RECIPES.values():
        for case in rec.cases:
            for field, d in case.settings.items():
                assert field in Training.field_names(), (rec.name, field)
                url = d.source.url(d.path, d.lines)
                assert re.match(r"https://github\.com/[\w.-]+/[\w.-]+/blob/([0-9a-f]{40}|v[\d.]+)/", url), url
                assert d.why
    assert RECIPE_NAMES == ("hf-trainer", "trl", "torchtune", "unsloth", "axolotl", "llamafactory")


# --- estimates: the preset's values reach the numbers (hand-derived), flags win -----------------------------------
def test_recipe_estimate_equals_the_same_options_given_explicitly():
    for name in RECIPE_NAMES:
        for method in ("full", "lora", "qlora"):
            given = {"method": method, "batch": 2, "seq_len": 1024}
            if name == "axolotl" and method != "full":
                given["lora_rank"] = 16
            explicit, _ = apply_recipe(name, given)
            a = v.estimate(MODEL, recipe=name, **given)
            b = v.estimate(MODEL, **explicit)
            assert a.per_gpu_bytes == b.per_gpu_bytes, (name, method)
            assert a.workload == b.workload


def test_unsloth_adapters_are_its_41943040_fp32_params():
    # get_peft_model(r=16) on q,k,v,o,gate,up,down of Llama-3.1-8B (h 4096, kv 1024, I 14336, 32 layers):
    # 16·(2·8192 + 2·5120 + 3·18432) = 1,310,720 per layer, × 32 = 41,943,040 (what Unsloth prints)
    est = v.estimate(MODEL, method="qlora", recipe="unsloth")
    assert est.training.adapter_params == 16 * (2 * 8192 + 2 * 5120 + 3 * 18432) * 32 == 41_943_040
    assert est.component("adapter_weights").bytes == 4 * 41_943_040  # fp32 (float32_mixed_precision)
    assert est.component("gradients").bytes == 4 * 41_943_040


def test_hf_trainer_loss_block_and_peft_default_adapter():
    # PEFT r=8 on q_proj, v_proj: 8·(8192 + 5120) per layer × 32 = 3,407,872 fp32 params
    est = v.estimate(MODEL, method="lora", recipe="hf-trainer", seq_len=2048)
    assert est.component("adapter_weights").bytes == 4 * 8 * (8192 + 5120) * 32
    # transformers' loss: T·V·12 bytes (fp32 logits, log-softmax, its gradient), V = 128,256
    assert est.component("logits_loss").bytes == 2048 * 128_256 * 12
    # TRL's chunked_nll never materialises T × V: no logits block
    trl = v.estimate(MODEL, method="lora", recipe="trl", seq_len=2048)
    assert "logits_loss" not in {c.key for c in trl.components} and trl.training.logits_loss_bytes == 0


def test_explicit_keywords_win_and_are_said():
    est = v.estimate(MODEL, method="lora", recipe="torchtune", lora_rank=64, grad_ckpt="none")
    assert est.workload["lora_rank"] == 64 and est.workload["grad_ckpt"] == "none"
    assert est.workload["loss"] == "chunked"  # still the preset's
    assert "recipe torchtune: given explicitly, not from the recipe: grad_ckpt, lora_rank" in est.assumptions


def test_assumptions_name_the_value_file_and_commit():
    est = v.estimate(MODEL, method="lora", recipe="torchtune")
    lines = [a for a in est.assumptions if a.startswith("recipe torchtune: loss")]
    assert lines == ["recipe torchtune: loss = chunked (LinearCrossEntropyLoss (num_output_chunks=8, "
                     "torchtune/modules/loss/cross_entropy_loss.py L36-41); pytorch/torchtune@bd2a0fc "
                     "recipes/configs/llama3_1/8B_lora_single_device.yaml L70-71)"]
    # one line per value the preset set, none for the values given
    set_by_recipe = [a for a in est.assumptions if re.match(r"recipe torchtune: \w+ = ", a)]
    assert len(set_by_recipe) == len(filled("torchtune", method="lora"))
    assert not any(a.startswith("recipe") for a in v.estimate(MODEL, method="lora").assumptions)


def cli_workload(args: list[str], capsys) -> dict:
    code, out, err = run_cli(["estimate", MODEL, *args, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)["workload"]


def test_cli_recipe_and_flag_override(capsys):
    wl = cli_workload(["--method", "full", "--recipe", "torchtune"], capsys)
    assert (wl["optimizer"], wl["optimizer_in_backward"], wl["loss"]) == ("paged-adamw-8bit", True, "chunked")
    wl = cli_workload(["--method", "full", "--recipe", "torchtune", "--optimizer", "adamw", "--no-optimizer-in-backward",
                       "--grad-accum", "4"], capsys)
    assert (wl["optimizer"], wl["optimizer_in_backward"], wl["grad_accum"]) == ("adamw", False, 4)
    assert cli_workload(["--method", "qlora", "--recipe", "trl"], capsys)["kbit_prepare"] is True
    assert cli_workload(["--method", "qlora", "--recipe", "trl", "--no-kbit-prepare"], capsys)["kbit_prepare"] is False
    assert cli_workload(["--method", "qlora", "--recipe", "unsloth", "--kbit-prepare"], capsys)["kbit_prepare"] is True
    assert cli_workload(["--method", "qlora", "--no-double-quant"], capsys)["double_quant"] is False


# --- bad input: one line, exit 2 / VramscopeError ---------------------------------------------------------
def one_line_exit_2(args: list[str], capsys) -> str:
    code, out, err = run_cli(args, capsys)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and out == "", err
    return lines[0]


def test_unknown_recipe_lists_the_valid_names(capsys):
    text = one_line_exit_2(["estimate", MODEL, "--method", "lora", "--recipe", "deepspeed"], capsys)
    assert "unknown recipe 'deepspeed'; valid recipes: hf-trainer, trl, torchtune, unsloth, axolotl, llamafactory" in text
    with pytest.raises(VramscopeError, match="valid recipes: hf-trainer, trl"):
        v.estimate(MODEL, method="lora", recipe="nemo")


@pytest.mark.parametrize("args, said", [
    # torchtune's own RuntimeError (full_finetune_single_device.py L157-159) for its default config + GA
    (["--method", "full", "--recipe", "torchtune", "--grad-accum", "4"], "Gradient accumulation is not supported with optimizer_in_bwd"),
    (["--method", "full", "--recipe", "torchtune", "--precision", "fp16"], "torchtune's recipes refuse fp16"),
    (["--method", "lora", "--recipe", "torchtune", "--optimizer-in-backward"], "LoRA recipes have no optimizer_in_bwd"),
    (["--method", "full", "--recipe", "torchtune", "--zero", "3", "--gpus", "8"], "no DeepSpeed ZeRO"),
    (["--method", "full", "--recipe", "torchtune", "--gpus", "8", "--offload", "optimizer"], "fsdp_cpu_offload"),
    (["--method", "qlora", "--recipe", "unsloth", "--grad-ckpt", "selective"], "True, False or 'unsloth'"),
    # DeepSpeed refuses a client (bitsandbytes) optimizer under ZeRO-Offload, recipe or not
    (["--method", "full", "--optimizer", "paged-adamw-8bit", "--zero", "2", "--gpus", "2", "--offload", "optimizer"],
     "DeepSpeed refuses a client optimizer under ZeRO-Offload"),
    (["--method", "full", "--recipe", "hf-trainer", "--optimizer", "adamw-8bit", "--zero", "3", "--gpus", "2",
      "--offload", "params"], "zero_force_ds_cpu_optimizer"),
    (["--recipe", "trl"], "describe training"),
    (["--rl", "grpo", "--recipe", "trl"], "does not apply to --rl grpo"),
])
def test_combinations_the_framework_cannot_run(args, said, capsys):
    assert said in one_line_exit_2(["estimate", MODEL, *args], capsys)


def test_fit_takes_the_recipe_and_plan_refuses_it(capsys):
    # fit: the recipe's values decide the longest sequence, as the same options given explicitly do
    a = v.fit(MODEL, method="qlora", recipe="unsloth", gpu="RTX-4090")
    explicit, _ = apply_recipe("unsloth", {"method": "qlora"})
    b = v.fit(MODEL, gpu="RTX-4090", **explicit)
    assert a.max_seq_len == b.max_seq_len > 0 and a.workload == b.workload
    text = one_line_exit_2(["plan", MODEL, "--method", "full", "--recipe", "torchtune"], capsys)
    assert "recipe does not apply to plan" in text


def test_api_refusals():
    with pytest.raises(VramscopeError, match="optimizer_in_bwd"):
        v.estimate(MODEL, method="full", recipe="torchtune", grad_accum=8)
    with pytest.raises(VramscopeError, match="give method"):
        v.estimate(MODEL, recipe="unsloth")
    with pytest.raises(VramscopeError, match="ZeRO-Offload"):
        v.estimate(MODEL, method="full", optimizer="paged-adamw", zero=3, offload="optimizer", gpus=4)
    # torchtune with the optimizer stepped normally runs gradient accumulation
    assert v.estimate(MODEL, method="full", recipe="torchtune", grad_accum=8, optimizer_in_backward=False).fits is None


# --- the README's table is the presets' data ------------------------------------------------------------

README_COLS = ("attn", "loss", "grad_ckpt", "optimizer", "optimizer_impl", "precision", "padding", "lora_rank", "lora_dropout",
        "lora_dtype", "lora_targets")


def cell(d, k):
    x = d.get(k)
    if x is None and k == "lora_targets" and d.get("lora_rank") is not None:
        return "PEFT's"
    return "—" if x is None else (str(x.value).lower() if isinstance(x.value, bool) else str(x.value)).replace(",", ", ")


def readme_table() -> str:
    head = "| recipe | " + " | ".join(f"`{c}`" for c in README_COLS) + " | differs for QLoRA / full / several GPUs |"
    out = [head, "|" + "---|" * (len(README_COLS) + 2)]
    for name in RECIPE_NAMES:
        r = RECIPES[name]
        lora = r.defaults(Run("lora", batch=2))
        diffs = []
        for label, run in (("qlora", Run("qlora", batch=2)), ("full", Run("full", batch=2)),
                           ("lora on 2+ GPUs", Run("lora", multi=True, batch=2)),
                           ("full on 2+ GPUs", Run("full", multi=True, batch=2))):
            other = r.defaults(run)
            base = lora if not label.startswith("full on") else r.defaults(Run("full", batch=2))
            ch = [f"`{k}` {cell(other, k)}" for k in other if k not in README_COLS[7:] and cell(other, k) != cell(base, k)]
            if label == "qlora":
                ch = [f"`{k}` {cell(other, k)}" for k in other
                      if cell(other, k) != cell(lora, k) or k in ("quant", "double_quant", "kbit_prepare")]
            if ch:
                diffs.append(f"{label}: " + ", ".join(ch))
        out.append(f"| `{name}` | " + " | ".join(cell(lora, c) for c in README_COLS) + " | " + "; ".join(diffs) + " |")
    return "\n".join(out)



def test_readme_table_is_the_presets():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert readme_table() in readme


# --- the web page's training tab ------------------------------------------------------------------------
def test_web_recipe_fills_inputs_left_at_their_default():
    from vramscope.web.parse import training_kwargs
    from vramscope.web.state import DEFAULTS

    values = {**DEFAULTS, "t_method": "qlora", "t_recipe": "unsloth", "t_rank": "64"}
    kw = training_kwargs(values)
    assert kw["recipe"] == "unsloth" and kw["lora_rank"] == 64  # changed on the page: wins
    assert "precision" not in kw and "grad_ckpt" not in kw and "attn" not in kw  # left at the default: the recipe's
    est = v.estimate(MODEL, **kw)
    assert (est.workload["grad_ckpt"], est.workload["attn"], est.workload["lora_rank"]) == ("offload", "flash", 64)
    assert "precision" in training_kwargs({**DEFAULTS, "t_method": "qlora"})  # no recipe: every input is given


def test_web_recipe_choice_in_both_languages():
    from vramscope.web.i18n import choice_label, t

    assert choice_label("t_recipe", "", "zh") == "无" and choice_label("t_recipe", "trl") == "TRL SFTTrainer"
    assert t("t_recipe", "zh") == "框架默认配置" and t("t_recipe.info") != "t_recipe.info"


def test_web_training_tab_lists_the_recipe_values():
    from vramscope.web.state import DEFAULTS
    from vramscope.web.tabs import training_tab

    html, _ = training_tab(v.load_model(MODEL), {**DEFAULTS, "t_method": "lora", "t_recipe": "torchtune"}, "en")
    assert "recipe torchtune: loss = chunked" in html
