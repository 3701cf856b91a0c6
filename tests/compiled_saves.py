"""Count what a torch.compile'd decoder layer saves for backward (CPU, tiny configs).

The layer is compiled on its own, as torchtune's ``compile_model`` does, with AOTAutograd and the
partitioner Inductor uses (``min_cut_rematerialization_partition``, Inductor's decomposition table);
the forward graph runs eagerly (no code generation, so no C++ compiler is needed), which keeps the
partition — what is saved — exactly Inductor's. The forward graph's extra outputs are the saved
tensors; they are recorded at run time and counted once per storage, parameters and the shared
rotary cos/sin left out.
"""

from __future__ import annotations


def compiled_layer_bytes_per_token(config: dict, *, dtype: str = "bfloat16", batch: int = 2, seq: int = 32,
                                   lora: dict | None = None, lora_fp32: bool = True, frozen: bool = False) -> float:
    import torch
    from functorch.compile import make_boxed_func, min_cut_rematerialization_partition
    from torch._dynamo.backends.common import aot_autograd
    from torch._inductor.decomposition import select_decomp_table
    from transformers import AutoConfig, AutoModelForCausalLM

    torch._dynamo.reset()  # a fresh compile per call (dynamo's recompile limit)
    conf = AutoConfig.for_model(**{**config, "num_hidden_layers": 1})
    torch.manual_seed(0)
    tdtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
    model = AutoModelForCausalLM.from_config(conf, dtype=tdtype, attn_implementation="sdpa")
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(**lora), autocast_adapter_dtype=lora_fp32)
        model.enable_input_require_grads()  # as a middle layer's input (HF does this under checkpointing)
    elif frozen:
        for p in model.parameters():
            p.requires_grad_(False)
        model.get_input_embeddings().weight.requires_grad_(True)  # the layer input needs a gradient
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    counts: dict[str, int] = {}

    def partition(joint, inputs, **kw):
        fw, bw = min_cut_rematerialization_partition(joint, inputs, **kw)
        counts["fwd_outputs"] = kw["num_fwd_outputs"]
        return fw, bw

    saved: dict[int, int] = {}

    def fw_compiler(gm, _):
        run = make_boxed_func(gm.forward)

        def recorded(args):
            outs = run(args)
            skip = {a.untyped_storage().data_ptr() for a in args
                    if isinstance(a, torch.Tensor) and a.dim() == 3 and a.shape[0] == 1}  # rotary cos / sin
            for t in outs[counts["fwd_outputs"]:]:
                if isinstance(t, torch.Tensor):
                    st = t.untyped_storage()
                    if st.data_ptr() not in params and st.data_ptr() not in skip:
                        saved[st.data_ptr()] = st.nbytes()
            return outs

        recorded._boxed_call = True
        return recorded

    backend = aot_autograd(fw_compiler=fw_compiler, bw_compiler=lambda gm, _: make_boxed_func(gm.forward),
                           partition_fn=partition, decompositions=select_decomp_table())
    layers = model.get_base_model().model.layers if lora is not None else model.model.layers
    layers[0].compile(backend=backend)
    ids = torch.randint(1, config["vocab_size"], (batch, seq))
    out = model(input_ids=ids)
    out.logits.float().sum().backward()
    return sum(saved.values()) / (batch * seq)
