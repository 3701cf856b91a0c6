"""Inverse problems for training, built on the training and RL estimators (no formula here).

* :func:`max_seq_len` — the longest sequence (in steps of ``seq_step`` tokens, and of the context
  parallel size) that fits at the run's micro-batch;
* :func:`max_micro_batch` — the largest micro-batch per GPU at the run's sequence length;
* :func:`grad_accum_for` — the micro-batch and accumulation steps that reach a global batch;
* :func:`max_completion_len` — RL: the longest completion that fits;
* :func:`context_table` — the longest sequence per GPU memory size, as Unsloth tabulates it;
* :func:`nothing_fits` — why not even the smallest step fits, and the smallest setup that would.

Each search is monotone (memory grows with tokens and sequences) and ends on a checked boundary —
the estimate at the answer fits, one step more does not — found by secant steps on the per-GPU
bytes (:func:`_largest`), a handful of estimates per answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from typing import Any

from .errors import VramscopeError
from .spec import ModelSpec
from .workload import MAX_BATCH, MAX_TOKENS, Training


def estimate(spec: ModelSpec, tr: Training, gpu):
    """The training or RL estimate of ``tr`` (the estimators the API uses)."""
    from .estimators.rl import estimate_rl
    from .estimators.training import estimate_training

    return (estimate_rl if tr.rl is not None else estimate_training)(spec, tr, gpu)


def _cost(spec: ModelSpec, tr: Training, gpu, **changes: Any) -> float:
    """The bytes the fit rule compares with the GPU's usable memory: the per-GPU figure less the paged
    optimizer pages resident on it (those fill whatever room is left, so the figure with them saturates
    at the GPU's size; without them it keeps growing). ``inf`` outside the workload's own bounds."""
    from .errors import InvariantError

    try:
        t = tr.replace(**changes)
        est = estimate(spec, t, gpu)
    except InvariantError:
        raise  # a bug, not a setup that does not apply
    except (ValueError, TypeError, VramscopeError):  # a layout the estimator refuses (ZeRO-3 with int8 …)
        return float("inf")
    from .estimators.result import UNIFIED

    paged = sum(c.bytes for c in est.components if c.memory == UNIFIED)
    return est.per_gpu_bytes - paged


def _largest(cost, limit: float, most: int) -> int:
    """Largest n in [1, most] with cost(n) <= limit (cost non-decreasing); 0 if cost(1) > limit.

    Memory is a maximum of phases each affine in n (eager attention adds a quadratic term), so a
    secant through two probes lands on or just below the boundary: extrapolate to bracket it, then
    interpolate inside the bracket (checking the next step each time), bisecting if that stalls. A
    handful of estimates instead of 2·log2(n)."""
    c1 = cost(1)
    if c1 > limit:
        return 0
    lo, clo, hi, chi = 1, c1, 0, 0.0
    n = 2
    while not hi:
        n = min(n, most)
        c = cost(n)
        if c > limit:
            hi, chi = n, c
            break
        if n == most:
            return most
        slope = (c - clo) / (n - lo)
        lo, clo = n, c
        guess = lo + int((limit - clo) / slope) + 1 if slope > 0 else 2 * lo
        n = max(guess, lo + 1)
    weight, tries = 1.0, 0  # Illinois: the end kept twice in a row counts half as far (convex costs)
    side = 0
    while hi - lo > 1:
        tries += 1
        top = clo + (chi - clo) * weight
        if tries <= 12 and top > clo:
            guess = lo + int((limit - clo) * (hi - lo) / (top - clo))
        else:
            guess = (lo + hi) // 2
        guess = min(max(guess, lo + 1), hi - 1)
        c = cost(guess)
        if c > limit:
            hi, chi, weight, side = guess, c, 1.0, 1
            continue
        weight = weight / 2 if side == -1 else 1.0
        side = -1
        lo, clo = guess, c
        if lo + 1 < hi:
            c = cost(lo + 1)
            if c > limit:
                hi, chi = lo + 1, c
            else:
                lo, clo = lo + 1, c
    return lo


def seq_unit(tr: Training, seq_step: int = 1) -> int:
    """Sequence lengths are multiples of ``seq_step`` (padding to a multiple, as
    ``pad_to_multiple_of`` does) and of the context-parallel size (each rank holds seq_len / cp)."""
    if seq_step < 1:
        raise VramscopeError(f"the sequence step must be a whole number of tokens >= 1 (got {seq_step})")
    return seq_step * tr.cp // gcd(seq_step, tr.cp)


def max_seq_len(spec: ModelSpec, tr: Training, gpu, seq_step: int = 1) -> int:
    """Longest ``seq_len`` (a multiple of :func:`seq_unit`) whose step fits ``gpu`` at ``tr.batch``; 0 if none."""
    unit = seq_unit(tr, seq_step)
    return unit * _largest(lambda n: _cost(spec, tr, gpu, seq_len=n * unit), gpu.usable_bytes, MAX_TOKENS // unit)


def max_micro_batch(spec: ModelSpec, tr: Training, gpu) -> int:
    """Largest micro-batch per GPU (``per_device_train_batch_size``) at ``tr.seq_len``; 0 if none."""
    return _largest(lambda b: _cost(spec, tr, gpu, batch=b), gpu.usable_bytes, MAX_BATCH)


def max_completion_len(spec: ModelSpec, tr: Training, gpu, seq_step: int = 1) -> int:
    """RL (GRPO, PPO): the longest ``completion_len`` at the run's prompt and batch; 0 if none."""
    return seq_step * _largest(lambda n: _cost(spec, tr, gpu, completion_len=n * seq_step), gpu.usable_bytes,
                               MAX_TOKENS // seq_step)


@dataclass(frozen=True)
class Accumulation:
    """Reaching ``global_batch`` sequences per optimizer step: ``micro_batch`` × ``grad_accum`` × data parallel."""

    global_batch: int
    micro_batch: int
    grad_accum: int
    data_parallel: int


def grad_accum_for(tr: Training, global_batch: int, largest_micro: int, *, micro_given: bool) -> Accumulation:
    """The fewest accumulation steps that reach ``global_batch``: the largest micro-batch that fits and
    divides ``global_batch / dp`` (or the run's own micro-batch when the user gave one)."""
    dp = tr.data_parallel
    if global_batch < 1:
        raise VramscopeError(f"the global batch must be a whole number of sequences >= 1 (got {global_batch})")
    if global_batch % dp:
        raise VramscopeError(f"a global batch of {global_batch} does not split over {dp} data-parallel GPUs")
    per_gpu = global_batch // dp
    if micro_given:
        if per_gpu % tr.batch:
            raise VramscopeError(f"the micro-batch {tr.batch} does not divide the {per_gpu} sequences per GPU of a "
                                 f"global batch of {global_batch} (dp = {dp}); pick a micro-batch that divides it")
        if tr.batch > largest_micro:
            raise VramscopeError(f"the micro-batch {tr.batch} does not fit (at most {largest_micro} at seq_len "
                                 f"{tr.seq_len:,})")
        micro = tr.batch
    else:
        micro = max((m for m in range(1, min(per_gpu, largest_micro) + 1) if per_gpu % m == 0), default=0)
        if micro == 0:
            raise VramscopeError(f"not even a micro-batch of 1 fits at seq_len {tr.seq_len:,}")
    if tr.optimizer_in_backward and per_gpu // micro > 1:
        raise VramscopeError(f"a global batch of {global_batch} needs {per_gpu // micro} accumulation steps at "
                             f"micro-batch {micro}, and optimizer-in-backward cannot accumulate gradients")
    return Accumulation(global_batch, micro, per_gpu // micro, dp)


def context_table(spec: ModelSpec, tr: Training, gpus: list, seq_step: int = 1) -> list[tuple[Any, int]]:
    """(GPU, longest ``seq_len`` that fits it) for each GPU, as Unsloth's max-context tables list them."""
    return [(g, max_seq_len(spec, tr, g, seq_step)) for g in gpus]


def nothing_fits(spec: ModelSpec, tr: Training, gpu) -> VramscopeError:
    """The error for a run whose smallest step (one sequence of one token unit) does not fit: what
    the model states alone need, and the first setup of a practitioner's ladder that fits (QLoRA on
    this GPU, then ZeRO-3 over 2, 4, 8 GPUs, then with optimizer offload)."""
    from .units import fmt_gib

    small = tr.replace(batch=1, seq_len=seq_unit(tr), **({"completion_len": 1} if tr.rl in ("grpo", "ppo") else {}))
    est = estimate(spec, small, gpu)
    states = est.training.states
    need = f"the model states alone need {fmt_gib(states.total)} per GPU (weights {fmt_gib(states.weights)})"
    ladder: list[tuple[str, dict[str, Any]]] = []
    qlora = tr.method != "qlora" and tr.rl is None
    if qlora:
        ladder.append(("--method qlora", {"method": "qlora"}))
    for n in (2, 4, 8):
        zero3 = {"zero": 3, "fsdp": "none", "gpus": n, "dp": None}
        ladder.append((f"--zero 3 --gpus {n}", zero3))
        if qlora:
            ladder.append((f"--method qlora --zero 3 --gpus {n}", {**zero3, "method": "qlora"}))
    offload = {"zero": 3, "fsdp": "none", "gpus": 8, "dp": None, "offload": "optimizer", **_cpu_adam(tr.optimizer)}
    cpu = " --optimizer adamw" if "optimizer" in offload else ""
    ladder.append((f"--zero 3 --gpus 8 --offload optimizer{cpu}", offload))
    if qlora:
        ladder.append((f"--method qlora --zero 3 --gpus 8 --offload optimizer{cpu}", {**offload, "method": "qlora"}))
    for label, change in ladder:
        if _cost(spec, small, gpu, **change) <= gpu.usable_bytes:
            return VramscopeError(f"nothing fits on {gpu.id}: {need}, the GPU has {fmt_gib(gpu.usable_bytes)} usable; "
                                  f"the smallest setup that would: {label}")
    return VramscopeError(f"nothing fits on {gpu.id}: {need}, the GPU has {fmt_gib(gpu.usable_bytes)} usable; "
                          "not even ZeRO-3 with optimizer offload over 8 GPUs" + (" with QLoRA" if qlora else "")
                          + " fits: pick a larger GPU")


# --- plan: the setups that train the model, cheapest first ---------------------------------------
#: GPU counts a plan tries (one node, then whole nodes of 8)
PLAN_COUNTS = (1, 2, 4, 8, 16, 32, 64)
COST_BASES = ("rent", "purchase")


def plan_ladder(tr: Training, count: int, *, optimizer_given: bool) -> list[tuple[str, dict[str, Any]]]:
    """What a practitioner changes, least intrusive first, on ``count`` GPUs: the run as given, then
    gradient checkpointing, an 8-bit optimizer (unless the user chose one), then on several GPUs
    DeepSpeed ZeRO-1, -2, -3 (sharding states, then gradients, then parameters), then ZeRO-3 with the
    optimizer offloaded to CPU RAM (ZeRO-Offload also runs on one GPU). Each step keeps the previous."""
    steps: list[tuple[str, dict[str, Any]]] = [("as given", {})]
    change: dict[str, Any] = {}
    if tr.grad_ckpt == "none":
        change = {**change, "grad_ckpt": "full"}
        steps.append(("--grad-ckpt full", dict(change)))
    if not optimizer_given and tr.optimizer in ("adamw", "adam") and tr.method in ("full", "freeze", "galore"):
        change = {**change, "optimizer": "adamw-8bit"}
        steps.append(("--optimizer adamw-8bit", dict(change)))
    if count > 1 and tr.zero == 0 and tr.fsdp == "none":
        for z in (1, 2, 3):
            steps.append((f"--zero {z}", {**change, "zero": z}))
    if tr.offload == "none" and (count > 1 or tr.zero == 0) and tr.fsdp == "none":
        # ZeRO-Offload steps the states on the host with DeepSpeed's CPU Adam: no 8-bit GPU optimizer there
        cpu = _cpu_adam(change.get("optimizer", tr.optimizer))
        label = "--zero 3 --offload optimizer" + (" --optimizer adamw" if cpu and optimizer_given else "")
        steps.append((label, {**change, "zero": 3, "offload": "optimizer", **cpu}))
    return steps


def _cpu_adam(optimizer: str) -> dict[str, Any]:
    """``{"optimizer": "adamw"}`` for a bitsandbytes optimizer (DeepSpeed refuses a client optimizer under
    ZeRO-Offload and steps the offloaded states with its CPU Adam: workload.Training's rule), else nothing."""
    from .workload import BNB_OPTIMIZERS

    return {"optimizer": "adamw"} if optimizer in BNB_OPTIMIZERS else {}


@dataclass(frozen=True)
class TrainingSetup:
    """One way to train: a GPU model, how many, the changes to the run, its per-GPU bytes and cost."""

    gpu: Any
    count: int
    changes: str  # the ladder step, as flags ("as given" when none)
    workload: dict[str, Any]  # the full training keywords of the setup
    per_gpu_bytes: int
    headroom_bytes: int
    cost: float | None  # of the basis: USD per hour (rent) or USD (purchase), for all ``count`` GPUs

    def to_dict(self, basis: str) -> dict[str, Any]:
        return {"gpu": self.gpu.id, "count": self.count, "changes": self.changes, "per_gpu_bytes": self.per_gpu_bytes,
                "gpu_memory_bytes": self.gpu.memory_bytes, "headroom_bytes": self.headroom_bytes,
                "cost_basis": basis, ("rent_usd_per_hour" if basis == "rent" else "price_usd"): self.cost,
                "workload": self.workload}


def plan(spec: ModelSpec, tr: Training, gpus: list | None = None, *, max_gpus: int = 64, basis: str = "rent",
         optimizer_given: bool = False, count: int | None = None) -> list[TrainingSetup]:
    """For each GPU model, the fewest GPUs and the least intrusive ladder step (:func:`plan_ladder`)
    that train ``tr``; sorted by the cost of ``basis`` (rent per hour or purchase, never mixed), setups
    without that price last. A training step's bytes do not depend on the GPU (only whether paged pages
    stay resident does, and the fit rule leaves them out), so each (count, step) is estimated once."""
    from .hardware import gpus as catalog

    if basis not in COST_BASES:
        raise VramscopeError(f"the cost basis is rent or purchase (got {basis!r})")
    candidates = list(gpus) if gpus is not None else catalog()
    counts = [n for n in PLAN_COUNTS if n <= max_gpus and (count is None or n == count)]
    if count is not None and count not in counts:
        counts = [count]
    demand: list[tuple[int, str, dict[str, Any], float]] = []
    for n in counts:
        base = tr.replace(gpus=n, dp=None) if n != tr.num_gpus or tr.dp is not None else tr
        for label, change in plan_ladder(base, n, optimizer_given=optimizer_given):
            need = _cost(spec, base, None, **change)
            if need != float("inf"):
                demand.append((n, label, {**change, "gpus": n}, need))
    out: list[TrainingSetup] = []
    for g in candidates:
        for n, label, change, need in demand:
            if need <= g.usable_bytes:
                per_gpu = (g.rent_usd_per_hour if basis == "rent" else g.price_usd)
                wl = tr.replace(**{k: v for k, v in change.items() if k != "gpus"}, gpus=n, dp=None)
                out.append(TrainingSetup(g, n, label, _plan_keywords(wl), int(need), int(g.usable_bytes - need),
                                         per_gpu * n if per_gpu else None))
                break
    return sorted(out, key=lambda s: (s.cost is None, s.cost or 0.0, s.count, -s.headroom_bytes))


def _plan_keywords(tr: Training) -> dict[str, Any]:
    """The training keywords of a setup: the method (it makes a workload training) and every other
    field that differs from the defaults (what ``vramscope.estimate`` and ``export`` need)."""
    default = Training()
    return {"method": tr.method, **{k: v for k, v in tr.to_dict().items()
                                    if v != getattr(default, k) and k not in ("dp", "method")}}
