"""Ground truth: run real workloads on a CUDA GPU and record the memory they take.

Each case of a suite (:mod:`vramscope.exact.suite`) runs in a fresh Python process — so no peak,
cache or allocator state leaks from one case to the next — built from the model's config with
random weights (no download). The child records ``torch.cuda.max_memory_allocated`` and
``max_memory_reserved`` over the measured steps, the allocated bytes once the model is loaded, and
the process's GPU memory as NVML sees it (``pynvml`` if installed, else ``nvidia-smi
--query-compute-apps``), which includes the CUDA context. The parent appends one JSON line per case
to the output file, with the GPU name, driver, library versions, the case and a timestamp.

Run it with the package (``vramscope measure --suite default --out validation/measurements/h100.jsonl``)
or as a plain script on a box with only torch/transformers/peft/accelerate
(``PYTHONPATH=src python -m vramscope.exact.measure --suite default --out …``): this module and
the suite need nothing else. ``--device cpu`` runs the same code on the CPU (CUDA figures are 0,
``"device": "cpu"``), and ``--dry-run`` swaps every model for a tiny config of the same
architecture, so the whole harness can be exercised without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# a problem with the request (unknown case, no CUDA): a VramscopeError, so the CLI shows it as one line
from ..errors import MeasureError

ROW_PREFIX = "VRAMSCOPE_ROW "
CATALOG = Path(__file__).resolve().parents[1] / "data" / "models"
SRC_DIR = Path(__file__).resolve().parents[2]
MiB = 1 << 20


# ------------------------------------------------------------------------------------------------
# configs


def catalog_config(model_id: str) -> dict:
    """The config.json of a catalog model, read from vramscope's data files (no pydantic needed)."""
    path = CATALOG / (model_id.replace("/", "__") + ".json")
    if not path.is_file():
        raise MeasureError(f"{model_id} is not in the catalog ({CATALOG})")
    return dict(json.loads(path.read_text())["config"])


def case_config(case: dict) -> dict:
    """The config a case runs: an inline ``config``, else the catalog's, with ``overrides`` applied."""
    config = dict(case["config"]) if "config" in case else catalog_config(case["model"])
    if "num_hidden_layers" not in config and isinstance(config.get("text_config"), dict):
        config = dict(config["text_config"])
    config.update(case.get("overrides") or {})
    n = int(config.get("num_hidden_layers") or 0)
    if isinstance(config.get("layer_types"), list):
        config["layer_types"] = config["layer_types"][:n]
    if isinstance(config.get("mlp_only_layers"), list):
        config["mlp_only_layers"] = [i for i in config["mlp_only_layers"] if i < n]
    return config


_TINY = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, head_dim=16, vocab_size=512,
             moe_intermediate_size=32, shared_expert_intermediate_size=64, num_experts=4, n_routed_experts=4,
             num_local_experts=4, num_experts_per_tok=2, kv_lora_rank=16, q_lora_rank=None, qk_nope_head_dim=16,
             qk_rope_head_dim=8, v_head_dim=16, sliding_window=16, max_position_embeddings=4096, n_group=1,
             topk_group=1, first_k_dense_replace=1)


def tiny_config(config: dict) -> dict:
    """The same architecture at toy size (2–3 layers, hidden 64), for dry runs on the CPU."""
    out = dict(config)
    for key, value in _TINY.items():
        if key in config or key in ("head_dim",):
            out[key] = value
    out["num_key_value_heads"] = min(2, int(config.get("num_key_value_heads") or 4))
    if config.get("num_key_value_heads") == config.get("num_attention_heads"):
        out["num_key_value_heads"] = 4
    types = config.get("layer_types")
    if isinstance(types, list) and types:
        kinds = list(dict.fromkeys(types))
        out["layer_types"] = (kinds + kinds)[:max(2, len(kinds))]
        out["num_hidden_layers"] = len(out["layer_types"])
    else:
        out["num_hidden_layers"] = 2
    if "mlp_only_layers" in config:
        out["mlp_only_layers"] = []
    for key, value in (("pad_token_id", 0), ("bos_token_id", 1), ("eos_token_id", 2)):
        if config.get(key) is not None:
            out[key] = value
    for key in ("rope_scaling",):
        if isinstance(config.get(key), dict) and config[key].get("original_max_position_embeddings"):
            out[key] = None
    return out


def dry_case(case: dict) -> dict:
    """A CPU-sized copy of ``case``: tiny config, short sequences, small batch, two steps."""
    small = dict(case, config=tiny_config(case_config(case)), dry_run=True)
    small.pop("overrides", None)
    for key, cap in (("batch", 2), ("prompt_len", 24), ("gen_len", 3), ("seq_len", 32), ("steps", 2)):
        if key in small:
            small[key] = min(small[key], cap)
    return small


# ------------------------------------------------------------------------------------------------
# probes: what the child reads about memory


class NullProbe:
    """No GPU: every CUDA figure is 0 (CPU and dry runs)."""

    device = "cpu"

    def reset(self) -> None:
        pass

    def allocated(self) -> int:
        return 0

    def read(self) -> dict[str, Any]:
        return {"max_memory_allocated": 0, "max_memory_reserved": 0, "nvml_process_used_bytes": None,
                "nvml_device_used_bytes": None, "nvml_source": None}

    def info(self) -> dict[str, Any]:
        return {"gpu_name": None, "driver": None, "cuda": None, "gpu_total_bytes": None}


class CudaProbe:
    """``torch.cuda`` peak counters plus the process's memory as NVML reports it."""

    device = "cuda"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def reset(self) -> None:
        self.torch.cuda.synchronize()
        self.torch.cuda.empty_cache()
        self.torch.cuda.reset_peak_memory_stats()

    def allocated(self) -> int:
        self.torch.cuda.synchronize()
        return int(self.torch.cuda.memory_allocated())

    def read(self) -> dict[str, Any]:
        c = self.torch.cuda
        c.synchronize()
        row = {"max_memory_allocated": int(c.max_memory_allocated()), "max_memory_reserved": int(c.max_memory_reserved())}
        row.update(nvml_usage(os.getpid(), c.current_device()))
        return row

    def info(self) -> dict[str, Any]:
        c = self.torch.cuda
        props = c.get_device_properties(c.current_device())
        return {"gpu_name": props.name, "driver": nvml_driver(), "cuda": self.torch.version.cuda,
                "gpu_total_bytes": int(props.total_memory)}


def nvml_usage(pid: int, index: int = 0) -> dict[str, Any]:
    """The GPU memory of process ``pid`` and of the whole device, via pynvml or nvidia-smi."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(_physical_index(index))
            procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            used = [p.usedGpuMemory for p in procs if p.pid == pid]
            if not used and len(procs) == 1:  # a PID namespace hides our pid: the only process is us
                used = [procs[0].usedGpuMemory]
            return {"nvml_process_used_bytes": int(used[0]) if used and used[0] is not None else None,
                    "nvml_device_used_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).used), "nvml_source": "pynvml"}
        finally:
            pynvml.nvmlShutdown()
    except ImportError:
        pass
    except Exception as exc:  # NVML present but failing: say so in the row
        return {"nvml_process_used_bytes": None, "nvml_device_used_bytes": None, "nvml_source": f"pynvml error: {exc}"}
    return _smi_usage(pid, index)


def _smi_usage(pid: int, index: int) -> dict[str, Any]:
    try:
        apps = _smi(["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])
        dev = _smi(["--query-gpu=memory.used", "--format=csv,noheader,nounits", f"--id={_physical_index(index)}"])
    except (OSError, subprocess.SubprocessError) as exc:
        return {"nvml_process_used_bytes": None, "nvml_device_used_bytes": None, "nvml_source": f"nvidia-smi: {exc}"}
    rows = parse_compute_apps(apps)
    used = rows.get(pid)
    if used is None and len(rows) == 1:
        used = next(iter(rows.values()))
    device = dev.strip().splitlines()[0].strip() if dev.strip() else ""
    return {"nvml_process_used_bytes": used, "nvml_device_used_bytes": int(float(device)) * MiB if device else None,
            "nvml_source": "nvidia-smi"}


def parse_compute_apps(text: str) -> dict[int, int]:
    """``nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`` → {pid: bytes}."""
    out = {}
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            try:
                out[int(parts[0])] = int(float(parts[1].split()[0])) * MiB
            except ValueError:
                continue
    return out


def _smi(args: list[str]) -> str:
    return subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=30, check=True).stdout


def _physical_index(index: int) -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = [v.strip() for v in visible.split(",") if v.strip()]
    if ids and index < len(ids) and ids[index].isdigit():
        return int(ids[index])
    return index


def nvml_driver() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            v = pynvml.nvmlSystemGetDriverVersion()
            return v.decode() if isinstance(v, bytes) else str(v)
        finally:
            pynvml.nvmlShutdown()
    except ImportError:
        pass
    except Exception:
        return None
    try:
        return _smi(["--query-gpu=driver_version", "--format=csv,noheader"]).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


# ------------------------------------------------------------------------------------------------
# the workloads (run in the child)


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for dist in ("torch", "transformers", "peft", "accelerate", "bitsandbytes"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _hf_config(config: dict):
    from transformers import AutoConfig

    kw = {k: v for k, v in config.items() if k not in ("model_type", "architectures", "torch_dtype", "dtype",
                                                      "transformers_version", "auto_map", "quantization_config")}
    return AutoConfig.for_model(config["model_type"], **kw)


def _build(config: dict, dtype, attn: str, device: str):
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(_hf_config(config), dtype=dtype, attn_implementation=attn)


def _build_qlora(config: dict, attn: str, device: str, tmpdir: str):
    """NF4 + double quantisation, bf16 compute: save random bf16 weights, reload them quantised."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = _build(config, torch.bfloat16, attn, device)
    model.save_pretrained(tmpdir)
    del model
    torch.cuda.empty_cache()
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                           bnb_4bit_compute_dtype=torch.bfloat16)
    return AutoModelForCausalLM.from_pretrained(tmpdir, quantization_config=q, dtype=torch.bfloat16,
                                                device_map={"": 0}, attn_implementation=attn)


def run_inference(case: dict, probe, device: str) -> dict[str, Any]:
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[case.get("dtype", "bf16")]
    model = _build(case_config(case), dtype, case.get("attn", "sdpa"), device)
    model.eval()
    probe.reset()
    weights = probe.allocated()
    ids = torch.randint(0, model.config.vocab_size, (case["batch"], case["prompt_len"]), device=device)
    n = case["gen_len"] + 1  # gen_len decode forwards after the prefill
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                             do_sample=False, pad_token_id=0)
    row = {"weights_allocated": weights, "generated_tokens": int(out.shape[1] - ids.shape[1])}
    row.update(probe.read())
    return row


def run_training(case: dict, probe, device: str) -> dict[str, Any]:
    import tempfile

    import torch

    method, precision = case.get("method", "full"), case.get("precision", "bf16")
    attn = case.get("attn", "sdpa")
    config = case_config(case)
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        if method == "qlora":
            model = _build_qlora(config, attn, device, tmp)
        else:
            dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
            model = _build(config, dtype, attn, device)
    ckpt_kwargs = {"use_reentrant": False}
    if method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=bool(case.get("grad_ckpt")),
                                                gradient_checkpointing_kwargs=ckpt_kwargs)
        notes.append("peft.prepare_model_for_kbit_training (non-quantised weights upcast to fp32)")
    elif case.get("grad_ckpt"):
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(ckpt_kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=ckpt_kwargs)
    if method in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model

        targets = case.get("lora_targets", ["q_proj", "v_proj"])
        model = get_peft_model(model, LoraConfig(r=case.get("lora_rank", 16), target_modules=targets))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(params, case.get("optimizer", "adamw"), case.get("optimizer_impl", "fused"))
    probe.reset()
    weights = probe.allocated()
    ids = torch.randint(0, model.config.vocab_size, (case["batch"], case["seq_len"]), device=device)
    first = 0
    for step in range(max(2, int(case.get("steps", 3)))):
        if step == 1:
            first = probe.read()["max_memory_allocated"]
            probe.reset()  # the steady state: optimizer state exists from here on
        if precision == "mixed":
            with torch.autocast(device, dtype=torch.bfloat16):
                out = model(input_ids=ids, labels=ids)
        else:
            out = model(input_ids=ids, labels=ids)
        loss = out.loss
        del out
        loss.backward()
        del loss
        opt.step()
        opt.zero_grad(set_to_none=True)
    row = {"weights_allocated": weights, "first_step_max_memory_allocated": first,
           "trainable_params": sum(p.numel() for p in params), "notes": notes}
    row.update(probe.read())
    return row


def _optimizer(params: list, name: str, impl: str):
    import torch

    kw = {"fused": {"fused": True}, "foreach": {"foreach": True}, "forloop": {"foreach": False}}[impl]
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-5, **kw)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-5, **kw)
    return torch.optim.SGD(params, lr=1e-4, momentum=0.9 if name == "sgd_momentum" else 0.0, **kw)


def run_case(case: dict, device: str = "cuda", probe=None) -> dict[str, Any]:
    """Run one case in this process and return its row (``status`` ok | skipped | oom | error)."""
    import torch
    import transformers

    probe = probe or (CudaProbe() if device == "cuda" else NullProbe())
    row: dict[str, Any] = {"case": case["name"], "model": case.get("model"), "kind": case["kind"], "device": device,
                           "dry_run": bool(case.get("dry_run")), "params": case,
                           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    row.update(probe.info())
    row["versions"] = _versions()
    row["versions"]["python"] = sys.version.split()[0]
    t0 = time.perf_counter()
    transformers.logging.set_verbosity_error()
    try:
        if case["kind"] == "train" and case.get("method") == "qlora":
            reason = _qlora_unavailable(device)
            if reason:
                row.update(status="skipped", reason=reason)
                return row
        fn = run_training if case["kind"] == "train" else run_inference
        row.update(fn(case, probe, device))
        row["status"] = "ok"
    except torch.cuda.OutOfMemoryError as exc:
        row.update(probe.read())
        row.update(status="oom", reason=str(exc).splitlines()[0][:300])
    except Exception as exc:  # recorded, so one broken case does not stop the suite
        row.update(status="error", reason=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _qlora_unavailable(device: str) -> str | None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return "bitsandbytes is not installed (pip install bitsandbytes)"
    if device != "cuda":
        return "QLoRA (bitsandbytes 4-bit) needs CUDA"
    return None


# ------------------------------------------------------------------------------------------------
# the parent: one subprocess per case


def select(suite: str, names: list[str] | None = None) -> list[dict]:
    from .suite import get_suite

    try:
        cases = get_suite(suite)
    except KeyError as exc:
        raise MeasureError(str(exc.args[0])) from None
    if names:
        by_name = {c["name"]: c for c in cases}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise MeasureError(f"no case {', '.join(missing)} in suite {suite!r} (see --list)")
        cases = [by_name[n] for n in names]
    return cases


def default_out(device: str) -> Path:
    """``validation/measurements/<gpu>.jsonl`` (``cpu.jsonl`` off the GPU)."""
    name = "cpu"
    if device == "cuda":
        import torch

        name = torch.cuda.get_device_name(0).lower().replace("nvidia ", "")
        name = "-".join("".join(ch if ch.isalnum() else " " for ch in name).split()) or "gpu"
    return Path("validation") / "measurements" / f"{name}.jsonl"


def check_device(device: str) -> None:
    """Raise MeasureError unless ``device`` can run: CUDA needs torch with a visible GPU."""
    if device not in ("cuda", "cpu"):
        raise MeasureError(f"--device must be cuda or cpu, not {device!r}")
    try:
        import torch
    except ImportError:
        raise MeasureError("measure needs torch, transformers and peft: pip install 'vramscope[exact]'") from None
    if device == "cuda" and not torch.cuda.is_available():
        raise MeasureError("no CUDA GPU here: measure runs on a CUDA GPU (use --device cpu --dry-run to exercise "
                           "the harness, or --list)")


def run_in_subprocess(case: dict, device: str, timeout: float = 3600) -> dict[str, Any]:
    """Run ``case`` in a fresh interpreter; a crash or timeout becomes an ``error`` row."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC_DIR), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    cmd = [sys.executable, "-m", "vramscope.exact.measure", "--child", json.dumps(case), "--device", device]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return _failed(case, device, f"timed out after {timeout:.0f} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(ROW_PREFIX):
            return json.loads(line[len(ROW_PREFIX):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return _failed(case, device, f"child exited {proc.returncode}: {' | '.join(tail)[:500]}")


def _failed(case: dict, device: str, reason: str) -> dict[str, Any]:
    return {"case": case["name"], "model": case.get("model"), "kind": case["kind"], "device": device,
            "dry_run": bool(case.get("dry_run")), "params": case, "status": "error", "reason": reason,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def run_suite(cases: list[dict], out: Path, device: str = "cuda", dry_run: bool = False, progress=None,
              timeout: float = 3600) -> list[dict]:
    """Run ``cases`` one subprocess each, appending a JSON line per case to ``out``; return the rows."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, case in enumerate(cases):
        case = dry_case(case) if dry_run else case
        if progress:
            progress(i, len(cases), case["name"])
        row = run_in_subprocess(case, device, timeout)
        with out.open("a") as fh:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
        rows.append(row)
    return rows


def format_row(row: dict) -> str:
    """One line: case, status and the peak in GiB."""
    gib = 1 << 30
    if row.get("status") != "ok":
        return f"{row['case']:<52} {row.get('status')}: {row.get('reason', '')}"
    if row.get("device") == "cpu":
        return f"{row['case']:<52} ok on the CPU{' (dry run)' if row.get('dry_run') else ''}: no CUDA figures  {row.get('seconds', 0):.0f} s"
    nv = row.get("nvml_process_used_bytes")
    return (f"{row['case']:<52} allocated {row['max_memory_allocated'] / gib:7.2f} GiB  reserved "
            f"{row['max_memory_reserved'] / gib:7.2f} GiB  nvml {nv / gib if nv else 0:7.2f} GiB  {row.get('seconds', 0):.0f} s")


def list_lines(cases: list[dict]) -> list[str]:
    keys = ("batch", "prompt_len", "gen_len", "seq_len", "method", "precision", "attn", "grad_ckpt", "lora_rank")
    return [f"{c['name']:<52} {c['model']:<34} " + " ".join(f"{k}={c[k]}" for k in keys if k in c) for c in cases]


def main(argv: list[str] | None = None) -> int:
    """``python -m vramscope.exact.measure``: the same options as ``vramscope measure``."""
    ap = argparse.ArgumentParser(prog="python -m vramscope.exact.measure", description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="default")
    ap.add_argument("--case", action="append", dest="cases", help="run only this case (repeatable)")
    ap.add_argument("--out", type=Path, help="JSONL file to append to (default validation/measurements/<gpu>.jsonl)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--dry-run", action="store_true", help="tiny configs of the same architectures (CPU-sized)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per case")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        row = run_case(json.loads(args.child), args.device)
        sys.stdout.write(ROW_PREFIX + json.dumps(row) + "\n")
        return 0
    try:
        cases = select(args.suite, args.cases)
        if args.list:
            print("\n".join(list_lines(cases)))
            return 0
        check_device(args.device)
        out = args.out or default_out(args.device)
        rows = run_suite(cases, out, args.device, args.dry_run, timeout=args.timeout,
                         progress=lambda i, n, name: print(f"[{i + 1}/{n}] {name}", file=sys.stderr, flush=True))
    except MeasureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        print(format_row(row))
    print(f"{len(rows)} rows appended to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
