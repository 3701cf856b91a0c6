"""Training solvers (``vramscope.solve_training``, ``vramscope fit --method``): every answer is a boundary.

The round trip is checked against the public estimate: the run fits at the answer and does not fit
one step above, on dense, MoE, MLA and sliding-window models, for full, LoRA and QLoRA, with and
without ZeRO-3.
"""

from __future__ import annotations

import pytest

import vramscope
from conftest import run_cli
from vramscope.api import fit, fit_table
from vramscope.errors import VramscopeError

DENSE, MOE, MLA, SLIDING = "meta-llama/Llama-3.2-1B", "allenai/OLMoE-1B-7B-0924", "deepseek-ai/DeepSeek-V2-Lite", \
    "google/gemma-2-2b"

CASES = [
    (DENSE, "24GiB", dict(method="full", grad_ckpt="full")),
    (DENSE, "24GiB", dict(method="lora", attn="eager")),
    (DENSE, "12GiB", dict(method="qlora", grad_ckpt="full", attn="flash")),
    (DENSE, "16GiB", dict(method="full", grad_ckpt="full", zero=3, gpus=2)),
    (MOE, "48GiB", dict(method="lora", grad_ckpt="full")),
    (MOE, "24GiB", dict(method="qlora", grad_ckpt="full", zero=3, gpus=4)),
    (MLA, "48GiB", dict(method="qlora", grad_ckpt="full")),
    (MLA, "80GiB", dict(method="full", grad_ckpt="full", zero=3, gpus=8)),
    (SLIDING, "24GiB", dict(method="lora", grad_ckpt="full")),
    (SLIDING, "24GiB", dict(method="full", grad_ckpt="full", zero=3, gpus=2)),
]


def _fits(model, memory, **kw) -> bool:
    return bool(vramscope.estimate(model, gpu_memory=memory, **kw).fits)


@pytest.mark.parametrize("model,memory,kw", CASES, ids=[f"{m.split('/')[1]}-{k['method']}-{k.get('zero', 0)}"
                                                         for m, _, k in CASES])
def test_seq_len_and_micro_batch_are_boundaries(model, memory, kw):
    r = fit(model, gpu_memory=memory, **kw)
    assert r.max_seq_len > 0 and r.max_micro_batch > 0
    assert _fits(model, memory, **kw, seq_len=r.max_seq_len)
    assert not _fits(model, memory, **kw, seq_len=r.max_seq_len + 1)
    assert _fits(model, memory, **kw, batch=r.max_micro_batch)
    assert not _fits(model, memory, **kw, batch=r.max_micro_batch + 1)


def test_seq_step_and_context_parallel_set_the_unit():
    """--seq-step 128 with cp 2: answers in multiples of 128 (lcm(128, 2)); one unit more does not fit."""
    kw = dict(method="full", grad_ckpt="full", cp=2, gpus=2)
    r = fit(DENSE, gpu_memory="24GiB", seq_step=128, **kw)
    assert r.seq_step == 128 and r.max_seq_len % 128 == 0
    assert _fits(DENSE, "24GiB", **kw, seq_len=r.max_seq_len)
    assert not _fits(DENSE, "24GiB", **kw, seq_len=r.max_seq_len + 128)
    assert fit(DENSE, gpu_memory="24GiB", seq_step=3, **kw).seq_step == 6


def test_global_batch_takes_the_largest_micro_batch_that_divides_it():
    """32 sequences on one GPU whose largest micro-batch is m: the largest divisor of 32 not above m,
    and 32 / it accumulation steps."""
    kw = dict(method="lora", grad_ckpt="full", seq_len=4096)
    r = fit(DENSE, gpu_memory="24GiB", global_batch=32, **kw)
    micro = max(d for d in (1, 2, 4, 8, 16, 32) if d <= r.max_micro_batch)
    assert (r.micro_batch, r.grad_accum) == (micro, 32 // micro)
    two = fit(DENSE, gpu_memory="24GiB", global_batch=32, gpus=2, **kw)  # 16 per data-parallel GPU
    assert two.micro_batch * two.grad_accum * 2 == 32


@pytest.mark.parametrize("kw,words", [
    (dict(global_batch=30, batch=4), "does not divide"),
    (dict(global_batch=3, gpus=2), "does not split over 2"),
    (dict(global_batch=0), ">= 1"),
])
def test_global_batch_refusals(kw, words):
    with pytest.raises(VramscopeError, match=words):
        fit(DENSE, gpu_memory="24GiB", method="lora", **kw)


def test_grpo_longest_completion_is_a_boundary():
    kw = dict(rl="grpo", method="lora", prompt_len=256)
    r = fit("Qwen/Qwen2.5-0.5B", gpu_memory="16GiB", **kw)
    assert r.max_completion_len and r.max_seq_len == 0
    assert _fits("Qwen/Qwen2.5-0.5B", "16GiB", **kw, completion_len=r.max_completion_len)
    assert not _fits("Qwen/Qwen2.5-0.5B", "16GiB", **kw, completion_len=r.max_completion_len + 1)


def test_table_is_the_fit_at_each_size():
    kw = dict(method="qlora", grad_ckpt="full", attn="flash")
    rows = fit_table(DENSE, ["12GiB", "24GiB", "80GB"], **kw)
    assert [r["memory_bytes"] for r in rows] == [12 << 30, 24 << 30, 80 * 10**9]
    for r in rows:
        assert r["max_seq_len"] == fit(DENSE, gpu_memory=r["memory"], **kw).max_seq_len
    assert rows[0]["max_seq_len"] < rows[1]["max_seq_len"] < rows[2]["max_seq_len"]


def test_paged_optimizer_runs_are_bounded_by_the_torch_figure():
    """Paged states fill whatever room is left (the per-GPU figure saturates at the GPU): the boundary is
    where the rest stops fitting."""
    kw = dict(method="full", optimizer="paged-adamw-8bit", grad_ckpt="full", optimizer_in_backward=True)
    r = fit(DENSE, gpu_memory="8GiB", **kw)
    assert _fits(DENSE, "8GiB", **kw, seq_len=r.max_seq_len)
    assert not _fits(DENSE, "8GiB", **kw, seq_len=r.max_seq_len + 1)


def test_nothing_fits_names_the_need_and_the_smallest_setup():
    with pytest.raises(VramscopeError) as e:
        fit("meta-llama/Llama-3.1-8B", gpu="RTX-4090-24GB", method="full")
    msg = str(e.value)
    assert msg.startswith("nothing fits on RTX-4090-24GB: the model states alone need")
    assert "the smallest setup that would: --method qlora" in msg
    assert vramscope.estimate("meta-llama/Llama-3.1-8B", gpu="RTX-4090-24GB", method="qlora", seq_len=1).fits


def test_cli_training_fit_and_table(capsys):
    code, out, err = run_cli(["fit", DENSE, "--method", "lora", "--gpu-memory", "24GiB", "--global-batch", "32",
                              "--seq-len", "4096"], capsys)
    assert code == 0, err
    got = fit(DENSE, gpu_memory="24GiB", method="lora", global_batch=32, seq_len=4096)
    assert f"longest --seq-len at micro-batch 1: {got.max_seq_len:,} tokens" in out
    assert f"micro-batch {got.micro_batch} × --grad-accum {got.grad_accum}" in out
    code, out, err = run_cli(["fit", DENSE, "--method", "qlora", "--table", "12GiB,24GiB"], capsys)
    assert code == 0 and f"{fit(DENSE, gpu_memory='12GiB', method='qlora').max_seq_len:,}" in out


@pytest.mark.parametrize("args,words", [
    (["--gpu-memory", "24GiB", "--global-batch", "8"], "--global-batch describes training"),
    (["--method", "lora", "--gpu-memory", "24GiB", "--seq-step", "0"], "sequence step"),
    (["--method", "lora", "--table", "12GiB", "--gpu", "RTX-4090"], "--table gives the GPU memory sizes"),
    (["--method", "full", "--gpu", "RTX-3060-12GB", "--seq-len", "8192"], "nothing fits"),
    (["--method", "lora", "--gpu-memory", "24GiB", "--engine", "vllm"], "inference option"),
])
def test_cli_bad_input_is_one_line_exit_2(args, words, capsys):
    model = "meta-llama/Llama-3.1-8B" if "RTX-3060-12GB" in args else DENSE
    code, out, err = run_cli(["fit", model, *args], capsys)
    assert code == 2, out + err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# --- plan --method: the setups that train the model ------------------------------------------------
def test_training_plan_rows_fit_and_are_the_fewest_gpus_and_least_change():
    """Each row fits its GPU; on that GPU no smaller count fits with any ladder step, and on its count
    no earlier step fits. Sorted by rent per hour (one basis), unknown rents last."""
    from vramscope import hardware
    from vramscope import solve_training as T
    from vramscope.workload import make_training

    kw = dict(method="full", seq_len=2048)
    rows = vramscope.plan("meta-llama/Llama-3.1-8B", **kw)
    assert rows and all(r["cost_basis"] == "rent" and "price_usd" not in r for r in rows)
    rents = [r["rent_usd_per_hour"] for r in rows]
    known = [x for x in rents if x is not None]
    assert known == sorted(known) and rents[:len(known)] == known
    tr = make_training(**kw)
    for r in rows[:6]:
        g = hardware.find_gpu(r["gpu"])
        assert vramscope.estimate("meta-llama/Llama-3.1-8B", gpu=g, **r["workload"]).fits
        for n in [c for c in T.PLAN_COUNTS if c < r["count"]]:
            base = tr.replace(gpus=n)
            for _, change in T.plan_ladder(base, n, optimizer_given=False):
                assert not vramscope.estimate("meta-llama/Llama-3.1-8B", gpu=g, **{**kw, **change, "gpus": n}).fits
        steps = T.plan_ladder(tr.replace(gpus=r["count"]), r["count"], optimizer_given=False)
        for _label, change in steps[:[s[0] for s in steps].index(r["changes"])]:
            assert not vramscope.estimate("meta-llama/Llama-3.1-8B", gpu=g, **{**kw, **change, "gpus": r["count"]}).fits


def test_training_plan_purchase_basis_and_kept_optimizer():
    rows = vramscope.plan("meta-llama/Llama-3.2-1B", method="full", optimizer="adamw", cost="purchase")
    assert rows[0]["cost_basis"] == "purchase" and "rent_usd_per_hour" not in rows[0]
    assert all("adamw-8bit" not in r["changes"] for r in rows)  # the user chose the optimizer
    with pytest.raises(VramscopeError, match="rent or purchase"):
        vramscope.plan("meta-llama/Llama-3.2-1B", method="full", cost="lease")


def test_cli_training_plan_prints_the_export_that_runs_it(capsys):
    code, out, err = run_cli(["plan", DENSE, "--method", "full", "--gpu", "RTX-4090-24GB"], capsys)
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("the cheapest runs with: "))
    export = line.removeprefix("the cheapest runs with: vramscope ").split()
    code, out, err = run_cli(export, capsys)
    assert code == 0, err
    assert '"train_micro_batch_size_per_gpu"' in out or "distributed_type" in out
    code, out, err = run_cli(["plan", DENSE, "--cost", "rent"], capsys)
    assert code == 2 and "--cost applies to a training plan" in err
