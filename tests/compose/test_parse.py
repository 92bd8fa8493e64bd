"""The parse stage: YAML 1.2 scalars as Compose reads them, positions, tags, and hostile YAML."""

from __future__ import annotations

import time

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.parse import Locator, parse_yaml, resolve_scalar


def one(text, file="compose.yaml"):
    docs = parse_yaml(text, file)
    assert len(docs) == 1
    return docs[0]


@pytest.mark.parametrize("text,value", [
    ("22:22", "22:22"), ("no", "no"), ("yes", "yes"), ("on", "on"), ("off", "off"),
    ("true", True), ("False", False), ("~", None), ("null", None), ("", None),
    ("42", 42), ("-3", -3), ("0o17", 15), ("0x1f", 31), ("0440", 288), ("08", 8),
    ("1.5", 1.5), ("1e3", 1000.0), (".inf", float("inf")), ("1_000", "1_000"), ("0b11", "0b11"),
    ("2026-11-21", "2026-11-21"), ("y", "y"),
])
def test_scalars_resolve_like_go_yaml(text, value):
    assert resolve_scalar(text) == value
    assert one(f"k: {text}\n").data == {"k": value}


def test_quoted_scalars_stay_strings():
    assert one("a: '22'\nb: \"true\"\n").data == {"a": "22", "b": "true"}


def test_positions_point_at_keys_and_items():
    doc = one("services:\n  web:\n    image: busybox\n    ports:\n      - 80:80\n      - '443'\n")
    assert str(doc.pos(("services", "web", "image"))) == "compose.yaml:3:5"
    assert str(doc.pos(("services", "web", "ports", 1))) == "compose.yaml:6:9"
    # an unknown path falls back to its nearest known ancestor
    assert str(doc.pos(("services", "web", "ports", 1, "target"))) == "compose.yaml:6:9"


def test_merge_keys_and_explicit_keys_win():
    doc = one("x-base: &b\n  image: a\n  restart: always\nservices:\n  web:\n    <<: *b\n    image: c\n")
    assert doc.data["services"]["web"] == {"image": "c", "restart": "always"}
    assert str(doc.pos(("services", "web", "image"))) == "compose.yaml:7:5"


def test_reset_and_override_tags_are_recorded_and_stripped():
    doc = one("services:\n  web:\n    ports: !reset []\n    command: !override [a, b]\n    x: !override 3\n")
    assert doc.data == {"services": {"web": {"command": ["a", "b"], "x": 3}}}
    assert doc.resets == {("services", "web", "ports")}
    assert doc.overrides == {("services", "web", "command"), ("services", "web", "x")}


def test_multiple_documents_and_byte_order_mark():
    docs = parse_yaml("\ufeffservices: {a: {image: x}}\n---\nservices: {b: {image: y}}\n", "f.yml")
    assert [d.data["services"] for d in docs] == [{"a": {"image": "x"}}, {"b": {"image": "y"}}]


@pytest.mark.parametrize("text,message,where", [
    ("a: 1\na: 2\n", "mapping key 'a' already defined at line 1", "f.yml:2:1"),
    ("a: [1\n", "invalid YAML", "f.yml:2:1"),
    ("a: \x01\n", "unacceptable character #x0001", "f.yml:1:4"),
    ("a: *nope\n", "invalid YAML", "f.yml:1:4"),
])
def test_bad_yaml_is_one_positioned_line(text, message, where):
    with pytest.raises(ComposeError) as info:
        parse_yaml(text, "f.yml")
    assert str(info.value).startswith(where + ": ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_alias_bomb_ends_at_once_with_a_clear_error():
    levels = ["x-a: &a {k: v}"]
    names = "abcdefghij"
    for prev, cur in zip(names, names[1:]):
        levels.append(f"x-{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    start = time.monotonic()
    with pytest.raises(ComposeError, match="excessive aliasing"):
        parse_yaml("\n".join(levels) + "\nservices: {}\n", "bomb.yaml")
    assert time.monotonic() - start < 10  # bounded; compose-go's own limit is 5 s


def test_self_referencing_merge_key_is_an_error():
    with pytest.raises(ComposeError, match="nested too deeply"):
        parse_yaml("x-h: &h\n  egress:\n    <<: *h\n", "c.yaml")


def test_locator_prefers_the_latest_file_and_deepest_known_path():
    base = one("services:\n  web:\n    image: a\n    ports: ['80']\n", "base.yaml")
    over = one("services:\n  web:\n    image: b\n", "over.yaml")
    loc = Locator([base, over])
    assert str(loc.find(("services", "web", "image"))) == "over.yaml:3:5"
    assert str(loc.find(("services", "web", "ports", 0))) == "base.yaml:4:13"
    assert str(loc.find(("networks", "x"))) == "over.yaml:1:1"
