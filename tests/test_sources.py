"""Model sources: catalog lookup, local config.json / directories, bare sizes, the hub (mocked)."""

from __future__ import annotations

import json

import pytest

from conftest import catalog_config
from vramscope import load_model
from vramscope.errors import ConfigError, ModelNotFoundError, OfflineError, VramscopeError
from vramscope.sources import catalog
from vramscope.sources.bare_size import parse_size, spec_from_size


# --- catalog ----------------------------------------------------------------------------------
def test_catalog_has_at_least_50_models_with_sources():
    entries = catalog.entries()
    assert len(entries) >= 50
    for e in entries:
        assert e.config_source and e.params_total is not None, e.id
        assert e.params_source.startswith("https://"), e.id


def test_catalog_covers_the_families_asked_for():
    families = {e.family for e in catalog.entries()}
    assert {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3",
            "gemma", "gemma2", "gemma3", "gemma3_text", "phi3", "gpt_oss", "chatglm", "mamba", "jamba",
            "qwen2_5_vl"} <= families


@pytest.mark.parametrize("entry", catalog.entries(), ids=lambda e: e.id)
def test_every_catalog_count_agrees_with_its_published_figure(entry):
    spec = entry.spec()
    assert entry.params_total.matches(spec.params_total), (spec.params_total, entry.params_total)
    if entry.params_active is not None:
        active = spec.params_active
        if entry.active_excludes_embedding:
            active -= spec.vocab_size * spec.hidden_size
        assert entry.params_active.matches(active), (active, entry.params_active)


def test_published_count_rules():
    P = catalog.PublishedCount
    exact = P.parse(1_235_814_400, "t")
    assert exact.matches(1_235_814_400) and not exact.matches(1_235_814_401)
    rounded = P.parse("8.03B", "t")
    assert rounded.matches(8_030_261_248) and not rounded.matches(8_050_000_000)
    truncated = P.parse("405B", "t")  # Meta's 405B for 405.85B
    assert truncated.matches(405_853_388_800) and not truncated.matches(406_100_000_000)
    with pytest.raises(ConfigError):
        P.parse("about eight billion", "t")


@pytest.mark.parametrize("name", ["meta-llama/Llama-3.1-8B", "META-LLAMA/llama-3.1-8b", "Llama-3.1-8B", "llama3.1-8b"])
def test_catalog_lookup_by_id_short_name_or_alias(name):
    assert load_model(name).id == "meta-llama/Llama-3.1-8B"


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ModelNotFoundError, match="Did you mean: .*Llama-3.1-8B"):
        load_model("lama-3.1-8b")


def test_catalog_search():
    ids = [e.id for e in catalog.search("qwen3 moe")]
    assert "Qwen/Qwen3-30B-A3B" in ids and "Qwen/Qwen3-8B" not in ids


# --- local files --------------------------------------------------------------------------------
def test_config_file_and_directory(tmp_path, write_json):
    path = write_json(catalog_config("Qwen__Qwen3-8B"))
    assert load_model(str(path)).params_total == 8_190_735_360
    assert load_model(str(tmp_path)).params_total == 8_190_735_360
    assert load_model(str(tmp_path)).source == "config"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"model_type": "llama", "hidden_size": 4096', "malformed JSON"),  # truncated
        ("", "empty"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('{"hidden_size": 4096}', "no 'model_type'"),
        ("{not json}", "malformed JSON"),
    ],
)
def test_broken_config_files_are_clear_errors(write_json, content, fragment):
    path = write_json(content)
    with pytest.raises(ConfigError, match=fragment):
        load_model(str(path))


def test_binary_file_is_not_a_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(ConfigError, match="not a UTF-8"):
        load_model(str(path))


def test_missing_file_and_empty_directory(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such file"):
        load_model(str(tmp_path / "nope.json"))
    with pytest.raises(ModelNotFoundError, match="neither a config.json nor a .gguf"):
        load_model(str(tmp_path))


# --- bare sizes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "total", "active"), [
    ("7B", 7_000_000_000, None), ("1.5b", 1_500_000_000, None), ("500M", 500_000_000, None),
    ("56B-A14B", 56_000_000_000, 14_000_000_000), ("56B/14B", 56_000_000_000, 14_000_000_000),
])
def test_parse_size(text, total, active):
    assert parse_size(text) == (total, active)


@pytest.mark.parametrize(("text", "active"), [("7B", None), ("13B", None), ("70B", None), ("130M", None),
                                              ("56B", "14B"), ("671B", "37B"), ("30B-A3B", None), ("1T-A32B", None)])
def test_bare_size_counts_are_exactly_the_users(text, active):
    spec = load_model(text, active=active)
    total, act = parse_size(text)
    if active:
        act = parse_size(active)[0]
    assert spec.params_total == total
    assert spec.params_active == (act or total)
    assert spec.source == "size" and spec.assumptions and "inferred" in spec.assumptions[0]
    assert spec.is_moe == bool(act)


def test_bare_size_shape_is_plausible():
    spec = spec_from_size("7B")
    assert spec.hidden_size == 4096 and 24 <= spec.num_layers <= 34
    assert spec.layers[0].attention.num_kv_heads == 8


@pytest.mark.parametrize(("text", "active"), [("7B", "9B"), ("7B", "0B"), ("0.5K", None)])
def test_bad_bare_sizes(text, active):
    with pytest.raises(VramscopeError):
        spec_from_size(text, active)


# --- hub (mocked; tests never touch the network) -------------------------------------------------
class _FakeInfo:
    def __init__(self, dtype, shape):
        self.dtype, self.shape = dtype, shape


class _FakeFile:
    def __init__(self, tensors):
        self.tensors = tensors


class _FakeMeta:
    def __init__(self, files):
        self.files_metadata = files


def _fake_download(path, calls: list):
    """hf_hub_download that has nothing cached locally and serves ``path`` from the "network"."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    def download(repo, name, revision=None, local_files_only=False):
        if local_files_only:
            raise LocalEntryNotFoundError("not in the local cache")
        calls.append(repo)
        return str(path)

    return download


@pytest.fixture
def hub_reachable(monkeypatch):
    from vramscope.sources import hub

    monkeypatch.setattr(hub, "check_reachable", lambda *a, **k: None)


def test_hub_reads_config_and_safetensors_headers(tmp_path, monkeypatch, hub_reachable):
    import huggingface_hub


    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(catalog_config("meta-llama__Llama-3.2-1B")))
    calls = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(cfg, calls))
    monkeypatch.setattr(
        huggingface_hub,
        "get_safetensors_metadata",
        lambda repo, revision=None: _FakeMeta({"model.safetensors": _FakeFile({
            "model.embed_tokens.weight": _FakeInfo("BF16", [128256, 2048]),
            "model.layers.0.mlp.down_proj.weight": _FakeInfo("F8_E4M3", [2048, 8192]),
            "model.layers.0.mlp.down_proj.weight_scale": _FakeInfo("F32", [2048, 1]),
        })}),
    )
    monkeypatch.setenv("VRAMSCOPE_CACHE", str(tmp_path / "cache"))
    spec = load_model("someone/tiny-llama-fp8", offline=False)
    assert spec.source == "hub" and spec.params_total == 1_235_814_400
    assert spec.stored.bytes_by_dtype == {"BF16": 128256 * 2048 * 2, "F8_E4M3": 2048 * 8192, "F32": 2048 * 4}
    assert calls == ["someone/tiny-llama-fp8"]
    # the safetensors metadata is cached: a second read needs no hub call for it
    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata", lambda *a, **k: pytest.fail("not cached"))
    assert load_model("someone/tiny-llama-fp8", offline=False).stored.total_bytes == spec.stored.total_bytes


def test_hub_offline_is_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(OfflineError, match="cannot reach the Hugging Face hub"):
        load_model("nobody-xyz/not-cached-model")


def test_hub_missing_repo_is_model_not_found(monkeypatch, hub_reachable):
    import huggingface_hub
    from huggingface_hub import errors

    class NotFound(errors.RepositoryNotFoundError):
        def __init__(self):  # skip huggingface_hub's HTTP-response plumbing
            Exception.__init__(self, "404")

    def boom(*a, **k):
        raise NotFound()

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    with pytest.raises(ModelNotFoundError, match="not found on the Hugging Face hub"):
        load_model("nobody-xyz/missing", offline=False)


def test_hub_offline_reads_only_the_local_cache(tmp_path, monkeypatch):
    import huggingface_hub

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(catalog_config("meta-llama__Llama-3.2-1B")))
    seen = {}
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo, name, revision=None, **kw: seen.update(kw) or str(cfg))
    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata", lambda *a, **k: pytest.fail("network used offline"))
    monkeypatch.setenv("VRAMSCOPE_CACHE", str(tmp_path / "cache"))
    spec = load_model("someone/cached-model", offline=True)
    assert seen == {"local_files_only": True}
    assert spec.params_total == 1_235_814_400 and spec.stored is None


def test_unreachable_hub_fails_at_once_in_one_line(monkeypatch, tmp_path, capsys):
    """No 25 s of huggingface_hub retries: a 3 s TCP probe answers first, and the CLI prints one line."""
    import socket
    import time

    import huggingface_hub

    from conftest import run_cli

    def no_dns(*a, **k):
        raise socket.gaierror(-2, "Name or service not known")

    calls: list = []
    monkeypatch.setattr(socket, "create_connection", no_dns)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(tmp_path / "never.json", calls))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t = time.perf_counter()
    with pytest.raises(OfflineError, match="cannot reach the Hugging Face hub at huggingface.co:443"):
        load_model("someone/not-cached-model")
    assert time.perf_counter() - t < 2 and calls == []  # never went to the network
    code, out, err = run_cli(["estimate", "someone/not-cached-model"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Name or service not known" in err


def test_hub_fetch_is_announced_to_the_progress_listener(tmp_path, monkeypatch, hub_reachable):
    import contextlib

    import huggingface_hub

    from vramscope import progress

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(catalog_config("meta-llama__Llama-3.2-1B")))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(cfg, []))
    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata", lambda *a, **k: _FakeMeta({}))
    monkeypatch.setenv("VRAMSCOPE_CACHE", str(tmp_path / "cache"))
    seen: list[str] = []
    previous = progress.set_listener(lambda message: seen.append(message) or contextlib.nullcontext())
    try:
        load_model("someone/tiny", offline=False)
        load_model("meta-llama/Llama-3.1-8B")  # catalog: nothing slow, nothing announced
    finally:
        progress.set_listener(previous)
    assert seen == ["reading someone/tiny/config.json from the Hugging Face hub…",
                    "reading the safetensors headers of someone/tiny (no weights are downloaded)…"]


def test_cached_hub_config_needs_no_network(tmp_path, monkeypatch):
    """A model read once answers from the HF cache on a machine without network, config alone."""
    import socket

    import huggingface_hub

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(catalog_config("meta-llama__Llama-3.2-1B")))
    def no_network(*a, **k):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name, revision=None, **kw: str(cfg))
    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata", lambda *a, **k: pytest.fail("used the network"))
    monkeypatch.setenv("VRAMSCOPE_CACHE", str(tmp_path / "cache"))
    spec = load_model("someone/cached", offline=False)
    assert spec.params_total == 1_235_814_400 and spec.stored is None
    assert any("config.json alone" in a for a in spec.assumptions)
