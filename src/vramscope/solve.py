"""Inverse problems, built on the estimators (no formula is re-derived here).

* :func:`max_context` — the most tokens per sequence that fit (in steps of the engine's
  allocation unit: vLLM ``block_size``, llama.cpp's 256-cell padding, 1 token for HF);
* :func:`max_batch` — the most concurrent sequences at a context;
* :func:`min_gpus` — the smallest tensor-parallel size (then pipeline size) that fits;
* :func:`fit_gpus` / :func:`cheapest` — which catalog GPUs run it, how many, ranked by price;
* :func:`max_ngl` — llama.cpp's largest ``-ngl`` that fits.

Each is a monotone search over :func:`~vramscope.estimators.inference.estimate_inference`, so the
round trip holds: the estimate at the answer fits, one step more does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvariantError, VramscopeError
from .estimators.engines import engine
from .estimators.inference import estimate_inference
from .estimators.result import Estimate
from .estimators.sharding import TP_SIZES, tp_valid
from .spec import ModelSpec
from .workload import MAX_BATCH, MAX_TOKENS, Inference


def fits(est: Estimate) -> bool:
    return bool(est.fits)


def _fits_with(spec: ModelSpec, wl: Inference, gpu, **changes: Any) -> bool:
    return fits(estimate_inference(spec, wl.replace(**changes), gpu))


def _largest(ok, lo: int, hi: int) -> int:
    """Largest n in [lo, hi] with ok(n), assuming ok is monotone (True then False); lo-1 if none."""
    if not ok(lo):
        return lo - 1
    if ok(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def context_step(wl: Inference) -> int:
    """The engine's allocation unit of a sequence (the registry's: vLLM block, llama.cpp 256 cells, else 1)."""
    return engine(wl.engine).context_step(wl)


def max_context(spec: ModelSpec, wl: Inference, gpu) -> int:
    """Most tokens per sequence (prompt + generated) that fit ``wl.batch`` sequences on ``gpu``.

    For vLLM this is the largest ``max_model_len`` whose ``batch`` sequences fit in the KV blocks.
    Returns 0 when not even one step fits.
    """
    if gpu is None:
        raise VramscopeError("max_context needs a GPU (--gpu NAME or --gpu-memory SIZE)")
    step = context_step(wl)
    limit = spec.max_position_embeddings or MAX_TOKENS

    def ok(n: int) -> bool:
        tokens = n * step
        if wl.engine == "vllm":
            return _fits_with(spec, wl, gpu, context=tokens, max_model_len=tokens)
        return _fits_with(spec, wl, gpu, context=tokens)

    n = _largest(ok, 1, max(1, min(limit, MAX_TOKENS) // step))
    return max(0, n * step)


def max_batch(spec: ModelSpec, wl: Inference, gpu) -> int:
    """Most concurrent sequences of ``wl.tokens`` tokens that fit (0 when none)."""
    if gpu is None:
        raise VramscopeError("max_batch needs a GPU (--gpu NAME or --gpu-memory SIZE)")
    return max(0, _largest(lambda b: _fits_with(spec, wl, gpu, batch=b), 1, MAX_BATCH))


def max_ngl(spec: ModelSpec, wl: Inference, gpu) -> int:
    """llama.cpp: the largest ``-ngl`` (0 … n_layer + 1) that fits; -1 if even 0 does not."""
    if wl.engine != "llamacpp":
        wl = wl.replace(engine="llamacpp")
    return _largest(lambda n: _fits_with(spec, wl, gpu, n_gpu_layers=n), 0, spec.num_layers + 1)


def _tp_candidates(spec: ModelSpec, limit: int = 64) -> list[int]:
    """TP sizes to try: the powers of two up to ``limit`` that the layout check accepts for serving."""
    return [tp for tp in TP_SIZES if tp <= limit and tp_valid(spec, tp, serving=True)]


@dataclass(frozen=True)
class Placement:
    """A GPU model, how many of them and the parallel layout that fits."""

    gpu: Any
    count: int
    tp: int
    pp: int
    estimate: Estimate

    @property
    def price_usd(self) -> float | None:
        return self.gpu.price_usd * self.count if self.gpu.price_usd else None

    @property
    def rent_usd_per_hour(self) -> float | None:
        rent = getattr(self.gpu, "rent_usd_per_hour", None)
        return rent * self.count if rent else None

    def to_dict(self) -> dict[str, Any]:
        return {"gpu": self.gpu.id, "count": self.count, "tp": self.tp, "pp": self.pp,
                "per_gpu_bytes": self.estimate.per_gpu_bytes, "gpu_memory_bytes": self.gpu.memory_bytes,
                "price_usd": self.price_usd, "rent_usd_per_hour": self.rent_usd_per_hour}


def _layouts(spec: ModelSpec, wl: Inference, gpu, max_gpus: int, count: int | None = None, tp: int | None = None,
             pp: int | None = None) -> list[tuple[int, int, int]]:
    """(count, tp, pp) to try, fewest GPUs first, then TP over PP: TP within a node (default 8), then PP.
    ``count`` / ``tp`` / ``pp`` keep only the layouts with that GPU count / tensor / pipeline size."""
    e = engine(wl.engine)
    if e.max_gpus == 1:
        options = [(1, 1, 1)]  # modelled on one GPU (engines.ollama)
    elif "tp" not in e.options:  # llama.cpp: layers split over --gpus N (tp = the GPU count)
        # the runs-on list and plan without --gpus still try one GPU (multi-GPU searches for llama.cpp
        # are not wired yet); plan --gpus N estimates the N-GPU split
        options = [(count, count, 1)] if count and count <= (e.max_gpus or count) else [(1, 1, 1)]
    else:
        per_node = getattr(gpu, "max_gpus_per_node", None) or 8
        tps = [t for t in _tp_candidates(spec) if t <= per_node]
        pps = sorted({1, 2, 3, 4, 6, 8} | ({pp} if pp else set()) | ({count // tp} if count and tp and count % tp == 0 else set()))
        options = sorted({(t * p, t, p) for t in tps for p in pps if t * p <= max_gpus and p <= spec.num_layers},
                         key=lambda o: (o[0], -o[1]))
    return [o for o in options if (count is None or o[0] == count) and (tp is None or o[1] == tp)
            and (pp is None or o[2] == pp)]


def _layout_workload(wl: Inference, tp: int, pp: int) -> Inference:
    return wl.replace(tp=tp, pp=pp, ep=tp if wl.ep > 1 else 1)


def min_gpus(spec: ModelSpec, wl: Inference, gpu, max_gpus: int = 64, _demand: dict | None = None, *,
             count: int | None = None, tp: int | None = None, pp: int | None = None) -> Placement | None:
    """Fewest GPUs of this kind that fit: tensor parallel first (within a node of 8), then pipeline.

    ``_demand`` (used by :func:`fit_gpus`) memoises the bytes per GPU of each layout for engines whose
    figure does not depend on the GPU (the registry's ``gpu_dependent``), so that 50 GPUs cost one
    estimate per layout, not 50.
    """
    gpu_independent = not engine(wl.engine).gpu_dependent
    for n, t, p in _layouts(spec, wl, gpu, max_gpus, count, tp, pp):
        if _demand is not None and gpu_independent:
            if (t, p) not in _demand:
                try:
                    _demand[t, p] = estimate_inference(spec, _layout_workload(wl, t, p)).per_gpu_bytes
                except InvariantError:
                    raise
                except VramscopeError:
                    _demand[t, p] = None
            need = _demand[t, p]
            if need is None or need > gpu.usable_bytes:
                continue
        try:
            est = estimate_inference(spec, _layout_workload(wl, t, p), gpu)
        except InvariantError:
            raise  # a bug, not a layout that does not apply
        except VramscopeError:
            continue
        if fits(est):
            return Placement(gpu, n, t, p, est)
    return None


def fit_gpus(spec: ModelSpec, wl: Inference, gpus=None, max_gpus: int = 64, **only: int | None) -> list[Placement]:
    """For every catalog GPU, the fewest that run the workload (GPUs that cannot are left out);
    ``only`` (count, tp, pp) restricts the layouts as in :func:`min_gpus`."""
    from .hardware import gpus as catalog_gpus

    demand: dict = {}
    out = []
    for gpu in gpus if gpus is not None else catalog_gpus():
        placement = min_gpus(spec, wl, gpu, max_gpus, demand, **only)
        if placement is not None:
            out.append(placement)
    return out


def _cost(p: Placement) -> tuple[float, int]:
    price = p.rent_usd_per_hour or ((p.price_usd or float("inf")) / 10_000)  # ~purchase amortised
    return (price, p.count)


def cheapest(spec: ModelSpec, wl: Inference, gpus=None, max_gpus: int = 64, **only: int | None) -> list[Placement]:
    """Placements ranked by cost (hourly rent when known, else purchase price), then GPU count."""
    return sorted(fit_gpus(spec, wl, gpus, max_gpus, **only), key=_cost)
