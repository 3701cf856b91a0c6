"""Trace one QLoRA training step of a cut-down Llama as the 2024 Hugging Face stack ran it (transformers
4.43.4, peft 0.12.0, bitsandbytes 0.43.3, accelerate 0.33.0), on fake tensors, counting live storages with
vramscope's StorageTracker (issue 20 item 6: the published HF + FA2 max-context rows).

Those versions are not the project's; install them beside it, never into the venv:

    .venv/bin/python -m pip install --no-deps --target /tmp/hf2024 transformers==4.43.4 tokenizers==0.19.1 \
        huggingface_hub==0.24.7 peft==0.12.0 accelerate==0.33.0 bitsandbytes==0.43.3
    PYTHONPATH=/tmp/hf2024 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/trace_qlora_2024.py --layers 2 --seq 2048 [--autocast] [--trl]

It prints the peaks above the weights (bytes); two layer counts and two lengths give the bytes per token
per layer and per token (measured 2026-12-07: 16,384 B/token per checkpointed layer for h = 4096 in
every mode; the backward peak 12·V + (L + 1)·4·h + ~1 kB per token; autocast adds the bf16 copy of the
fp32 lm_head weight, V·h·2, saved by the head's matmul). ``--no-ckpt --saved`` lists what layer 0 saves.

Stand-ins (only what cannot run on a CPU):
* bitsandbytes.functional.dequantize_4bit: the real one calls the CUDA kernel; the stand-in allocates what it
  allocates (0.43.3 functional.py: absmax dequantised to fp32 for double quant, out = empty(shape, dtype=quant_state.dtype),
  returned transposed when A is the transposed weight).
* FlashAttention-2: flash_attn 2.6.3's FlashAttnFunc: forward saves q, k, v, out, softmax_lse (b, h, s) fp32, rng_state;
  backward allocates dq, dk, dv (empty_like), softmax_d (b, h, s_rounded) fp32, dq_accum (b, s_rounded, h, d) fp32 and,
  for GQA, dk/dv expanded to all query heads (flash_api.cpp mha_bwd).
"""
import argparse  # noqa: E402
import contextlib  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src"))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--layers", type=int, default=2)
p.add_argument("--seq", type=int, default=2048)
p.add_argument("--hidden", type=int, default=4096)
p.add_argument("--inter", type=int, default=14336)
p.add_argument("--heads", type=int, default=32)
p.add_argument("--kv", type=int, default=8)
p.add_argument("--vocab", type=int, default=128256)
p.add_argument("--rank", type=int, default=32)
p.add_argument("--autocast", action="store_true")
p.add_argument("--trl", action="store_true", help="TRL SFTTrainer bf16: peft_module_casting_to_bf16 after get_peft_model")
p.add_argument("--no-prepare", action="store_true")
p.add_argument("--timeline", action="store_true")
p.add_argument("--no-ckpt", action="store_true")
p.add_argument("--saved", action="store_true")
args = p.parse_args()

import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.functional as BF  # noqa: E402
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402
from transformers.models.llama import modeling_llama as ML  # noqa: E402

from vramscope.exact.tracker import StorageTracker  # noqa: E402

# --- autocast queries as on CUDA (peft/bnb/transformers ask torch.is_autocast_enabled() with no device: CUDA's) ---
_orig_enabled = torch.is_autocast_enabled
torch.is_autocast_enabled = lambda *a: _orig_enabled(*a) if a else _orig_enabled("cpu")
torch.get_autocast_gpu_dtype = lambda: torch.get_autocast_dtype("cpu")

# --- bitsandbytes 0.43.3 dequantize_4bit: allocations only ---
def dequantize_4bit(A, quant_state=None, absmax=None, out=None, blocksize=64, quant_type="fp4"):
    if quant_state.nested:
        absmax = torch.empty(quant_state.absmax.shape, dtype=torch.float32, device=A.device)  # dequantize_blockwise
        del absmax  # freed when the kernel is done
    if out is None:
        out = torch.empty(quant_state.shape, dtype=quant_state.dtype, device=A.device)
    return out.t() if A.shape[0] == 1 else out
BF.dequantize_4bit = dequantize_4bit

# --- flash_attn 2.6.3 FlashAttnFunc: allocations only ---
class FlashAttnStandIn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v):
        q, k, v = [x if x.stride(-1) == 1 else x.contiguous() for x in (q, k, v)]
        b, s, h, d = q.shape
        out = torch.empty_like(q)
        lse = torch.empty((b, h, s), dtype=torch.float32, device=q.device)
        rng = torch.empty((2,), dtype=torch.int64, device=q.device)
        ctx.save_for_backward(q, k, v, out, lse, rng)
        return out
    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse, rng = ctx.saved_tensors
        b, s, h, d = q.shape
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        sr = -(-s // 128) * 128
        softmax_d = torch.empty((b, h, sr), dtype=torch.float32, device=q.device)
        dq_accum = torch.empty((b, sr, h, d), dtype=torch.float32, device=q.device)
        if k.shape[2] != h:
            dk_e = torch.empty((b, s, h, d), dtype=q.dtype, device=q.device)
            dv_e = torch.empty((b, s, h, d), dtype=q.dtype, device=q.device)
            del dk_e, dv_e
        del softmax_d, dq_accum
        return dq, dk, dv

def flash_forward(query_states, key_states, value_states, attention_mask, query_length, **kw):
    assert attention_mask is None
    return FlashAttnStandIn.apply(query_states, key_states, value_states)
ML._flash_attention_forward = flash_forward

conf = LlamaConfig(hidden_size=args.hidden, intermediate_size=args.inter, num_attention_heads=args.heads,
                   num_key_value_heads=args.kv, vocab_size=args.vocab, num_hidden_layers=args.layers,
                   max_position_embeddings=131072, tie_word_embeddings=False, rope_theta=500000.0,
                   torch_dtype=torch.bfloat16)
conf._attn_implementation = "eager"
with torch.device("meta"):
    model = LlamaForCausalLM(conf).to(torch.bfloat16)
conf._attn_implementation = "flash_attention_2"
for layer in model.model.layers:
    layer.self_attn.__class__ = ML.LlamaFlashAttention2
    layer.self_attn._flash_attn_uses_top_left_mask = False
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# transformers' bnb quantizer replaces every nn.Linear but lm_head with bnb.nn.Linear4bit (compute dtype bf16, nf4 +
# double quant); built on meta here, their weights materialised below as uint8 (numel/2, 1) + a QuantState
for layer in model.model.layers:
    for parent in (layer.self_attn, layer.mlp):
        for n, lin in list(parent.named_children()):
            if isinstance(lin, nn.Linear):
                out_f, in_f = lin.weight.shape
                setattr(parent, n, bnb.nn.Linear4bit(in_f, out_f, bias=False, compute_dtype=torch.bfloat16,
                                                     compress_statistics=True, quant_type="nf4", device="meta"))
# get_peft_model on meta (PEFT 0.12 creates fp32 adapters; on fake tensors its .to(device) cannot swap); the
# base model is then prepared as prepare_model_for_kbit_training would before get_peft_model (it leaves
# the adapters, already fp32, alone) and the adapters set trainable again, as get_peft_model leaves them
with torch.device("meta"):
    peft_model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
                                                  bias="none", task_type="CAUSAL_LM"))
fake = FakeTensorMode(allow_non_fake_inputs=True)
with fake:
    for mod in list(model.modules()):
        if isinstance(mod, bnb.nn.Linear4bit):
            out_f, in_f = mod.out_features, mod.in_features
            numel = out_f * in_f
            state2 = BF.QuantState(absmax=torch.empty(numel // 64 // 256, dtype=torch.float32),
                                   code=torch.empty(256, dtype=torch.float32), blocksize=256, dtype=torch.float32)
            qs = BF.QuantState(absmax=torch.empty(numel // 64, dtype=torch.uint8), shape=torch.Size([out_f, in_f]),
                               code=torch.empty(16, dtype=torch.float32), blocksize=64, quant_type="nf4",
                               dtype=torch.bfloat16, offset=torch.empty((), dtype=torch.float32), state2=state2)
            w = nn.Parameter(torch.empty((numel // 2, 1), dtype=torch.uint8), requires_grad=False)
            w.quant_state = qs
            w.compress_statistics, w.quant_type, w.blocksize, w.quant_storage = True, 'nf4', 64, torch.uint8
            mod._parameters["weight"] = w
            continue
        for pn, prm in list(mod._parameters.items()):
            if prm is None:
                continue
            mod._parameters[pn] = nn.Parameter(torch.empty(prm.shape, dtype=prm.dtype), requires_grad=True)
        for bn, buf in list(mod._buffers.items()):
            if buf is None:
                continue
            mod._buffers[bn] = torch.empty(buf.shape, dtype=buf.dtype)
    model.is_loaded_in_4bit = True
    model.config._pre_quantization_dtype = torch.bfloat16
    if not args.no_prepare:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True,
                                                gradient_checkpointing_kwargs={"use_reentrant": True})
    else:
        for prm in model.parameters():
            prm.requires_grad = False
        model.enable_input_require_grads()
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    if args.no_ckpt:
        model.gradient_checkpointing_disable()
    for n, prm in peft_model.named_parameters():
        prm.requires_grad = "lora_" in n
    model = peft_model
    if args.trl:
        for name, module in model.named_modules():  # trl 0.9.6 trainer/utils.py peft_module_casting_to_bf16
            if isinstance(module, torch.nn.LayerNorm) or "norm" in name:
                for prm in module.parameters(recurse=False):  # module.to(...) (cannot swap fake tensors)
                    prm.data = prm.data.to(torch.float32)
            elif (any(x in name for x in ["lm_head", "embed_tokens", "wte", "wpe"])
                  and hasattr(module, "weight") and module.weight.dtype == torch.float32):
                for prm in module.parameters():
                    prm.data = prm.data.to(torch.bfloat16)
    model.train()
    dts = {}
    for n, prm in model.named_parameters():
        key = ("lora" if "lora_" in n else "embed" if "embed" in n else "head" if "lm_head" in n else "norm" if "norm" in n else "base")
        dts.setdefault(key, set()).add((str(prm.dtype), prm.requires_grad))
    print("param dtypes:", {k: sorted(v) for k, v in dts.items()}, file=sys.stderr)
    params = [prm for prm in model.parameters() if prm.requires_grad]
    ids = torch.randint(0, args.vocab, (1, args.seq))
    tracker = StorageTracker()
    with tracker:
        tracker.track(list({id(x): x for x in model.parameters()}.values()), "parameters")
        for m in model.modules():
            if isinstance(m, bnb.nn.Linear4bit):
                qs = m.weight.quant_state
                tracker.track([qs.absmax, qs.code, qs.offset, qs.state2.absmax, qs.state2.code], "parameters")
        tracker.track(list(model.buffers()), "buffers")
        tracker.track([ids], "activations")
        base = tracker.total
        tracker.set_phase("forward", "activations")
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if args.autocast else contextlib.nullcontext()
        saved = []
        import torch.autograd.graph as AG
        seen = set()
        def pack(t):
            st = t.untyped_storage()
            key = id(st)
            if key not in seen and args.saved and getattr(tracker, "_in_layer", False):
                seen.add(key)
                saved.append((tuple(t.shape), str(t.dtype), st.nbytes(), CUR[-1] if CUR else ""))
            return t
        CUR = []
        for mn, mm in model.named_modules():
            mm.register_forward_pre_hook(lambda *a, mn=mn: CUR.append(mn))
            mm.register_forward_hook(lambda *a, mn=mn: (CUR.pop(), None)[1])
        lay = model.base_model.model.model.layers[0]
        lay.register_forward_pre_hook(lambda *a: setattr(tracker, "_in_layer", True))
        lay.register_forward_hook(lambda *a: setattr(tracker, "_in_layer", False))
        with ctx, AG.saved_tensors_hooks(pack, lambda t: t):
            out = model(input_ids=ids, labels=ids)
        for s_ in saved:
            print("saved", s_, s_[2] / args.seq)
        loss = out.loss
        fwd_end = tracker.total
        del out
        after = tracker.total
        tracker.set_phase("backward", "temporaries")
        loss.backward()
        del loss
    res = {k: (v[0] - base) for k, v in tracker.peaks.items()}
    fpk = max(v for (ph, _), v in res.items() if ph == "forward")
    bpk = max(v for (ph, _), v in res.items() if ph == "backward")
    print(f"L={args.layers} T={args.seq} fwd_peak={fpk} fwd_end={fwd_end-base} after_del={after-base} bwd_peak={bpk}")
