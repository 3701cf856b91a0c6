"""The ZeRO sizes DeepSpeed runs with: HF's ``"auto"`` values from the model's hidden size, or
DeepSpeed's own defaults when the config never names them.

HF ``"auto"`` — transformers ``integrations/deepspeed.py``,
``HfTrainerDeepSpeedConfig.trainer_config_finalize`` (transformers 5.23.0, the version this project
pins; the same lines since 4.x), and accelerate ``Accelerator._prepare_deepspeed`` (accelerate
16cb6eb80dd9aa8b4df1a63ef57863e455d53b83, ``src/accelerate/accelerator.py``), both filling only
entries whose value is ``"auto"``:

* ``zero_optimization.reduce_bucket_size = hidden_size * hidden_size`` (every stage);
* ``zero_optimization.stage3_prefetch_bucket_size = int(0.9 * hidden_size * hidden_size)`` (ZeRO-3);
* ``zero_optimization.stage3_param_persistence_threshold = 10 * hidden_size`` (ZeRO-3).

DeepSpeed's defaults — ``deepspeed/runtime/zero/config.py``, ``DeepSpeedZeroConfig`` (DeepSpeed
v0.16.5, microsoft/DeepSpeed@38327e07f6cd39b63418f60cedd1651b0be3e7c3): ``reduce_bucket_size``
5e8, ``stage3_prefetch_bucket_size`` 5e7, ``stage3_param_persistence_threshold`` 1e5,
``stage3_max_live_parameters`` 1e9, ``stage3_max_reuse_distance`` 1e9, ``contiguous_gradients``
True, ``overlap_comm`` None → True at stage 3 (``overlap_comm_valid``). An accelerate config file
without ``deepspeed_config_file`` (``accelerate config`` with ``zero_stage: 3`` …) makes
``DeepSpeedPlugin.__post_init__`` (``src/accelerate/utils/dataclasses.py``) build a
``zero_optimization`` block of only the stage, the offload devices and
``stage3_gather_16bit_weights_on_model_save``: no size is ``"auto"``, so DeepSpeed's defaults hold.

Counts of elements, not bytes. The training estimate's ZeRO buffers and ``export deepspeed``'s
config both take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: DeepSpeedZeroConfig defaults (elements), DeepSpeed v0.16.5 ``runtime/zero/config.py``
DS_REDUCE_BUCKET = 500_000_000
DS_PREFETCH_BUCKET = 50_000_000
DS_PERSISTENCE_THRESHOLD = 100_000
DS_MAX_LIVE_PARAMETERS = 1_000_000_000
DS_MAX_REUSE_DISTANCE = 1_000_000_000


def reduce_bucket_size(hidden_size: int) -> int:
    """Elements per gradient reduce bucket: h² (HF's ``auto``)."""
    return hidden_size * hidden_size


def stage3_prefetch_bucket_size(hidden_size: int) -> int:
    """Elements ZeRO-3 prefetches ahead of the layer that needs them: int(0.9 · h²) (HF's ``auto``)."""
    return int(0.9 * hidden_size * hidden_size)


def stage3_param_persistence_threshold(hidden_size: int) -> int:
    """Parameters with at most this many elements stay gathered under ZeRO-3: 10 · h (HF's ``auto``)."""
    return 10 * hidden_size


def auto_sizes(hidden_size: int, zero_stage: int) -> dict[str, int]:
    """The ``zero_optimization`` entries HF fills for ``auto`` at this ZeRO stage, by their config names."""
    out = {"reduce_bucket_size": reduce_bucket_size(hidden_size)}
    if zero_stage == 3:
        out["stage3_prefetch_bucket_size"] = stage3_prefetch_bucket_size(hidden_size)
        out["stage3_param_persistence_threshold"] = stage3_param_persistence_threshold(hidden_size)
    return out


@dataclass(frozen=True)
class ZeroSizes:
    """The ZeRO sizes (elements) a run uses, and where they came from."""

    reduce_bucket: int
    prefetch_bucket: int
    persistence_threshold: int
    max_live: int
    max_reuse: int
    source: str  # "hf-auto" or "defaults"

    @property
    def label(self) -> str:
        return "HF 'auto'" if self.source == "hf-auto" else "DeepSpeed default"


def zero_sizes(hidden_size: int, source: str = "hf-auto") -> ZeroSizes:
    """The sizes of a config whose bucket sizes are ``"auto"`` (``hf-auto``: HF's h²-based values;
    HF's sample configs set ``stage3_max_live_parameters`` / ``stage3_max_reuse_distance`` to 1e9, the
    defaults) or absent (``defaults``: DeepSpeed's)."""
    if source == "defaults":
        return ZeroSizes(DS_REDUCE_BUCKET, DS_PREFETCH_BUCKET, DS_PERSISTENCE_THRESHOLD, DS_MAX_LIVE_PARAMETERS,
                         DS_MAX_REUSE_DISTANCE, source)
    return ZeroSizes(reduce_bucket_size(hidden_size), stage3_prefetch_bucket_size(hidden_size),
                     stage3_param_persistence_threshold(hidden_size), DS_MAX_LIVE_PARAMETERS, DS_MAX_REUSE_DISTANCE,
                     "hf-auto")
