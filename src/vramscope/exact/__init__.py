"""Exact mode: the real transformers model run on fake tensors (optional extra ``vramscope[exact]``)."""
