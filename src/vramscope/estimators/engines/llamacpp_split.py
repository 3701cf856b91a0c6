"""Where llama.cpp puts each layer, read from its code (ggml-org/llama.cpp, commit
00342301d01add50835550e8a916f12097d94517 unless a line says otherwise). Pure functions, no bytes.

* ``src/llama-model.cpp`` ``llama_model::load_tensors``: the split points are the running sums of
  ``tensor_split`` (default: each device's free memory; equal GPUs here) divided by their total; the
  GPU layers are ``[i_gpu_start, i_gpu_start + act_gpu_layers)`` with ``i_gpu_start = max(n_layer −
  n_gpu_layers, 0)`` and ``act_gpu_layers = min(n_gpu_layers, n_layer + 1)``; layer ``il`` of them goes
  to device ``upper_bound(splits, float(il − i_gpu_start) / act_gpu_layers)``. The output layer is
  "layer" ``n_layer`` of the same rule (on a GPU only when ``n_gpu_layers > n_layer``); the input
  embedding stays on the CPU ("very little benefit to offloading the input layer"). The arithmetic is
  C++ ``float``: it is done here in float32 so that ties fall on the same side.
* ``src/llama.cpp`` ``llama_prepare_model_devices`` (read at 01649e61c782d88825d9f5affb6acbad0f57fb9b):
  ``--split-mode none`` keeps only ``devices[main_gpu]``; ``--main-gpu`` chooses nothing else.
* ``--split-mode row``: ``make_gpu_buft_list`` puts the device's split buffer type first, so every
  weight whose op the split buffer supports (a 2-D ``MUL_MAT`` matrix: ``select_weight_buft``) is cut
  by rows over all devices in ``tensor_split`` proportions (ggml-cuda's split buffer, ``get_row_split``);
  norms, biases, 3-D expert stacks and the KV cache stay on the layer's device of the rule above.
  The CUDA split buffer rounds each row boundary to its row-rounding granularity; that rounding
  (at most one granule per boundary) is not modelled.
"""

from __future__ import annotations

import struct
from bisect import bisect_right


def _f32(x: float) -> float:
    """``x`` rounded to a C ``float`` (the type of llama.cpp's split points)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def split_points(proportions: tuple[float, ...]) -> tuple[float, ...]:
    """Running sums of the proportions over their total, in float32 (``load_tensors``)."""
    total = 0.0
    sums = []
    for p in proportions:
        total = _f32(total + _f32(p))
        sums.append(total)
    return tuple(_f32(x / total) for x in sums)


def layer_devices(n_layer: int, n_gpu_layers: int, proportions: tuple[float, ...]) -> tuple[int | None, ...]:
    """The device of each layer ``0 … n_layer`` (index ``n_layer`` is the output layer); None = the CPU."""
    splits = split_points(proportions)
    start = max(n_layer - n_gpu_layers, 0)
    act = min(n_gpu_layers, n_layer + 1) if proportions else 0
    out: list[int | None] = []
    for il in range(n_layer + 1):
        if il < start or il - start >= act:
            out.append(None)
        else:
            x = _f32(_f32(il - start) / act)
            out.append(min(bisect_right(splits, x), len(splits) - 1))
    return tuple(out)


def row_shares(n_rows: int, proportions: tuple[float, ...]) -> tuple[float, ...]:
    """The fraction of a matrix's ``n_rows`` rows each device holds under ``--split-mode row``: device
    ``i`` holds rows ``[n·s(i−1), n·s(i))`` of the split points ``s`` (ggml-cuda ``get_row_split``,
    without its row rounding)."""
    if n_rows <= 0:
        return tuple(0.0 for _ in proportions)
    bounds = [0] + [int(n_rows * s) for s in split_points(proportions)]
    bounds[-1] = n_rows
    return tuple((bounds[i + 1] - bounds[i]) / n_rows for i in range(len(proportions)))
