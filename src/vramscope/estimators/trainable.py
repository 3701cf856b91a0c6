"""What trains: base parameters by method (full, freeze, LoRA/DoRA/QLoRA, prompt methods, GaLore) and
the adapters PEFT adds.

* LoRA adds ``r·(d_in + d_out)`` parameters per targeted Linear (A: r×d_in, B: d_out×r); DoRA adds
  a magnitude vector of ``d_out`` (PEFT ``lora/dora.py``); formulas.md §7.
* Target names are PEFT's: the module name before ``.weight`` (``q_proj``, ``gate_up_proj`` …).
  ``all-linear`` is every Linear of the decoder except the output head: PEFT's
  ``_maybe_include_all_linear_layers`` drops ``model.get_output_embeddings()`` from the set
  (https://github.com/huggingface/peft/blob/831fd03e04033a49a2523b4012970e1499b7b5c6/src/peft/tuners/tuners_utils.py).
  ``all-linear,lm_head`` adds the head. In transformers ≥ 5 MoE experts are stacked 3-D parameters
  and routers are not ``nn.Linear``, so neither is a LoRA target.
* The output head and the input embedding are targets only when named (``lm_head``,
  ``embed_tokens``). PEFT wraps the head in a ``lora.Linear`` (A: r×h, B: V×r) and the embedding in a
  ``lora.Embedding`` (peft/tuners/lora/layer.py ``Embedding.update_layer``: ``lora_embedding_A`` is
  r×V, ``lora_embedding_B`` h×r), so either adds ``r·(h + V)``; their base weights stay frozen (no
  V×h gradient). With tied embeddings (Llama-3.2-1B/3B, small Qwen) the head's ``nn.Linear`` shares
  the embedding's weight; PEFT's default (``ensure_weight_tying=False``) gives each targeted module
  its own adapter and only warns (``BaseTuner._check_tied_modules``, peft 0.21.2 as installed here), so
  targeting both adds both. torchtune refuses ``apply_lora_to_output`` for its tied Llama-3.2 1B/3B
  (torchtune/models/llama3_2/_component_builders.py, pytorch/torchtune@1814feb17a9038e1a8053ce93111bd26774a8db6);
  on untied models its ``apply_lora_to_output`` is this same LoRA on the output projection
  (torchtune/modules/peft/lora.py ``LoRALinear``, adapters in the model dtype).
* PEFT's default targets (``TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``): ``q_proj, v_proj``
  for Llama-style models, ``qkv_proj`` for Phi-3, ``query_key_value`` for ChatGLM.
* Prefix tuning trains ``n_virtual·L·2·h`` (a key and a value prefix per layer, no projection);
  prompt tuning ``n_virtual·h``; p-tuning ``n_virtual·h`` plus an MLP prompt encoder of width h
  (three Linears, PEFT ``p_tuning/model.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S
from ..errors import VramscopeError
from ..memo import per_spec
from ..workload import Training

#: ``Linear.layer`` of the output head and of the input embedding (outside every decoder layer)
HEAD_LAYER = -1
EMBED_LAYER = -2


@dataclass(frozen=True)
class Linear:
    """One Linear weight (a module PEFT can target) inside decoder layer ``layer`` (or the output head /
    input embedding: :data:`HEAD_LAYER` / :data:`EMBED_LAYER`; the embedding's ``d_in`` is the vocab,
    as PEFT's ``lora.Embedding`` counts it)."""

    module: str
    layer: int
    d_in: int
    d_out: int
    role: str = ""


@dataclass(frozen=True)
class Trainables:
    trainable_base: int  # base-model parameters that train
    frozen_base: int
    adapter: int  # parameters PEFT adds (LoRA A/B, DoRA magnitude, prefixes, prompt encoders)
    lora: tuple[Linear, ...]  # targeted Linears (LoRA / DoRA / QLoRA)
    trainable_layers: frozenset[int]  # decoder layers whose base weights train
    head_trains: bool
    targets: tuple[str, ...]
    largest_trainable: int  # numel of the largest trainable tensor (for-loop optimizer transient)
    notes: tuple[str, ...] = ()

    @property
    def trainable(self) -> int:
        return self.trainable_base + self.adapter


@per_spec
def decoder_linears(spec: S.ModelSpec) -> tuple[Linear, ...]:
    """Every 2-D Linear weight of the text decoder (not experts, not routers), in layer order."""
    out = []
    for t in spec.tensors:
        if (t.component == S.COMPONENT_TEXT and t.layer is not None and t.role in S.LINEAR_ROLES
                and not t.experts and len(t.shape) == 2 and t.name.endswith(".weight")):
            out.append(Linear(t.name.split(".")[-2], t.layer, t.shape[1], t.shape[0], t.role))
    return tuple(out)


def linear_module_names(spec: S.ModelSpec) -> list[str]:
    seen: dict[str, None] = {}
    for lin in decoder_linears(spec):
        seen.setdefault(lin.module, None)
    return list(seen)


@per_spec
def vocab_linears(spec: S.ModelSpec) -> tuple[Linear, ...]:
    """The output head and the input embedding as LoRA targets (module names as HF names them; a tied
    head has no tensor of its own but is still the ``lm_head`` module)."""
    out: list[Linear] = []
    h = spec.hidden_size
    embed = next((t for t in spec.tensors if t.role == S.ROLE_EMBED and t.component == S.COMPONENT_TEXT
                  and len(t.shape) == 2), None)
    head = next((t for t in spec.tensors if t.role == S.ROLE_LM_HEAD and t.component == S.COMPONENT_TEXT
                 and len(t.shape) == 2), None)
    if head is not None:
        out.append(Linear(head.name.split(".")[-2], HEAD_LAYER, head.shape[1], head.shape[0], S.ROLE_LM_HEAD))
    elif embed is not None and spec.tie_word_embeddings:
        out.append(Linear("lm_head", HEAD_LAYER, h, embed.shape[0], S.ROLE_LM_HEAD))
    if embed is not None:
        out.append(Linear(embed.name.split(".")[-2], EMBED_LAYER, embed.shape[0], embed.shape[1], S.ROLE_EMBED))
    return tuple(out)


def stage_lora(trn: Trainables, layers, has_embed: bool, has_head: bool) -> tuple[Linear, ...]:
    """The targeted Linears on one pipeline stage: those of its decoder ``layers``, the embedding's on
    the first stage and the head's on the last."""
    return tuple(lin for lin in trn.lora if lin.layer in layers or (lin.layer == HEAD_LAYER and has_head)
                 or (lin.layer == EMBED_LAYER and has_embed))


_DEFAULT_TARGETS = (("q_proj", "v_proj"), ("qkv_proj",), ("query_key_value",), ("q_b_proj", "kv_b_proj"),
                    ("in_proj",))


def resolve_targets(spec: S.ModelSpec, targets: str) -> tuple[tuple[str, ...], str | None]:
    """(module names, assumption) for a ``--lora-targets`` value; unknown names raise with the model's list."""
    names = linear_module_names(spec)
    if not names:
        raise VramscopeError(f"{spec.id} has no Linear layers that LoRA can target")
    vocab = [lin.module for lin in vocab_linears(spec)]
    t = targets.strip()
    if t in ("", "default"):
        for group in _DEFAULT_TARGETS:
            if all(g in names for g in group):
                return group, f"LoRA targets: PEFT's default for this architecture ({', '.join(group)})"
        return tuple(names), "LoRA targets: no PEFT default known for this architecture; all Linear layers assumed"
    if t in ("all-linear", "all_linear", "all"):
        return tuple(names), None
    wanted = tuple(dict.fromkeys(x.strip() for x in t.replace(" ", ",").split(",") if x.strip()))
    if "all-linear" in wanted or "all_linear" in wanted:  # all-linear plus the head / embedding
        wanted = tuple(dict.fromkeys([*names, *(w for w in wanted if w not in ("all-linear", "all_linear"))]))
    unknown = [w for w in wanted if w not in names and w not in vocab]
    if unknown:
        raise VramscopeError(f"{spec.id} has no LoRA target named {', '.join(unknown)}; its Linear layers are: "
                             f"{', '.join(names)}, and {' / '.join(vocab) or 'no head or embedding'} "
                             f"(or use all-linear, e.g. all-linear,lm_head)")
    return wanted, None


def _largest(tensors) -> int:
    return max((t.numel for t in tensors), default=0)


@per_spec
def _loaded_params(spec: S.ModelSpec) -> tuple[int, int]:
    """(parameters loaded for training — MTP heads are not —, numel of the largest of those tensors)."""
    text = [t for t in spec.tensors if t.component != S.COMPONENT_MTP]
    return sum(t.numel for t in text), _largest(text)


def trainables(spec: S.ModelSpec, tr: Training) -> Trainables:
    """Which parameters train under ``tr.method`` and how many parameters PEFT adds."""
    total, largest = _loaded_params(spec)
    h, L = spec.hidden_size, spec.num_layers
    notes: list[str] = []
    m = tr.method
    if m in ("full", "galore"):
        return Trainables(total, 0, 0, (), frozenset(range(L)), True, (), largest)
    if m == "freeze":
        n = min(tr.trainable_layers, L)
        keep = frozenset(range(L - n, L))
        trn = [t for t in spec.tensors if t.layer in keep and t.component == S.COMPONENT_TEXT]
        notes.append(f"freeze: the last {n} of {L} decoder layers train; embeddings and head frozen (LLaMA-Factory's default)")
        return Trainables(sum(t.numel for t in trn), total - sum(t.numel for t in trn), 0, (), keep, False, (),
                          _largest(trn), tuple(notes))
    if m in ("prefix", "prompt", "ptuning"):
        v = tr.num_virtual_tokens
        if m == "prefix":
            adapter = v * L * 2 * h
        elif m == "prompt":
            adapter = v * h
        else:
            adapter = v * h + 3 * (h * h + h)
        return Trainables(0, total, adapter, (), frozenset(), False, (), adapter, tuple(notes))
    # LoRA family
    names, note = resolve_targets(spec, tr.lora_targets)
    if note:
        notes.append(note)
    chosen = tuple(lin for lin in decoder_linears(spec) + vocab_linears(spec) if lin.module in names)
    if m == "dora" and any(lin.layer in (HEAD_LAYER, EMBED_LAYER) for lin in chosen):
        raise VramscopeError("DoRA on lm_head / embed_tokens is not modelled (its magnitude scaling of the V×h "
                             "weight); target the decoder's Linear layers, or use --method lora")
    if spec.tie_word_embeddings and sum(lin.layer in (HEAD_LAYER, EMBED_LAYER) for lin in chosen) == 2:
        notes.append("LoRA on both lm_head and embed_tokens of a tied model: two separate adapters (PEFT's "
                     "default ensure_weight_tying=False; PEFT warns)")
    r = tr.lora_rank
    adapter = sum(r * (lin.d_in + lin.d_out) for lin in chosen)
    if m == "dora":
        adapter += sum(lin.d_out for lin in chosen)
    biggest = max((max(r * lin.d_in, r * lin.d_out) for lin in chosen), default=0)
    return Trainables(0, total, adapter, chosen, frozenset(), False, names, biggest, tuple(notes))
