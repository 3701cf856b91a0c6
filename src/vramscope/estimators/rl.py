"""RL and preference training on top of the training estimate (formulas.md §9).

* **GRPO** (TRL ``GRPOTrainer``): ``batch`` counts completions; the policy trains on prompt +
  completion tokens; log-probabilities need logits for the completion tokens only
  (``logits_to_keep = C + 1``), divided by the temperature (a second copy) and log-softmaxed row by
  row (``selective_log_softmax``). A reference model is loaded only when ``beta > 0`` (TRL's
  default is 0.0) and the policy is not PEFT (PEFT disables the adapters instead). Generation runs
  either in HF ``generate`` (its KV cache for the generation batch lives in a separate phase) or in
  a colocated vLLM that reserves ``vllm_gpu_memory_utilization`` × the GPU's total memory for the
  whole run (TRL default 0.3), or a vLLM server on other GPUs.
* **DPO** (TRL ``DPOTrainer``): chosen and rejected are concatenated into one batch of 2·B
  sequences; the reference model is a frozen copy unless PEFT or ``precompute_ref_log_probs``.
* **PPO**: actor and critic both train (the critic's weights, gradients and optimizer states
  are the actor's size), a frozen reference and reward model sit beside them (colocated, as
  OpenRLHF's ``--colocate_all_models``); actor and critic run their backward one after the other.
"""

from __future__ import annotations

from dataclasses import replace

from .. import spec as S
from ..units import GiB
from ..workload import Training
from .engines.hf import KV_POLICY as HF_KV
from .kv import kv_bytes_per_sequence, kv_groups, sequence_kv_formula
from .result import ACTIVATIONS, ENGINE, KV, WEIGHTS, Component, Estimate, Fit, Phase, SeedRule
from .sharding import state_sharding
from .training import Step, estimate_step

RL = "rl"


def _frozen_copy(spec: S.ModelSpec, tr: Training, label: str) -> Component:
    """A frozen bf16 copy of the model (reference / reward): split by TP and PP, and sharded like the
    policy's parameters (ZeRO-3 / FSDP FULL over the data-parallel GPUs, HYBRID within a node)."""
    shard = state_sharding(tr).params_degree
    n = spec.params_total
    split = "".join(f" / {name} {k}" for name, k in (("TP", tr.tp), ("PP", tr.pp)) if k > 1)
    return Component(label, int(2 * n / tr.tp / tr.pp / shard),
                     f"2 B × {n:,} params (frozen bf16 copy){split}" + (f" / {shard} (sharded)" if shard > 1 else ""),
                     WEIGHTS, key=label.replace(" ", "_"))


def estimate_rl(spec: S.ModelSpec, tr: Training, gpu=None) -> Estimate:
    """Peak GPU memory of one RL / preference step (``tr.rl``: grpo, dpo, ppo) on the busiest GPU."""
    from ..invariants import checked

    return checked(_estimate_rl(spec, tr, gpu))


def _estimate_rl(spec: S.ModelSpec, tr: Training, gpu) -> Estimate:
    V, e = spec.vocab_size, 2.0
    peft = tr.peft
    extra: list[Component] = []
    notes: list[str] = []
    if tr.rl == "grpo" and tr.grad_ckpt == "full":
        notes.append("gradient checkpointing on (TRL GRPOConfig's default gradient_checkpointing=True; "
                     "pass grad_ckpt='none' to compare)")
    if tr.rl == "grpo":
        P, C, b = tr.prompt_len, tr.completion_len, tr.batch
        beta = 0.0 if tr.beta is None else tr.beta
        logits = b * (C + 1) * V * e + b * C * V * e + C * V * 4 * 2
        extra.append(Component("completion logits + log-probs", int(logits / tr.tp),
                               "b·(C+1)·V·2 (logits) + b·C·V·2 (÷ temperature) + C·V·8 (one row's fp32 log-softmax and grad)",
                               ACTIVATIONS, int(logits * 0.8 / tr.tp), int(logits * 1.3 / tr.tp), key="completion_logits"))
        if beta > 0 and not peft:
            extra.append(_frozen_copy(spec, tr, "reference model"))
            notes.append(f"GRPO beta = {beta:g} > 0: a frozen reference model is loaded")
        else:
            notes.append("GRPO beta = 0 (TRL's default): no reference model" if beta == 0 else
                         "PEFT policy: the reference is the base with adapters disabled (no extra weights)")
        if tr.use_vllm and tr.vllm_mode == "colocate":
            total = gpu.memory_bytes if gpu is not None else 80 * GiB
            share = tr.vllm_gpu_memory_utilization * total
            extra.append(Component("colocated vLLM", int(share),
                                   f"vllm_gpu_memory_utilization {tr.vllm_gpu_memory_utilization:g} × total GPU memory "
                                   f"({total / GiB:.1f} GiB): its own weights, KV cache and graphs", ENGINE, key="colocated_vllm"))
            if gpu is None:
                notes.append("colocated vLLM share computed for an 80 GiB GPU; pass a GPU for its own size")
        elif tr.use_vllm:
            notes.append("vLLM server mode: generation runs on other GPUs, not counted here")
        est = estimate_step(spec, tr.replace(loss="fused"), gpu, Step(P + C, b, mode="rl-grpo"),
                            extra=extra, assumptions=notes)
        if not tr.use_vllm:
            gen = _generation_phase(spec, tr, est)
            est = replace(est, training=replace(est.training, phases=est.training.phases + (Phase("generation", gen),)))
            notes_g = ("HF generate: KV cache of the generation batch "
                       f"({tr.batch * tr.grad_accum} completions × {P + C} tokens) in its own phase")
            est = _with(est, assumption=notes_g)
            if gen > est.per_gpu_bytes:
                est = _generation_peak(spec, tr, est, gen)
        acts = est.by_category().get(ACTIVATIONS, 0)
        rules = (SeedRule("seed GRPO: activations × k", int(acts * tr.num_generations)),
                 SeedRule("k", tr.num_generations))
        return replace(est, training=replace(est.training, quick_rules=rules))
    if tr.rl == "dpo":
        ref = not (peft or tr.precompute_ref_log_probs)
        if ref:
            extra.append(_frozen_copy(spec, tr, "reference model"))
        notes.append("DPO: chosen + rejected concatenated → 2·B sequences" + (
            "; reference model loaded" if ref else "; no reference weights (PEFT adapters disabled or precomputed log-probs)"))
        est = estimate_step(spec, tr, gpu, Step(tr.seq_len, 2 * tr.batch, mode="rl-dpo"), extra=extra,
                            assumptions=notes)
        rules = (SeedRule("seed DPO: activations × 2", int(est.by_category().get(ACTIVATIONS, 0))),)
        return replace(est, training=replace(est.training, quick_rules=rules))
    # PPO
    step = Step(tr.prompt_len + tr.completion_len, tr.batch, mode="rl-ppo")
    actor = estimate_step(spec, tr, gpu, step)
    critic = actor.training.states.total
    extra = [Component("critic model (weights, grads, optimizer)", int(critic), "the actor's model states again (value model of the same size)", WEIGHTS, key="critic_model"),
             _frozen_copy(spec, tr, "reference model"), _frozen_copy(spec, tr, "reward model")]
    notes.append("PPO: actor, critic, reference and reward models colocated; actor and critic train in turn")
    return estimate_step(spec, tr, gpu, step, extra=extra, assumptions=notes)


def _generation_parts(spec: S.ModelSpec, tr: Training) -> tuple[int, int, str, str]:
    """(KV bytes, logits bytes, their formulas) of HF ``generate`` for the generation batch."""
    tokens = tr.prompt_len + tr.completion_len
    seqs = tr.batch * tr.grad_accum  # TRL: steps_per_generation defaults to gradient_accumulation_steps
    groups = kv_groups(spec, HF_KV, "auto", tr.tp)  # HF generate caches as transformers does
    kv = int(kv_bytes_per_sequence(groups, tokens, HF_KV) * seqs)
    logits = seqs * spec.vocab_size * 4 * 2  # last-token logits, fp32 processing
    return (kv, logits, f"{seqs} seq × ({sequence_kv_formula(groups, tokens, HF_KV)}) — HF generate over prompt + completion",
            f"{seqs} seq × V {spec.vocab_size} × 8 B (last-token logits and their fp32 processing)")


def _persistent(est: Estimate) -> tuple[Component, ...]:
    return tuple(c for c in est.components if c.category not in (ACTIVATIONS, "gradients", "buffers"))


def _generation_phase(spec: S.ModelSpec, tr: Training, est: Estimate) -> int:
    """Weights + states + KV of HF ``generate`` for the generation batch (no activations saved)."""
    kv, logits, _, _ = _generation_parts(spec, tr)
    return sum(c.bytes for c in _persistent(est)) + kv + logits


def _generation_peak(spec: S.ModelSpec, tr: Training, est: Estimate, gen: int) -> Estimate:
    """The estimate whose components are the generation phase's (it is the peak); the verdict follows them."""
    kv, logits, kv_text, logits_text = _generation_parts(spec, tr)
    comps = _persistent(est) + (Component("generation KV cache", kv, kv_text, KV, key="generation_kv_cache"),
                                Component("generation logits", logits, logits_text, ACTIVATIONS,
                                          key="generation_logits"))
    fit = None if est.fit is None else Fit(est.fit.limit_bytes, sum(c.bytes for c in comps) <= est.fit.limit_bytes)
    return replace(est, components=comps, fit=fit, training=replace(est.training, peak_phase="generation"))


def _with(est: Estimate, *, assumption: str) -> Estimate:
    return replace(est, assumptions=est.assumptions + (assumption,))
