"""Invariants every :class:`~vramscope.estimators.result.Estimate` must satisfy.

An estimate that breaks one is a bug in vramscope, never the user's fault. :func:`check_estimate`
lists the violations as sentences (empty when the estimate is sound); :func:`assert_sound` raises
:class:`~vramscope.errors.InvariantError` with them. ``vramscope estimate|fit|plan --check`` runs the
check on every estimate the command makes, and so does any process with ``VRAMSCOPE_CHECK=1`` in
its environment (the test suite sets it): the estimators call :func:`checked` on what they return.

What is checked, and why it must hold:

* **no negative bytes** — components (expected, low, high), the per-GPU and total figures, host
  memory, and every number in ``details`` (KV capacity, blocks, phases, states …);
* **bands** — ``low ≤ bytes ≤ high`` for every component (and so for the totals);
* **the three figures** (``est.memory``) — every component lives in a known pool; peak allocated ≤
  peak reserved ≤ device for the expected, low and high bytes alike, each figure's band in order,
  and the device figure *is* the per-GPU figure (with its band); an engine that does not allocate
  through torch (llama.cpp, Ollama) has no allocated / reserved figure, says why, and has no
  component in torch's cache;
* **sums** — in this codebase ``per_gpu_bytes`` *is* the sum of the components' ``bytes`` (and
  ``low_bytes`` / ``high_bytes`` the sums of their bands; ``total_bytes = per_gpu_bytes × num_gpus``):
  components are integers, so the relation is exact. Figures reported beside the components must
  agree with them: vLLM's ``kv_cache_bytes`` is its KV component; a training estimate's
  ``phases[peak_phase]`` is its per-GPU figure (up to the integer truncation of each component, at
  most one byte per component) and no other phase is larger;
* **fits** — ``None`` without a GPU, else a bool that follows the engine's own rule:

  - HF, llama.cpp, training, RL: the per-GPU figure within the GPU's usable memory;
  - vLLM (``gpu_worker.determine_available_memory`` and ``kv_cache_utils``): the KV budget
    ``int(usable × gpu_memory_utilization) − weights − profile peak − non-torch`` must be positive
    and hold the KV of the workload's sequences, and the CUDA graphs and context captured after it
    must still fit (per-GPU figure within usable memory);
  - SGLang (``model_runner.profile_max_num_token``): the token pool
    ``int(mem_fraction_static × (usable − CUDA context)) − weights`` must be positive and hold the
    workload's KV, and activations, graphs and context must fit beside it;

* **parameter counts** — positive integers, active ≤ total;
* **formula texts** — a formula that starts with numbers multiplied (``8192 tokens × 131,072
  B/token``) must multiply out to the component's bytes, within the rounding of the numbers as
  printed (a bare integer below 1000 is exact; any other number is rounded to its last digit), unless
  the text names, with ``+`` or ``−``, what else is in the bytes (``… + weights``, ``… − peak``).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from .errors import InvariantError

ENV = "VRAMSCOPE_CHECK"
_forced = [0]


def enabled() -> bool:
    """Whether estimates are checked as they are made (``--check`` or ``VRAMSCOPE_CHECK=1``)."""
    return _forced[0] > 0 or os.environ.get(ENV, "") not in ("", "0")


@contextmanager
def checking():
    """Check every estimate made inside the block."""
    _forced[0] += 1
    try:
        yield
    finally:
        _forced[0] -= 1


def checked(est):
    """``est`` itself, after :func:`assert_sound` when checking is on."""
    if enabled():
        assert_sound(est)
    return est


def assert_sound(est, what: str = "") -> None:
    """Raise :class:`InvariantError` listing every violated invariant of ``est``."""
    problems = check_estimate(est)
    if problems:
        raise InvariantError(format_violations(problems, what or _describe(est)))


def format_violations(problems: list[str], what: str) -> str:
    lines = [f"{what} breaks {len(problems)} invariant(s):"] + [f"  - {p}" for p in problems]
    lines.append("this is a bug in vramscope: please report")
    return "\n".join(lines)


def _describe(est) -> str:
    model = (est.model or {}).get("id", "?")
    return f"the {est.mode} estimate of {model} ({est.engine})"


# --- the checks ------------------------------------------------------------------------------------
def check_estimate(est) -> list[str]:
    """Every violated invariant of ``est``, as sentences; empty when it is sound."""
    out: list[str] = []
    _check_components(est, out)
    _check_totals(est, out)
    _check_memory(est, out)
    _check_details(est, out)
    _check_params(est, out)
    _check_fits(est, out)
    for c in est.components:
        problem = formula_problem(c.formula, c.bytes)
        if problem:
            out.append(f"{c.name}: {problem}")
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_components(est, out: list[str]) -> None:
    keys = set()
    for c in est.components:
        if c.key in keys:
            out.append(f"component {c.key!r} appears twice")
        keys.add(c.key)
        for label, v in (("bytes", c.bytes), ("low", c.lo), ("high", c.hi)):
            if not _is_int(v):
                out.append(f"{c.name}: {label} {v!r} is not a whole number of bytes")
            elif v < 0:
                out.append(f"{c.name}: negative {label} ({v:,} B)")
        if _is_int(c.lo) and _is_int(c.hi) and _is_int(c.bytes) and not c.lo <= c.bytes <= c.hi:
            out.append(f"{c.name}: band out of order (low {c.lo:,} ≤ {c.bytes:,} ≤ high {c.hi:,} fails)")


def _check_totals(est, out: list[str]) -> None:
    per_gpu, low, high, total = est.per_gpu_bytes, est.low_bytes, est.high_bytes, est.total_bytes
    if per_gpu != sum(c.bytes for c in est.components):
        out.append(f"per-GPU bytes {per_gpu:,} are not the sum of the components")
    if low != sum(c.lo for c in est.components) or high != sum(c.hi for c in est.components):
        out.append("the low / high totals are not the sums of the components' bands")
    if not (_is_int(est.num_gpus) and est.num_gpus >= 1):
        out.append(f"num_gpus {est.num_gpus!r} is not a whole number ≥ 1")
    elif total != per_gpu * est.num_gpus:
        out.append(f"total bytes {total:,} ≠ per-GPU {per_gpu:,} × {est.num_gpus} GPUs")
    for label, v in (("per-GPU bytes", per_gpu), ("low bytes", low), ("high bytes", high), ("total bytes", total),
                     ("host bytes", est.host_bytes)):
        if not _is_int(v):
            out.append(f"{label} {v!r} is not a whole number")
        elif v < 0:
            out.append(f"negative {label} ({v:,} B)")


def _check_memory(est, out: list[str]) -> None:
    from .estimators.result import CACHE, FIGURES, MEMORY_POOLS

    for c in est.components:
        if c.memory not in MEMORY_POOLS:
            out.append(f"{c.name}: memory pool {c.memory!r} is not one of {', '.join(MEMORY_POOLS)}")
    m = est.memory
    dev = m.device
    if (dev.bytes, dev.low_bytes, dev.high_bytes) != (est.per_gpu_bytes, est.low_bytes, est.high_bytes):
        out.append(f"the device figure ({dev.bytes:,} B, {dev.low_bytes:,}–{dev.high_bytes:,}) is not the per-GPU "
                   f"figure ({est.per_gpu_bytes:,} B, {est.low_bytes:,}–{est.high_bytes:,})")
    if est.no_torch is not None:
        if m.allocated is not None or m.reserved is not None or not m.unavailable:
            out.append(f"{est.engine} does not allocate through torch, yet has allocated / reserved figures or no "
                       "reason for their absence")
        out += [f"{c.name}: in torch's cache, but {est.engine} does not allocate through torch"
                for c in est.components if c.memory == CACHE]
    elif m.allocated is None or m.reserved is None:
        out.append("a torch estimate without its allocated / reserved figures")
    figures = [(k, m.figure(k)) for k in FIGURES if m.figure(k) is not None]
    for kind, f in figures:
        if not f.low_bytes <= f.bytes <= f.high_bytes:
            out.append(f"the {kind} figure's band is out of order (low {f.low_bytes:,} ≤ {f.bytes:,} ≤ high "
                       f"{f.high_bytes:,} fails)")
    for (ka, a), (kb, b) in zip(figures, figures[1:], strict=False):
        for what in ("bytes", "low_bytes", "high_bytes"):
            if getattr(a, what) > getattr(b, what):
                out.append(f"{ka} {what} {getattr(a, what):,} exceed {kb} {what} {getattr(b, what):,}")


def _walk(value: Any, path: str):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _check_details(est, out: list[str]) -> None:
    # the parts computed on demand (the runs-on list: GPU counts) are left out: checking must not compute them
    for path, v in _walk(dict(est.legacy_details(lazy=False)), ""):
        if v != v:
            out.append(f"details.{path} is not a number (NaN)")
        elif v < 0:
            out.append(f"details.{path} is negative ({v:,})")
    by_key = {c.key: c.bytes for c in est.components}
    pool = est.kv.kv_bytes if est.kv is not None else None
    if pool is not None and "kv_cache" in by_key and pool != by_key["kv_cache"]:
        out.append(f"kv.kv_bytes {pool:,} ≠ the KV cache component {by_key['kv_cache']:,}")
    t = est.training
    if t is None or not t.phases:
        return
    phases = {p.name: p.bytes for p in t.phases}
    if t.peak_phase not in phases:
        out.append(f"peak phase {t.peak_phase!r} is not among the phases {sorted(phases)}")
        return
    slack = len(est.components) + 1  # each component truncated to whole bytes
    if abs(phases[t.peak_phase] - est.per_gpu_bytes) > slack:
        out.append(f"the peak phase {t.peak_phase!r} holds {phases[t.peak_phase]:,} B but the components sum to "
                   f"{est.per_gpu_bytes:,} B")
    top = max(phases, key=lambda k: phases[k])
    if phases[top] > phases[t.peak_phase] + slack:
        out.append(f"phase {top!r} ({phases[top]:,} B) is larger than the peak phase {t.peak_phase!r} "
                   f"({phases[t.peak_phase]:,} B)")


def _check_params(est, out: list[str]) -> None:
    m = est.model or {}
    total, active = m.get("params_total"), m.get("params_active")
    if not (_is_int(total) and total > 0):
        out.append(f"params_total {total!r} is not a positive whole number")
    if not (_is_int(active) and active > 0):
        out.append(f"params_active {active!r} is not a positive whole number")
    if _is_int(total) and _is_int(active) and active > total:
        out.append(f"params_active {active:,} exceeds params_total {total:,}")


def _check_fits(est, out: list[str]) -> None:
    fits = est.fits
    if est.gpu is None:
        if fits is not None:
            out.append(f"fits is {fits!r} although no GPU was chosen")
        return
    if not isinstance(fits, bool):
        out.append(f"fits is {fits!r}, not true or false, with a GPU chosen")
        return
    usable = est.gpu.get("usable_bytes", est.gpu.get("memory_bytes"))
    limit = est.fit.limit_bytes if est.fit is not None else usable
    if limit != usable:
        out.append(f"fit_limit_bytes {limit:,} is not the GPU's usable memory {usable:,}")
    within = est.per_gpu_bytes <= usable
    gib = 2 ** 30
    if fits and not within:
        out.append(f"fits is true but the per-GPU figure {est.per_gpu_bytes / gib:,.2f} GiB exceeds the GPU's "
                   f"usable {usable / gib:,.2f} GiB")
    rule = {"vllm": _vllm_fits, "sglang": _sglang_fits, "ollama": _ollama_fits}.get(est.engine) if est.mode == "inference" else None
    expected, why = rule(est, usable, out) if rule else (within, "per-GPU figure within usable memory")
    if expected is not None and fits != expected:
        out.append(f"fits is {str(fits).lower()} but the {est.engine} rule ({why}) says {str(expected).lower()}")


def _need(est, key: str, out: list[str]) -> int | None:
    for c in est.components:
        if c.key == key:
            return c.bytes
    out.append(f"{est.engine} estimate without its {key!r} component")
    return None


def _vllm_fits(est, usable: int, out: list[str]) -> tuple[bool | None, str]:
    util = est.workload.get("gpu_memory_utilization")
    parts = [_need(est, n, out) for n in ("weights", "profile_peak", "non_torch_allocations", "kv_cache")]
    needed = est.kv.bytes_needed if est.kv is not None else None
    if None in parts or util is None or needed is None:
        return None, ""
    weights, peak, non_torch, kv = parts
    budget = int(usable * util)
    available = budget - weights - peak - non_torch
    from .estimators.engines.vllm_releases import release

    version = getattr(est.settings, "vllm_version", None)
    if version is not None and release(version).cudagraph_subtracted and not est.workload.get("enforce_eager"):
        available -= _need(est, "cuda_graphs", out) or 0  # vLLM ≥ 0.20 takes its CUDA-graph estimate out first
    if est.workload.get("kv_cache_memory") is not None:
        available = est.workload["kv_cache_memory"]  # --kv-cache-memory: the pool is that, no profiling
    if kv != max(0, available):
        out.append(f"vLLM KV cache {kv:,} B is not what the budget leaves ({available:,} B)")
    ok = available > 0 and available >= needed and est.per_gpu_bytes <= usable
    return ok, (f"int({usable:,} × {util}) − weights − peak − non-torch = {available:,} B must be > 0 and hold "
                f"{needed:,} B of KV, graphs and context within usable memory")


def _ollama_fits(est, usable: int, out: list[str]) -> tuple[bool | None, str]:
    s = est.settings
    if s is None or not hasattr(s, "layers_offload"):
        return None, ""
    return (s.layers_offload >= s.layers_model and est.per_gpu_bytes <= usable,
            f"Ollama offloads all {s.layers_model} layers ({s.layers_offload} by its estimate) within usable memory")


def _sglang_fits(est, usable: int, out: list[str]) -> tuple[bool | None, str]:
    frac = getattr(est.settings, "mem_fraction_static", None)
    weights = _need(est, "weights", out)
    pool_c = _need(est, "kv_cache", out)
    context = _need(est, "cuda_context", out)
    needed = est.kv.bytes_needed if est.kv is not None else None
    if None in (weights, pool_c, context) or frac is None or needed is None:
        if frac is None:
            out.append("SGLang estimate without settings.mem_fraction_static")
        return None, ""
    pool = int(frac * (usable - context)) - weights
    if pool_c != max(0, pool):
        out.append(f"SGLang token pool {pool_c:,} B is not what mem_fraction_static leaves ({pool:,} B)")
    ok = pool > 0 and pool >= needed and est.per_gpu_bytes <= usable
    return ok, (f"int({frac} × (usable − context)) − weights = {pool:,} B must be > 0 and hold {needed:,} B of KV, "
                "activations, graphs and context within usable memory")


# --- formula texts ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]\d)|\d+(?:\.\d+)?)
  | (?P<op>[×·*÷+−]|(?<=\s)[/-](?=\s))
  | (?P<open>\()
  | (?P<close>\))
  | (?P<stop>[,;:=≤≥<>≈~|—–])
  | (?P<word>[^\s×·*÷+−(),;:=≤≥<>≈~|—–\d][^\s×·*÷+−(),;:=≤≥<>≈~|—–]*)
  | (?P<space>\s+)
""", re.VERBOSE)

_UNITS = {"KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30, "TiB": 2 ** 40, "kB": 1e3, "KB": 1e3, "MB": 1e6,
          "GB": 1e9, "TB": 1e12}


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind != "space":
            out.append((kind, m.group()))
    return out


class _Symbolic(Exception):
    """A term that is not a number (it names what else is in the bytes)."""


class _Parser:
    """Numbers, × · / ÷ + − and parentheses; words after a number are its unit, one word before it a
    label; a parenthesis that follows a value without an operator is a remark and is skipped."""

    def __init__(self, toks: list[tuple[str, str]]):
        self.t = toks
        self.i = 0
        self.ops = 0

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def skip_remarks(self) -> None:
        while self.peek()[0] == "open":
            depth = 0
            while True:
                kind, _ = self.take()
                if kind == "open":
                    depth += 1
                elif kind == "close":
                    depth -= 1
                    if depth == 0:
                        break
                elif kind == "end":
                    return

    def expr(self) -> tuple[float, float]:
        v, e = self.term()
        while self.peek() in (("op", "+"), ("op", "−"), ("op", "-")):
            op = self.take()[1]
            self.ops += 1
            w, f = self.term()
            v = v + w if op == "+" else v - w
            e += f
        return v, e

    def term(self) -> tuple[float, float]:
        v, e = self.factor()
        while self.peek()[0] == "op" and self.peek()[1] in "×·*/÷":
            op = self.take()[1]
            self.ops += 1
            w, f = self.factor()
            if op in "/÷":
                if w == 0:
                    raise _Symbolic
                e = e / abs(w) + abs(v) * f / (w * w)
                v = v / w
            else:
                e = abs(v) * f + abs(w) * e + e * f
                v = v * w
        return v, e

    def factor(self) -> tuple[float, float]:
        kind, text = self.peek()
        if kind == "open":
            self.take()
            v, e = self.expr()
            if self.take()[0] != "close":
                raise _Symbolic
            self.skip_remarks()
            return v, e
        if kind == "word":
            self.take()  # a label, e.g. "V 151936", "util 0.9"
            kind, text = self.peek()
        if kind != "num":
            raise _Symbolic
        self.take()
        value = float(text.replace(",", ""))
        exact = "." not in text and "," not in text and value < 1000
        err = 0.0 if exact else 0.5 * 10 ** -len(text.split(".")[1]) if "." in text else 0.5
        scale = 1.0
        while self.peek()[0] == "word":
            unit = self.take()[1]
            scale = _UNITS.get(unit, scale) if scale == 1.0 else scale
        self.skip_remarks()
        return value * scale, err * scale


_STARTS_WITH_NUMBER = re.compile(r"\s*(?:[^\s\d(]+\s+)?\d")


@lru_cache(maxsize=4096)
def formula_value(formula: str) -> tuple[float, float] | None:
    """(value, rounding error) of a formula that starts with numbers multiplied, or None when it does
    not start so, has no operator, or names a non-numeric term."""
    if not _STARTS_WITH_NUMBER.match(formula):
        return None
    toks = _tokens(formula)
    if not toks:
        return None
    first_num = toks[0][0] == "num" or (toks[0][0] == "word" and len(toks) > 1 and toks[1][0] == "num")
    if not first_num:
        return None
    p = _Parser(toks)
    try:
        value, err = p.expr()
    except _Symbolic:
        return None
    if p.ops == 0 or p.peek()[0] not in ("end", "stop"):
        return None  # a plain number, or text after the arithmetic that this reader cannot follow
    return value, err


def formula_problem(formula: str, nbytes: int) -> str | None:
    """Why ``formula`` does not multiply out to ``nbytes`` (None when it does or says what else)."""
    got = formula_value(formula)
    if got is None:
        return None
    value, err = got
    if abs(value - nbytes) <= err + 2 + 1e-9 * abs(nbytes):
        return None
    return (f"formula {formula!r} multiplies out to {value:,.0f} B but the component holds {nbytes:,} B "
            f"(off by {nbytes - value:+,.0f} B)")


# --- fit / plan answers ----------------------------------------------------------------------------
def check_fit(result) -> list[str]:
    """A :class:`~vramscope.api.FitResult`: the maxima are whole numbers ≥ 0 (−1 allowed for -ngl)."""
    out = []
    for label in ("max_context", "max_batch"):
        v = getattr(result, label)
        if not (_is_int(v) and v >= 0):
            out.append(f"{label} {v!r} is not a whole number ≥ 0")
    ngl = result.max_n_gpu_layers
    if ngl is not None and not (_is_int(ngl) and ngl >= -1):
        out.append(f"max_n_gpu_layers {ngl!r} is not a whole number ≥ -1")
    return out


def check_plan_row(row: dict[str, Any]) -> list[str]:
    """One row of :func:`vramscope.api.plan`: a layout that fits its GPU."""
    out = []
    if not (_is_int(row.get("count")) and row["count"] == row.get("tp", 0) * row.get("pp", 0)):
        out.append(f"{row.get('gpu')}: count {row.get('count')!r} ≠ tp × pp")
    if row.get("per_gpu_bytes", 0) > row.get("gpu_memory_bytes", 0):
        out.append(f"{row.get('gpu')}: {row.get('per_gpu_bytes'):,} B per GPU exceed its "
                   f"{row.get('gpu_memory_bytes'):,} B")
    return out
