"""Interpolation: compose-go's 70 template cases, warnings, and the document stage with casts."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.interpolate import (
    cast_for_path,
    interpolate_document,
    substitute,
)
from orchestrator.compose.parse import parse_yaml

_SHARED = pathlib.Path(
    os.environ.get("SHOAL_SHARED", pathlib.Path(__file__).resolve().parents[3] / "shared")
)
_CASES_FILE = _SHARED / "conformance/compose-go/derived/interpolation-cases.json"


def _load_cases() -> list:
    if not _CASES_FILE.is_file():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"no {_CASES_FILE}"))]
    data = json.loads(_CASES_FILE.read_text())
    params = []
    for i, case in enumerate(data["cases"]):
        env = case.get("env", data["default_env"])
        params.append(pytest.param(case, env, id=f"{i:02d}-{case['template']}"))
    return params


@pytest.mark.parametrize("case,env", _load_cases())
def test_conformance_case(case: dict, env: dict) -> None:
    warnings: list[str] = []
    if "expected" in case:
        assert substitute(case["template"], env.get, warnings.append) == case["expected"]
    else:
        with pytest.raises(ComposeError) as info:
            substitute(case["template"], env.get, warnings.append)
        assert case["error_contains"] in str(info.value)


def test_unset_variable_warns_once_with_composes_message() -> None:
    warnings: list[str] = []
    assert substitute("a ${NOPE} b", {}.get, warnings.append) == "a  b"
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_lazy_default_does_not_warn_unless_used() -> None:
    warnings: list[str] = []
    assert substitute("${A:+${A},}B", {}.get, warnings.append) == "B"
    assert warnings == []
    assert substitute("${A:-${B}}", {}.get, warnings.append) == ""
    assert warnings == ['The "B" variable is not set. Defaulting to a blank string.']


def test_required_message_not_expanded_when_variable_set() -> None:
    warnings: list[str] = []
    assert substitute("${A?${B}}", {"A": "v"}.get, warnings.append) == "v"
    assert warnings == []


def test_invalid_template_message_quotes_whole_value() -> None:
    with pytest.raises(ComposeError) as info:
        substitute('x ${foo!} "y"', {}.get)
    assert str(info.value) == 'Invalid template: "x ${foo!} \\"y\\""'


def test_required_without_message_has_no_colon() -> None:
    with pytest.raises(ComposeError) as info:
        substitute("${V:?}", {}.get)
    assert str(info.value) == "required variable V is missing a value"


def test_dollar_dollar_escape_is_not_re_expanded() -> None:
    assert substitute("$$FOO $${FOO} $FOO", {"FOO": "x"}.get) == "$FOO ${FOO} x"


def test_names_are_case_sensitive_and_stop_at_non_word() -> None:
    env = {"foo": "lower", "FOO": "upper"}
    assert substitute("$foo/$FOO.x ${FOO}y", env.get) == "lower/upper.x uppery"


_COMPOSE = """\
name: demo
services:
  web:
    image: "nginx:${TAG:-latest}"
    environment:
      $KEY: "${VALUE}"
    deploy:
      replicas: ${REPLICAS}
    ports:
      - target: "${PORT}"
        published: "${PORT}"
    init: "${INIT}"
    cpus: ${CPUS}
    ulimits:
      nofile:
        soft: "10"
        hard: 20
      nproc: "${NPROC}"
    depends_on:
      db:
        condition: service_started
        required: "false"
    healthcheck:
      test: ["CMD-SHELL", "echo $$HOME"]
networks:
  front:
    external: "yes"
    driver: "$DRIVER"
x-custom:
  note: "${TAG}"
"""


def _env() -> dict[str, str]:
    return {"VALUE": "v", "REPLICAS": "3", "PORT": "8080", "INIT": "TRUE", "CPUS": "0.5",
            "NPROC": "65535", "DRIVER": "bridge", "KEY": "ignored"}


def test_document_values_interpolated_keys_untouched_and_cast() -> None:
    [doc] = parse_yaml(_COMPOSE, "compose.yaml")
    warnings: list[str] = []
    interpolate_document(doc, _env().get, warnings.append)
    web = doc.data["services"]["web"]
    assert web["image"] == "nginx:latest"
    assert web["environment"] == {"$KEY": "v"}
    assert web["deploy"]["replicas"] == 3
    assert web["ports"] == [{"target": 8080, "published": "8080"}]
    assert web["init"] is True
    assert web["cpus"] == 0.5
    assert web["ulimits"] == {"nofile": {"soft": 10, "hard": 20}, "nproc": 65535}
    assert web["depends_on"]["db"]["required"] is False
    assert web["healthcheck"]["test"] == ["CMD-SHELL", "echo $HOME"]
    assert doc.data["networks"]["front"] == {"external": True, "driver": "bridge"}
    assert doc.data["x-custom"] == {"note": ""}
    assert 'The "TAG" variable is not set. Defaulting to a blank string.' in warnings
    assert any('"yes" for boolean is not supported by YAML 1.2' in w for w in warnings)


def test_document_cast_error_is_positioned() -> None:
    text = "services:\n  web:\n    image: x\n    deploy:\n      replicas: ${N}\n"
    [doc] = parse_yaml(text, "compose.yaml")
    with pytest.raises(ComposeError) as info:
        interpolate_document(doc, {"N": "three"}.get)
    assert str(info.value).startswith("compose.yaml:5:7: error while interpolating "
                                      "services.web.deploy.replicas: failed to cast")


def test_document_required_error_is_positioned_on_list_item() -> None:
    text = "services:\n  web:\n    command:\n      - echo\n      - ${MSG:?say something}\n"
    [doc] = parse_yaml(text, "compose.yaml")
    with pytest.raises(ComposeError) as info:
        interpolate_document(doc, {}.get)
    assert str(info.value) == (
        "compose.yaml:5:9: error while interpolating services.web.command.[]: "
        "required variable MSG is missing a value: say something"
    )


def test_document_invalid_template_is_positioned() -> None:
    text = "services:\n  web:\n    image: ${}\n"
    [doc] = parse_yaml(text, "c.yml")
    with pytest.raises(ComposeError) as info:
        interpolate_document(doc, {}.get)
    assert str(info.value).startswith('c.yml:3:5: invalid interpolation format for '
                                      'services.web.image: Invalid template: "${}"')


def test_bad_boolean_is_an_error() -> None:
    [doc] = parse_yaml("services:\n  a:\n    tty: maybe\n", "f.yml")
    with pytest.raises(ComposeError, match="invalid boolean: maybe"):
        interpolate_document(doc, {}.get)


def test_non_string_values_left_alone() -> None:
    [doc] = parse_yaml("services:\n  a:\n    scale: 2\n    tty: true\n", "f.yml")
    interpolate_document(doc, {}.get)
    assert doc.data["services"]["a"] == {"scale": 2, "tty": True}


_NO_CAST = object()


@pytest.mark.parametrize(
    "path,raw,expected",
    [
        (("services", "web", "deploy", "replicas"), "3", 3),
        (("services", "web", "scale"), "+3", 3),
        (("services", "web", "pre_start", 0, "privileged"), "on", True),
        (("jobs", "j", "tty"), "False", False),
        (("services", "web", "ports", 0, "target"), "80", 80),
        (("services", "web", "ports", "x", "target"), "80", _NO_CAST),
        (("services", "web", "ports", 0, "published"), "80", _NO_CAST),
        (("services", "web", "image"), "3", _NO_CAST),
        (("volumes", "data", "external"), "true", True),
        (("networks", "n", "enable_ipv6"), "off", False),
        (("services", "web", "cpus"), "1.5", 1.5),
    ],
)
def test_cast_table_patterns(path: tuple, raw: str, expected: object) -> None:
    cast = cast_for_path(path)
    if expected is _NO_CAST:
        assert cast is None
    else:
        assert cast is not None and cast(raw, None) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="${}:-+?_aZ09 \"'!\\", max_size=30))
def test_any_template_expands_or_raises_compose_error(template: str) -> None:
    env = {"a": "x", "Z": "", "a0": "{}"}
    try:
        result = substitute(template, env.get)
    except ComposeError:
        return
    if "$" not in template:
        assert result == template


@pytest.mark.parametrize("template,expected", [
    ("${A:-{}", "{"),
    ("${A:-a{b}", "a{b"),
    ('${A:-{"k":{"n":1}}}', '{"k":{"n":1}}'),
    ("a ${A:-x}\nb ${B:-y}", "a x\nb y"),
], ids=["unbalanced-open", "unbalanced-inner", "nested-json", "one-per-line"])
def test_closing_brace_like_composes_regex(template: str, expected: str) -> None:
    """Braces are counted on the line; unbalanced ones close at the line's last ``}``."""
    assert substitute(template, {}.get) == expected


@pytest.mark.parametrize("template", ["${A:-x\n}", "x ${A:-{\n} y", "${A\n}"],
                         ids=["default-over-newline", "brace-over-newline", "name-newline"])
def test_braces_never_span_lines(template: str) -> None:
    with pytest.raises(ComposeError) as info:
        substitute(template, {}.get)
    assert str(info.value).startswith("Invalid template: ")
