"""The GPU measurement harness, exercised on the CPU: the suite, the child rows, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.torch

REQUIRED = ("case", "model", "kind", "device", "params", "timestamp", "status", "gpu_name", "driver", "versions",
            "max_memory_allocated", "max_memory_reserved", "nvml_process_used_bytes", "weights_allocated", "seconds")


def _suite():
    from vramscope.exact.suite import get_suite

    return get_suite("default")


def test_default_suite_covers_every_required_kind():
    from vramscope.exact.measure import case_config

    cases = _suite()
    names = [c["name"] for c in cases]
    assert len(cases) >= 30 and len(set(names)) == len(names)
    inf = [c for c in cases if c["kind"] == "inference"]
    train = [c for c in cases if c["kind"] == "train"]
    assert {c["attn"] for c in inf} >= {"sdpa", "eager"}
    assert len({c["batch"] for c in inf}) >= 3 and len({c["prompt_len"] for c in inf}) >= 3
    assert {(c["method"], c["precision"]) for c in train} >= {("full", "bf16"), ("full", "mixed"), ("lora", "bf16"),
                                                             ("qlora", "bf16")}
    assert any(c["grad_ckpt"] for c in train) and any(c["attn"] == "eager" for c in train)
    configs = {c["name"]: case_config(c) for c in cases}  # every model is in the catalog
    moe = [n for n, cfg in configs.items() if any(k in cfg for k in ("num_experts", "num_local_experts", "n_routed_experts"))]
    sliding = [n for n, cfg in configs.items() if cfg.get("sliding_window") and (
        cfg.get("use_sliding_window", True) is not False)]
    assert any(n.startswith("inf") for n in moe) and any(n.startswith("train") for n in moe)
    assert any(n.startswith("inf") for n in sliding) and any(n.startswith("train") for n in sliding)


def test_every_case_fits_an_80_gb_gpu_by_its_weights():
    from vramscope.exact.measure import case_config
    from vramscope.families import spec_from_config

    for case in _suite():
        cfg = case_config(case)
        params = spec_from_config({**cfg, "torch_dtype": "bfloat16"}, model_id=case["name"]).params_total
        per_param = {"full": {"bf16": 8, "mixed": 16, "fp32": 16}.get(case.get("precision"), 8), "lora": 2,
                     "qlora": 0.6}.get(case.get("method"), 2)
        assert params * per_param < 75e9, case["name"]


def test_overrides_cut_layers_and_their_lists():
    from vramscope.exact.measure import case_config

    cfg = case_config({"name": "x", "model": "google/gemma-3-1b-it", "kind": "inference",
                       "overrides": {"num_hidden_layers": 3}})
    assert cfg["num_hidden_layers"] == 3 and len(cfg.get("layer_types") or [1, 2, 3]) == 3


def test_parse_nvidia_smi_compute_apps():
    from vramscope.exact.measure import parse_compute_apps

    text = "1234, 40960\n 99, 512 MiB\nbogus\n"
    assert parse_compute_apps(text) == {1234: 40960 << 20, 99: 512 << 20}


def test_run_case_in_process_with_an_injected_probe():
    pytest.importorskip("transformers")
    from vramscope.exact.measure import dry_case, run_case

    class Probe:
        device = "cpu"
        resets = 0

        def reset(self):
            Probe.resets += 1

        def allocated(self):
            return 123

        def read(self):
            return {"max_memory_allocated": 456, "max_memory_reserved": 789, "nvml_process_used_bytes": 1000,
                    "nvml_device_used_bytes": 2000, "nvml_source": "test"}

        def info(self):
            return {"gpu_name": "Test GPU", "driver": "0", "cuda": None, "gpu_total_bytes": 0}

    case = dry_case(next(c for c in _suite() if c["name"] == "train-llama3.2-1b-full-bf16-b4-s2048"))
    row = run_case(case, "cpu", Probe())
    assert row["status"] == "ok", row.get("reason")
    assert row["max_memory_allocated"] == 456 and row["weights_allocated"] == 123 and row["gpu_name"] == "Test GPU"
    assert row["first_step_max_memory_allocated"] == 456 and Probe.resets == 2  # steady state measured from step 2
    qlora = dry_case(next(c for c in _suite() if c.get("method") == "qlora"))
    skipped = run_case(qlora, "cpu", Probe())
    assert skipped["status"] == "skipped" and ("bitsandbytes" in skipped["reason"] or "CUDA" in skipped["reason"])


@pytest.mark.slow  # runs the harness on the CPU in subprocesses (about 15 s)
def test_cpu_dry_run_writes_well_formed_rows(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from vramscope.exact.measure import run_suite, select

    out = tmp_path / "m" / "cpu.jsonl"
    cases = select("default", ["inf-qwen1.5-moe-b4-p2048", "train-llama3.2-1b-lora16-qkvo-eager-b4-s2048"])
    rows = run_suite(cases, out, device="cpu", dry_run=True)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == json.loads(json.dumps(rows)) and len(lines) == 2
    for row in lines:
        assert row["status"] == "ok", row.get("reason")
        for key in REQUIRED:
            assert key in row, key
        assert row["device"] == "cpu" and row["dry_run"] is True and row["max_memory_allocated"] == 0
        assert row["versions"]["torch"] and row["versions"]["transformers"] and row["versions"]["peft"]
        assert row["params"]["name"] == row["case"] and row["timestamp"].endswith("Z")
    assert lines[0]["generated_tokens"] == lines[0]["params"]["gen_len"] + 1
    assert lines[1]["trainable_params"] > 0
    assert not (Path(__file__).resolve().parents[1] / "validation" / "measurements" / "cpu.jsonl").exists()


def test_measure_cli_without_cuda_is_one_line_exit_2(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, out, err = run_cli(["measure", "--suite", "default"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "CUDA" in err
    code, out, err = run_cli(["measure", "--list"], capsys)
    assert code == 0 and len(out.strip().splitlines()) >= 30
    code, out, err = run_cli(["measure", "--case", "nope"], capsys)
    assert code == 2 and "nope" in err


def test_measure_runs_as_a_plain_module():
    src = Path(__file__).resolve().parents[1] / "src"
    proc = subprocess.run([sys.executable, "-m", "vramscope.exact.measure", "--suite", "smoke", "--list"],
                          capture_output=True, text=True, cwd=src)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 5
