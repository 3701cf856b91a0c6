"""What each fine-tuning framework does by default, as presets of the training options (data + one pure function).

``--recipe hf-trainer | trl | torchtune | unsloth | axolotl | llamafactory`` (``recipe=`` in
:func:`vramscope.estimate`) fills the training options the user did not give with the values that
framework uses when its own defaults are left alone: attention kernel, loss kernel, checkpointing,
optimizer and its implementation, precision, padding vs packing, where adapters live, LoRA rank /
dropout / targets, PEFT's ``prepare_model_for_kbit_training``, the QLoRA format. Every value is read
from the framework's own code at a pinned commit; the comment beside it (and the estimate's
assumptions) names the file and line. A preset is a default, never a factor: an explicit flag or API
keyword always wins, and only options vramscope has are set. What a framework does that no option
models is listed in its ``gaps`` (said in the assumptions too), not faked.

A framework ships several configurations: torchtune one YAML per (model, method, single device or
distributed); TRL, Unsloth and LLaMA-Factory treat QLoRA adapters and distributed runs apart. A
preset is therefore a list of :class:`Case` rows applied in order, each for some methods and layouts.

:func:`apply_recipe` is pure: (recipe name, the keywords given) → (the keywords to build the
workload from, the assumption lines). It also refuses, in one line naming the framework's own check,
the combinations that framework cannot run (torchtune's optimizer-in-backward with gradient
accumulation, fp16 in torchtune, Unsloth's checkpointing modes …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import WorkloadError


@dataclass(frozen=True)
class Source:
    """A repository at a pinned commit (or release tag)."""

    repo: str
    commit: str

    def url(self, path: str, lines: str = "") -> str:
        anchor = "#L" + lines.replace("-", "-L") if lines else ""
        return f"https://github.com/{self.repo}/blob/{self.commit}/{path}{anchor}"

    def short(self, path: str, lines: str = "") -> str:
        ref = self.commit if self.commit.startswith("v") else self.commit[:7]
        return f"{self.repo}@{ref} {path}" + (f" L{lines}" if lines else "")


# The pinned sources. transformers: the release the exact extra installs (5.23.0, tag v5.23.0).
TRANSFORMERS = Source("huggingface/transformers", "v5.23.0")
PEFT = Source("huggingface/peft", "5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40")
TRL = Source("huggingface/trl", "f2cd57710ae345ea6428ae95363267fcf38a3dc8")
TORCHTUNE = Source("pytorch/torchtune", "bd2a0fc7c31430972728494fa01aaeeb0ebf1ba1")
UNSLOTH = Source("unslothai/unsloth", "015bdef0d94a241bcd94eec7a405b1700632180d")
UNSLOTH_ZOO = Source("unslothai/unsloth-zoo", "ce232d6cef9cb8cd34cd3727906131622177436b")
AXOLOTL = Source("axolotl-ai-cloud/axolotl", "067b021c8b87a9e5e380b9173c704cf7340e30f5")
LLAMAFACTORY = Source("hiyouga/LLaMA-Factory", "ff6d4d12eeb035d6ce06805a5733dd7b29f2ac30")


@dataclass(frozen=True)
class Default:
    """One option's value in a preset and where the framework sets it."""

    value: Any
    source: Source
    path: str
    lines: str
    why: str

    def cite(self) -> str:
        return f"{self.why}; {self.source.short(self.path, self.lines)}"


#: method groups a :class:`Case` may name
METHOD_GROUPS: dict[str, tuple[str, ...]] = {
    "full": ("full", "freeze", "galore"), "lora": ("lora", "dora"), "qlora": ("qlora",),
    "prompt": ("prefix", "prompt", "ptuning"),
}


@dataclass(frozen=True)
class Case:
    """Defaults that hold for some methods (groups of :data:`METHOD_GROUPS`; empty: all) on some
    layouts (``any``, ``single`` GPU, ``multi`` GPU); when ``zero`` is set, only under those ZeRO
    stages; when ``sharded``, only under ZeRO-3 or FSDP; when ``batched``, only for a micro-batch > 1."""

    settings: Mapping[str, Default]
    methods: tuple[str, ...] = ()
    layout: str = "any"
    zero: tuple[int, ...] = ()
    sharded: bool = False
    batched: bool = False

    def holds(self, run: Run) -> bool:
        if self.methods and not any(run.method in METHOD_GROUPS[g] for g in self.methods):
            return False
        if self.layout != "any" and (self.layout == "multi") != run.multi:
            return False
        if self.sharded and not run.sharded:
            return False
        if self.batched and run.batch < 2:
            return False
        return not self.zero or run.zero in self.zero


@dataclass(frozen=True)
class Run:
    """What decides which :class:`Case` rows hold: the method, the layout, the micro-batch."""

    method: str = "full"
    multi: bool = False
    zero: int = 0
    fsdp: str = "none"
    batch: int = 1

    @property
    def sharded(self) -> bool:
        return self.zero == 3 or self.fsdp != "none"

    @classmethod
    def of(cls, given: Mapping[str, Any]) -> Run:
        def whole(key: str, default: int) -> int:
            v = given.get(key, default)
            return v if isinstance(v, int) and not isinstance(v, bool) else default

        counts = [whole(k, 1) for k in ("gpus", "dp", "tp", "pp", "cp")]
        return cls(str(given.get("method", "full")), any(c > 1 for c in counts), whole("zero", 0),
                   str(given.get("fsdp", "none")), whole("batch", 1))


@dataclass(frozen=True)
class Recipe:
    """A framework's defaults: the cases in order (a later case overrides an earlier one) and what
    the framework does that no vramscope option follows (``gaps``)."""

    name: str
    framework: str
    cases: tuple[Case, ...]
    gaps: tuple[str, ...] = ()

    def defaults(self, run: Run | None = None) -> dict[str, Default]:
        """The options this preset sets for ``run`` (before the user's own values)."""
        out: dict[str, Default] = {}
        for case in self.cases:
            if case.holds(run or Run()):
                out.update(case.settings)
        return out


def _d(value, source: Source, path: str, lines: str, why: str) -> Default:
    return Default(value, source, path, lines, why)


# --- HF Trainer (transformers 5.23.0) + PEFT --------------------------------------------------------
_TA = "src/transformers/training_args.py"
_HF_OPT = _d("adamw", TRANSFORMERS, _TA, "806-815", "TrainingArguments.optim defaults to adamw_torch_fused on torch >= 2.8")
_HF_IMPL = _d("fused", TRANSFORMERS, _TA, "806-815", "adamw_torch_fused: torch.optim.AdamW(fused=True)")
_HF_ATTN = _d("sdpa", TRANSFORMERS, "src/transformers/modeling_utils.py", "1846",
              "no attn_implementation given: transformers picks sdpa")
_HF_LOSS = _d("hf", TRANSFORMERS, "src/transformers/loss/loss_utils.py", "51-61",
              "ForCausalLMLoss upcasts the whole logits to fp32 before cross_entropy")
_PEFT_R = _d(8, PEFT, "src/peft/tuners/lora/config.py", "613", "LoraConfig(r=8)")
_PEFT_DROP = _d(0.0, PEFT, "src/peft/tuners/lora/config.py", "634", "LoraConfig(lora_dropout=0.0)")
_PEFT_FP32 = _d("fp32", PEFT, "src/peft/mapping_func.py", "110",
                "get_peft_model(autocast_adapter_dtype=True) upcasts bf16 adapters to fp32")

HF_TRAINER = Recipe("hf-trainer", "Hugging Face Trainer (transformers 5.23.0) + PEFT", (
    Case({
        "optimizer": _HF_OPT, "optimizer_impl": _HF_IMPL, "attn": _HF_ATTN, "loss": _HF_LOSS,
        # from_pretrained(dtype=None) -> "auto": the checkpoint's bf16; TrainingArguments.bf16 defaults to
        # False, so nothing upcasts: parameters, gradients and AdamW states all bf16
        "precision": _d("bf16", TRANSFORMERS, "src/transformers/modeling_utils.py", "4177-4178",
                        "from_pretrained loads the checkpoint's dtype (dtype='auto'); TrainingArguments.bf16=False adds no fp32 master"),
        "grad_ckpt": _d("none", TRANSFORMERS, _TA, "908-935", "activation/gradient_checkpointing default off"),
        "lora_rank": _PEFT_R, "lora_dropout": _PEFT_DROP, "lora_dtype": _PEFT_FP32,
        # Trainer never calls peft.prepare_model_for_kbit_training (a user script may: --kbit-prepare)
        "kbit_prepare": _d(False, PEFT, "src/peft/utils/other.py", "158",
                           "prepare_model_for_kbit_training is the user's call; Trainer does not make it"),
    }),
    # the default collator with a tokenizer: DataCollatorWithPadding pads to the batch's longest and
    # passes the mask (one sequence has no pad: transformers then drops the all-ones mask)
    Case({"padding": _d(True, TRANSFORMERS, "src/transformers/trainer.py", "562-566",
                        "default collator DataCollatorWithPadding: padded batches with an attention mask")}, batched=True),
))

# --- TRL SFTTrainer ------------------------------------------------------------------------------------
_SFT = "trl/trainer/sft_trainer.py"
TRL_SFT = Recipe("trl", "TRL SFTTrainer (trl@f2cd577)", (
    Case({
        "optimizer": _HF_OPT, "optimizer_impl": _HF_IMPL, "attn": _HF_ATTN,
        # a model id is loaded by create_model_from_path with dtype float32 unless model_init_kwargs
        # sets it; SFTConfig's bf16 defaults to True: fp32 weights under bf16 autocast (HF AMP)
        "precision": _d("mixed", TRL, "trl/trainer/utils.py", "1144",
                        "create_model_from_path loads float32 unless model_init_kwargs sets dtype, "
                        "and SFTConfig.bf16 defaults to True (base_config.py L67-73, L105): fp32 weights + bf16 autocast"),
        "grad_ckpt": _d("full", TRL, "trl/trainer/base_config.py", "61-66", "gradient_checkpointing defaults to True"),
        # loss_type None -> "chunked_nll": lm_head + CE on the valid tokens in 256-token chunks, each
        # under torch.utils.checkpoint: T x V logits are never materialised
        "loss": _d("fused", TRL, "trl/trainer/sft_config.py", "334-336",
                   "loss_type defaults to chunked_nll: lm_head + CE in 256-token checkpointed chunks "
                   f"({_SFT} L86, L214), no T x V logits"),
        "lora_rank": _PEFT_R, "lora_dropout": _PEFT_DROP, "lora_dtype": _PEFT_FP32,
    }),
    Case({"padding": _d(True, TRL, _SFT, "1197-1201", "packing=False, padding_free=False: "
                        "DataCollatorForLanguageModeling pads to the batch's longest")}, batched=True),
    # 4-bit: TRL casts the trainable (adapter) parameters to bf16 after get_peft_model
    Case({"lora_dtype": _d("bf16", TRL, _SFT, "1123-1130", "quantised model: trainable adapter params cast to bf16"),
          # no prepare_model_for_kbit_training in SFTTrainer at this commit, but the float32 load leaves
          # every non-quantised parameter in fp32: the bytes kbit_prepare counts
          "kbit_prepare": _d(True, TRL, "trl/trainer/utils.py", "1144",
                             "float32 load: every non-quantised parameter stays fp32")},
         methods=("qlora",)),
    # ZeRO-3 and a bf16 (not quantised) base: get_peft_model(autocast_adapter_dtype=False)
    Case({"lora_dtype": _d("bf16", TRL, _SFT, "1089-1096", "ZeRO-3: autocast_adapter_dtype=False keeps adapters bf16")},
         methods=("lora",), zero=(3,)),
), gaps=(
    "TRL loads a model id in fp32: vramscope's 'mixed' counts a frozen LoRA base in 2 bytes, TRL's holds 4 "
    "(pass --precision bf16 when model_init_kwargs sets dtype=bfloat16, as most scripts do)",
    "chunked_nll's 256 x vocab fp32 chunk transient is not counted (as for loss=fused)",
))

# --- torchtune (llama3_1 8B configs) ------------------------------------------------------------------------
_TT = "recipes/configs/llama3_1/"
_TT_LORA = _TT + "8B_lora_single_device.yaml"
_TT_SDPA = _d("sdpa", TORCHTUNE, "torchtune/modules/attention_utils.py", "185-250",
              "MultiHeadAttention calls nn.functional.scaled_dot_product_attention (is_causal, no mask) unpacked")
TORCHTUNE_RECIPE = Recipe("torchtune", "torchtune (llama3_1 8B configs, torchtune@bd2a0fc)", (
    Case({
        "attn": _TT_SDPA,
        # unpacked (packed: False): padded_collate_sft pads to the batch's longest; and torchtune's
        # MultiHeadAttention expands K/V to every query head before SDPA (attention.py L284-290): the
        # bytes vramscope's padded-SDPA path saves (K/V repeated)
        "padding": _d(True, TORCHTUNE, "torchtune/modules/attention.py", "284-290",
                      f"packed: False ({_TT_LORA} L55) pads batches; K/V expanded to every head before SDPA"),
        "precision": _d("bf16", TORCHTUNE, _TT_LORA, "90", "dtype: bf16 (one dtype, no autocast)"),
        # LinearCrossEntropyLoss: lm_head + CE in 8 chunks of the valid tokens (no compile by default)
        "loss": _d("chunked", TORCHTUNE, _TT_LORA, "70-71",
                   "LinearCrossEntropyLoss (num_output_chunks=8, torchtune/modules/loss/cross_entropy_loss.py L36-41)"),
        "optimizer": _d("adamw", TORCHTUNE, _TT_LORA, "61-63", "torch.optim.AdamW"),
        "optimizer_impl": _d("fused", TORCHTUNE, _TT_LORA, "61-63", "AdamW(fused: True)"),
        "grad_ckpt": _d("full", TORCHTUNE, _TT_LORA, "93-94",
                        "enable_activation_checkpointing: True, enable_activation_offloading: False"),
    }),
    Case({
        "lora_rank": _d(8, TORCHTUNE, _TT_LORA, "27", "lora_rank: 8"),
        "lora_dropout": _d(0.0, TORCHTUNE, _TT_LORA, "29", "lora_dropout: 0.0"),
        "lora_targets": _d("q_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", TORCHTUNE, _TT_LORA, "24-26",
                           "lora_attn_modules [q_proj, v_proj, output_proj], apply_lora_to_mlp: True, apply_lora_to_output: False"),
        # the model (adapters included) is built under set_default_dtype(bf16)
        "lora_dtype": _d("bf16", TORCHTUNE, "recipes/lora_finetune_single_device.py", "410",
                         "model and adapters built under training.set_default_dtype(bf16)"),
    }, methods=("lora", "qlora")),
    # QLoRA: torchao NF4 (block 64, scalers re-quantised in blocks of 256, like bitsandbytes' double
    # quant); torchtune never calls PEFT, so nothing is cast to fp32
    Case({
        "quant": _d("nf4", TORCHTUNE, "torchtune/modules/peft/lora.py", "86", "to_nf4(weight): torchao NF4"),
        "double_quant": _d(True, TORCHTUNE, "torchtune/modules/peft/lora.py", "86",
                           "torchao NF4 quantises its scalers again (scaler_block_size 256)"),
        "kbit_prepare": _d(False, TORCHTUNE, "recipes/lora_finetune_single_device.py", "410",
                           "no peft.prepare_model_for_kbit_training: non-quantised params stay bf16"),
    }, methods=("qlora",)),
    # one GPU, full: 8B_full_single_device.yaml (bitsandbytes PagedAdamW8bit stepped inside backward)
    Case({
        "optimizer": _d("paged-adamw-8bit", TORCHTUNE, _TT + "8B_full_single_device.yaml", "59-60",
                        "bitsandbytes.optim.PagedAdamW8bit"),
        "optimizer_in_backward": _d(True, TORCHTUNE, _TT + "8B_full_single_device.yaml", "66", "optimizer_in_bwd: True"),
    }, methods=("full",), layout="single"),
    # several GPUs: the distributed recipes shard with FSDP2 (training.shard_model -> fully_shard)
    Case({
        "fsdp": _d("full", TORCHTUNE, "recipes/full_finetune_distributed.py", "686",
                   "training.shard_model: FSDP2 fully_shard, reshard after forward"),
    }, layout="multi"),
    Case({
        "optimizer_in_backward": _d(False, TORCHTUNE, _TT + "8B_full.yaml", "75", "optimizer_in_bwd: False"),
    }, methods=("full",), layout="multi"),
    Case({
        "grad_ckpt": _d("none", TORCHTUNE, _TT + "8B_lora.yaml", "100", "enable_activation_checkpointing: False"),
    }, methods=("lora",), layout="multi"),
), gaps=(
    "LinearCrossEntropyLoss without compile keeps every chunk's fp32 log-softmax (about 4 bytes per logit of the "
    "valid tokens), more than loss=chunked counts; prompt tokens masked out of the loss are not dropped",
))

# --- Unsloth ---------------------------------------------------------------------------------------
_UL = "unsloth/models/llama.py"
UNSLOTH_RECIPE = Recipe("unsloth", "Unsloth (unsloth@015bdef, unsloth-zoo@ce232d6)", (
    Case({
        # dispatch: FlashAttention if installed, else xformers, else SDPA with enable_gqa: no T x T, no K/V copy
        "attn": _d("flash", UNSLOTH, "unsloth/utils/attention_dispatch.py", "",
                   "flash-attn, else xformers, else SDPA(enable_gqa): no K/V repeat, no scores kept"),
        "loss": _d("fused", UNSLOTH, _UL, "1468-1501", "unsloth_fused_ce_loss: chunked lm_head + CE, no T x V logits"),
        # use_gradient_checkpointing="unsloth": each checkpointed layer input copied to the host
        "grad_ckpt": _d("offload", UNSLOTH_ZOO, "unsloth_zoo/gradient_checkpointing.py", "259-282",
                        "use_gradient_checkpointing='unsloth' (loader.py L423): layer inputs offloaded to CPU"),
        "optimizer": _d("adamw-8bit", UNSLOTH, "unsloth/models/rl.py", "3276",
                        "Unsloth's patched trainer configs default optim='adamw_8bit'"),
        "precision": _d("bf16", UNSLOTH, "unsloth/models/loader.py", "413",
                        "dtype=None: bf16 where supported; frozen weights stay bf16"),
        # padding_free left None: Unsloth turns padding-free batching on (trainer.py)
        "padding": _d(False, UNSLOTH, "unsloth/trainer.py", "118-121", "padding_free auto-enabled: no pad tokens"),
        "lora_rank": _d(16, UNSLOTH, _UL, "3061-3063", "get_peft_model(r=16)"),
        "lora_dropout": _d(0.0, UNSLOTH, _UL, "3074", "get_peft_model(lora_dropout=0.0)"),
        "lora_targets": _d("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", UNSLOTH, _UL, "3064-3072",
                           "get_peft_model target_modules default"),
        # prepare_model_for_training(float32_mixed_precision=True) upcasts lora_A / lora_B to fp32
        "lora_dtype": _d("fp32", UNSLOTH_ZOO, "unsloth_zoo/training_utils.py", "383-385",
                         "lora_A / lora_B upcast to fp32 (float32_mixed_precision=True, unsloth _utils.py L2482-2496)"),
    }),
    Case({
        "quant": _d("nf4", UNSLOTH, _UL, "2620-2625", "BitsAndBytesConfig(bnb_4bit_quant_type='nf4')"),
        "double_quant": _d(True, UNSLOTH, _UL, "2620-2625", "bnb_4bit_use_double_quant=True"),
        # Unsloth's own prepare_model_for_kbit_training leaves frozen non-quantised params in bf16
        "kbit_prepare": _d(False, UNSLOTH_ZOO, "unsloth_zoo/training_utils.py", "300-420",
                           "Unsloth's prepare_model_for_training casts only trainable params"),
    }, methods=("qlora",)),
), gaps=(
    "Unsloth's Triton kernels for RoPE, SwiGLU and LoRA (fewer saved tensors per layer) are not modelled",
    "load_in_4bit=True is Unsloth's default: give --method qlora for it",
))

# --- axolotl --------------------------------------------------------------------------------------
_AX = "src/axolotl/utils/schemas/config.py"
AXOLOTL_RECIPE = Recipe("axolotl", "axolotl (axolotl@067b021)", (
    Case({
        "optimizer": _d("adamw", AXOLOTL, "src/axolotl/utils/schemas/training.py", "122-125", "optimizer: adamw_torch_fused"),
        "optimizer_impl": _d("fused", AXOLOTL, "src/axolotl/utils/schemas/training.py", "122-125", "adamw_torch_fused"),
        # attn_implementation None: nothing passed to from_pretrained, transformers picks sdpa
        "attn": _d("sdpa", AXOLOTL, "src/axolotl/loaders/model.py", "754-762", "attn_implementation unset: transformers' sdpa"),
        "precision": _d("bf16", AXOLOTL, "src/axolotl/utils/config/__init__.py", "191-196",
                        "bf16: auto -> torch_dtype bf16 (config.py L559-564): weights loaded in bf16"),
        "grad_ckpt": _d("none", AXOLOTL, _AX, "600-605", "gradient_checkpointing: False"),
        "loss": _d("hf", AXOLOTL, _AX, "", "no Liger / cut_cross_entropy plugin by default: transformers' loss"),
        "lora_dropout": _d(0.0, AXOLOTL, "src/axolotl/utils/schemas/peft.py", "80", "lora_dropout: 0.0"),
        "lora_dtype": _PEFT_FP32,
    }),
    Case({"padding": _d(True, AXOLOTL, "src/axolotl/core/builders/causal.py", "383-384",
                        "sample_packing unset: DataCollatorForSeq2Seq(padding=True)")}, batched=True),
    Case({
        "quant": _d("nf4", AXOLOTL, "src/axolotl/loaders/model.py", "712-720", "bnb_4bit_quant_type nf4"),
        "double_quant": _d(True, AXOLOTL, "src/axolotl/loaders/model.py", "712-720", "bnb_4bit_use_double_quant True"),
        "kbit_prepare": _d(True, AXOLOTL, "src/axolotl/loaders/model.py", "1015-1023",
                           "prepare_model_for_kbit_training for a 4/8-bit lora/qlora model"),
    }, methods=("qlora",)),
    # skipped under ZeRO-3 and QLoRA + FSDP ("make sure everything is in the same dtype")
    Case({"kbit_prepare": _d(False, AXOLOTL, "src/axolotl/loaders/model.py", "1003-1009",
                             "ZeRO-3 / FSDP: prepare_model_for_kbit_training skipped")},
         methods=("qlora",), sharded=True),
), gaps=("axolotl has no default LoRA rank (lora_r is required): give --lora-rank",))

# --- LLaMA-Factory -----------------------------------------------------------------------------------
_LF_FT = "src/llamafactory/hparams/finetuning_args.py"
_LF_MA = "src/llamafactory/hparams/model_args.py"
_LF_AD = "src/llamafactory/model/adapter.py"
LLAMAFACTORY_RECIPE = Recipe("llamafactory", "LLaMA-Factory (LLaMA-Factory@ff6d4d1)", (
    Case({
        "optimizer": _HF_OPT, "optimizer_impl": _HF_IMPL,
        "attn": _d("sdpa", LLAMAFACTORY, "src/llamafactory/model/model_utils/attention.py", "65-66",
                   "flash_attn: auto leaves the choice to transformers (sdpa)"),
        "grad_ckpt": _d("full", LLAMAFACTORY, "src/llamafactory/model/model_utils/checkpointing.py", "184-191",
                        f"disable_gradient_checkpointing=False ({_LF_MA} L145): checkpointing on"),
        "loss": _d("hf", LLAMAFACTORY, _LF_MA, "137", "enable_liger_kernel=False: transformers' loss"),
        # bf16 base (compute dtype), trainable params upcast to fp32 (cast_trainable_params_to_fp32)
        "precision": _d("bf16", LLAMAFACTORY, "examples/train_lora/qwen3_lora_sft.yaml", "36",
                        "bf16: true in the examples (TrainingArguments' own default is fp32, which LLaMA-Factory warns against)"),
        "lora_rank": _d(8, LLAMAFACTORY, _LF_FT, "77", "lora_rank=8"),
        "lora_dropout": _d(0.0, LLAMAFACTORY, _LF_FT, "73", "lora_dropout=0.0"),
        "lora_targets": _d("all-linear", LLAMAFACTORY, _LF_FT, "81", "lora_target='all'"),
        "lora_dtype": _d("fp32", LLAMAFACTORY, _LF_AD, "336-349", "cast_trainable_params_to_fp32 (not pure_bf16)"),
    }),
    Case({"padding": _d(True, LLAMAFACTORY, "src/llamafactory/hparams/parser.py", "645",
                        "packing defaults to False outside pre-training: padded batches")}, batched=True),
    # full / freeze: the trainable weights themselves are cast to fp32 under bf16 autocast (HF AMP);
    # under ZeRO-3 DeepSpeed keeps the fp32 master itself: vramscope's mixed regime covers both
    Case({"precision": _d("mixed", LLAMAFACTORY, _LF_AD, "51-52",
                          "_setup_full_tuning casts trainable params to fp32; bf16 autocast (examples: bf16: true)")},
         methods=("full",)),
    Case({
        "quant": _d("nf4", LLAMAFACTORY, _LF_MA, "287", "quantization_type='nf4'"),
        "double_quant": _d(True, LLAMAFACTORY, _LF_MA, "291", "double_quantization=True"),
        "kbit_prepare": _d(False, LLAMAFACTORY, "src/llamafactory/model/model_utils/checkpointing.py", "163-176",
                           "its own prepare_model_for_training (upcast_layernorm=False): non-quantised params stay bf16"),
    }, methods=("qlora",)),
    Case({"lora_dtype": _d("bf16", LLAMAFACTORY, _LF_AD, "345-346", "ZeRO-3 without quantisation: adapters stay bf16 (DeepSpeed keeps the fp32 master)")},
         methods=("lora",), zero=(3,)),
))

#: the presets by name, in the order the CLI lists them
RECIPES: dict[str, Recipe] = {r.name: r for r in (HF_TRAINER, TRL_SFT, TORCHTUNE_RECIPE, UNSLOTH_RECIPE,
                                                   AXOLOTL_RECIPE, LLAMAFACTORY_RECIPE)}
RECIPE_NAMES: tuple[str, ...] = tuple(RECIPES)


def recipe(name: str) -> Recipe:
    """The preset called ``name``; a one-line WorkloadError listing the valid names otherwise."""
    key = str(name).strip().lower().replace("_", "-")
    key = {"hf": "hf-trainer", "transformers": "hf-trainer", "llama-factory": "llamafactory"}.get(key, key)
    if key not in RECIPES:
        raise WorkloadError(f"unknown recipe {name!r}; valid recipes: {', '.join(RECIPE_NAMES)}")
    return RECIPES[key]


def apply_recipe(name: str, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The training keywords with the preset's defaults filled in where ``given`` has none, and the
    assumption lines that say which values came from the preset and from where.

    ``given`` are the keywords as the user gave them (None = not given). Options the run's method
    does not read (LoRA options for full fine-tuning …) are not filled. A combination the framework
    refuses is a one-line WorkloadError (:func:`refusal`).
    """
    from .workload import training_inapplicable

    rec = recipe(name)
    given = {k: v for k, v in given.items() if v is not None}
    if given.get("rl") is not None:
        raise WorkloadError(f"recipe {rec.name} sets supervised fine-tuning defaults; it does not apply to "
                            f"--rl {given['rl']} (TRL's GRPO / DPO / PPO defaults are built in)")
    run = Run.of(given)
    method = run.method
    defaults = rec.defaults(run)
    out = dict(given)
    notes: list[str] = []
    for field, default in defaults.items():
        if field in given or training_inapplicable(method, None, {field: default.value}):
            continue
        out[field] = default.value
        notes.append(f"recipe {rec.name}: {field} = {_show(default.value)} ({default.cite()})")
    if problem := refusal(rec.name, out, given):
        raise WorkloadError(problem)
    kept = sorted(k for k in given if k in defaults)
    if kept:
        notes.append(f"recipe {rec.name}: given explicitly, not from the recipe: {', '.join(kept)}")
    notes += [f"recipe {rec.name}: not modelled: {gap}" for gap in rec.gaps]
    return out, notes


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def refusal(name: str, wl: Mapping[str, Any], given: Mapping[str, Any]) -> str | None:
    """One line when the framework cannot run this combination (its own check, cited), else None."""
    method = wl.get("method", "full")
    mine = "" if "optimizer_in_backward" in given else " (its full single-device config sets optimizer_in_bwd: True)"
    if name == "torchtune":
        if wl.get("precision") in ("fp16", "mixed-fp16"):
            return ("recipe torchtune: torchtune's recipes refuse fp16 ('full fp16 training is not supported with "
                    "this recipe', recipes/full_finetune_single_device.py L129-131); use --precision bf16 or fp32")
        if wl.get("zero"):
            return ("recipe torchtune: torchtune shards with FSDP2 (training.shard_model), it has no DeepSpeed ZeRO; "
                    "use --fsdp full")
        if wl.get("offload") == "optimizer":
            return ("recipe torchtune: torchtune offloads only through FSDP's CPUOffload (fsdp_cpu_offload: "
                    "parameters, gradients and optimizer states, recipes/full_finetune_distributed.py L145); "
                    "use --offload params --fsdp full")
        if wl.get("optimizer_in_backward") and method not in METHOD_GROUPS["full"]:
            return ("recipe torchtune: torchtune's LoRA recipes have no optimizer_in_bwd "
                    "(recipes/lora_finetune_single_device.py never reads it); drop --optimizer-in-backward")
        if wl.get("optimizer_in_backward") and wl.get("grad_accum", 1) > 1:
            return ("recipe torchtune: 'Gradient accumulation is not supported with optimizer_in_bwd: True' "
                    f"(recipes/full_finetune_single_device.py L157-159){mine}; use --grad-accum 1 or "
                    "--no-optimizer-in-backward")
    if name == "unsloth" and wl.get("grad_ckpt") == "selective":
        return ("recipe unsloth: Unsloth's use_gradient_checkpointing takes True, False or 'unsloth' "
                "(unsloth_zoo/training_utils.py L312); use --grad-ckpt full, offload or none")
    return None
