"""What vLLM subtracts before its KV pool, release by release (read from vLLM's code per release).

vLLM sizes its KV cache at start-up (``Worker.determine_available_memory``): it claims
``gpu_memory_utilization × total`` of the GPU (``total`` = ``torch.cuda.mem_get_info()[1]``), runs
one dummy "profile" step and gives the KV blocks what the weights, the profile step's peak and the
memory allocated outside PyTorch leave. What the profile step runs, which terms the budget
subtracts and the batch defaults changed between releases; this module holds those facts as a
table of release ranges (:data:`RANGES`) and the per-release terms as pure functions.

Every fact below was read in the code of the released wheels (``vllm-<version>`` on PyPI, whose
``vllm/_version.py`` names the commit) and is cited as
``https://github.com/vllm-project/vllm/blob/v<version>/<path>`` with that commit. The boundaries
were found by reading every release in between (0.6.4.post1, 0.6.6.post1, 0.7.3, 0.8.0,
0.8.5.post1, 0.9.0, 0.9.1, 0.9.2, 0.10.0, 0.10.1.1, 0.10.2, 0.11.0–0.11.2, 0.12.0, 0.13.0,
0.14.1, 0.15.1, 0.16.0, 0.17.0, 0.17.1, 0.18.0, 0.18.1, 0.19.1, 0.20.0, 0.20.2, 0.22.0, 0.22.1,
0.23.0, 0.24.0, 0.25.1, 0.26.0, 0.27.0, 0.27.1, 0.28.0, 0.29.0, 0.30.0, 0.33.0, 0.34.0). No factor here
was fitted to a measurement; where a term is measured at run time by vLLM (non-torch memory,
CUDA-graph memory), it is modelled from its components and the docstring says so.

The budget, V1 engine from 0.9.1 on (V0 alike) (``vllm/utils`` ``memory_profiling`` /
``MemoryProfilingResult``)::

    KV = util · total − weights − torch_peak_increase − non_torch_increase [− CUDA-graph estimate]

* ``weights``: ``model_memory_usage`` (torch memory allocated while loading).
* ``torch_peak_increase``: ``allocated_bytes.all.peak`` during ``profile_run`` minus what was
  allocated before it (allocated, not reserved: allocator slack is not counted).
* ``non_torch_increase``: (used − torch reserved) after profiling minus the same before the engine
  was created (the CUDA context is in both and cancels): NCCL / custom all-reduce buffers, lazily
  loaded kernel images, library workspaces outside PyTorch's allocator.
* From 0.27 ``non_kv_cache_memory`` is measured as the free-memory drop since the engine was created
  plus the torch peak above what stays allocated: the same terms, measured with ``mem_get_info``.
* CUDA-graph estimate: subtracted only from 0.20 on (env ``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS``
  defaults to 1; 0.18–0.19 measure it but default to 0; earlier releases capture graphs after the
  KV pool is allocated, outside the budget).

0.8.0–0.9.0.1 V1 computed ``util · total − (torch peak allocated + (used − torch allocated))``:
the torch peak includes the weights, and "used" is everything on the device — the CUDA context
too (``gpu_worker.py`` v0.8.5.post1 ``determine_available_memory``).

The profile step (``gpu_model_runner.profile_run``, V1): one forward over
``max_num_batched_tokens`` T tokens split into ``min(T, max_num_seqs)`` requests with attention
skipped (no KV cache yet), then the sampler on the last hidden state of each request
(``_dummy_sampler_run``: temperature 0.5, top-p 0.9, top-k V−1, no penalties, no logprobs). Its
peak is the larger of the forward's and the sampler's; no release computes logits for all T tokens
(0.7.3's V1 ran ``compute_logits`` on the same per-request rows without the sampler).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...errors import VramscopeError
from ...units import GiB, MiB

REPO = "https://github.com/vllm-project/vllm/blob"

SamplerPath = Literal["flashinfer", "sort", "triton", "sort-v0"]


class UnknownVllmVersion(VramscopeError):
    """A ``--vllm-version`` that is not a vLLM release this module has read."""


#: every vLLM release on PyPI from 0.6.4 to 0.34.0 (0.21.0 was never published); the version strings
#: people pass to ``pip install vllm==…``
KNOWN_RELEASES: tuple[str, ...] = (
    "0.6.4", "0.6.4.post1", "0.6.5", "0.6.6", "0.6.6.post1", "0.7.0", "0.7.1", "0.7.2", "0.7.3",
    "0.8.0", "0.8.1", "0.8.2", "0.8.3", "0.8.4", "0.8.5", "0.8.5.post1", "0.9.0", "0.9.0.1", "0.9.1", "0.9.2",
    "0.10.0", "0.10.1", "0.10.1.1", "0.10.2", "0.11.0", "0.11.1", "0.11.2", "0.12.0", "0.13.0", "0.14.0",
    "0.14.1", "0.15.0", "0.15.1", "0.16.0", "0.17.0", "0.17.1", "0.18.0", "0.18.1", "0.19.0", "0.19.1",
    "0.20.0", "0.20.1", "0.20.2", "0.22.0", "0.22.1", "0.23.0", "0.24.0", "0.25.0", "0.25.1", "0.26.0",
    "0.27.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0", "0.34.0",
)

#: the release an estimate assumes when none is named (a recent one)
DEFAULT_RELEASE = "0.24.0"

#: commit of each release tag whose wheel names it in ``vllm/_version.py`` (``commit_id``), for citations
COMMITS: dict[str, str] = {
    "0.10.1.1": "1da94e673", "0.10.2": "26b999c71", "0.11.0": "f71952c1c", "0.11.2": "275de3417",
    "0.12.0": "4fd9d6a85", "0.13.0": "72506c983", "0.14.1": "d7de043d5", "0.15.1": "1892993bc",
    "0.16.0": "89a77b108", "0.17.1": "95c0f928c", "0.18.1": "a26e8dc7f", "0.19.1": "b1388b1fb",
    "0.20.2": "bc150f502", "0.22.1": "0decac0d9", "0.23.0": "0fc695fc6", "0.24.0": "ee0da84ab",
    "0.25.1": "752a3a504", "0.27.1": "6e448d0ea", "0.30.0": "ced6857af", "0.33.0": "4ba787ec9",
    "0.34.0": "62d4bc3c7",
}


def cite(version: str, path: str, what: str = "") -> str:
    """``<url> (commit <sha>)`` for a file of a release tag."""
    commit = COMMITS.get(version)
    tail = f" (commit {commit})" if commit else ""
    return f"{REPO}/v{version}/{path}{tail}" + (f": {what}" if what else "")


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.10.1.1"`` → ``(0, 10, 1, 1)``; a ``.postN`` suffix counts as the release it follows."""
    parts = []
    for part in version.strip().lstrip("v").split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


@dataclass(frozen=True)
class ReleaseRange:
    """What one range of vLLM releases does at start-up (first and last release inclusive)."""

    first: str
    last: str
    engine: Literal["V0", "V1"]
    #: "profiling": weights + torch peak increase + non-torch increase (``memory_profiling``);
    #: "torch-peak": torch peak allocated (weights included) + everything outside torch's allocation,
    #: the CUDA context included (V1 0.8.0–0.9.0.1); "consumed" (0.27+): the free-memory drop since the
    #: engine was created (weights, persistent buffers, non-torch) + the torch peak above what stays
    #: allocated — the same terms as "profiling" up to the runner's persistent buffers (a few MiB)
    budget: Literal["profiling", "torch-peak", "consumed"]
    #: the top-k/top-p sampler the profile step runs by default: "flashinfer" when FlashInfer is
    #: installed (``pip install vllm`` brings it from 0.11.2; the docker image always), else "sort"
    #: (PyTorch sort + scatter) or "triton" (0.17+: a Triton kernel for ≥ 8 rows)
    sampler_default: Literal["flashinfer-if-installed", "native", "flashinfer"]
    flashinfer_bundled: bool          # flashinfer-python is a hard dependency of the wheel
    triton_topk: bool                 # 0.17+: apply_top_k_top_p_triton for ≥ 8 rows
    kv_cache_memory_option: bool      # --kv-cache-memory (0.10.2+)
    cudagraph_profiled: bool          # profile_cudagraph_memory runs before the KV pool (0.18+)
    cudagraph_subtracted: bool        # … and its estimate is subtracted by default (0.20+)
    a100_small_defaults: bool         # A100s get the small batch defaults although ≥ 70 GiB (0.9.0+)
    big_gpu_serve_16k: bool           # GPUs ≥ 160 GiB: serve default 16384 tokens (0.28+)
    facts: tuple[str, ...] = field(default=(), compare=False)

    @property
    def label(self) -> str:
        return self.first if self.first == self.last else f"{self.first}–{self.last}"

    def contains(self, version: str) -> bool:
        return version_tuple(self.first) <= version_tuple(version) <= version_tuple(self.last)


_W = "vllm/v1/worker/gpu_worker.py"
_R = "vllm/v1/worker/gpu_model_runner.py"
_S = "vllm/v1/sample/ops/topk_topp_sampler.py"
_A = "vllm/engine/arg_utils.py"
_E = "vllm/envs.py"

RANGES: tuple[ReleaseRange, ...] = (
    ReleaseRange("0.6.4", "0.7.3", "V0", "profiling", "native", False, False, False, False, False, False, False, facts=(
        cite("0.6.4.post1", "vllm/worker/worker.py", "determine_num_available_blocks: util·total − (weights + "
             "activation peak + non-torch) via memory_profiling; V0 is the default engine"),
        cite("0.6.6.post1", "vllm/worker/model_runner.py", "profile_run: max_num_batched_tokens over max_num_seqs "
             "dummy prompts, SamplingParams(top_p=0.99, top_k=V−1): the V0 sampler sorts S×V fp32 logits"),
    )),
    ReleaseRange("0.8.0", "0.8.5.post1", "V1", "torch-peak", "flashinfer-if-installed", False, False, False, False,
                 False, False, False, facts=(
        cite("0.8.5.post1", _W, "determine_available_memory: util·total − (allocated peak + (used − allocated)); "
             "'used' counts the CUDA context"),
        cite("0.8.0", _R, "profile_run: _dummy_run(max_num_tokens) then _dummy_sampler_run on min(T, S) rows"),
        cite("0.8.5.post1", _S, "FlashInfer top-k/top-p when importable and VLLM_USE_FLASHINFER_SAMPLER is not 0"),
        cite("0.8.5.post1", _A, "≥ 70 GiB: LLM 16384 / serve 8192 tokens, 1024 seqs; else 8192 / 2048, 256"),
    )),
    ReleaseRange("0.9.0", "0.9.0.1", "V1", "torch-peak", "flashinfer-if-installed", False, False, False, False,
                 False, True, False, facts=(
        cite("0.9.0", _A, "A100s keep the small defaults although ≥ 70 GiB (PR #17885)"),
        cite("0.9.0", _W, "budget still util·total − (allocated peak + (used − allocated))"),
    )),
    ReleaseRange("0.9.1", "0.10.1.1", "V1", "profiling", "flashinfer-if-installed", False, False, False, False, False,
                 True, False, facts=(
        cite("0.10.1.1", _W, "determine_available_memory: requested_memory − non_kv_cache_memory "
             "(weights + torch_peak_increase + non_torch_increase)"),
        cite("0.10.1.1", "vllm/utils/__init__.py", "memory_profiling: torch peak increase over the profile, "
             "non-torch increase since the engine was created"),
        cite("0.10.1.1", _R, "profile_run / _dummy_sampler_run: sampler on min(T, max_num_seqs) rows"),
        cite("0.10.1.1", _A, "A100 excluded from the ≥ 70 GiB defaults (PR #17885); extras 'flashinfer' only"),
    )),
    ReleaseRange("0.10.2", "0.11.1", "V1", "profiling", "flashinfer-if-installed", False, False, True, False, False,
                 True, False, facts=(
        cite("0.10.2", _W, "kv_cache_memory_bytes (--kv-cache-memory): the KV pool is that many bytes, "
             "profiling skipped (the profile run still compiles the model)"),
        cite("0.11.0", _W, "same budget; logs peak_activation_memory and non_torch_memory"),
    )),
    ReleaseRange("0.11.2", "0.11.2", "V1", "profiling", "flashinfer-if-installed", True, False, True, False, False,
                 True, False, facts=(
        "vllm 0.11.2 wheel METADATA: Requires-Dist flashinfer-python==0.5.2 (no longer an extra)",
        cite("0.11.2", _S, "FlashInfer sampler whenever FlashInfer imports and the env var is not 0"),
    )),
    ReleaseRange("0.12.0", "0.16.0", "V1", "profiling", "native", True, False, True, False, False, True, False, facts=(
        cite("0.12.0", _S, "FlashInfer top-k/top-p only with VLLM_USE_FLASHINFER_SAMPLER=1 (opt in)"),
        cite("0.15.1", _S, "apply_top_k_top_p: sort + scatter in PyTorch"),
    )),
    ReleaseRange("0.17.0", "0.17.1", "V1", "profiling", "native", True, True, True, False, False, True, False, facts=(
        cite("0.17.1", _S, "apply_top_k_top_p → apply_top_k_top_p_triton for ≥ 8 rows (in place, one "
             "min(SMs, rows)×V fp32 scratch buffer)"),
    )),
    ReleaseRange("0.18.0", "0.19.1", "V1", "profiling", "native", True, True, True, True, False, True, False, facts=(
        cite("0.19.1", _W, "profile_cudagraph_memory runs inside the profile; subtracted only with "
             "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1"),
        cite("0.19.1", _E, "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults to 0"),
    )),
    ReleaseRange("0.20.0", "0.20.2", "V1", "profiling", "native", True, True, True, True, True, True, False, facts=(
        cite("0.20.2", _E, "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults to 1: the estimate is subtracted"),
    )),
    ReleaseRange("0.22.0", "0.26.0", "V1", "profiling", "flashinfer", True, True, True, True, True, True, False, facts=(
        cite("0.22.1", _E, "VLLM_USE_FLASHINFER_SAMPLER defaults to True"),
        cite("0.24.0", _S, "flashinfer_sampler_supported(): FlashInfer top-k/top-p on CUDA unless the env is 0"),
        cite("0.24.0", _R, "profile_cudagraph_memory: first capture + (n−1) × second capture per mode"),
    )),
    ReleaseRange("0.27.0", "0.27.1", "V1", "consumed", "flashinfer", True, True, True, True, True, True, False, facts=(
        cite("0.27.1", "vllm/utils/mem_utils.py", "memory_profiling: non_kv_cache_memory = total_consumed "
             "(free-memory drop since the engine was created) + transient_peak_headroom (torch peak − "
             "torch allocated after the profile)"),
    )),
    ReleaseRange("0.28.0", "0.34.0", "V1", "consumed", "flashinfer", True, True, True, True, True, True, True, facts=(
        cite("0.30.0", _A, "get_batch_defaults: ≥ 160 GiB → 16384 tokens for LLM and serve, 1024 seqs"),
        cite("0.34.0", _W, "determine_available_memory: requested − non_kv_cache_memory − CUDA-graph estimate"),
    )),
)


def release(version: str | None = None) -> ReleaseRange:
    """The range holding ``version`` (default :data:`DEFAULT_RELEASE`).

    Raises :class:`UnknownVllmVersion` (one line listing the known releases) for anything else.
    """
    v = DEFAULT_RELEASE if version is None else str(version).strip().lstrip("v")
    if v in KNOWN_RELEASES or (v.rsplit(".post", 1)[0] in KNOWN_RELEASES and ".post" in v):
        for r in RANGES:
            if r.contains(v):
                return r
    raise UnknownVllmVersion(
        f"unknown vLLM version {version!r}: known releases are {', '.join(KNOWN_RELEASES)} "
        f"(ranges {', '.join(r.label for r in RANGES)}; default {DEFAULT_RELEASE})")


def batch_defaults(rel: ReleaseRange, total_bytes: int, gpu_name: str = "",
                   entrypoint: str = "serve", max_model_len: int | None = None) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) vLLM picks when neither is given.

    V1 (``EngineArgs._set_default_args`` / ``get_batch_defaults`` in ``vllm/engine/arg_utils.py``):
    ≥ 160 GiB (0.28+): 16384 / 16384 tokens, 1024 seqs; ≥ 70 GiB and not an A100 (A100s excluded
    from 0.9.0): LLM 16384 / serve 8192 tokens, 1024 seqs; otherwise LLM 8192 / serve 2048 tokens,
    256 seqs. V0 (0.6–0.7): no chunked prefill up to a 32K context, so the profile step runs
    ``max(max_model_len, 2048)`` tokens over 256 seqs; above 32K chunked prefill's 2048.
    """
    if rel.engine == "V0":
        if max_model_len is not None and max_model_len <= 32768:
            return max(max_model_len, 2048), 256
        return 2048, 256
    offline = entrypoint.lower() == "llm"
    big = total_bytes >= 70 * GiB and not (rel.a100_small_defaults and "A100" in gpu_name.upper())
    if rel.big_gpu_serve_16k and total_bytes >= 160 * GiB:
        return 16384, 1024
    if big:
        return (16384 if offline else 8192), 1024
    return (8192 if offline else 2048), 256


def sampler_path(rel: ReleaseRange, rows: int, flashinfer: bool | None = None) -> SamplerPath:
    """Which top-k/top-p implementation the profile step's sampler warm-up runs.

    ``flashinfer``: True / False when known (the log says "Using FlashInfer for top-p & top-k
    sampling", or ``VLLM_USE_FLASHINFER_SAMPLER`` was set); None = the release's default for a
    ``pip install vllm``: FlashInfer where the wheel depends on it and the release enables it by
    default (0.11.2, 0.22+), else PyTorch (the 0.8–0.11.1 wheels list FlashInfer only as an extra).
    """
    if rel.engine == "V0":
        return "sort-v0"
    if flashinfer is None:
        flashinfer = rel.sampler_default == "flashinfer" or (
            rel.sampler_default == "flashinfer-if-installed" and rel.flashinfer_bundled)
    if flashinfer:
        return "flashinfer"
    return "triton" if rel.triton_topk and rows >= 8 else "sort"


def sampler_warmup_bytes(path: SamplerPath, rows: int, vocab: int, *, logits_bytes: int = 2, sms: int = 132) -> int:
    """Peak bytes alive in the profile step's sampler warm-up over ``rows`` × ``vocab`` logits.

    Counted from the code (per element of the rows×V matrix): the lm_head's logits in the model
    dtype (2 B, kept by ``_dummy_sampler_run``), ``Sampler.forward``'s fp32 copy (4 B), then

    * ``sort`` (``apply_top_k_top_p``): ``logits.sort`` values (4) + int64 indices (8), the top-k
      bool mask (1), ``softmax`` of the sorted values (4, cumsum in place), the top-p bool mask (1)
      and the ``scatter`` result (4) — all alive at the scatter: 2 + 4 + 22 = 28 B. (0.17+ scatters
      in place, 24 B; used below 8 rows only, where the difference is negligible.)
    * ``sort-v0`` (V0 ``model_executor/layers/sampler.py`` ``_apply_top_k_top_p``, 0.6.4–0.7.3): the
      same, but ``cumsum`` is not in place (+4) and the scatter goes into a fresh ``empty_like`` (4):
      2 + 4 + 26 = 32 B.
    * ``flashinfer`` (``flashinfer.sampling.top_k_top_p_sampling_from_logits``, top-k first):
      ``top_k_mask_logits`` output (4) + ``softmax`` probabilities (4): 2 + 4 + 8 = 14 B.
    * ``triton`` (``apply_top_k_top_p_triton``, in place): a ``min(SMs, rows)``×V fp32 scratch buffer,
      then ``softmax`` (4) and ``random_sample``'s exponential noise (4): 2 + 4 + 8 = 14 B per element
      plus the scratch buffer (``sms``: 132 on H100 SXM; a smaller GPU has fewer, a few MiB less).
    """
    n = rows * vocab
    if path == "sort-v0":
        return n * (logits_bytes + 4 + 26)
    if path == "sort":
        return n * (logits_bytes + 4 + 22)
    if path == "flashinfer":
        return n * (logits_bytes + 4 + 8)
    return n * (logits_bytes + 4 + 8) + min(sms, rows) * vocab * 4


def forward_peak_bytes(tokens: int, hidden: int, widest_mlp_per_gpu: int, *, act_bytes: int = 2,
                       compiled: bool = True) -> int:
    """Peak activations of the profile step's forward over ``tokens`` tokens (attention skipped: no KV
    cache exists yet, ``attn_metadata`` is None in ``_dummy_run``).

    At the widest MLP the gate/up projection output (2·T·I/tp) is alive while the activation output
    (T·I/tp) is written, next to the hidden-size tensors still referenced: compiled (V1's default
    ``torch.compile`` piecewise graph, whose generated code frees each buffer after its last use) the
    residual stream and the normed MLP input (2·T·h); eager (V0, and V1 with ``enforce_eager``, which
    turns compilation off: ``CompilationLevel.NO_COMPILATION`` / ``-O0`` in ``vllm/config``) also the
    layer input and the attention output the Python frames still hold (4·T·h). Elements of
    ``act_bytes``; MoE: I = the top-k experts' width + shared, per token.
    """
    return tokens * ((2 if compiled else 4) * hidden + 3 * widest_mlp_per_gpu) * act_bytes


def profile_peak_bytes(tokens: int, rows: int, hidden: int, vocab: int, widest_mlp_per_gpu: int,
                       path: SamplerPath, *, act_bytes: int = 2, sms: int = 132, compiled: bool = True) -> int:
    """``torch_peak_increase`` of ``profile_run``: the larger of the forward's peak and the sampler
    warm-up's, which runs while the forward's T×h output is still referenced (``hidden_states`` in
    ``profile_run``)."""
    forward = forward_peak_bytes(tokens, hidden, widest_mlp_per_gpu, act_bytes=act_bytes, compiled=compiled)
    sampler = sampler_warmup_bytes(path, rows, vocab, logits_bytes=act_bytes, sms=sms) + tokens * hidden * act_bytes
    return max(forward, sampler)


#: Non-torch memory is measured by vLLM at run time (``non_torch_increase``); it is modelled here from
#: its components. TP 1: lazily loaded kernel images and library workspaces outside PyTorch's allocator;
#: vLLM's own V0 logs print 0.04 GiB (validation rows 1–2) and llm-d's H100 table 0.13 GiB — the larger
#: is used. TP > 1 adds NCCL's and the custom all-reduce's buffers (cudaMalloc'd, outside torch): 0.54
#: GiB in llm-d's TP-2/4 rows. Neither is derivable from vLLM's code (they depend on NCCL, the driver
#: and the kernels a model loads).
NON_TORCH_TP1 = int(0.13 * GiB)
NON_TORCH_TPN = int(0.54 * GiB)


def non_torch_bytes(rel: ReleaseRange, num_gpus: int, cuda_context: int) -> int:
    """Non-torch memory the budget subtracts: the modelled increase (:data:`NON_TORCH_TP1` /
    :data:`NON_TORCH_TPN`), plus the CUDA context for 0.8.0–0.9.0.1, whose budget counted all device
    memory outside torch's allocations (``budget == "torch-peak"``)."""
    base = NON_TORCH_TP1 if num_gpus == 1 else NON_TORCH_TPN
    return base + (cuda_context if rel.budget == "torch-peak" else 0)


def capture_sizes(max_num_seqs: int, max_num_batched_tokens: int) -> list[int]:
    """vLLM's default CUDA-graph capture sizes (``vllm/config/vllm.py`` ``_set_cudagraph_sizes``,
    0.11+): 1, 2, 4, every 8 up to 248, every 16 from 256, up to ``min(2·max_num_seqs, 512)`` and
    at most ``max_num_batched_tokens``."""
    top = min(2 * max_num_seqs, 512, max_num_batched_tokens)
    sizes = [1, 2, 4] + list(range(8, 256, 8)) + list(range(256, 513, 16))
    return [s for s in sizes if s <= top]


def cudagraph_estimate_bytes(rel: ReleaseRange, max_num_seqs: int, max_num_batched_tokens: int, hidden: int,
                             widest_mlp_per_gpu: int, *, enforce_eager: bool = False, act_bytes: int = 2) -> int:
    """CUDA-graph memory the budget subtracts before the KV pool (0.20+; 0 otherwise or when eager).

    vLLM measures it at run time (``profile_cudagraph_memory``): per graph mode the free-memory drop of
    the first capture (the largest size) plus (n − 1) × that of the second, at least 1 MiB per graph.
    Modelled from those components: the first capture holds the graph pool's activations for the
    largest size (:func:`forward_peak_bytes` at that size); each further graph the 1 MiB floor the
    code applies. Two modes are captured by default (FULL decode graphs up to ``max_num_seqs``,
    PIECEWISE graphs for every size). The per-graph driver cost above the floor is not derivable from
    the code, so this is a lower estimate of what vLLM subtracts.
    """
    if not rel.cudagraph_subtracted or enforce_eager:
        return 0
    sizes = capture_sizes(max_num_seqs, max_num_batched_tokens)
    if not sizes:
        return 0
    decode = [s for s in sizes if s <= max_num_seqs]
    first = forward_peak_bytes(sizes[-1], hidden, widest_mlp_per_gpu, act_bytes=act_bytes)
    return first + (len(sizes) - 1 + max(len(decode) - 1, 0)) * MiB



def describe(rel: ReleaseRange) -> str:
    """One line saying what the range's budget subtracts and which sampler it warms up."""
    budget = {"profiling": "util·total − weights − torch peak increase − non-torch increase",
              "torch-peak": "util·total − torch peak (weights included) − everything else on the device (CUDA context too)",
              "consumed": "util·total − free-memory drop since start − torch peak above what stays allocated"}[rel.budget]
    sampler = {"native": "PyTorch top-k/top-p" + (" (a Triton kernel from 8 rows)" if rel.triton_topk else ""),
               "flashinfer": "FlashInfer top-k/top-p",
               "flashinfer-if-installed": "FlashInfer top-k/top-p if installed (the wheel does not bring it)"
               if not rel.flashinfer_bundled else "FlashInfer top-k/top-p"}[rel.sampler_default]
    if rel.engine == "V0":
        return f"V0 engine, KV = {budget}; profile over max(max_model_len, 2048) tokens, V0 sort sampler"
    graphs = ("CUDA-graph estimate subtracted" if rel.cudagraph_subtracted
              else "CUDA graphs captured after the KV pool, outside the budget")
    return f"V1 engine, KV = {budget}; {graphs}; sampler warm-up: {sampler}"
