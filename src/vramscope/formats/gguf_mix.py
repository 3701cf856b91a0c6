"""llama.cpp file types (``llama_ftype``: Q4_K_M, Q3_K_S, IQ2_M …) as per-tensor type mixtures.

A GGUF "quant" such as Q4_K_M is not one tensor type: ``llama-quantize`` picks a GGML type for every
tensor from the file type's default type plus per-tensor overrides. This module re-implements that
choice in Python so that the bytes of a quantised GGUF can be predicted from a
:class:`~vramscope.spec.ModelSpec` (read from a config.json or from a GGUF file).

Source of every rule (read, then re-written; no code copied): ``ggml-org/llama.cpp``
``src/llama-quant.cpp`` at commit 007dbbf3fd17eefe9b47fee45f48f7ba5e62b714:

* ``llama_ftype_get_default_type`` — the default tensor type of each file type;
* ``tensor_allows_quantization`` — only ≥2-D tensors whose name ends in ``weight`` and is not a
  norm, router (``ffn_gate_inp``), position/token-type embedding, ``ssm_conv1d`` … are converted;
  the others keep their stored type (F32 from ``convert_hf_to_gguf.py``);
* ``tensor_get_category`` / ``llama_tensor_get_type_impl`` — the overrides for output / token_embd /
  attn_v-like (attn_v, attn_qkv, attn_kv_b) / attn_k / attn_q / attn_output / ffn_down / ffn_gate /
  ffn_up, with ``use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2`` (integer
  division), the ``n_gqa() >= 4``, ``n_expert == 8`` and 70B conditions;
* ``tensor_type_fallback`` — when the row length ``ne[0]`` is not a multiple of the chosen type's
  block: Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q2_K/Q3_K/TQ*→Q4_0, IQ*→IQ4_NL, then F16 if still
  not divisible;
* ``init_quantize_state_counters`` — ``n_attention_wv`` counts the attn_v-like tensors while
  ``n_ffn_down = n_ffn_gate = n_ffn_up = n_layer``; the running counters ``i_*`` advance in the
  order llama.cpp iterates tensors (``weight_name_comparer`` in ``src/llama-model-loader.h``:
  non-block tensors first, then by block number, then by name). For MoE models (n_expert > 1) the
  ffn layer index is parsed from the tensor name instead.

Labels ("4.58G @ Llama-3-8B") are the descriptions in ``tools/quantize/quantize.cpp`` (03161a4).

Not modelled: ``--imatrix`` content (only whether one is given, which a few rules test),
``--pure``, ``--tensor-type`` / ``--output-tensor-type`` overrides, ``--leave-output-tensor``,
and GGUF metadata (tokenizer, alignment padding), which adds a few MB to a real file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import spec as S
from ..errors import FormatError
from .gguf_types import ggml_type, tensor_nbytes
from .stored_bytes import WeightBytes


@dataclass(frozen=True)
class Preset:
    """A llama.cpp file type: canonical name, ``llama_ftype`` value, default tensor type, quantize.cpp label."""

    name: str
    ftype: int
    default_type: str
    label: str
    #: llama-quantize refuses this file type without an importance matrix (``tensor_requires_imatrix``)
    needs_imatrix: bool = False


def _p(name: str, ftype: int, default: str, label: str, needs_imatrix: bool = False) -> Preset:
    return Preset(name, ftype, default, label, needs_imatrix)


# llama_ftype values (include/llama.h, = gguf.LlamaFileType), default types from
# llama_ftype_get_default_type, labels from tools/quantize/quantize.cpp QUANT_OPTIONS.
_PRESET_LIST: tuple[Preset, ...] = (
    _p("F32", 0, "F32", "26.00G @ 7B"),
    _p("F16", 1, "F16", "14.00G, +0.0020 ppl @ Mistral-7B"),
    _p("BF16", 32, "BF16", "14.00G, -0.0050 ppl @ Mistral-7B"),
    _p("Q8_0", 7, "Q8_0", "7.96G, +0.0026 ppl @ Llama-3-8B"),
    _p("Q6_K", 18, "Q6_K", "6.14G, +0.0217 ppl @ Llama-3-8B"),
    _p("Q5_K_M", 17, "Q5_K", "5.33G, +0.0569 ppl @ Llama-3-8B"),
    _p("Q5_K_S", 16, "Q5_K", "5.21G, +0.1049 ppl @ Llama-3-8B"),
    _p("Q5_1", 9, "Q5_1", "5.65G, +0.1062 ppl @ Llama-3-8B"),
    _p("Q5_0", 8, "Q5_0", "5.21G, +0.1316 ppl @ Llama-3-8B"),
    _p("Q4_K_M", 15, "Q4_K", "4.58G, +0.1754 ppl @ Llama-3-8B"),
    _p("Q4_K_S", 14, "Q4_K", "4.37G, +0.2689 ppl @ Llama-3-8B"),
    _p("Q4_1", 3, "Q4_1", "4.78G, +0.4511 ppl @ Llama-3-8B"),
    _p("Q4_0", 2, "Q4_0", "4.34G, +0.4685 ppl @ Llama-3-8B"),
    _p("Q3_K_L", 13, "Q3_K", "4.03G, +0.5562 ppl @ Llama-3-8B"),
    _p("Q3_K_M", 12, "Q3_K", "3.74G, +0.6569 ppl @ Llama-3-8B"),
    _p("Q3_K_S", 11, "Q3_K", "3.41G, +1.6321 ppl @ Llama-3-8B"),
    _p("Q2_K", 10, "Q2_K", "2.96G, +3.5199 ppl @ Llama-3-8B"),
    _p("Q2_K_S", 21, "Q2_K", "2.96G, +3.1836 ppl @ Llama-3-8B", True),
    _p("IQ4_XS", 30, "IQ4_XS", "4.25 bpw non-linear quantization"),
    _p("IQ4_NL", 25, "IQ4_NL", "4.50 bpw non-linear quantization"),
    _p("IQ3_M", 27, "IQ3_S", "3.66 bpw quantization mix"),
    _p("IQ3_S", 26, "IQ3_S", "3.44 bpw quantization"),
    _p("IQ3_XS", 22, "IQ3_S", "3.3 bpw quantization"),
    _p("IQ3_XXS", 23, "IQ3_XXS", "3.06 bpw quantization", True),
    _p("IQ2_M", 29, "IQ2_S", "2.7 bpw quantization", True),
    _p("IQ2_S", 28, "IQ2_XS", "2.5 bpw quantization", True),
    _p("IQ2_XS", 20, "IQ2_XS", "2.31 bpw quantization", True),
    _p("IQ2_XXS", 19, "IQ2_XXS", "2.06 bpw quantization", True),
    _p("IQ1_M", 31, "IQ1_M", "1.75 bpw quantization", True),
    _p("IQ1_S", 24, "IQ1_S", "1.56 bpw quantization", True),
    _p("TQ2_0", 37, "TQ2_0", "2.06 bpw ternarization"),
    _p("TQ1_0", 36, "TQ1_0", "1.69 bpw ternarization"),
    _p("MXFP4_MOE", 38, "MXFP4", "MXFP4 MoE"),
    _p("NVFP4", 39, "NVFP4", "NVFP4"),
    _p("Q2_0", 41, "Q2_0", "2.25 bpw quantization (group 64)"),
    _p("Q1_0", 40, "Q1_0", "1.125 bpw quantization"),
)

#: canonical file-type names, in quantize.cpp's spirit: big to small.
PRESETS: tuple[str, ...] = tuple(p.name for p in _PRESET_LIST)
_BY_NAME: dict[str, Preset] = {p.name: p for p in _PRESET_LIST}
#: quantize.cpp aliases ("Q4_K" → Q4_K_M …)
ALIASES: dict[str, str] = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}
_BY_FTYPE: dict[int, Preset] = {p.ftype: p for p in _PRESET_LIST}


def find_preset(name: str) -> str | None:
    """Canonical name of a file type given case-insensitively (``q4_k_m``, ``Q4_K``), else ``None``."""
    if not isinstance(name, str):
        return None
    key = name.strip().upper().replace("-", "_")
    key = ALIASES.get(key, key)
    return key if key in _BY_NAME else None


def get_preset(name: str) -> Preset:
    """The :class:`Preset` of a file-type name; :class:`~vramscope.errors.FormatError` listing the valid ones."""
    key = find_preset(name)
    if key is None:
        raise FormatError(
            f"unknown GGUF file type {name!r}. Valid file types: {', '.join(PRESETS)} "
            f"(aliases: {', '.join(f'{a}={b}' for a, b in ALIASES.items())})"
        )
    return _BY_NAME[key]


def preset_from_file_type(ftype: int) -> str | None:
    """Name of the file type stored as ``general.file_type`` in a GGUF (``15`` → ``"Q4_K_M"``)."""
    p = _BY_FTYPE.get(int(ftype))
    return p.name if p else None


# --- GGUF names for the tensors of a config-derived spec -----------------------------------------

_ROLE_TO_GGUF: dict[str, str] = {
    S.ROLE_ATTN_Q: "attn_q",
    S.ROLE_ATTN_K: "attn_k",
    S.ROLE_ATTN_V: "attn_v",
    S.ROLE_ATTN_O: "attn_output",
    S.ROLE_ATTN_QKV: "attn_qkv",
    S.ROLE_ATTN_Q_A: "attn_q_a",
    S.ROLE_ATTN_Q_B: "attn_q_b",
    S.ROLE_ATTN_KV_A: "attn_kv_a_mqa",
    S.ROLE_ATTN_KV_B: "attn_kv_b",
    S.ROLE_FFN_GATE: "ffn_gate",
    S.ROLE_FFN_UP: "ffn_up",
    S.ROLE_FFN_GATE_UP: "ffn_gate_up",
    S.ROLE_FFN_DOWN: "ffn_down",
    S.ROLE_SSM_IN: "ssm_in",
    S.ROLE_SSM_X: "ssm_x",
    S.ROLE_SSM_DT: "ssm_dt",
    S.ROLE_SSM_OUT: "ssm_out",
}

#: roles that llama-quantize never converts (1-D, norms, routers, conv1d, A/D): stored type kept (F32).
_NEVER_QUANTISED = frozenset(
    {S.ROLE_NORM, S.ROLE_BIAS, S.ROLE_ROUTER, S.ROLE_ATTN_SINKS, S.ROLE_SSM_A, S.ROLE_SSM_D, S.ROLE_SSM_CONV}
)
#: tensors that do not go into the language-model GGUF (vision / audio towers go into an mmproj file).
_OTHER_FILE = frozenset({S.COMPONENT_VISION, S.COMPONENT_AUDIO})

_BLK = re.compile(r"^blk\.(\d+)\.")


def gguf_tensor_name(t: S.Tensor, spec: S.ModelSpec) -> str:
    """The llama.cpp name of a tensor: its own name for a spec read from a GGUF file, else one built
    from its role (``blk.{layer}.attn_v.weight``, ``token_embd.weight``, ``blk.3.ffn_down_exps.weight``)."""
    if spec.source == "gguf":
        return t.name
    suffix = "bias" if t.role == S.ROLE_BIAS or t.name.endswith(".bias") else "weight"
    if t.role == S.ROLE_EMBED:
        return "token_embd.weight"
    if t.role == S.ROLE_LM_HEAD:
        return "output.weight"
    prefix = f"blk.{t.layer}." if t.layer is not None else ""
    base = _ROLE_TO_GGUF.get(t.role)
    if base is None:
        if t.role == S.ROLE_ROUTER:
            base = "ffn_gate_inp"
        elif t.role == S.ROLE_SSM_CONV:
            base = "ssm_conv1d"
        else:  # norms, biases, A/D, sinks, other: never categorised; keep the HF name, made unique
            return prefix + re.sub(r"^.*?layers\.\d+\.", "", t.name)
    elif base.startswith("ffn_"):
        if t.experts:
            base += "_exps"
        elif "shared" in t.name.lower():
            base += "_shexp"
    return f"{prefix}{base}.{suffix}"


# --- llama.cpp tensor categories (tensor_get_category) ---------------------------------------------
_OUTPUT, _TOKEN_EMBD, _QKV, _KV_B, _V, _K, _Q, _ATTN_OUT, _FFN_UP, _FFN_GATE, _FFN_DOWN, _OTHER = (
    "output", "token_embd", "attn_qkv", "attn_kv_b", "attn_v", "attn_k", "attn_q", "attn_output",
    "ffn_up", "ffn_gate", "ffn_down", "other",
)  # fmt: skip
_ATTN_V_LIKE = frozenset({_V, _QKV, _KV_B})


def _category(name: str) -> str:
    """``tensor_get_category``: exact names first, then substring tests in llama.cpp's order."""
    if name == "output.weight":
        return _OUTPUT
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return _TOKEN_EMBD
    for needle, cat in (
        ("attn_qkv.weight", _QKV),
        ("attn_kv_b.weight", _KV_B),
        ("attn_v.weight", _V),
        ("attn_k.weight", _K),
        ("attn_q.weight", _Q),
        ("attn_output.weight", _ATTN_OUT),
        ("ffn_up", _FFN_UP),
        ("ffn_gate", _FFN_GATE),
        ("ffn_down", _FFN_DOWN),
    ):
        if needle in name:
            return cat
    return _OTHER


# name fragments that tensor_allows_quantization excludes (besides ndim < 2 / not *weight / norms)
_NO_QUANT_FRAGMENTS = (
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
    "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
)  # fmt: skip
_NO_QUANT_NAMES = frozenset({"position_embd.weight", "token_types.weight"})


def _allows_quantization(name: str, ndim: int) -> bool:
    """``tensor_allows_quantization`` (with default params: output tensor quantised, not only-copy)."""
    if ndim < 2 or not name.endswith("weight") or name in _NO_QUANT_NAMES:
        return False
    return not any(frag in name for frag in _NO_QUANT_FRAGMENTS)


def _use_more_bits(i: int, n: int) -> bool:
    """llama-quant.cpp ``use_more_bits``: the first and last eighth and every third layer between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fallback(name: str, row: int, target: str, notes: list[str]) -> str:
    """``tensor_type_fallback``: a compatible type when ``row`` is not a multiple of the block size."""
    if row % ggml_type(target).block_elems == 0:
        return target
    if target in ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_XS"):
        new = "IQ4_NL"
    elif target in ("Q2_0", "Q2_K", "Q3_K", "TQ1_0", "TQ2_0"):
        new = "Q4_0"
    elif target in ("Q4_K", "Q5_K", "Q6_K"):
        new = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}[target]
    else:
        raise FormatError(
            f"{name}: row length {row} is not a multiple of the {target} block "
            f"({ggml_type(target).block_elems}) and llama-quantize defines no fallback for {target}"
        )
    if row % ggml_type(new).block_elems:
        new = "F16"
    notes.append(f"{_BLK.sub('blk.*.', name)}: row length {row} not divisible by the {target} block → {new}")
    return new


_IQ_LOW = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_LLAMA_70B_ARCHS = frozenset({"llama", "mistral", "qwen2", "deci", "nemotron-nas", "mpt"})


@dataclass
class _State:
    """``quantize_state_impl`` plus the model facts the rules read (hparams, arch, model type)."""

    ftype: str
    arch: str
    n_layer: int
    n_expert: int
    n_gqa: int
    is_70b: bool
    has_imatrix: bool
    tied: bool
    n_attention_wv: int = 0
    i_attention_wv: int = 0
    i_ffn_down: int = 0
    i_ffn_gate: int = 0
    i_ffn_up: int = 0
    notes: list[str] = field(default_factory=list)


def _layer_info(st: _State, counter: int, name: str) -> tuple[int, int]:
    """``layer_info``: the running counter for dense models, the ``blk.N`` index for MoE models."""
    if st.n_expert > 1:
        m = _BLK.match(name)
        if m is None:
            raise FormatError(f"cannot determine the layer of tensor {name!r}")
        return int(m.group(1)), st.n_layer
    return counter, st.n_layer


def _impl(st: _State, new: str, name: str, shape: tuple[int, ...], cat: str) -> str:
    """``llama_tensor_get_type_impl``: the per-category overrides of the file type's default type."""
    ft = st.ftype
    if cat == _OUTPUT or (st.tied and cat == _TOKEN_EMBD):
        nx = shape[-1]
        if ft == "MXFP4_MOE" or st.arch == "falcon" or nx % ggml_type(new).block_elems:
            return "Q8_0"
        if ft in _IQ_LOW or ft == "IQ3_XXS":
            return "Q5_K"
        return new if new == "Q8_0" else "Q6_K"
    if ft == "MXFP4_MOE":
        is_ffn = cat in (_FFN_UP, _FFN_GATE, _FFN_DOWN)
        three_d = len(shape) >= 3 and shape[-3] > 1  # ggml ne[2] > 1
        return "MXFP4" if three_d and (st.arch != "bailingmoe3" or is_ffn) else "Q8_0"
    if cat == _TOKEN_EMBD:
        if ft in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
            return "Q2_K"
        if ft in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
            return "IQ3_S"
        if ft in ("TQ1_0", "TQ2_0", "Q2_0"):
            return "Q4_K"
        return new
    if ft in _IQ_LOW:
        hi = "IQ3_S" if ft in ("IQ2_S", "IQ2_M") else "Q2_K"
        if cat in _ATTN_V_LIKE:
            new = "Q4_K" if st.n_gqa >= 4 or st.n_expert >= 4 else hi
            st.i_attention_wv += 1
        elif st.n_expert == 8 and cat == _K:
            new = "Q4_K"
        elif cat == _FFN_DOWN:
            if st.i_ffn_down < st.n_layer // 8:
                new = hi
            st.i_ffn_down += 1
        elif cat == _ATTN_OUT:
            if st.n_expert == 8:
                new = "Q5_K"
            elif ft in ("IQ1_S", "IQ1_M"):
                new = "IQ2_XXS"
            elif ft in ("IQ2_S", "IQ2_M"):
                new = "IQ3_S"
        return new
    if cat in _ATTN_V_LIKE:
        i, n = st.i_attention_wv, st.n_attention_wv
        if ft == "Q2_K":
            new = "Q4_K" if st.n_gqa >= 4 else "Q3_K"
        elif ft == "Q2_K_S" and st.n_gqa >= 4:
            new = "Q4_K"
        elif ft == "IQ3_XXS":
            new = "Q4_K" if st.n_gqa >= 4 else ("IQ3_XXS" if st.has_imatrix else "IQ3_S")
        elif ft in ("IQ3_XS", "IQ3_S") and st.n_gqa >= 4 or ft == "IQ3_M":
            new = "Q4_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if i < 2 else "Q4_K"
        elif ft == "Q3_K_L" or ft in ("IQ4_NL", "IQ4_XS") and st.n_gqa >= 4:
            new = "Q5_K"
        elif ft in ("Q4_K_M", "Q5_K_M") and _use_more_bits(i, n):
            new = "Q6_K"
        elif ft == "Q4_K_S" and i < 4:
            new = "Q5_K"
        if st.is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"  # 8 heads share attn_v in 70B models: more bits for ~nothing
        if st.n_expert == 8:
            new = "Q8_0"
        st.i_attention_wv += 1
        # (llama.cpp's separate ATTENTION_QKV branch below is unreachable: attn_qkv is attn_v-like)
        return new
    if cat == _K:
        if st.n_expert == 8:
            return "Q8_0"
        if ft == "IQ3_XS":
            return "IQ3_XXS"
        if ft == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == _Q:
        if ft == "IQ3_XS":
            return "IQ3_XXS"
        if ft == "IQ3_XXS":
            return "IQ2_S"
        return new
    if cat == _FFN_DOWN:
        i, n = _layer_info(st, st.i_ffn_down, name)
        falcon = st.arch == "falcon"
        if ft == "Q2_K":
            new = "Q3_K"
        elif ft == "Q2_K_S":
            if i < n // 8:
                new = "Q4_K"
        elif ft == "IQ3_XXS" and not st.has_imatrix:
            new = "Q4_K" if i < n // 8 else "Q3_K"
        elif ft == "Q3_K_M":
            new = "Q5_K" if i < n // 16 else ("Q4_K" if not falcon or _use_more_bits(i, n) else "Q3_K")
        elif ft == "IQ3_M" and (i < n // 8 or (st.n_expert == 8 and _use_more_bits(i, n))):
            new = "Q4_K"
        elif ft == "Q3_K_L":
            new = "Q4_K" if falcon else "Q5_K"
        elif ft == "Q4_K_M":
            if falcon:
                new = "Q6_K" if i < n // 16 else ("Q5_K" if _use_more_bits(i, n) else "Q4_K")
            elif _use_more_bits(i, n):
                new = "Q6_K"
        elif i < n // 8 and ft in ("IQ4_NL", "IQ4_XS") and not st.has_imatrix:
            new = "Q5_K"
        elif ft == "Q5_K_M" and _use_more_bits(i, n):
            new = "Q6_K"
        elif ft == "Q4_K_S" and not falcon and i < n // 8:
            new = "Q5_K"
        elif ft in ("Q4_0", "Q5_0") and st.has_imatrix and i < n // 8:
            new = "Q4_1" if ft == "Q4_0" else "Q5_1"
        st.i_ffn_down += 1
        return new
    if cat == _ATTN_OUT:
        if st.arch != "falcon":
            if st.n_expert == 8:
                if ft in ("Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M",
                          "IQ3_S", "IQ3_M", "IQ4_XS"):
                    new = "Q5_K"
            else:
                new = {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K",
                       "IQ3_M": "Q4_K"}.get(ft, new)
        elif ft == "Q3_K_L":
            new = "Q4_K"
        return new
    if cat in (_FFN_GATE, _FFN_UP):
        counter = st.i_ffn_gate if cat == _FFN_GATE else st.i_ffn_up
        i, n = _layer_info(st, counter, name)
        if ft == "IQ3_XS" and n // 8 <= i < 7 * n // 8:
            new = "IQ3_XXS"
        if cat == _FFN_GATE:
            st.i_ffn_gate += 1
        else:
            st.i_ffn_up += 1
        return new
    return new


# --- planning a whole model --------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTensor:
    """One tensor of the quantised GGUF: its llama.cpp name, chosen GGML type and exact bytes."""

    tensor: S.Tensor
    gguf_name: str
    type: str
    nbytes: int
    converted: bool  # llama-quantize converted it (tensor_allows_quantization)


def _block_index(name: str) -> int:
    m = _BLK.match(name)
    return int(m.group(1)) if m else -1


def _hparams(spec: S.ModelSpec) -> tuple[int, int, bool]:
    """(n_expert, n_gqa of layer 0, is the model llama.cpp's LLM_TYPE_70B)."""
    n_expert = max((layer.mlp.num_experts for layer in spec.layers), default=0)
    att0 = spec.layers[0].attention if spec.layers else None
    n_gqa = att0.num_heads // att0.num_kv_heads if att0 is not None and att0.num_kv_heads else 0
    arch = spec.family.lower()
    is_70b = spec.num_layers == 80 and arch in _LLAMA_70B_ARCHS and not (
        arch in ("llama", "mistral") and att0 is not None and att0.num_heads == att0.num_kv_heads
    )
    return n_expert, n_gqa, is_70b


def _stored_type(t: S.Tensor) -> str:
    """Type of a tensor llama-quantize leaves alone: its stored GGML type if known, else F32 (what
    convert_hf_to_gguf.py writes for 1-D tensors, norms, routers, conv1d, position embeddings)."""
    if t.dtype:
        try:
            return ggml_type(t.dtype).name
        except FormatError:
            pass
    return "F32"


def _synthetic(t: S.Tensor) -> bool:
    """A quantisable 1-D ``other`` tensor stands for a bulk of weights of unknown layout (the
    ``inferred.remainder`` of a bare-size spec): quantised at the default type, rounded up to blocks."""
    return t.role == S.ROLE_OTHER and t.quantisable and len(t.shape) < 2


def plan(preset: str, spec: S.ModelSpec, *, imatrix: bool | None = None) -> list[PlannedTensor]:
    """The GGML type and bytes of every tensor llama-quantize would write for ``preset`` (see :func:`_plan`)."""
    return _plan(preset, spec, imatrix)[0]


def _plan(preset: str, spec: S.ModelSpec, imatrix: bool | None) -> tuple[list[PlannedTensor], list[str]]:
    """The GGML type and bytes of every tensor llama-quantize would write for ``preset``.

    Tensors of the vision/audio components are left out (they go into a separate ``mmproj`` GGUF);
    MTP tensors are planned after the main model (they do not move the main model's counters).
    ``imatrix``: whether an importance matrix is given; ``None`` = only where the file type
    requires one (IQ1/IQ2/IQ3_XXS, Q2_K_S).
    """
    p = get_preset(preset)
    has_imatrix = p.needs_imatrix if imatrix is None else bool(imatrix)
    n_expert, n_gqa, is_70b = _hparams(spec)
    items = [
        (t, gguf_tensor_name(t, spec)) for t in spec.tensors if t.component not in _OTHER_FILE
    ]
    main = [it for it in items if it[0].component != S.COMPONENT_MTP]
    mtp = [it for it in items if it[0].component == S.COMPONENT_MTP]
    order = sorted(range(len(main)), key=lambda k: (_block_index(main[k][1]), main[k][1]))
    st = _State(
        ftype=p.name,
        arch=spec.family.lower(),
        n_layer=spec.num_layers,
        n_expert=n_expert,
        n_gqa=n_gqa,
        is_70b=is_70b,
        has_imatrix=has_imatrix,
        tied=not any(name == "output.weight" for _, name in main),
    )
    st.n_attention_wv = sum(1 for _, name in main if _category(name) in _ATTN_V_LIKE)
    default = ggml_type(p.default_type)
    planned: dict[int, PlannedTensor] = {}
    for k in order:
        t, name = main[k]
        planned[k] = _plan_one(st, default.name, t, name)
    out = [planned[k] for k in range(len(main))]
    # MTP layers: same rules, own counters (llama.cpp's converter drops DeepSeek's MTP layer).
    if mtp:
        st_mtp = _State(**{**st.__dict__, "notes": st.notes, "i_attention_wv": 0, "i_ffn_down": 0,
                           "i_ffn_gate": 0, "i_ffn_up": 0})
        out += [_plan_one(st_mtp, default.name, t, name) for t, name in mtp]
    return out, st.notes


def _plan_one(st: _State, default: str, t: S.Tensor, name: str) -> PlannedTensor:
    if _synthetic(t):
        g = ggml_type(default)
        nb = -(-t.numel // g.block_elems) * g.block_bytes
        return PlannedTensor(t, name, g.name, nb, True)
    if t.role in _NEVER_QUANTISED or not _allows_quantization(name, len(t.shape)):
        typ = _stored_type(t)
        return PlannedTensor(t, name, typ, _bytes(typ, t), False)
    new = default
    if ggml_type(default).quantized:
        new = _impl(st, default, name, t.shape, _category(name))
        new = _fallback(name, t.shape[-1], new, st.notes)
    return PlannedTensor(t, name, new, _bytes(new, t), True)


def _bytes(typ: str, t: S.Tensor) -> int:
    try:
        return tensor_nbytes(typ, t.shape)
    except FormatError:
        # an unquantised tensor of an odd shape in a non-block type cannot fail; a block type can
        g = ggml_type(typ)
        return -(-t.numel // g.block_elems) * g.block_bytes


def preset_tensor_type(preset: str, tensor: S.Tensor, spec: S.ModelSpec, *, imatrix: bool | None = None) -> str:
    """The GGML type llama-quantize gives ``tensor`` (one of ``spec.tensors``) for file type ``preset``.

    Counter-dependent rules (``use_more_bits``, "first two attn_v") need the whole model, so this
    plans the model and looks the tensor up; use :func:`plan` for many tensors.
    """
    for pt in plan(preset, spec, imatrix=imatrix):
        if pt.tensor is tensor or pt.tensor == tensor:
            return pt.type
    if tensor.component in _OTHER_FILE:
        raise FormatError(f"{tensor.name} belongs to the {tensor.component} tower, which llama.cpp "
                          "stores in a separate mmproj GGUF, not in the model file")
    raise FormatError(f"tensor {tensor.name!r} is not part of model {spec.id!r}")


@dataclass(frozen=True)
class GGUFWeightBytes(WeightBytes):
    """:class:`~vramscope.formats.stored_bytes.WeightBytes` of a GGUF file type, with per-role and
    per-tensor detail. ``total`` = Σ tensor bytes of the model file (metadata and the ≤31-byte
    alignment padding per tensor not included)."""

    preset: str = ""
    by_role: dict[str, int] = field(default_factory=dict)
    params: int = 0
    tensor_types: dict[str, str] = field(default_factory=dict)  # gguf name → GGML type
    notes: tuple[str, ...] = ()

    @property
    def bits_per_weight(self) -> float:
        """Whole-file bits per parameter (8 · total / params): what "4.89 bpw" labels mean."""
        return 8 * self.total / self.params if self.params else 0.0

    def as_dict(self) -> dict:
        return {
            "preset": self.preset,
            "total_bytes": self.total,
            "bits_per_weight": self.bits_per_weight,
            "by_type": dict(self.by_type),
            "by_role": dict(self.by_role),
            "mtp_bytes": self.mtp,
            "notes": list(self.notes),
        }


def preset_weight_bytes(preset: str, spec: S.ModelSpec, *, imatrix: bool | None = None) -> GGUFWeightBytes:
    """Bytes of ``spec`` quantised to ``preset``: total, per GGML type, per role, per tensor.

    Returned as a :class:`GGUFWeightBytes` (a ``WeightBytes``, which ``formats.weight_formats.weight_bytes``
    passes on); ``.as_dict()`` gives ``{"total_bytes", "by_type", "by_role", …}``.
    """
    name = get_preset(preset).name
    planned, fallbacks = _plan(name, spec, imatrix)
    total = quant = qparams = params = mtp = 0
    by_type: dict[str, int] = {}
    by_role: dict[str, int] = {}
    by_component: dict[str, int] = {}
    types: dict[str, str] = {}
    notes: list[str] = list(dict.fromkeys(fallbacks))
    for pt in planned:
        t = pt.tensor
        types[pt.gguf_name] = pt.type
        if t.component == S.COMPONENT_MTP:
            mtp += pt.nbytes
            continue
        total += pt.nbytes
        params += t.numel
        by_type[pt.type] = by_type.get(pt.type, 0) + pt.nbytes
        by_role[t.role] = by_role.get(t.role, 0) + pt.nbytes
        by_component[t.component] = by_component.get(t.component, 0) + pt.nbytes
        if pt.converted:
            quant += pt.nbytes
            qparams += t.numel
    left_out = sorted({t.component for t in spec.tensors if t.component in _OTHER_FILE})
    if left_out:
        notes.append(f"{', '.join(left_out)} tower not included: llama.cpp stores it in a separate mmproj GGUF")
    return GGUFWeightBytes(
        format=name,
        total=total,
        quantised=quant,
        unquantised=total - quant,
        quantised_params=qparams,
        by_component=by_component,
        by_type=dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        mtp=mtp,
        preset=name,
        by_role=by_role,
        params=params,
        tensor_types=types,
        notes=tuple(notes),
    )
