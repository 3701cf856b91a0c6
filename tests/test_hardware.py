"""The built-in GPU table: coverage, sourcing, validation, lookup and custom GPUs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vramscope import hardware
from vramscope.errors import ConfigError, VramscopeError
from vramscope.hardware import GPU, UnknownGPUError, custom_gpu, find_gpu, gpus, load_rows, search_gpus

GiB = 1 << 30


# --- the table ----------------------------------------------------------------------------------
def test_at_least_40_gpus_each_with_a_source_url():
    table = gpus()
    assert len(table) >= 40
    for g in table:
        assert g.source.startswith("https://"), g.id
        if g.price_usd is not None:
            assert g.price_source and g.price_source.startswith("https://"), g.id


def test_ids_are_unique_and_aliases_do_not_clash_between_gpus():
    owners: dict[str, str] = {}
    for g in gpus():
        for key in hardware._keys(g):
            assert owners.setdefault(key, g.id) == g.id, f"{key!r}: {owners[key]} and {g.id}"


def test_covers_the_cards_asked_for():
    ids = {g.id for g in gpus()}
    wanted = {
        "RTX-3060-12GB", "RTX-3070-8GB", "RTX-3080-10GB", "RTX-3090-24GB", "RTX-3090-TI-24GB",
        "RTX-4060-TI-16GB", "RTX-4070-TI-SUPER-16GB", "RTX-4080-SUPER-16GB", "RTX-4090-24GB",
        "RTX-5070-TI-16GB", "RTX-5080-16GB", "RTX-5090-32GB",
        "RTX-A4000-16GB", "RTX-A5000-24GB", "RTX-A6000-48GB", "RTX-4000-ADA-20GB", "RTX-5000-ADA-32GB",
        "RTX-6000-ADA-48GB", "RTX-PRO-6000-BLACKWELL-96GB",
        "V100-SXM2-16GB", "V100-SXM2-32GB", "T4-16GB", "A10-24GB", "A10G-24GB", "L4-24GB", "L20-48GB",
        "L40-48GB", "L40S-48GB", "A100-PCIE-40GB", "A100-SXM-40GB", "A100-PCIE-80GB", "A100-SXM-80GB",
        "A800-SXM-80GB", "H100-PCIE-80GB", "H100-SXM-80GB", "H100-NVL-94GB", "H800-SXM-80GB", "H20-96GB",
        "H200-SXM-141GB", "GH200-96GB", "B200-180GB",
        "MI210-64GB", "MI250X-128GB", "MI300X-192GB", "MI325X-256GB",
        "M2-ULTRA-192GB", "M3-MAX-128GB", "M4-MAX-128GB", "M3-ULTRA-512GB", "ASCEND-910B-64GB",
    }
    assert wanted <= ids, sorted(wanted - ids)


def test_h100_usable_bytes_is_the_driver_reported_figure():
    h100 = find_gpu("H100-SXM-80GB")
    # torch.cuda.get_device_properties(...).total_memory == 81090 MiB (floored) on an H100 80GB HBM3
    assert h100.memory_bytes == 81090 * (1 << 20) == 85_029_027_840
    assert 79.1 < h100.memory_gib < 79.3
    assert "81090" in h100.memory_note


def test_values_are_plausible():
    for g in gpus():
        assert 4 * GiB <= g.memory_bytes <= 600 * GiB, g.id
        if g.bandwidth_gbs is not None:
            assert 100 <= g.bandwidth_gbs <= 10_000, g.id
        if g.bf16_tflops is not None:
            assert 5 <= g.bf16_tflops <= 5_000, g.id
        if g.fp8_tflops is not None and g.bf16_tflops is not None:
            assert g.fp8_tflops >= g.bf16_tflops, g.id
        assert g.max_gpus_per_node >= 1


def test_apple_rows_are_unified_with_a_gpu_share():
    apple = [g for g in gpus() if g.vendor == "apple"]
    assert len(apple) >= 4
    for g in apple:
        assert g.unified_memory and g.segment == "apple", g.id
        assert g.gpu_share is not None and 0.5 <= g.gpu_share <= 1, g.id
        assert g.usable_bytes == int(g.memory_bytes * g.gpu_share)
    assert all(not g.unified_memory for g in gpus() if g.vendor != "apple")
    assert find_gpu("m2 ultra").memory_bytes == 192 * GiB


def test_discrete_gpu_usable_bytes_is_all_memory():
    g = find_gpu("rtx 4090")
    assert g.usable_bytes == g.memory_bytes == 24 * GiB


# --- validation ---------------------------------------------------------------------------------
def _row(**over):
    base = {"id": "X-1", "name": "X 1", "vendor": "nvidia", "segment": "consumer", "memory_bytes": 8 * GiB,
            "source": "https://example.com/x1"}
    base.update(over)
    return base


def test_load_rows_accepts_a_minimal_row():
    (g,) = load_rows([_row()])
    assert g.id == "X-1" and g.bandwidth_gbs is None and g.aliases == ()


@pytest.mark.parametrize(
    "bad",
    [
        {"memory_bytes": -1},
        {"memory_bytes": "24GB"},
        {"memory_bytes": 1.5},
        {"vendor": "nvidiaa"},
        {"segment": "gaming"},
        {"bandwidth_gbs": "fast"},
        {"bf16_tflops": 0},
        {"aliases": "h100"},
        {"gpu_share": 1.5},
        {"unified_memory": True},  # no gpu_share
        {"source": ""},
        {"max_gpus_per_node": 0},
        {"colour": "green"},
    ],
)
def test_malformed_rows_raise_config_error_naming_the_row(bad):
    with pytest.raises(ConfigError, match=r"row 1 \(X-1\)"):
        load_rows([_row(id="OK"), _row(**bad)])


def test_missing_id_and_non_object_rows_are_named():
    with pytest.raises(ConfigError, match="row 0"):
        load_rows([_row(id=None)])
    with pytest.raises(ConfigError, match="row 0"):
        load_rows(["H100"])
    with pytest.raises(ConfigError, match="list"):
        load_rows({"id": "X"})


def test_duplicate_ids_are_rejected():
    with pytest.raises(ConfigError, match="duplicate"):
        load_rows([_row(), _row(id="x_1")])


def test_shipped_file_is_a_json_list():
    assert isinstance(json.loads(hardware.DATA_FILE.read_text()), list)


# --- lookup -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "gpu_id"),
    [
        ("H100-SXM-80GB", "H100-SXM-80GB"),
        ("h100", "H100-SXM-80GB"),
        ("H100 SXM", "H100-SXM-80GB"),
        ("h100_sxm", "H100-SXM-80GB"),
        ("  H100-80GB ", "H100-SXM-80GB"),
        ("NVIDIA H100 SXM5 80GB", "H100-SXM-80GB"),
        ("h100 pcie", "H100-PCIE-80GB"),
        ("RTX 4090", "RTX-4090-24GB"),
        ("rtx4090", "RTX-4090-24GB"),
        ("GeForce RTX 4090 24GB", "RTX-4090-24GB"),
        ("4090", "RTX-4090-24GB"),
        ("a10", "A10-24GB"),
        ("A10G", "A10G-24GB"),
        ("l40s", "L40S-48GB"),
        ("MI300X", "MI300X-192GB"),
        ("Apple M3 Ultra", "M3-ULTRA-512GB"),
        ("a100 40gb", "A100-SXM-40GB"),
        ("a100 80gb pcie", "A100-PCIE-80GB"),
        ("gh200", "GH200-96GB"),
    ],
)
def test_find_gpu_by_id_name_alias_case_and_spacing(query, gpu_id):
    assert find_gpu(query).id == gpu_id


def test_short_name_resolves_to_the_marked_default():
    assert find_gpu("a100").id == "A100-SXM-80GB"
    assert find_gpu("A-100").id == "A100-SXM-80GB"


def test_ambiguous_short_name_without_default_lists_the_choices():
    with pytest.raises(UnknownGPUError) as info:
        find_gpu("v100")
    msg = str(info.value)
    assert "V100-SXM2-16GB" in msg and "V100-SXM2-32GB" in msg


def test_unknown_gpu_error_suggests_close_matches():
    with pytest.raises(UnknownGPUError) as info:
        find_gpu("rtx 4099")
    assert "RTX-4090-24GB" in str(info.value)
    assert isinstance(info.value, VramscopeError)
    with pytest.raises(UnknownGPUError, match="unknown GPU"):
        find_gpu("voodoo5")
    with pytest.raises(UnknownGPUError):
        find_gpu("  ")


def test_search_gpus():
    amd = search_gpus("amd")
    assert {g.id for g in amd} == {"MI210-64GB", "MI250X-128GB", "MI300X-192GB", "MI325X-256GB"}
    assert {g.id for g in search_gpus("h100")} >= {"H100-SXM-80GB", "H100-PCIE-80GB", "H100-NVL-94GB"}
    assert {g.id for g in search_gpus("rtx 40")} >= {"RTX-4090-24GB", "RTX-4060-TI-16GB"}
    assert search_gpus("") == list(gpus())
    assert search_gpus("no such card") == []


# --- custom GPUs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("memory", "nbytes"),
    [("24GiB", 24 * GiB), ("80 GB", 80 * 10**9), ("16384MiB", 16 * GiB), ("48", 48 * GiB), (12_000_000_000, 12 * 10**9)],
)
def test_custom_gpu_parses_sizes(memory, nbytes):
    g = custom_gpu(memory)
    assert isinstance(g, GPU)
    assert g.memory_bytes == nbytes and g.id == "custom"
    assert g.bandwidth_gbs is None and g.bf16_tflops is None and g.fp8_tflops is None
    assert g.usable_bytes == nbytes


def test_custom_gpu_name():
    assert custom_gpu("24GiB", name="my-box").name == "my-box"


@pytest.mark.parametrize("bad", ["-4GiB", "lots", "", "0GB", 0, -5, True])
def test_custom_gpu_bad_sizes_raise(bad):
    with pytest.raises(VramscopeError):
        custom_gpu(bad)


def test_import_is_stdlib_only():
    code = (
        "import sys; import vramscope.hardware as h; h.gpus(); "
        "bad = [m for m in ('pydantic', 'numpy', 'torch', 'rich', 'typer') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cuda_capability_from_the_architecture():
    """NVIDIA's CUDA GPUs table: Ampere A100 8.0, Ampere consumer 8.6, Ada 8.9, Hopper 9.0, Blackwell 10.0 / 12.0."""
    caps = {g: find_gpu(g).cuda_capability for g in ("A100-SXM-80GB", "RTX-3090", "L40S", "RTX-4090", "H200",
                                                    "B200", "RTX-5090", "T4", "MI300X")}
    assert caps == {"A100-SXM-80GB": (8, 0), "RTX-3090": (8, 6), "L40S": (8, 9), "RTX-4090": (8, 9), "H200": (9, 0),
                    "B200": (10, 0), "RTX-5090": (12, 0), "T4": (7, 5), "MI300X": None}
    assert all(g.cuda_capability is not None for g in gpus() if g.vendor == "nvidia")


def test_memory_from_measured_totals():
    """Catalog memory where a measurement is published (memory_note names it): nvidia-smi totals from
    modal-labs/modal-client#2797, CUDA deviceQuery of an A100-SXM4-40GB from bottlerocket-os/bottlerocket#3873."""
    mib = {g: find_gpu(g).memory_bytes / 2**20 for g in ("A10-24GB", "L4-24GB", "L40S-48GB", "T4-16GB")}
    assert mib == {"A10-24GB": 23028, "L4-24GB": 23034, "L40S-48GB": 46068, "T4-16GB": 15360}
    assert find_gpu("A100-SXM-40GB").memory_bytes == 42_298_834_944
    assert find_gpu("H100-SXM-80GB").memory_bytes == 81090 * 2**20  # torch total_memory (earlier source)
