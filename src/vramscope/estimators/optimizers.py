"""Optimizer state bytes per trainable parameter, and the step's transient memory (formulas.md §5.2).

``s`` is the state dtype's size: PyTorch optimizers create their states with ``zeros_like(param)``,
so a bf16 model keeps bf16 states (pure bf16 = 8 B/param with AdamW); fp32 and mixed precision keep
fp32 states. bitsandbytes keeps its 32-bit states in fp32 whatever the parameter dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

# bitsandbytes blockwise 8-bit states: uint8 codes + one fp32 absmax per 256 values, two states
# (bitsandbytes/optim/optimizer.py, blocksize 256): 2·(1 + 4/256) B per parameter.
BNB_8BIT_BYTES = 2 * (1 + 4 / 256)

DESCRIPTIONS = {
    "adamw": "AdamW: exp_avg + exp_avg_sq (2 states)",
    "adam": "Adam: exp_avg + exp_avg_sq (2 states)",
    "adamw-8bit": "bitsandbytes AdamW8bit: 2 uint8 states + fp32 absmax per 256",
    "paged-adamw-8bit": "bitsandbytes PagedAdamW8bit: 8-bit states in CUDA unified memory",
    "paged-adamw": "bitsandbytes PagedAdamW (32-bit states in CUDA unified memory)",
    "adafactor": "Adafactor (beta1=None): factored second moment, rows + cols per matrix",
    "sgd": "SGD without momentum: no state",
    "sgd-momentum": "SGD with momentum: momentum_buffer (1 state)",
    "rmsprop": "RMSprop: square_avg (1 state)",
    "lion": "Lion: exp_avg (1 state)",
    "muon": "Muon: momentum for 2-D hidden matrices; AdamW (2 states) for embeddings, head, norms",
}


@dataclass(frozen=True)
class StateBytes:
    gpu: float  # optimizer state bytes
    formula: str


def state_bytes(optimizer: str, s: float, n_matrix: int, n_other: int, factored: int = 0,
                muon_adamw: int = 0) -> StateBytes:
    """State bytes for ``n_matrix`` parameters in 2-D matrices and ``n_other`` in other tensors.

    ``factored`` is Σ(rows + cols) over the matrices (Adafactor's factored second moment);
    ``muon_adamw`` the matrix parameters Muon hands to AdamW (embeddings and output head).
    """
    n = n_matrix + n_other
    if optimizer in ("adamw", "adam"):
        return StateBytes(2 * s * n, f"2 states × {s:g} B × trainable params")
    if optimizer == "paged-adamw":
        return StateBytes(8 * n, "2 fp32 states × 4 B × trainable params (bitsandbytes keeps 32-bit states in fp32)")
    if optimizer in ("adamw-8bit", "paged-adamw-8bit"):
        # tensors under min_8bit_size = 4096 elements keep 32-bit states; norms and biases are small
        return StateBytes(BNB_8BIT_BYTES * n_matrix + 8 * n_other,
                          "2·(1 + 4/256) B × matrix params + 8 B × small tensors (< 4096 elements stay 32-bit)")
    if optimizer == "adafactor":
        return StateBytes(s * (factored + n_other), f"{s:g} B × (Σ rows + cols of each matrix + 1-D params)")
    if optimizer == "sgd":
        return StateBytes(0, "no optimizer state")
    if optimizer in ("sgd-momentum", "rmsprop", "lion"):
        return StateBytes(s * n, f"1 state × {s:g} B × trainable params")
    if optimizer == "muon":
        hidden = n_matrix - muon_adamw
        return StateBytes(s * hidden + 2 * s * (muon_adamw + n_other),
                          f"{s:g} B × hidden matrices + 2·{s:g} B × (embeddings, head, 1-D params)")
    raise ValueError(optimizer)


PAGED = ("paged-adamw", "paged-adamw-8bit")


def paged_bytes(optimizer: str, large_matrix: float, large_other: float) -> float:
    """Optimizer-state bytes bitsandbytes puts in CUDA unified memory (``cudaMallocManaged``) for
    ``large_matrix`` / ``large_other`` trainable params in tensors of >= 1e5 elements; every other
    state is an ordinary torch tensor.

    bitsandbytes/optim/optimizer.py (51294d909e914f80d2f2c85f9e9229dd4386ef85): ``get_state_buffer``
    returns ``F.get_paged(...)`` for a paged optimizer when ``p.numel() >= 1e5``; the 8-bit update
    asks it for the two uint8 ``state1`` / ``state2`` buffers (1 B each per element) while the fp32
    ``absmax`` per 256-element block stays a torch tensor; the 32-bit update asks it for two fp32
    states (4 B each). 1-D tensors are counted with 32-bit states, as :func:`state_bytes` does.
    """
    if optimizer == "paged-adamw":
        return 8 * (large_matrix + large_other)
    if optimizer == "paged-adamw-8bit":
        return 2 * large_matrix + 8 * large_other
    return 0.0


def step_transient(optimizer: str, impl: str, s: float, trainable: int, largest: int) -> tuple[float, str]:
    """Temporary memory during ``optimizer.step()``.

    * foreach (PyTorch's default on CUDA when ``fused`` is unset): one intermediate tensor list the size of
      the states' dtype × all parameters (``_foreach_sqrt(exp_avg_sq)``; pytorch issue #97712).
    * for-loop: the same intermediate for one parameter at a time — the largest.
    * fused (HF Trainer's ``adamw_torch_fused``, default with torch ≥ 2.8): in place, no intermediate.
    * Muon: Newton–Schulz iterations on a bf16 copy of the largest matrix (≈ 3 copies).
    """
    if optimizer in ("sgd",):
        return 0.0, "in place"
    if optimizer == "muon":
        return 3 * 2 * largest, "Newton–Schulz: ≈3 bf16 copies of the largest matrix"
    if optimizer in ("adamw-8bit", "paged-adamw-8bit", "paged-adamw"):
        return 0.0, "bitsandbytes kernels update in place"
    if optimizer == "adafactor":
        return 2 * 4 * largest, "fp32 copies of the largest parameter and its update"
    if impl == "foreach":
        return s * trainable, f"foreach: one {s:g}-byte intermediate per trainable param"
    if impl == "forloop":
        return s * largest, f"for-loop: one {s:g}-byte intermediate of the largest parameter"
    return 0.0, "fused kernel, in place"
