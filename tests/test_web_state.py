"""The web page's URL state: encode only what differs from the defaults, decode any query back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vramscope.web.state import (
    BY_NAME,
    DEFAULTS,
    FIELDS,
    MAX_VALUE_CHARS,
    NAMES,
    decode,
    encode,
    lang_of,
    normalize,
)


def test_defaults_encode_to_an_empty_query():
    assert encode(DEFAULTS) == ""
    assert decode("") == DEFAULTS
    assert decode(None) == DEFAULTS


def test_only_changed_fields_in_field_order():
    values = {**DEFAULTS, "t_batch": "4", "model": "Qwen/Qwen3-8B", "tab": "train", "r_vllm": True}
    assert encode(values) == "tab=train&model=Qwen%2FQwen3-8B&t_batch=4&r_vllm=1"


def test_decode_restores_values_and_ignores_the_rest():
    values = decode("?tab=rl&r_algo=dpo&batch=-3&unknown=1&engine=not-an-engine&r_vllm=true&t_batch=2&t_batch=9")
    assert values["tab"] == "rl" and values["r_algo"] == "dpo"
    assert values["batch"] == "-3"  # numbers stay text: the handlers say what is wrong
    assert values["engine"] == DEFAULTS["engine"]  # outside the choices → default
    assert values["r_vllm"] is True
    assert values["t_batch"] == "2"  # the first of repeated keys
    assert "unknown" not in values and list(values) == list(NAMES)


def test_overlong_values_are_cut():
    values = decode("model=" + "x" * 5000)
    assert len(values["model"]) == MAX_VALUE_CHARS


def test_special_characters_survive():
    values = {**DEFAULTS, "hub": "org/name with spaces&=?#%", "m_size": "1280×720", "t_targets": "q_proj,v_proj"}
    assert decode(encode(values)) == normalize(values)


def _value(field):
    if field.is_bool:
        return st.booleans()
    if field.choices:
        return st.sampled_from(field.choices)
    return st.text(max_size=40).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({}, optional={f.name: _value(f) for f in FIELDS}))
def test_round_trip(values):
    assert decode(encode(values)) == normalize(values)
    assert decode("?" + encode(values)) == normalize(values)


def test_every_field_default_is_valid():
    for f in FIELDS:
        assert f.is_bool or not f.choices or f.default in f.choices, f.name
        assert BY_NAME[f.name] is f


def test_language_detection():
    assert lang_of("zh-CN") == "zh" and lang_of("zh") == "zh" and lang_of("zh-Hant-TW") == "zh"
    assert lang_of("en-US") == "en" and lang_of("") == "en" and lang_of(None) == "en" and lang_of("fr") == "en"
    assert lang_of("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert lang_of("en-GB,en;q=0.9,zh;q=0.8") == "en"
