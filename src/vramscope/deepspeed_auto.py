"""The DeepSpeed sizes HF Trainer fills in for ``"auto"`` from the model's hidden size.

transformers ``integrations/deepspeed.py``, ``HfTrainerDeepSpeedConfig.trainer_config_finalize``
(transformers 5.23.0, the version this project pins; the same lines since 4.x):

* ``zero_optimization.reduce_bucket_size = hidden_size * hidden_size`` (every stage);
* ``zero_optimization.stage3_prefetch_bucket_size = int(0.9 * hidden_size * hidden_size)`` (ZeRO-3);
* ``zero_optimization.stage3_param_persistence_threshold = 10 * hidden_size`` (ZeRO-3).

Counts of elements, not bytes. The training estimate's ZeRO buffers and ``export deepspeed``'s
config both take them from here.
"""

from __future__ import annotations


def reduce_bucket_size(hidden_size: int) -> int:
    """Elements per gradient reduce bucket: h² (HF's ``auto``)."""
    return hidden_size * hidden_size


def stage3_prefetch_bucket_size(hidden_size: int) -> int:
    """Elements ZeRO-3 prefetches ahead of the layer that needs them: int(0.9 · h²) (HF's ``auto``)."""
    return int(0.9 * hidden_size * hidden_size)


def stage3_param_persistence_threshold(hidden_size: int) -> int:
    """Parameters with fewer elements than this stay gathered under ZeRO-3: 10 · h (HF's ``auto``)."""
    return 10 * hidden_size


def auto_sizes(hidden_size: int, zero_stage: int) -> dict[str, int]:
    """The ``zero_optimization`` entries HF fills for ``auto`` at this ZeRO stage, by their config names."""
    out = {"reduce_bucket_size": reduce_bucket_size(hidden_size)}
    if zero_stage == 3:
        out["stage3_prefetch_bucket_size"] = stage3_prefetch_bucket_size(hidden_size)
        out["stage3_param_persistence_threshold"] = stage3_param_persistence_threshold(hidden_size)
    return out
