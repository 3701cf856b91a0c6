"""Training memory per GPU: model states by precision regime, optimizer, PEFT method and sharding;
activations from what each layer saves; the logits + loss block; buffers of the parallel runtime.

* :mod:`.regime` — bytes per parameter of each state by precision; the frozen base's format;
* :mod:`.stage` — what one pipeline stage holds on one GPU; the frozen context of an estimate;
* :mod:`.states` — weights, gradients, optimizer states, fp32 master (ZeRO / FSDP, offload);
* :mod:`.forward` — saved activations, checkpointing, micro-batches in flight, logits + loss;
* :mod:`.buffers` — autocast / fp8 copies, ZeRO / FSDP / DDP buffers, dequantisation, ring attention;
* :mod:`.phases` — the moments of the step (backward start, recompute, backward end, optimizer
  step) and the components at the peak;
* :mod:`.estimate` — :func:`estimate_training` and :func:`estimate_step` (what RL builds on).

Sharding and pipeline placement are :mod:`..sharding`'s.
"""

from .estimate import estimate_step, estimate_training
from .regime import Regime, check_training_layout, regime
from .stage import Step

__all__ = ["Regime", "Step", "check_training_layout", "estimate_step", "estimate_training", "regime"]
