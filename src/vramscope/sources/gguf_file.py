"""GGUF file → :class:`~vramscope.spec.ModelSpec`, with the exact stored bytes of every tensor.

The model structure (layers, heads, experts, SSM geometry) comes from the ``<arch>.*`` metadata
keys and the tensor shapes; the tensor inventory comes straight from the file's tensor-info
records: GGUF name, shape (PyTorch order = reversed ``ne``), GGML type and exact bytes
(``numel / block_elems · block_bytes``, :mod:`vramscope.formats.gguf_types`).

Key names follow ``gguf-py/gguf/constants.py`` (``Keys.LLM``, ``Keys.Attention``, ``Keys.SSM``;
gguf 0.19.0); tensor names follow ``TENSOR_NAMES`` there (``blk.{bid}.attn_q`` …). The file layout
(magic ``GGUF``, u32 version, u64 tensor count, u64 kv count, then KV pairs, tensor infos, aligned
data) is ``ggml/docs/gguf.md``; :class:`_Parser` reads it with ``struct`` over an ``mmap`` and checks
every length against the file size. (gguf-py's ``GGUFReader`` was the first choice, but it builds a
numpy view per token string — ~3 s for a 152k-token vocabulary — and fails with raw IndexError /
reshape errors on truncated files; ``tests/test_gguf.py`` cross-checks this parser against it.)

Multi-part files (``name-00001-of-00003.gguf``, written by ``llama-gguf-split``) are read part by
part and their tensors merged; the metadata comes from the first part.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import spec as S
from ..bounds import checked_int, validate_spec
from ..errors import FormatError, GGUFError, UnsupportedModelError
from ..formats.gguf_mix import preset_from_file_type
from ..formats.gguf_types import ggml_type, tensor_nbytes
from .files import regular_file

_MAGIC = b"GGUF"
_HEADER = 24  # magic u32 + version u32 + tensor_count u64 + kv_count u64
_SPLIT = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")

# GGUF tensor base name (after ``blk.N.`` and before ``.weight``/``.bias``) → role
_ROLES: dict[str, str] = {
    "token_embd": S.ROLE_EMBED,
    "per_layer_token_embd": S.ROLE_EMBED,
    "output": S.ROLE_LM_HEAD,
    "attn_q": S.ROLE_ATTN_Q,
    "attn_k": S.ROLE_ATTN_K,
    "attn_v": S.ROLE_ATTN_V,
    "attn_qkv": S.ROLE_ATTN_QKV,
    "attn_output": S.ROLE_ATTN_O,
    "attn_q_a": S.ROLE_ATTN_Q_A,
    "attn_q_b": S.ROLE_ATTN_Q_B,
    "attn_kv_a_mqa": S.ROLE_ATTN_KV_A,
    "attn_kv_b": S.ROLE_ATTN_KV_B,
    "attn_k_b": S.ROLE_ATTN_KV_B,  # kv_b split for MLA absorption (convert_hf_to_gguf.py)
    "attn_v_b": S.ROLE_ATTN_KV_B,
    "attn_sinks": S.ROLE_ATTN_SINKS,
    "ffn_gate": S.ROLE_FFN_GATE,
    "ffn_up": S.ROLE_FFN_UP,
    "ffn_down": S.ROLE_FFN_DOWN,
    "ffn_gate_up": S.ROLE_FFN_GATE_UP,
    "ffn_gate_inp": S.ROLE_ROUTER,
    "ffn_gate_inp_shexp": S.ROLE_ROUTER,
    "exp_probs_b": S.ROLE_ROUTER,
    "ssm_in": S.ROLE_SSM_IN,
    "ssm_x": S.ROLE_SSM_X,
    "ssm_dt": S.ROLE_SSM_DT,
    "ssm_out": S.ROLE_SSM_OUT,
    "ssm_conv1d": S.ROLE_SSM_CONV,
    "ssm_a": S.ROLE_SSM_A,
    "ssm_d": S.ROLE_SSM_D,
}
_FFN_SUFFIX = re.compile(r"^(ffn_(?:gate_up|gate|up|down))_(exps|shexp|chexps)$")

#: architectures with explicit structure rules; others are read as Llama-like decoders.
SUPPORTED_ARCHS: tuple[str, ...] = (
    "llama", "mistral", "qwen2", "qwen3", "qwen2moe", "qwen3moe", "gemma", "gemma2", "gemma3", "phi3",
    "deepseek2", "gpt-oss", "mamba", "mamba2", "jamba", "granite", "olmo2",
)  # fmt: skip
_SLIDING_PATTERN = {"gemma2": 2, "gemma3": 6, "gpt-oss": 2, "cohere2": 4}  # llama.cpp set_swa_pattern(n)


# --- the file format -------------------------------------------------------------------------
# GGUF value types (gguf-py constants.GGUFValueType / ggml/docs/gguf.md): 8 = string (u64 length +
# UTF-8 bytes), 9 = array (u32 element type, u64 count, elements); the others are scalars.
_SCALARS: dict[int, str] = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
#: arrays longer than this (token lists, merges, scores) are kept as their length only: nothing in a
#: ModelSpec needs their contents, and skipping them keeps reading a file well under a second.
_MAX_ARRAY = 1024
#: an array count above this is taken as corruption (the largest vocabularies have ~1M entries).
_MAX_COUNT = 1 << 28
_MAX_DIMS = 8  # GGML_MAX_DIMS is 4; leave room, but refuse garbage


class _RawTensor:
    """A tensor-info record: name, ``ne`` (GGUF order), GGML type id, offset in the data section."""

    __slots__ = ("name", "ne", "type_id", "offset")

    def __init__(self, name: str, ne: list[int], type_id: int, offset: int):
        self.name, self.ne, self.type_id, self.offset = name, ne, type_id, offset


class _Parser:
    """A bounds-checked reader of a GGUF header (magic, version, counts, KV pairs, tensor infos).

    Every read checks the remaining length first, so a truncated or corrupt file ends in a one-line
    :class:`GGUFError` instead of an exception from deep inside struct/numpy or a long loop.
    """

    def __init__(self, buf: Any, size: int, path: Path):
        self.buf, self.size, self.path, self.pos, self.order = buf, size, path, 0, "<"

    def fail(self, what: str) -> GGUFError:
        return GGUFError(f"{self.path}: corrupt or truncated GGUF file: {what}")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"{what} runs past the end of the file (byte {self.pos + max(n, 0):,} of {self.size:,})")

    def scalar(self, code: str, what: str) -> Any:
        n = struct.calcsize(code)
        self.need(n, what)
        (v,) = struct.unpack_from(self.order + code, self.buf, self.pos)
        self.pos += n
        return v

    def string(self, what: str) -> str:
        n = self.scalar("Q", what)
        self.need(n, what)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype == _STRING:
            return self.string(what)
        code = _SCALARS.get(vtype)
        if code is not None:
            return self.scalar(code, what)
        if vtype != _ARRAY or depth > 1:
            raise self.fail(f"{what} has unknown value type {vtype}")
        sub = self.scalar("I", what)
        count = self.scalar("Q", what)
        if count > _MAX_COUNT:
            raise self.fail(f"{what} announces an array of {count:,} elements")
        code = _SCALARS.get(sub)
        if code is not None:
            n = count * struct.calcsize(code)
            self.need(n, what)
            if count > _MAX_ARRAY:
                self.pos += n
                return count
            vals = list(struct.unpack_from(f"{self.order}{count}{code}", self.buf, self.pos))
            self.pos += n
            return vals
        if sub == _STRING:
            self.need(8 * count, what)
            if count > _MAX_ARRAY:
                for _ in range(count):  # skip: u64 length + bytes each
                    n = self.scalar("Q", what)
                    self.need(n, what)
                    self.pos += n
                return count
            return [self.string(what) for _ in range(count)]
        self.need(12 * count, what)  # every nested array starts with its u32 type and u64 count
        return [self.value(sub, what, depth + 1) for _ in range(count)]

    def header(self) -> tuple[dict[str, Any], list[_RawTensor], int]:
        """(metadata, tensor infos, start of the data section)."""
        if self.size == 0:
            raise GGUFError(f"{self.path}: empty file, not a GGUF model")
        magic = bytes(self.buf[:4])
        if magic != _MAGIC:
            raise GGUFError(f"{self.path}: not a GGUF file (starts with {magic!r}, expected b'GGUF')")
        if self.size < _HEADER:
            raise GGUFError(f"{self.path}: truncated GGUF file ({self.size} bytes; the header alone needs {_HEADER})")
        for order in ("<", ">"):
            version, n_tensors, n_kv = struct.unpack_from(order + "IQQ", self.buf, 4)
            if version in (1, 2, 3):
                self.order = order
                break
        else:
            v = struct.unpack_from("<I", self.buf, 4)[0]
            raise GGUFError(f"{self.path}: unsupported GGUF version {v} (expected 2 or 3)")
        if version == 1:
            raise GGUFError(f"{self.path}: GGUF version 1 files are not supported; re-convert with a current llama.cpp")
        if n_kv * _MIN_KV + n_tensors * _MIN_TENSOR_INFO > self.size - _HEADER:
            raise self.fail(f"the header announces {n_kv:,} metadata keys and {n_tensors:,} tensors, "
                            f"which cannot fit in {self.size:,} bytes")
        self.pos = _HEADER
        kv: dict[str, Any] = {}
        for k in range(n_kv):
            key = self.string(f"metadata key #{k}")
            vtype = self.scalar("I", f"metadata key {key!r}")
            kv[key] = self.value(vtype, f"metadata value {key!r}")
        tensors: list[_RawTensor] = []
        for k in range(n_tensors):
            name = self.string(f"tensor info #{k}")
            n_dims = self.scalar("I", f"tensor {name!r}")
            if not 0 < n_dims <= _MAX_DIMS:
                raise self.fail(f"tensor {name!r} has {n_dims} dimensions")
            ne = [self.scalar("Q", f"tensor {name!r}") for _ in range(n_dims)]
            type_id = self.scalar("I", f"tensor {name!r}")
            offset = self.scalar("Q", f"tensor {name!r}")
            tensors.append(_RawTensor(name, ne, type_id, offset))
        align = kv.get("general.alignment", 32)
        if not isinstance(align, int) or isinstance(align, bool) or align <= 0 or align & (align - 1):
            raise self.fail(f"general.alignment {align!r} is not a power of two")
        data_start = -(-self.pos // align) * align
        return kv, tensors, data_start


_MIN_KV = 8 + 1 + 4 + 1  # key length, ≥1 key byte, value type, ≥1 value byte
_MIN_TENSOR_INFO = 8 + 1 + 4 + 8 + 4 + 8  # name length, ≥1 name byte, n_dims, ≥1 dim, type, offset


def _read(path: Path) -> tuple[dict[str, Any], list[tuple[_RawTensor, str, tuple[int, ...], int]]]:
    """Metadata and checked tensors (record, GGML type name, PyTorch shape, bytes) of one GGUF file."""
    size = regular_file(path, "GGUF file").st_size
    try:
        with path.open("rb") as f:
            if size == 0:
                return _Parser(b"", 0, path).header()  # raises the "empty file" error
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                kv, raw, data_start = _Parser(buf, size, path).header()
    except OSError as e:
        raise GGUFError(f"{path}: cannot read the file ({e.strerror or e})") from None
    out = []
    seen: set[str] = set()
    for r in raw:
        if r.name in seen:
            raise GGUFError(f"{path}: corrupt GGUF file: tensor {r.name!r} appears twice")
        seen.add(r.name)
        shape = tuple(reversed(r.ne))
        try:
            typ = ggml_type(r.type_id).name
            nbytes = tensor_nbytes(typ, shape)
        except FormatError as e:
            raise GGUFError(f"{path}: tensor {r.name!r}: {e}") from None
        end = data_start + r.offset + nbytes
        if end > size:
            raise GGUFError(f"{path}: truncated GGUF file: tensor {r.name!r} ends at byte {end:,} "
                            f"but the file has {size:,} bytes (incomplete download?)")
        out.append((r, typ, shape, nbytes))
    return kv, out


# --- multi-part files --------------------------------------------------------------------------


def _parts(path: Path) -> list[Path]:
    """All parts of a split GGUF given any part (or the single file)."""
    m = _SPLIT.match(path.name)
    if not m:
        return [path]
    count = int(m.group("count"))
    if count < 1:
        raise GGUFError(f"{path}: split file name says it has {count} parts")
    width = len(m.group("no"))
    parts = [path.with_name(f"{m.group('stem')}-{i:0{width}d}-of-{m.group('count')}.gguf") for i in range(1, count + 1)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise GGUFError(f"{path}: split GGUF is missing part(s) {', '.join(missing)} in {path.parent}")
    return parts


def _model_id(path: Path) -> str:
    m = _SPLIT.match(path.name)
    return m.group("stem") if m else path.stem


# --- tensors -----------------------------------------------------------------------------------


def _role(name: str) -> tuple[str, int | None, str]:
    """(role, layer, base name) of a GGUF tensor name."""
    layer: int | None = None
    rest = name
    m = _BLK.match(name)
    if m:
        layer, rest = int(m.group(1)), m.group(2)
    base, _, suffix = rest.rpartition(".")
    if not base:  # no suffix at all (e.g. "blk.0.ssm_a" in older files)
        base, suffix = rest, ""
    fm = _FFN_SUFFIX.match(base)
    core = fm.group(1) if fm else base
    if "norm" in core:
        return S.ROLE_NORM, layer, base
    role = _ROLES.get(core, S.ROLE_OTHER)
    if suffix == "bias" and role not in (S.ROLE_ROUTER, S.ROLE_SSM_CONV, S.ROLE_NORM):
        role = S.ROLE_BIAS
    return role, layer, base


def _tensor(name: str, typ: str, shape: tuple[int, ...], nbytes: int, n_expert: int, k: int,
            mtp_from: int | None) -> S.Tensor:
    role, layer, base = _role(name)
    # stacked experts (weights (E, out, in), gpt-oss expert biases (E, out)): leading dim = expert_count
    experts = n_expert if "_exps" in base and n_expert and len(shape) >= 2 and shape[0] == n_expert else 0
    component = S.COMPONENT_MTP if mtp_from is not None and layer is not None and layer >= mtp_from else S.COMPONENT_TEXT
    return S.Tensor(
        name=name,
        shape=shape,
        role=role,
        layer=layer,
        quantisable=role in S.LINEAR_ROLES,
        component=component,
        experts=experts,
        active_experts=min(k, experts) if experts else 0,
        dtype=typ,
        nbytes=nbytes,
    )


# --- metadata → layers -------------------------------------------------------------------------


class _Meta:
    """Typed access to ``<arch>.*`` keys, per-layer arrays included."""

    def __init__(self, kv: dict[str, Any], arch: str, where: Path, n_layers: int):
        self.kv, self.arch, self.where, self.n = kv, arch, where, n_layers
        self.assumptions: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.kv.get(f"{self.arch}.{key}", default)

    def int(self, key: str, default: int | None = None, *, layer: int | None = None) -> int | None:
        """A non-negative, bounded integer (per-layer arrays: the layer's entry, else the largest)."""
        v = self.get(key)
        name = f"{self.arch}.{key}"
        if isinstance(v, list):
            if not v:
                return default
            if layer is not None and layer < len(v):
                return checked_int(v[layer], where=str(self.where), key=f"{name}[{layer}]", minimum=0, error=GGUFError)
            return max(checked_int(x, where=str(self.where), key=f"{name}[{i}]", minimum=0, error=GGUFError)
                       for i, x in enumerate(v))
        if v is None:
            return default
        return checked_int(v, where=str(self.where), key=name, minimum=0, error=GGUFError)

    def need(self, key: str, *, layer: int | None = None) -> int:
        v = self.int(key, layer=layer)
        if v is None:
            raise GGUFError(f"{self.where}: metadata key {self.arch}.{key} is missing")
        return v


def _dims(tensors: Sequence[S.Tensor]) -> dict[tuple[int | None, str], tuple[int, ...]]:
    return {(t.layer, _role(t.name)[2]): t.shape for t in tensors if t.name.endswith("weight")}


def _layers(meta: _Meta, tensors: Sequence[S.Tensor], hidden: int) -> tuple[S.Layer, ...]:
    n = meta.n
    shapes = _dims(tensors)
    n_expert = meta.int("expert_count", 0) or 0
    top_k = meta.int("expert_used_count", 0) or 0
    n_dense_lead = meta.int("leading_dense_block_count", 0) or 0
    n_shared = meta.int("expert_shared_count", 0) or 0
    window = meta.int("attention.sliding_window")
    swa_pattern = meta.get("attention.sliding_window_pattern")
    kv_lora = meta.int("attention.kv_lora_rank")
    q_lora = meta.int("attention.q_lora_rank")
    rope_dim = meta.int("rope.dimension_count")
    d_inner = meta.int("ssm.inner_size")
    layers: list[S.Layer] = []
    for i in range(n):
        # --- mixer -----------------------------------------------------------------------------
        n_head = meta.int("attention.head_count", 0, layer=i) or 0
        n_kv = meta.int("attention.head_count_kv", n_head, layer=i)
        has_attn_tensors = any((i, b) in shapes for b in ("attn_q", "attn_qkv", "attn_q_a", "attn_q_b"))
        attention: S.Attention | None = None
        ssm: S.SSM | None = None
        if d_inner and ((i, "ssm_in") in shapes or not has_attn_tensors):
            ssm = _ssm(meta, d_inner, shapes, i)
        elif n_head:
            attention = _attention(meta, i, n_head, n_kv or n_head, hidden, kv_lora, q_lora, rope_dim,
                                   window, swa_pattern, shapes)
        # --- mlp -------------------------------------------------------------------------------
        mlp = _mlp(meta, i, shapes, n_expert, top_k, n_dense_lead, n_shared)
        layers.append(S.Layer(i, attention, mlp, ssm))
    return tuple(layers)


def _attention(meta: _Meta, i: int, n_head: int, n_kv: int, hidden: int, kv_lora: int | None,
               q_lora: int | None, rope_dim: int | None, window: int | None, swa_pattern: Any,
               shapes: dict[tuple[int | None, str], tuple[int, ...]]) -> S.Attention:
    key_len = meta.int("attention.key_length")
    val_len = meta.int("attention.value_length")
    if kv_lora:  # MLA (deepseek2): newer converts store the absorbed MQA sizes + the *_mla ones
        qk = meta.int("attention.key_length_mla") or key_len
        v = meta.int("attention.value_length_mla") or val_len
        if qk is None or v is None or rope_dim is None:
            raise GGUFError(f"{meta.where}: MLA model without attention.key_length / value_length / rope.dimension_count")
        return S.Attention(S.ATTN_MLA, n_head, n_head, qk, v_head_dim=v, q_lora_rank=q_lora or None,
                           kv_lora_rank=kv_lora, qk_rope_head_dim=rope_dim, qk_nope_head_dim=qk - rope_dim)
    head_dim = key_len
    if head_dim is None:
        q = shapes.get((i, "attn_q"))
        head_dim = q[0] // n_head if q else hidden // n_head
        meta.assumptions.append(f"no {meta.arch}.attention.key_length: head_dim = {head_dim} from the q projection")
    kind, win = S.ATTN_FULL, None
    if window:
        if isinstance(swa_pattern, list) and i < len(swa_pattern):
            sliding = bool(swa_pattern[i])
        elif meta.arch in _SLIDING_PATTERN:
            p = _SLIDING_PATTERN[meta.arch]
            if isinstance(swa_pattern, int) and not isinstance(swa_pattern, bool) and swa_pattern > 0:
                p = swa_pattern
            sliding = i % p < p - 1
        else:  # a window without a per-layer pattern applies to every layer (phi3, mistral-style)
            sliding = True
        if sliding:
            kind, win = S.ATTN_SLIDING, window
    return S.Attention(kind, n_head, n_kv, head_dim, v_head_dim=val_len if val_len not in (None, head_dim) else None,
                       window=win)


def _mlp(meta: _Meta, i: int, shapes: dict[tuple[int | None, str], tuple[int, ...]], n_expert: int, top_k: int,
         n_dense_lead: int, n_shared: int) -> S.MLP:
    exps = next((shapes[(i, b)] for b in ("ffn_down_exps", "ffn_up_exps", "ffn_gate_up_exps") if (i, b) in shapes), None)
    shexp_down = shapes.get((i, "ffn_down_shexp"))
    down = shapes.get((i, "ffn_down"))
    up = shapes.get((i, "ffn_up"))
    gated = (i, "ffn_gate") in shapes or (i, "ffn_gate_exps") in shapes or (i, "ffn_gate_up_exps") in shapes
    if exps is not None or (n_expert and i >= n_dense_lead and not down):
        e = exps[0] if exps is not None else n_expert
        if (i, "ffn_down_exps") in shapes:
            width = shapes[(i, "ffn_down_exps")][-1]
        else:
            width = meta.int("expert_feed_forward_length", layer=i) or meta.need("feed_forward_length", layer=i)
        shared_w = shexp_down[-1] if shexp_down else 0
        if not shared_w and n_shared:
            shared_w = n_shared * width
        return S.MLP(S.MLP_MOE, num_experts=e, top_k=top_k, expert_intermediate_size=width,
                     num_shared_experts=n_shared or (1 if shared_w else 0), shared_intermediate_size=shared_w,
                     gated=gated)
    if down is not None:
        return S.MLP(S.MLP_DENSE, intermediate_size=down[-1], gated=gated or (up is not None and up[0] == 2 * down[-1]))
    ff = meta.int("feed_forward_length", 0, layer=i) or 0
    if ff:
        return S.MLP(S.MLP_DENSE, intermediate_size=ff)
    return S.MLP(S.MLP_NONE)


def _ssm(meta: _Meta, d_inner: int, shapes: dict[tuple[int | None, str], tuple[int, ...]], i: int) -> S.SSM:
    d_state = meta.need("ssm.state_size")
    d_conv = meta.need("ssm.conv_kernel")
    rank = meta.int("ssm.time_step_rank", 0) or 0
    groups = meta.int("ssm.group_count", 0) or 0
    if meta.arch == "mamba2" or groups:
        heads = rank
        return S.SSM(S.SSM_MAMBA2, d_inner=d_inner, d_state=d_state, d_conv=d_conv, num_heads=heads,
                     head_dim=d_inner // heads if heads else 0, n_groups=groups or 1)
    return S.SSM(S.SSM_MAMBA1, d_inner=d_inner, d_state=d_state, d_conv=d_conv, dt_rank=rank)


# --- public entry point ------------------------------------------------------------------------


def spec_from_gguf(path: str | os.PathLike[str]) -> S.ModelSpec:
    """Read a GGUF model file (or the first part of a split one) into a ModelSpec.

    ``id`` = file name stem (without ``-00001-of-0000N``), ``family`` = ``general.architecture``,
    ``source = "gguf"``, ``quantization = {"gguf_file_type": <general.file_type name>, "quant_method": "gguf"}``.
    Each tensor carries its GGML type (``dtype``) and exact stored bytes (``nbytes``).
    Raises :class:`~vramscope.errors.GGUFError` for files that are not GGUF, truncated or corrupt.
    """
    p = Path(path)
    regular_file(p, "GGUF file")
    parts = _parts(p)
    kv, raw_tensors = _read(parts[0])
    arch = kv.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise GGUFError(f"{parts[0]}: no general.architecture key; is this a llama.cpp model GGUF?")
    if arch == "clip" or kv.get("general.type") == "mmproj":
        raise UnsupportedModelError(f"{parts[0]}: a multimodal projector (mmproj) GGUF, not a language model; "
                                    "pass the model GGUF instead")
    for part in parts[1:]:
        raw_tensors += _read(part)[1]
    n_blocks = kv.get(f"{arch}.block_count")
    if n_blocks is None:
        raise GGUFError(f"{parts[0]}: metadata key {arch}.block_count is missing")
    n_blocks = checked_int(n_blocks, where=str(parts[0]), key=f"{arch}.block_count", error=GGUFError)
    if n_blocks > len(raw_tensors):  # every block has at least one tensor
        raise GGUFError(f"{parts[0]}: corrupt GGUF metadata: {arch}.block_count is {n_blocks:,} "
                        f"but the file has only {len(raw_tensors):,} tensors")
    n_mtp = kv.get(f"{arch}.nextn_predict_layers") or 0
    n_mtp = n_mtp if isinstance(n_mtp, int) and 0 < n_mtp < n_blocks else 0
    mtp_from = n_blocks - n_mtp if n_mtp else None
    n_expert, top_k = (checked_int(kv.get(f"{arch}.{key}") or 0, where=str(parts[0]), key=f"{arch}.{key}",
                                   minimum=0, error=GGUFError) for key in ("expert_count", "expert_used_count"))
    tensors = [_tensor(r.name, typ, shape, nb, int(n_expert), int(top_k), mtp_from) for r, typ, shape, nb in raw_tensors]
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise GGUFError(f"{parts[0]}: tensor {dup!r} appears in more than one part")

    meta = _Meta(kv, arch, parts[0], n_blocks - n_mtp)
    embd = next((t for t in tensors if t.role == S.ROLE_EMBED and t.name == "token_embd.weight"), None)
    hidden = meta.int("embedding_length") or (embd.shape[-1] if embd else None)
    if not hidden:
        raise GGUFError(f"{parts[0]}: metadata key {arch}.embedding_length is missing")
    vocab = embd.shape[0] if embd is not None else None
    if vocab is None:
        toks = kv.get("tokenizer.ggml.tokens")  # a list, or its length when long (see _MAX_ARRAY)
        vocab = len(toks) if isinstance(toks, list) else toks if isinstance(toks, int) else meta.int("vocab_size", 0)
    layers = _layers(meta, [t for t in tensors if t.component == S.COMPONENT_TEXT], int(hidden))
    if arch not in SUPPORTED_ARCHS:
        meta.assumptions.append(f"GGUF architecture {arch!r} read generically from its metadata and tensor shapes")
    ftype = kv.get("general.file_type")
    ftype_name = preset_from_file_type(ftype) if isinstance(ftype, int) and not isinstance(ftype, bool) else None
    quant: dict[str, Any] = {"quant_method": "gguf", "gguf_file_type": ftype_name}
    if len(parts) > 1:
        quant["gguf_parts"] = len(parts)
    dtype = {"F32": "float32", "BF16": "bfloat16"}.get(ftype_name or "", "float16")
    config = dict(kv)
    return validate_spec(S.ModelSpec(
        id=_model_id(parts[0]),
        family=arch,
        architecture=arch,
        hidden_size=int(hidden),
        vocab_size=int(vocab or 0),
        layers=layers,
        tensors=tuple(tensors),
        tie_word_embeddings=not any(t.name == "output.weight" for t in tensors),
        max_position_embeddings=meta.int("context_length"),
        dtype=dtype,
        quantization=quant,
        num_mtp_layers=n_mtp,
        source="gguf",
        assumptions=tuple(dict.fromkeys(meta.assumptions)),
        config=config,
    ))
