"""Every word the web page shows, in English and Chinese (简体中文).

``t(key, lang, **fmt)`` looks a string up; ``choices(field, lang)`` gives the (label, value) pairs of
a drop-down. Component names and formulas come from the estimators in English; every component has
its labels here by its stable key (:func:`component_name`), formulas stay as written.
"""

from __future__ import annotations

LANGS = ("en", "zh")

# key → (English, 中文)
TEXT: dict[str, tuple[str, str]] = {
    # page
    "title": ("vramscope — GPU memory calculator", "vramscope — GPU 显存计算器"),
    "subtitle": ("How much GPU memory a model needs for inference, fine-tuning, training and RL, from its real "
                 "architecture; which GPUs fit, and how many. Every number comes from the vramscope Python API; "
                 "the link in the address bar restores this page.",
                 "根据模型的真实架构估算推理、微调、训练与强化学习所需的 GPU 显存，以及哪些 GPU、几张卡放得下。"
                 "所有数字都来自 vramscope 的 Python API；地址栏中的链接可还原当前页面。"),
    "lang": ("Language / 语言", "语言 / Language"),
    "tab": ("Tab", "标签页"),
    "lang.en": ("English", "English"),
    "lang.zh": ("中文", "中文"),
    "report": ("Headline figure per GPU", "每卡主数字"),
    "report.device": ("device memory (nvidia-smi)", "设备显存（nvidia-smi）"),
    "report.reserved": ("peak reserved (torch)", "峰值 reserved（torch）"),
    "report.allocated": ("peak allocated (torch)", "峰值 allocated（torch）"),
    "copy_link": ("Copy link", "复制链接"),
    "model_heading": ("Model", "模型"),
    "results": ("Result", "结果"),
    "export": ("Command line", "启动命令"),
    "export_train": ("DeepSpeed / FSDP config", "DeepSpeed / FSDP 配置"),
    "tab_infer": ("Inference", "推理部署"),
    "tab_train": ("Fine-tune & train", "微调与训练"),
    "tab_rl": ("RL (GRPO / DPO / PPO)", "强化学习（GRPO / DPO / PPO）"),
    "tab_mm": ("Multimodal", "多模态"),
    "tab_fit": ("Fit & plan", "容量与选型"),
    "tab_pai": ("PAI quick calculator", "PAI 快速计算器"),
    "pai_intro": ("The seed's calculator (v3.1): Alibaba Cloud PAI's rule-of-thumb formulas, in decimal GB, "
                  "kept as a quick mode. It does not look at the architecture; the other tabs do.",
                  "种子文档 v3.1 的计算器：阿里云 PAI 的经验公式（十进制 GB），作为快速模式保留。"
                  "它不看模型架构；其他标签页按真实架构计算。"),
    # model picker
    "src": ("Model source", "模型来源"),
    "src.catalog": ("Catalog", "内置目录"),
    "src.hub": ("Hugging Face id", "Hugging Face 模型 id"),
    "src.file": ("Upload config.json / GGUF", "上传 config.json / GGUF"),
    "src.size": ("Size (Dense / MoE)", "参数规模（Dense / MoE）"),
    "model": ("Model — type to search the catalog", "模型 — 输入关键字搜索内置目录"),
    "model.info": ("65 built-in models, offline; a size like 7B or 56B-A14B also works",
                   "65 个内置模型，离线可用；也可直接输入 7B、56B-A14B 这样的规模"),
    "hub": ("Hugging Face id (org/name)", "Hugging Face 模型 id（org/name）"),
    "hub.info": ("config.json and safetensors headers are fetched when online (no weights); offline, only the local "
                 "cache answers", "联网时读取 config.json 与 safetensors 头（不下载权重）；离线时只查本地缓存"),
    "file": ("config.json or .gguf file", "config.json 或 .gguf 文件"),
    "arch": ("Model type", "模型类型"),
    "arch.dense": ("Dense", "Dense 模型"),
    "arch.moe": ("MoE", "MoE 模型"),
    "size": ("Parameters (B)", "模型参数数量（B）"),
    "active": ("Active parameters (B)", "激活参数数量（B）"),
    # inference
    "engine": ("Engine", "推理引擎"),
    "engine.hf": ("HF transformers", "HF transformers"),
    "engine.vllm": ("vLLM", "vLLM"),
    "engine.llamacpp": ("llama.cpp", "llama.cpp"),
    "engine.sglang": ("SGLang", "SGLang"),
    "engine.ollama": ("Ollama", "Ollama"),
    "weights": ("Weight format", "权重格式"),
    "weights.": ("as stored", "按存储格式"),
    "kv": ("KV-cache dtype", "KV cache 精度"),
    "kv.auto": ("auto (model dtype)", "auto（与模型一致）"),
    "batch": ("Concurrent sequences (batch)", "并发序列数（batch）"),
    "context": ("Tokens per sequence (context)", "每条序列的 token 数（上下文）"),
    "gpu": ("GPU", "GPU"),
    "gpu.info": ("a catalog GPU, or a memory size such as 24GiB", "目录中的 GPU，或直接填写显存大小，如 24GiB"),
    "gpu.": ("none", "不指定"),
    "gpus": ("Number of GPUs (tensor parallel)", "GPU 数量（张量并行）"),
    "util": ("vLLM gpu_memory_utilization", "vLLM 显存占用比例（gpu_memory_utilization）"),
    "ngl": ("llama.cpp -ngl (empty = all layers)", "llama.cpp -ngl（留空 = 全部层）"),
    # training
    "t_method": ("Method", "训练方法"),
    "t_method.full": ("Full fine-tuning", "全参微调"),
    "t_method.freeze": ("Freeze (last layers train)", "冻结微调（只训最后几层）"),
    "t_method.lora": ("LoRA", "LoRA"),
    "t_method.dora": ("DoRA", "DoRA"),
    "t_method.qlora": ("QLoRA (4-bit base)", "QLoRA（4-bit 基座）"),
    "t_method.prefix": ("Prefix tuning", "Prefix Tuning"),
    "t_method.prompt": ("Prompt tuning", "Prompt Tuning"),
    "t_method.ptuning": ("P-tuning", "P-Tuning"),
    "t_method.galore": ("GaLore", "GaLore"),
    "t_recipe": ("Framework recipe", "框架默认配置"),
    "t_recipe.": ("none", "无"),
    "t_recipe.hf-trainer": ("HF Trainer + PEFT", "HF Trainer + PEFT"),
    "t_recipe.trl": ("TRL SFTTrainer", "TRL SFTTrainer"),
    "t_recipe.torchtune": ("torchtune", "torchtune"),
    "t_recipe.unsloth": ("Unsloth", "Unsloth"),
    "t_recipe.axolotl": ("axolotl", "axolotl"),
    "t_recipe.llamafactory": ("LLaMA-Factory", "LLaMA-Factory"),
    "t_recipe.info": ("options left at their default take that framework's defaults (listed in the assumptions)",
                      "保持默认值的选项采用该框架自身的默认设置（见“假设”列表）"),
    "t_precision": ("Precision", "训练精度"),
    "t_precision.fp32": ("fp32", "fp32"),
    "t_precision.bf16": ("bf16 (pure)", "bf16（纯 16 位）"),
    "t_precision.fp16": ("fp16 (pure)", "fp16（纯 16 位）"),
    "t_precision.mixed": ("mixed bf16 (fp32 master)", "混合精度 bf16（fp32 主权重）"),
    "t_precision.mixed-fp16": ("mixed fp16 (fp32 master)", "混合精度 fp16（fp32 主权重）"),
    "t_precision.fp8": ("fp8", "fp8"),
    "t_optimizer": ("Optimizer", "优化器"),
    "t_rank": ("LoRA rank r", "LoRA 秩 r"),
    "t_targets": ("LoRA target modules", "LoRA 目标模块"),
    "t_targets.info": ("q_proj,v_proj · all-linear · default (PEFT's)", "如 q_proj,v_proj · all-linear · default（PEFT 默认）"),
    "t_batch": ("Micro-batch per GPU", "每卡 micro-batch"),
    "t_seq": ("Sequence length", "序列长度"),
    "t_accum": ("Gradient accumulation steps", "梯度累积步数"),
    "t_ckpt": ("Gradient checkpointing", "梯度检查点"),
    "ckpt.none": ("off", "关闭"),
    "ckpt.full": ("full", "全部层"),
    "ckpt.selective": ("selective", "选择性"),
    "ckpt.offload": ("offload to CPU", "卸载到 CPU"),
    "t_attn": ("Attention", "注意力实现"),
    "t_attn.sdpa": ("SDPA", "SDPA"),
    "t_attn.flash": ("FlashAttention", "FlashAttention"),
    "t_attn.eager": ("eager", "eager"),
    "t_zero": ("DeepSpeed ZeRO stage", "DeepSpeed ZeRO 阶段"),
    "t_zero.0": ("off", "关闭"),
    "t_fsdp": ("FSDP sharding", "FSDP 分片"),
    "t_fsdp.none": ("off", "关闭"),
    "t_fsdp.full": ("FULL_SHARD", "FULL_SHARD"),
    "t_fsdp.grad-op": ("SHARD_GRAD_OP", "SHARD_GRAD_OP"),
    "t_fsdp.hybrid": ("HYBRID_SHARD", "HYBRID_SHARD"),
    "t_offload": ("CPU offload", "CPU 卸载"),
    "t_offload.none": ("none", "无"),
    "t_offload.optimizer": ("optimizer states", "优化器状态"),
    "t_offload.params": ("optimizer + parameters", "优化器与参数"),
    "t_tp": ("Tensor parallel (TP)", "张量并行（TP）"),
    "t_pp": ("Pipeline parallel (PP)", "流水线并行（PP）"),
    "t_gpus": ("GPUs in total", "GPU 总数"),
    "t_gpus.info": ("data parallel = GPUs / (TP × PP)", "数据并行 = GPU 总数 / (TP × PP)"),
    # RL
    "r_algo": ("Algorithm", "算法"),
    "r_algo.grpo": ("GRPO", "GRPO"),
    "r_algo.dpo": ("DPO", "DPO"),
    "r_algo.ppo": ("PPO", "PPO"),
    "r_method": ("Policy training", "策略模型训练方式"),
    "r_gens": ("Generations per prompt (GRPO)", "每个 prompt 的生成数（GRPO）"),
    "r_batch": ("Micro-batch per GPU (GRPO counts completions)", "每卡 micro-batch（GRPO 按补全条数计）"),
    "r_prompt": ("Prompt tokens", "Prompt token 数"),
    "r_completion": ("Completion tokens", "补全 token 数"),
    "r_beta": ("KL coefficient β (empty = TRL default)", "KL 系数 β（留空 = TRL 默认）"),
    "r_vllm": ("Generate with a colocated vLLM (GRPO)", "用同卡 vLLM 生成（GRPO）"),
    "r_ckpt": ("Gradient checkpointing", "梯度检查点"),
    # multimodal
    "mm_intro": ("Images, video and audio become tokens by the model's own preprocessing rule (Qwen-VL, LLaVA, "
                 "InternVL, Gemma 3, Whisper …). Pick a vision or audio model above, e.g. Qwen/Qwen2.5-VL-7B-Instruct.",
                 "图片、视频、音频按模型自身的预处理规则换算成 token（Qwen-VL、LLaVA、InternVL、Gemma 3、Whisper 等）。"
                 "请在上方选择视觉或音频模型，如 Qwen/Qwen2.5-VL-7B-Instruct。"),
    "m_images": ("Images per request", "每个请求的图片数"),
    "m_size": ("Image size (W×H)", "图片尺寸（宽x高）"),
    "m_video": ("Video length (seconds)", "视频时长（秒）"),
    "m_fps": ("Video frames per second (empty = model default)", "视频帧率（留空 = 模型默认）"),
    "m_audio": ("Audio length (seconds)", "音频时长（秒）"),
    "m_prompt": ("Text prompt tokens", "文本 prompt token 数"),
    "m_gen": ("Generated tokens", "生成 token 数"),
    "m_batch": ("Concurrent requests", "并发请求数"),
    # fit & plan
    "fit_intro": ("The most that fits on the chosen GPUs, and the cheapest GPU setups that run the workload. "
                  "Inference reads engine, weights, KV, batch and context; training reads method, micro-batch "
                  "(the batch field), sequence length and checkpointing.",
                  "所选 GPU 上最多能放下多少，以及能运行该负载的最便宜 GPU 方案。推理读取引擎、权重、KV、batch 和上下文；"
                  "训练读取训练方法、micro-batch（batch 一栏）、序列长度和梯度检查点。"),
    # PAI
    "p_arch": ("Model type", "模型类型"),
    "p_params": ("Model parameters (B)", "模型参数数量（B）"),
    "p_active": ("Active parameters (B, MoE only)", "激活参数数量（B，仅 MoE）"),
    "p_concurrency": ("Concurrent inference requests", "推理并发数量"),
    "p_seq": ("Sequence length", "序列长度"),
    "p_precision": ("Parameter precision (fine-tuning)", "模型参数精度（微调）"),
    "p_precision.16": ("16 bit", "16 bit"),
    "p_precision.32": ("32 bit", "32 bit"),
    "p_optimizer": ("Optimizer", "训练优化器"),
    "p_batch": ("batch_size", "batch_size"),
    # results
    "per_gpu": ("per GPU", "每卡"),
    "figures": ("The three figures per GPU", "每卡的三个数字"),
    "figure": ("figure", "口径"),
    "what": ("what it counts", "含义"),
    "headline_mark": ("headline", "主数字"),
    "figure.allocated": ("torch.cuda.max_memory_allocated: the torch tensors",
                         "torch.cuda.max_memory_allocated：torch 张量"),
    "figure.reserved": ("torch.cuda.max_memory_reserved: the tensors + what the caching allocator holds beyond them",
                        "torch.cuda.max_memory_reserved：张量 + 缓存分配器额外占用的部分"),
    "figure.device": ("nvidia-smi: reserved + CUDA context + memory outside torch",
                      "nvidia-smi：reserved + CUDA 上下文 + torch 之外的显存"),
    "figure.device.native": ("nvidia-smi: every buffer + CUDA context", "nvidia-smi：全部缓冲区 + CUDA 上下文"),
    "no_torch": ("{engine} does not allocate through PyTorch: no torch figure", "{engine} 不通过 PyTorch 分配显存：没有 torch 数字"),
    "report_fallback": ("{engine} has no {figure} figure (it does not allocate through PyTorch): the headline shows "
                        "device memory", "{engine} 没有「{figure}」数字（不通过 PyTorch 分配显存）：主数字显示设备显存"),
    "not_in": ("not in {figure}", "不计入{figure}"),
    "band": ("range", "范围"),
    "total_n": ("{total} in total over {n} GPUs", "{n} 卡合计 {total}"),
    "fits": ("fits on {n} × {gpu} ({mem})", "{n} 张 {gpu}（{mem}）放得下"),
    "no_fit": ("does not fit on {n} × {gpu} ({mem})", "{n} 张 {gpu}（{mem}）放不下"),
    "component": ("component", "组成"),
    "gib": ("GiB", "GiB"),
    "low_high": ("low – high GiB", "低 – 高 GiB"),
    "formula": ("formula", "公式"),
    "total": ("total per GPU", "每卡合计"),
    "runs_on": ("Catalog GPUs that run it (fewest per GPU model, up to 8)", "可运行的目录 GPU（每种型号的最少卡数，最多 8 张）"),
    "runs_on_train": ("Catalog GPUs with room for this per-GPU figure", "每卡显存够用的目录 GPU"),
    "none_fit": ("no catalog GPU setup of up to 8 GPUs runs it", "8 张以内没有能运行它的目录 GPU 方案"),
    "speed": ("Speed (roofline estimate, not a measurement)", "速度（Roofline 估算，非实测）"),
    "speed_line": ("prefill {prefill} s · decode {decode} tok/s in total, {per_seq} tok/s per sequence",
                   "预填充 {prefill} 秒 · 解码合计 {decode} tok/s，每条序列 {per_seq} tok/s"),
    "kv_capacity": ("KV cache capacity {tokens} tokens; max concurrency at {len} tokens: {conc}×",
                    "KV cache 容量 {tokens} token；{len} token 时最大并发 {conc}×"),
    "host": ("host RAM: {mem} (layers or KV kept on the CPU)", "主机内存：{mem}（留在 CPU 上的层或 KV）"),
    "host_training": ("host RAM: {mem} (offloaded model states, paged optimizer pages evicted from the GPU)",
                      "主机内存：{mem}（卸载到 CPU 的模型状态、被换出 GPU 的分页优化器页）"),
    "assumptions": ("Assumptions", "假设"),
    "details": ("Details", "详情"),
    "trainable": ("trainable parameters {n} · peak at {phase}", "可训练参数 {n} · 峰值出现在 {phase}"),
    "phases": ("peak candidates: {text}", "峰值候选：{text}"),
    "rules": ("The seeds' rules of thumb, beside the estimate (not part of it)", "种子文档的经验公式（仅作对照，不计入估算）"),
    "rule": ("rule", "经验公式"),
    "ratio": ("× estimate", "× 估算"),
    "source": ("source", "出处"),
    "model_line": ("{id} · {family} · {arch} · from {source}", "{id} · {family} · {arch} · 来源 {source}"),
    "params_line": ("parameters {total}{active} · {layers} layers · hidden {hidden} · vocabulary {vocab}",
                    "参数 {total}{active} · {layers} 层 · 隐藏维度 {hidden} · 词表 {vocab}"),
    "active_part": (", active {active}", "，激活 {active}"),
    "tokens_heading": ("Tokens per request", "每个请求的 token"),
    "modality": ("input", "输入"),
    "llm_tokens": ("LLM tokens", "LLM token"),
    "enc_tokens": ("encoder tokens", "编码器 token"),
    "rule_col": ("rule", "规则"),
    "mm_total": ("{mm} multimodal + {text} text tokens = {total} tokens per sequence",
                 "{mm} 多模态 + {text} 文本 token = 每条序列 {total} token"),
    "fit_heading": ("Most that fits on {n} × {gpu}", "{n} 张 {gpu} 最多能放下"),
    "max_context": ("longest context at batch {batch}", "batch {batch} 时的最长上下文"),
    "max_batch": ("largest batch at {tokens} tokens", "{tokens} token 时的最大 batch"),
    "max_ngl": ("largest llama.cpp -ngl", "llama.cpp 最大 -ngl"),
    "tokens_unit": ("{n} tokens", "{n} token"),
    "nothing_fits": ("not even one step fits", "一步都放不下"),
    "plan_heading": ("GPU options, cheapest first", "GPU 方案（由便宜到贵）"),
    "f_mode": ("Solve for", "求解对象"),
    "f_mode.infer": ("Inference", "推理"),
    "f_mode.train": ("Training", "训练"),
    "max_seq": ("longest sequence at micro-batch {batch}", "micro-batch {batch} 时的最长序列"),
    "max_micro": ("largest micro-batch at {tokens} tokens", "{tokens} token 时的最大 micro-batch"),
    "chart_heading": ("Longest sequence per GPU memory (micro-batch {batch})", "各显存容量下的最长序列（micro-batch {batch}）"),
    "plan_train_heading": ("Setups that train it, cheapest rent first", "可训练的方案（按租金由低到高）"),
    "plan_changes": ("changes", "调整"),
    "as_given": ("as given", "按原设置"),
    "plan_gpu": ("GPU", "GPU"),
    "plan_count": ("count", "数量"),
    "plan_layout": ("TP × PP", "TP × PP"),
    "plan_per_gpu": ("GiB per GPU", "每卡 GiB"),
    "plan_rent": ("rent $/h", "租用 $/小时"),
    "plan_price": ("price $", "价格 $"),
    "plan_none": ("no catalog GPU setup of up to 64 GPUs runs this workload", "64 张以内没有能运行该负载的目录 GPU 方案"),
    "pai_infer_heading": ("Inference (decimal GB)", "推理部署（十进制 GB）"),
    "pai_ft_heading": ("Fine-tuning (decimal GB)", "微调训练（十进制 GB）"),
    "pai_scenario": ("scenario", "场景"),
    "pai_need": ("memory needed (GB)", "所需显存 (GB)"),
    "pai_gpus": ("GPUs with a 20% margin", "GPU 建议（预留 20% 余量）"),
    "pai_seq_note": ("The PAI formulas do not use the sequence length; concurrency scales the KV cache, "
                     "batch_size the activations.", "PAI 公式不使用序列长度；并发数影响 KV cache，batch_size 影响激活值。"),
    "pai.inference (16-bit)": ("Inference (16-bit)", "推理部署 (16-bit)"),
    "pai.inference (8-bit)": ("Inference (8-bit)", "推理部署 (8-bit)"),
    "pai.inference (4-bit)": ("Inference (4-bit)", "推理部署 (4-bit)"),
    "pai.full fine-tuning": ("Full fine-tuning", "全参微调"),
    "pai.LoRA": ("LoRA fine-tuning", "LoRA 微调"),
    "pai.QLoRA (8-bit)": ("QLoRA (8-bit) fine-tuning", "QLoRA (8-bit) 微调"),
    "pai.QLoRA (4-bit)": ("QLoRA (4-bit) fine-tuning", "QLoRA (4-bit) 微调"),
    # messages
    "no_command": ("no command until the inputs above are fixed", "请先修正上方的输入，再生成命令"),
    "fix_input": ("Check this input", "请检查输入"),
    "model_error": ("The model could not be loaded", "无法加载模型"),
    "api_error": ("vramscope cannot estimate this", "vramscope 无法估算"),
    "internal_error": ("Internal error ({kind}) — the inputs may be unusual; the page keeps working",
                       "内部错误（{kind}）——输入可能不寻常；页面仍可继续使用"),
    "budget.title": ("Stopped", "已停止"),
    "budget.time": ("This request needed more than {seconds} s and was stopped; try smaller inputs",
                    "该请求耗时超过 {seconds} 秒，已被停止；请尝试更小的输入"),
    "budget.memory": ("This request needed more than {memory} of memory and was stopped; try smaller inputs",
                      "该请求所需内存超过 {memory}，已被停止；请尝试更小的输入"),
    "budget.died": ("The process computing this request stopped unexpectedly; it was not retried. Try again, "
                    "or try smaller inputs",
                    "计算该请求的进程意外终止，未重试。请重试，或尝试更小的输入"),
    "budget.busy": ("The server is too busy to compute this now; try again in a moment",
                    "服务器繁忙，暂时无法计算；请稍后重试"),
    "err.choice": ("{label}: {value!r} is not one of the choices ({choices})",
                   "{label}：{value!r} 不是可选项之一（{choices}）"),
    "err.empty": ("{label}: enter a value", "{label}：请填写"),
    "err.int": ("{label}: enter a whole number, not {value!r}", "{label}：请输入整数，而不是 {value!r}"),
    "err.number": ("{label}: enter a number, not {value!r}", "{label}：请输入数字，而不是 {value!r}"),
    "err.min": ("{label}: must be at least {min}, not {value}", "{label}：不能小于 {min}（当前为 {value}）"),
    "err.positive": ("{label}: must be more than {min}, not {value}", "{label}：必须大于 {min}（当前为 {value}）"),
    "err.max": ("{label}: must be at most {max}, not {value}", "{label}：不能大于 {max}（当前为 {value}）"),
    "err.size": ("{label}: write W×H, e.g. 1280x720, not {value!r}", "{label}：请写成 宽x高，如 1280x720，而不是 {value!r}"),
    "err.no_file": ("Upload a config.json or a .gguf file (or pick another model source)",
                    "请上传 config.json 或 .gguf 文件（或选择其他模型来源）"),
    "err.file_type": ("{name}: upload a config.json (.json) or a GGUF (.gguf) file",
                      "{name}：请上传 config.json（.json）或 GGUF（.gguf）文件"),
    "err.file_big": ("{name} is {size}, over the {limit} upload limit", "{name} 大小为 {size}，超过上传上限 {limit}"),
    "err.file_gone": ("The uploaded file is no longer on the server: upload it again", "服务器上已没有该上传文件，请重新上传"),
    "err.no_hub": ("Enter a Hugging Face id such as Qwen/Qwen3-8B", "请输入 Hugging Face 模型 id，如 Qwen/Qwen3-8B"),
    "err.no_model": ("Pick a model from the catalog (or another model source)", "请从目录中选择模型（或选择其他模型来源）"),
    "err.active_big": ("Active parameters ({active}B) cannot exceed the total ({total}B)",
                       "激活参数（{active}B）不能大于总参数（{total}B）"),
    "err.moe_active": ("An MoE model needs its active parameters", "MoE 模型需要填写激活参数数量"),
    "err.no_gpu": ("Choose a GPU (or type a memory size such as 24GiB) to see what fits",
                   "请选择 GPU（或填写显存大小，如 24GiB）来查看能放下多少"),
    "err.file_url": ("An uploaded file cannot travel in a link: upload it again", "上传的文件无法放进链接，请重新上传"),
    "hint_vision": ("Models with a vision or audio encoder in the catalog: {models}", "目录中带视觉/音频编码器的模型：{models}"),
}

# --- components, by their stable key (Component.key): key → (English, 中文) --------------------------
# The English text is the key's generic label (a component shows its own display name in English);
# tests/test_i18n_components.py walks the catalog × engines × training methods and checks that every
# emitted key is here.
COMPONENTS: dict[str, tuple[str, str]] = {
    # inference (estimators/engines)
    "weights": ("weights", "权重"),
    "kv_cache": ("KV cache", "KV 缓存"),
    "recurrent_state": ("recurrent state", "循环状态"),
    "prefill_activations": ("prefill activations", "预填充激活值"),
    "logits": ("logits", "logits"),
    "vision_encoder_activations": ("vision encoder activations", "视觉编码器激活值"),
    "allocator_slack": ("allocator slack", "分配器碎片余量"),
    "cuda_context": ("CUDA context", "CUDA 上下文"),
    "profile_peak": ("profile peak (activations)", "profile 峰值（激活值）"),
    "non_torch_allocations": ("non-torch allocations", "非 torch 分配"),
    "cuda_graphs": ("CUDA graphs", "CUDA graphs"),
    "req_to_token": ("request slots (req_to_token)", "请求槽位表 (req_to_token)"),
    "activations": ("activations", "激活值"),
    "compute_buffer": ("compute buffer", "计算缓冲区"),
    "compute_graph": ("compute graph", "计算图"),
    "vision_projector": ("vision projector", "视觉投影器"),
    "ollama_reserve": ("Ollama reserve", "Ollama 预留"),
    # training (estimators/training)
    "frozen_weights": ("frozen weights", "冻结权重"),
    "adapter_weights": ("adapter weights", "适配器权重"),
    "gradients": ("gradients", "梯度"),
    "optimizer_states": ("optimizer states", "优化器状态"),
    "fp32_master_weights": ("fp32 master weights", "fp32 主权重"),
    "logits_loss": ("logits + cross-entropy", "logits + 交叉熵"),
    "autocast_weight_copies": ("autocast weight copies", "autocast 权重副本"),
    "fp8_weight_copies": ("fp8 weight copies", "fp8 权重副本"),
    "dequantisation_buffer": ("dequantisation buffer", "反量化缓冲区"),
    "tied_embedding_gradient": ("tied embedding gradient", "共享嵌入的梯度"),
    "ddp_gradient_buckets": ("DDP gradient buckets", "DDP 梯度桶"),
    "zero_reduce_bucket": ("ZeRO reduce bucket", "ZeRO 归约桶"),
    "zero3_gathered_parameters": ("ZeRO-3 gathered parameters", "ZeRO-3 聚合的参数"),
    "zero3_persistent_parameters": ("ZeRO-3 persistent parameters", "ZeRO-3 常驻参数"),
    "fsdp_gathered_units": ("FSDP gathered units", "FSDP 聚合的单元"),
    "fsdp_unsharded_parameters": ("FSDP unsharded parameters", "FSDP 未分片的参数"),
    "ring_attention_kv_buffers": ("ring-attention KV buffers", "环形注意力 KV 缓冲区"),
    "optimizer_step_temporaries": ("optimizer step temporaries", "优化器步骤临时张量"),
    "fp32_gradient_partition": ("fp32 gradient partition", "fp32 梯度分区"),
    # RL (estimators/rl)
    "reference_model": ("reference model", "参考模型"),
    "reward_model": ("reward model", "奖励模型"),
    "critic_model": ("critic model (weights, grads, optimizer)", "价值模型（权重、梯度、优化器）"),
    "colocated_vllm": ("colocated vLLM", "同卡部署的 vLLM"),
    "completion_logits": ("completion logits + log-probs", "补全 logits + log-probs"),
    "generation_kv_cache": ("generation KV cache", "生成阶段 KV 缓存"),
    "generation_logits": ("generation logits", "生成阶段 logits"),
}

CATEGORY_COLORS: dict[str, str] = {
    "weights": "#4f7bd9",
    "kv_cache": "#e8912d",
    "recurrent_state": "#d4a72c",
    "activations": "#3aa676",
    "optimizer": "#b45fc2",
    "gradients": "#d0566c",
    "engine": "#8a8f98",
    "encoder": "#27a0b5",
    "cuda_context": "#5d6470",
    "allocator": "#a9aeb6",
    "buffers": "#c48a5a",
    "rl": "#8c6bd6",
}


def t(key: str, lang: str = "en", **fmt: object) -> str:
    """The text for ``key`` in ``lang`` (``en`` or ``zh``), formatted with ``fmt``; the key itself if unknown."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "zh" else pair[0]
    return text.format(**fmt) if fmt else text


def has(key: str) -> bool:
    return key in TEXT


def choice_label(field: str, value: str, lang: str = "en") -> str:
    """A drop-down label: ``field.value`` if translated (``engine.vllm``), else the value itself."""
    suffix = field.split("_", 1)[-1]
    for key in (f"{field}.{value}", f"{suffix}.{value}", f"t_{suffix}.{value}"):
        if key in TEXT:
            return t(key, lang)
    return value


def choices(field: str, values, lang: str = "en") -> list[tuple[str, str]]:
    """(label, value) pairs for a gradio Radio / Dropdown."""
    return [(choice_label(field, v, lang), v) for v in values]


def component_name(component, lang: str = "en") -> str:
    """A component's label in ``lang``: in English its own display name (which may say more, e.g. SGLang's
    "KV cache (token pool)"), in Chinese the label of its ``key`` (its own name when the key is unknown)."""
    pair = COMPONENTS.get(component.key)
    if lang != "zh" or pair is None:
        return component.name
    return pair[1]
