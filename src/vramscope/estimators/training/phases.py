"""The moments of a steady-state training step on one GPU and the peak among them (formulas.md §5.2).

* **backward start** — everything the forward saved, the logits/loss block, the gradients held over
  (gradient accumulation; ZeRO-2/3 partitions; else the output head's, allocated first);
* **recompute** — under checkpointing, one layer recomputed beside the saved inputs and the
  gradients so far;
* **backward end** — tied embeddings only: every gradient plus the embedding's, waiting to be summed;
* **optimizer step** — all gradients plus the step's temporaries.

Each moment carries its allocator slack (5% of its activations), so the peak is chosen on the
figures the components show; the first listed wins a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...units import GiB
from .. import optimizers as O
from ..result import ACTIVATIONS, CACHE, CONTEXT, Component
from .buffers import AUTOCAST_COPIES, BUFFERS
from .forward import Forward
from .stage import StageContext
from .states import States

GRADIENTS = "gradients"
#: caching-allocator fragmentation: 5% of the activations alive at a moment (band 0–20%)
SLACK = 0.05


@dataclass(frozen=True)
class Moments:
    """Bytes on the GPU at each moment of the step, and the quantities the peak's components show."""

    bytes_at: dict[str, int | float]  # moment → bytes (slack included)
    dynamic_at: dict[str, float]  # moment → activations alive then
    held: float  # gradients alive at backward start (accumulated / ZeRO partition / head)
    held_formula: str
    grad_start: float  # gradients shown at backward start
    loss_start: float  # the loss block at backward start
    loss_note: str
    acts_start: float  # saved activations at backward start (no layer recomputed yet)
    g_step: float  # gradients at the optimizer step
    step_temp: float
    step_formula: str
    ds_fp32: float  # DeepSpeed ZeRO-1/2 fp32 gradient partition at the step
    embed_grad: float  # an untied input embedding's gradient (comes after the first layer's backward)
    last_first: bool  # recompute moment: the last layer's (True) or the first layer's recompute is larger
    tied_extra: float  # tied embeddings: the second V×h gradient at backward end

    @property
    def peak(self) -> str:
        return max(self.bytes_at, key=lambda k: self.bytes_at[k])  # first listed wins a tie


def _vocab_grad(ctx: StageContext) -> float:
    """The V×h gradient of the output head or the input embedding on one GPU."""
    spec, tr = ctx.spec, ctx.tr
    return ctx.shard.of_grads(spec.vocab_size * spec.hidden_size * ctx.reg.grad / tr.tp)


def held_gradients(ctx: StageContext, states: States) -> tuple[float, float, str, float]:
    """(gradients alive at backward start, at the optimizer step, formula of the first, the output
    head's gradient).

    With ``optimizer_in_backward`` each gradient is freed once its parameter stepped: none is held and
    the step holds the largest trainable tensor's only."""
    tr = ctx.tr
    head_grad = _vocab_grad(ctx) if (ctx.st.has_head and ctx.trn.head_trains) else 0.0
    if tr.optimizer_in_backward:
        held = 0.0
        g_step = ctx.trn.largest_trainable * ctx.reg.grad
    else:
        held = states.grads if (tr.grad_accum > 1 or tr.zero >= 2) else min(head_grad, states.grads)
        g_step = states.grads
    held_formula = ("gradients held over gradient accumulation" if tr.grad_accum > 1 else
                    "ZeRO gradient partition" if tr.zero >= 2 else
                    "output-head gradient allocated at the start of backward")
    return held, g_step, held_formula, head_grad


def moments(ctx: StageContext, states: States, fwd: Forward, bufs: list[Component], base: float) -> Moments:
    """Bytes at each moment; ``base`` is what every moment holds (CUDA context and model states)."""
    spec, tr, reg, st, sh = ctx.spec, ctx.tr, ctx.reg, ctx.st, ctx.shard
    N = sh.degree
    opt_offload = tr.offload in ("optimizer", "params")
    g_gpu = states.grads
    held, g_step, held_formula, head_grad = held_gradients(ctx, states)
    # optimizer in backward: each parameter steps alone from its post-accumulate-grad hook
    # (torchtune training/_optimizer_in_backward / recipes' ``optimizer_in_bwd``), so a foreach
    # step's intermediate covers one parameter — the largest — never all of them
    step_t, step_f = O.step_transient(tr.optimizer, tr.optimizer_impl, states.state_bytes,
                                      ctx.trn.largest_trainable if tr.optimizer_in_backward else sh.of_states(states.trainable),
                                      ctx.trn.largest_trainable)
    if tr.optimizer_in_backward and step_t:
        step_f += " (optimizer in backward: one parameter per step)"
    if opt_offload:
        step_t, step_f = 0.0, "optimizer runs on the CPU"
    ds_fp32 = 0.0
    if tr.zero in (1, 2) and reg.master and not opt_offload:
        ds_fp32 = 4 * st.trainable / N  # DeepSpeed's fp32 gradient partition at the step ("4 grads32")
    buf_total = sum(c.bytes for c in bufs)
    autocast = bufs[0].bytes if reg.autocast_cache else 0
    # Backward start. Under full checkpointing only the layer inputs are saved: the trace of
    # Llama-3.2-1B (b4 × 2048, checkpointed) peaks at the cross-entropy backward with no layer
    # recomputed yet (the estimate added one recomputed layer there: +6.8%; Mistral-7B LoRA
    # b1 × 8192: +6.7%). The recomputation is a moment of its own, below.
    acts_start = fwd.acts - fwd.recompute
    loss, logits_grad = fwd.loss, fwd.logits_grad
    loss_start, grad_start, loss_note = loss, held, fwd.loss_formula
    if tr.loss == "hf" and loss and held and held == min(head_grad, g_gpu) and not (tr.grad_accum > 1 or tr.zero >= 2):
        # The output-head gradient is allocated after the cross-entropy backward, when the loss
        # block is down to the logits' gradient (T·V·e): the traces (Llama-3.2-1B, Qwen2.5-0.5B,
        # b4–8 × 1–2k) peak at the log-softmax backward with no gradient allocated yet — the
        # estimate added the head gradient there, +1–1.5% (exactly V·h·2 B).
        if logits_grad + held > loss:
            loss_start, loss_note = logits_grad, f"T·V·{reg.e:g} B: the logits' gradient beside the head gradient"
        else:
            grad_start = 0.0
    at = {"backward start": base + grad_start + acts_start + loss_start + buf_total}
    dynamic_at = {"backward start": acts_start + loss_start}
    embed_grad, last_first = 0.0, False
    recompute, layer_input = fwd.recompute, fwd.layer_input
    if recompute:
        # Recomputing a checkpointed layer in backward: its activations beside the saved inputs and the
        # gradients so far — the last layer first (the head gradient held), the first layer last
        # (every other gradient allocated, one saved input left). The loss block is gone by then.
        # (an untied input embedding's gradient comes after the first layer's backward)
        embed_grad = (_vocab_grad(ctx) if st.has_embed and ctx.trn.head_trains and not spec.tie_word_embeddings
                      else 0.0)
        # by the first layer's recompute every gradient but the first layer's exists — unless the
        # optimizer steps in backward, which frees each gradient once its parameter stepped: then one
        # parameter's gradient at a time (g_step)
        g_late = g_step if tr.optimizer_in_backward else g_gpu - embed_grad
        last_first = acts_start + held >= layer_input + g_late
        at["recompute"] = base + buf_total + recompute + max(acts_start + held, layer_input + g_late)
        dynamic_at["recompute"] = (acts_start if last_first else layer_input) + recompute
    tied = (st.has_head and st.has_embed and ctx.trn.head_trains and spec.tie_word_embeddings
            and not tr.optimizer_in_backward)
    tied_extra = _vocab_grad(ctx) if tied else 0.0
    if tied_extra:
        # Tied embeddings: the head's gradient waits in autograd's input buffer until the embedding's
        # arrives, and the two are summed in place (real tensors; fake tensors sum out of place, so the
        # trace of Llama-3.2-3B shows three V×h gradients where a GPU has two): the end of backward holds
        # every gradient plus one more V×h. The trace peaks there (Llama-3.2-3B, checkpointed).
        at["backward end"] = base + g_gpu + tied_extra + buf_total - autocast
    at["optimizer step"] = base + g_step + step_t + ds_fp32 + buf_total - autocast
    for k, dyn in dynamic_at.items():
        at[k] += int(SLACK * dyn)
    return Moments(at, dynamic_at, held, held_formula, grad_start, loss_start, loss_note, acts_start, g_step,
                   step_t, step_f, ds_fp32, embed_grad, last_first, tied_extra)


def peak_components(ctx: StageContext, states: States, fwd: Forward, bufs: list[Component],
                    m: Moments) -> list[Component]:
    """The components alive at the peak moment, after the model states: activations (and loss block),
    gradients, buffers, allocator slack."""
    tr, reg, st = ctx.tr, ctx.reg, ctx.st
    comps: list[Component] = []
    peak = m.peak
    dynamic = 0.0
    if peak == "backward start":
        grad_now, grad_formula = m.grad_start, m.held_formula
        if m.loss_start != fwd.loss:
            grad_formula = "output-head gradient (allocated once cross-entropy's backward is done)"
        dynamic = m.acts_start + m.loss_start
        comps.append(Component("activations", int(m.acts_start), fwd.act_formula + (
            " (no layer recomputed yet)" if fwd.recompute else ""), ACTIVATIONS, int(m.acts_start * 0.9),
            int(m.acts_start * 1.15), key="activations"))
        if m.loss_start:
            comps.append(Component("logits + cross-entropy", int(m.loss_start), m.loss_note, ACTIVATIONS,
                                   int(m.loss_start * 0.85), int(m.loss_start * 1.2), key="logits_loss"))
    elif peak == "recompute":
        kept_now = m.acts_start if m.last_first else fwd.layer_input
        if m.last_first:
            grad_now, grad_formula = m.held, m.held_formula
        elif tr.optimizer_in_backward:
            grad_now = m.g_step
            grad_formula = (f"{reg.grad:g} B × {ctx.trn.largest_trainable:,} params of the largest trainable tensor: "
                            "optimizer in backward frees each gradient once its parameter stepped")
        else:
            grad_now = states.grads - m.embed_grad
            grad_formula = "every gradient but the first layer's and the input embedding's (end of backward)"
        dynamic = kept_now + fwd.recompute
        comps.append(Component("activations", int(dynamic), f"{'saved layer inputs' if m.last_first else 'one saved layer input'}"
                               f" + one layer recomputed ({fwd.recompute / GiB:.2f} GiB)", ACTIVATIONS,
                               int(dynamic * 0.9), int(dynamic * 1.15), key="activations"))
    else:
        bufs = [c for c in bufs if c.name != AUTOCAST_COPIES]
        grad_formula = f"{reg.grad:g} B × trainable params" + (f" / {ctx.shard.degree}" if ctx.shard.grads else "")
        if peak == "backward end":
            grad_now = states.grads
            bufs.append(Component("tied embedding gradient", int(m.tied_extra), "the embedding's V×h gradient "
                                  "arriving while the head's waits to be summed with it", BUFFERS, key="tied_embedding_gradient"))
        else:
            grad_now = m.g_step
            if m.step_temp:
                bufs.append(Component("optimizer step temporaries", int(m.step_temp), m.step_formula, BUFFERS, key="optimizer_step_temporaries"))
            if m.ds_fp32:
                bufs.append(Component("fp32 gradient partition", int(m.ds_fp32),
                                      "DeepSpeed ZeRO-1/2: 4 B × params / N at the step", BUFFERS, key="fp32_gradient_partition"))
    slack = SLACK * dynamic
    if grad_now:
        if tr.method in ("lora", "dora", "qlora") and not st.trainable:
            grad_formula = (f"{states.adapter_bytes} B × {states.adapter:,.0f} adapter params"
                            + (f" / {ctx.shard.degree} (ZeRO-2/3 / FSDP shard)" if ctx.shard.grads else ""))
        comps.append(Component("gradients", int(grad_now), grad_formula, GRADIENTS, key="gradients"))
    comps.extend(bufs)
    if dynamic:
        comps.append(Component("allocator slack", int(slack), "caching-allocator fragmentation ≈ 5% of activations (0–20%)",
                               CONTEXT, 0, int(0.2 * dynamic), key="allocator_slack", memory=CACHE))
    return comps
