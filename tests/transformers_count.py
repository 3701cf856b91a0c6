"""transformers' own parameter count of a config, built on the meta device (no weights, no GPU).

Used only by tests, and only when the optional torch + transformers extra is installed.
"""

from __future__ import annotations

import copy


def meta_param_count(config: dict) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText

    cfg_dict = copy.deepcopy(config)
    if cfg_dict["model_type"] == "llama4":
        # vramscope models Llama 4's language model (Llama4ForCausalLM over text_config), not its vision tower
        cfg_dict = cfg_dict["text_config"]
    model_type = cfg_dict.pop("model_type")
    for key in ("auto_map", "quantization_config", "transformers_version", "architectures"):
        cfg_dict.pop(key, None)
    cfg = AutoConfig.for_model(model_type, **cfg_dict)
    vision = model_type in ("qwen2_vl", "qwen2_5_vl") or (model_type == "gemma3" and "vision_config" in config)
    auto = AutoModelForImageTextToText if vision else AutoModelForCausalLM
    with torch.device("meta"):
        model = auto.from_config(cfg)
    return sum(p.numel() for p in model.parameters())
