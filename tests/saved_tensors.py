"""Count what autograd saves for backward in a real transformers model (CPU, tiny configs).

The activation formulas in ``estimators/activations.py`` are checked against this: a forward pass
under ``torch.autograd.graph.saved_tensors_hooks`` records every saved tensor's storage once;
parameters are left out. The per-layer figure is the difference between models with two and
one decoder layers, divided by the tokens.
"""

from __future__ import annotations


def saved_bytes(config: dict, *, layers: int, dtype: str = "bfloat16", attn: str = "sdpa", batch: int = 2,
                seq: int = 32, lora: dict | None = None, autocast: bool = False) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(config)
    cfg["num_hidden_layers"] = layers
    for k in ("layer_types", "mlp_only_layers"):
        if k in cfg and isinstance(cfg[k], list):
            cfg[k] = cfg[k][:layers]
    conf = AutoConfig.for_model(**cfg)
    torch.manual_seed(0)
    tdtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
    model = AutoModelForCausalLM.from_config(conf, dtype=tdtype, attn_implementation=attn)
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(**lora))
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr not in params and t.requires_grad or (ptr not in params and t.is_floating_point()):
            seen[ptr] = st.nbytes()
        return t

    vocab = conf.vocab_size
    ids = torch.randint(0, vocab, (batch, seq))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                model(input_ids=ids, labels=ids)
        else:
            model(input_ids=ids, labels=ids)
    return sum(seen.values())


def per_layer_per_token(config: dict, **kw) -> float:
    b, s = kw.get("batch", 2), kw.get("seq", 32)
    return (saved_bytes(config, layers=2, **kw) - saved_bytes(config, layers=1, **kw)) / (b * s)
