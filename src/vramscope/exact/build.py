"""Build the real transformers model of a config, with fake tensors, at any subset of its layers.

The model is first built on the ``meta`` device (no memory, no weight initialisation — fast even
for 405B), optionally wrapped with PEFT LoRA adapters there, cut down to the decoder layers a
trace needs, and only then given fake CPU tensors (``FakeTensorMode``) for every parameter and
buffer. The CPU build of torch cannot run fake CUDA tensors, so traces run on the fake CPU device
and count the bytes the same tensors would take on a GPU.

Layers are grouped into *kinds*: two decoder layers are of one kind when their attention type
(``config.layer_types``) and their parameter shapes agree — DeepSeek's dense prefix
(``first_k_dense_replace``), Qwen-MoE's ``mlp_only_layers`` and Gemma's sliding vs full layers are
kinds of their own.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ..errors import VramscopeError

INSTALL_HINT = "pip install 'vramscope[exact]'"
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_DROP_KEYS = ("architectures", "torch_dtype", "dtype", "transformers_version", "auto_map", "quantization_config",
              "_name_or_path", "model_type")


def require_torch(peft: bool = False) -> None:
    """Raise a VramscopeError naming the extra when torch / transformers (/ peft) are missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise VramscopeError(f"exact mode needs torch and transformers: {INSTALL_HINT}") from None
    if peft:
        try:
            import peft as _peft  # noqa: F401
        except ImportError:
            raise VramscopeError(f"LoRA traces need peft: {INSTALL_HINT}") from None


def resolve_config(model: str | dict) -> tuple[dict, str]:
    """``(config dict, display name)`` for a catalog id, a config path/directory or a config dict.

    Multimodal configs with a ``text_config`` give their text decoder (the vision tower is not traced).
    """
    if isinstance(model, dict):
        config, name = dict(model), str(model.get("_name_or_path") or model.get("model_type") or "config")
    else:
        from ..sources import load_model

        spec = load_model(str(model))
        config, name = dict(spec.config or {}), spec.id
    if "num_hidden_layers" not in config and isinstance(config.get("text_config"), dict):
        config = dict(config["text_config"])
    if not config.get("model_type"):
        raise VramscopeError(f"{name}: the config has no model_type, so transformers cannot build it")
    if not config.get("num_hidden_layers"):
        raise VramscopeError(f"{name}: the config has no num_hidden_layers")
    return config, name


@dataclass
class Layout:
    """The decoder layers of a model: their kinds in order, and where they live in the module tree."""

    kinds: list[int]  # kind index of every layer, in layer order
    labels: list[str]  # a short description per kind

    @property
    def counts(self) -> list[int]:
        return [self.kinds.count(k) for k in range(len(self.labels))]

    def occurrence(self, kind: int, n: int) -> int:
        """Index of the n-th (0-based) layer of ``kind``."""
        return [i for i, k in enumerate(self.kinds) if k == kind][n]


def hf_config(config: dict) -> Any:
    from transformers import AutoConfig

    kw = {k: v for k, v in config.items() if k not in _DROP_KEYS}
    try:
        return AutoConfig.for_model(config["model_type"], **kw)
    except (ValueError, KeyError) as exc:
        raise VramscopeError(f"transformers {_tf_version()} cannot build model_type {config['model_type']!r}: "
                             f"{str(exc).splitlines()[0][:160]}") from None


def _tf_version() -> str:
    import transformers

    return transformers.__version__


def meta_model(conf: Any, dtype: str, attn: str) -> tuple[Any, str]:
    """The model of ``conf`` on the meta device; ``(model, attention implementation used)``.

    Architectures without an SDPA path in transformers (Gemma 2's soft-capping, gpt-oss's sinks,
    attention-free Mamba) fall back to eager, as transformers' own default would.
    """
    import torch
    from transformers import AutoModelForCausalLM

    tdtype = getattr(torch, DTYPES[dtype])
    for impl in (attn, "eager"):
        try:
            with torch.device("meta"), quiet_transformers():
                return AutoModelForCausalLM.from_config(conf, dtype=tdtype, attn_implementation=impl), impl
        except ValueError as exc:
            if "does not support" in str(exc) and impl != "eager":
                continue
            raise VramscopeError(f"transformers cannot build {type(conf).__name__}: {str(exc).splitlines()[0][:200]}") from None
    raise AssertionError("unreachable")


@contextlib.contextmanager
def quiet_transformers():
    """transformers logging at error level and warnings ignored while model classes are built."""
    import warnings

    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.set_verbosity(level)


def decoder_layers(model: Any, n_layers: int) -> tuple[Any, str]:
    """The ``nn.ModuleList`` holding the ``n_layers`` decoder layers, and its dotted path."""
    import torch.nn as nn

    found = [(name, mod) for name, mod in model.named_modules()
             if isinstance(mod, nn.ModuleList) and len(mod) == n_layers and name.split(".")[-1] in ("layers", "h", "blocks")]
    if not found:
        raise VramscopeError(f"cannot find the {n_layers} decoder layers of {type(model).__name__}")
    found.sort(key=lambda nm: nm[0].count("."))
    return found[0][1], found[0][0]


def layout(model: Any, conf: Any) -> Layout:
    """Group the decoder layers of ``model`` into kinds (same attention type and parameter shapes)."""
    layers, _ = decoder_layers(model, conf.num_hidden_layers)
    types = getattr(conf, "layer_types", None) or [None] * len(layers)
    sigs: list[tuple] = []
    for i, layer in enumerate(layers):
        shapes = tuple((n, tuple(p.shape), str(p.dtype)) for n, p in layer.named_parameters())
        sigs.append((types[i] if i < len(types) else None, type(layer).__name__, shapes))
    uniq: list[tuple] = []
    kinds = []
    for s in sigs:
        if s not in uniq:
            uniq.append(s)
        kinds.append(uniq.index(s))
    labels = []
    for s in uniq:
        mlp = "moe" if any(("expert" in n) for n, _, _ in s[2]) else "dense"
        labels.append(f"{s[0] or 'attention'}/{mlp}")
    return Layout(kinds, labels)


def keep_layers(model: Any, conf: Any, keep: list[int]) -> None:
    """Cut ``model`` (on meta) down to the decoder layers ``keep`` (original indices, ascending).

    The kept layers are renumbered (``layer_idx``) and the config's layer count and per-layer lists
    follow, so caches and masks are built for the cut-down model.
    """
    import torch.nn as nn

    L = conf.num_hidden_layers
    layers, path = decoder_layers(model, L)
    new = nn.ModuleList([layers[i] for i in keep])
    for j, layer in enumerate(new):
        for mod in layer.modules():
            if isinstance(getattr(mod, "layer_idx", None), int):
                mod.layer_idx = j
    parent = model.get_submodule(path.rsplit(".", 1)[0]) if "." in path else model
    setattr(parent, path.rsplit(".", 1)[-1], new)
    for c in {id(conf): conf, **{id(m.config): m.config for m in model.modules() if hasattr(m, "config")}}.values():
        if getattr(c, "num_hidden_layers", None) == L:
            fixed = {}
            for key in ("layer_types", "layers_block_type"):
                val = getattr(c, key, None)
                if isinstance(val, list) and len(val) == L:
                    fixed[key] = [val[i] for i in keep]
            c.num_hidden_layers = len(keep)
            computed = {k: v for k, v in fixed.items() if isinstance(getattr(type(c), k, None), property)}
            for key, val in fixed.items():
                if key not in computed:
                    setattr(c, key, val)
            if computed:  # lists computed by a property (Jamba's from attn_layer_period): pin them
                c.__class__ = type(type(c).__name__, (type(c),),
                                   {k: property(lambda _self, v=v: list(v)) for k, v in computed.items()})


def add_lora(model: Any, rank: int, targets: str | tuple[str, ...] | list[str]) -> Any:
    """Wrap ``model`` (on meta) with PEFT LoRA adapters, PEFT's defaults otherwise (fp32 adapters)."""
    import torch
    from peft import LoraConfig, get_peft_model

    tm: Any = targets if isinstance(targets, str) else list(targets)
    try:
        with torch.device("meta"), quiet_transformers():
            return get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=tm, lora_dropout=0.0))
    except ValueError as exc:
        raise VramscopeError(f"LoRA: {str(exc).splitlines()[0][:200]}") from None


def materialise(model: Any, device: str = "cpu") -> None:
    """Give every meta parameter and buffer of ``model`` a fake tensor (call inside FakeTensorMode).

    Tied parameters stay tied: one fake tensor per original parameter object.
    """
    import torch
    import torch.nn as nn

    memo: dict[int, Any] = {}
    for mod in model.modules():
        for name, p in list(mod._parameters.items()):
            if p is None:
                continue
            if id(p) not in memo:
                memo[id(p)] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device=device), requires_grad=p.requires_grad)
            mod._parameters[name] = memo[id(p)]
        for name, b in list(mod._buffers.items()):
            if b is None:
                continue
            if id(b) not in memo:
                memo[id(b)] = torch.empty(b.shape, dtype=b.dtype, device=device)
            mod._buffers[name] = memo[id(b)]
