"""`config`-style printing: key order, quoting for YAML 1.1 readers, round trips."""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings, strategies as st

from orchestrator.compose.output import ordered, to_json, to_yaml
from orchestrator.compose.parse import parse_yaml


def test_top_level_and_service_key_order():
    model = {
        "x-z": 1,
        "volumes": {"v": {}},
        "services": {"web": {"volumes": [], "image": "nginx", "build": {"dockerfile": "D", "context": "/c"}},
                     "api": {"image": "a"}},
        "name": "p",
        "networks": {"b": {}, "a": {}},
    }
    out = ordered(model)
    assert list(out) == ["name", "services", "networks", "volumes", "x-z"]
    assert list(out["services"]) == ["api", "web"]
    assert list(out["services"]["web"]) == ["build", "image", "volumes"]
    assert list(out["services"]["web"]["build"]) == ["context", "dockerfile"]
    assert list(out["networks"]) == ["a", "b"]


def test_port_and_healthcheck_field_order():
    svc = {"ports": [{"protocol": "tcp", "published": "80", "target": 80, "mode": "ingress"}],
           "healthcheck": {"retries": 3, "interval": "10s", "test": ["CMD", "true"], "timeout": "1s"}}
    out = ordered(svc, "service")
    assert list(out["ports"][0]) == ["mode", "target", "published", "protocol"]
    assert list(out["healthcheck"]) == ["test", "timeout", "interval", "retries"]


def test_opt_out_defaults_are_omitted():
    svc = {"volumes": [{"type": "bind", "source": "/a", "target": "/b", "bind": {"create_host_path": True}}],
           "env_file": [{"path": "/e", "required": True}],
           "depends_on": {"db": {"condition": "service_started", "restart": False, "required": True}}}
    text = to_yaml({"services": {"s": svc}})
    assert "create_host_path" not in text and "required: true" in text and "restart" not in text
    assert "bind: {}" in text


def test_ambiguous_strings_are_double_quoted():
    text = to_yaml({"services": {"s": {"restart": "no", "ports": [{"published": "22"}],
                                        "labels": {"a": "22:22", "b": "on", "c": "0440", "d": "", "e": "1e3",
                                                   "f": "true", "g": "null", "h": "plain"}}}})
    for quoted in ('"no"', '"22"', '"22:22"', '"on"', '"0440"', '""', '"1e3"', '"true"', '"null"'):
        assert quoted in text, quoted
    assert "h: plain" in text


def test_yaml_11_readers_get_the_same_data_back():
    data = {"services": {"s": {"restart": "no", "labels": {"a": "22:22", "b": "yes", "c": "0777", "d": "1_000"}}}}
    text = to_yaml(data)
    assert yaml.safe_load(text) == ordered(data)  # PyYAML is a YAML 1.1 reader
    assert parse_yaml(text, "x")[0].data == ordered(data)  # Compose's YAML 1.2


def test_multiline_strings_are_literal_blocks():
    text = to_yaml({"services": {"s": {"build": {"dockerfile_inline": "FROM alpine\nRUN true\n"}}}})
    assert "dockerfile_inline: |\n        FROM alpine\n        RUN true\n" in text


def test_lists_are_indented_like_compose():
    assert to_yaml({"services": {"s": {"cap_add": ["ALL"]}}}) == "services:\n  s:\n    cap_add:\n      - ALL\n"


def test_json_is_shaped_like_go_encoding():
    text = to_json({"name": "p", "services": {"s": {"image": "x", "x-n": 1, "command": ["a>b"]}},
                    "networks": {"n": {"name": "p_n", "external": True}}, "x-top": 1})
    data = json.loads(text)
    assert list(data) == ["name", "networks", "services", "x-top"]  # a Go map: sorted
    assert data["services"] == {"s": {"command": ["a>b"], "image": "x", "entrypoint": None}}
    assert list(data["networks"]["n"]) == ["name", "ipam", "external"]
    assert "a\\u003eb" in text


_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), _text)
_values = st.recursive(_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_text.filter(lambda k: not k.startswith("x-")), _values, max_size=4))
def test_round_trip_through_printed_yaml(labels):
    data = {"services": {"s": {"develop": labels}}}
    text = to_yaml(data)
    again = parse_yaml(text, "x")[0].data
    assert to_yaml(again) == text
    assert yaml.safe_load(text) == again


def test_floats_read_back_as_floats():
    data = {"services": {"s": {"cpus": 1e-05, "deploy": {"resources": {"limits": {"cpus": 0.5}}}}}}
    text = to_yaml(data)
    assert yaml.safe_load(text) == data
    assert parse_yaml(text, "x")[0].data == data
