"""Dotenv parsing against compose-go's fixtures and the expectations of its Go tests.

Expected values are transcribed from compose-go dotenv/godotenv_test.go and
godotenv_var_expansion_test.go. compose-go's ``Read`` additionally drops keys
starting with a digit; Compose's own readers (``.env``, ``env_file``) do not,
so ``456`` is kept here.
"""

from __future__ import annotations

import os
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.compose.dotenv import (
    parse_dotenv,
    parse_raw_env,
    read_dotenv,
    read_raw_env_file,
)
from orchestrator.compose.errors import ComposeError

_SHARED = pathlib.Path(
    os.environ.get("SHOAL_SHARED", pathlib.Path(__file__).resolve().parents[3] / "shared")
)
FIXTURES = _SHARED / "conformance/compose-go/dotenv/fixtures"

_PLAIN = {"OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "3", "OPTION_D": "4", "OPTION_E": "5",
          "456": "ABC", "OPTION_F": "", "OPTION_G": "", "OPTION_H": "my string"}
_OS = {"VAR_TO_BE_LOADED_FROM_OS_ENV": "SOME_RANDOM_VALUE"}

FIXTURE_EXPECTATIONS = {
    "plain.env": _PLAIN,
    "utf8-bom.env": _PLAIN,
    "exported.env": {"OPTION_A": "2", "OPTION_B": "\\n"},
    "equals.env": {"OPTION_A": "postgres://localhost:5432/database?sslmode=disable"},
    "quoted.env": {
        "OPTION_A": "1", "OPTION_B": "2", "OPTION_C": "", "OPTION_D": "\\n", "OPTION_E": "1",
        "OPTION_F": "2", "OPTION_G": "", "OPTION_H": "\n", "OPTION_I": "echo 'asd'",
        "OPTION_J": "first line\nsecond line\nthird line\nand so on",
        "OPTION_K": "Let's go!", "OPTION_Z": "last value",
    },
    "unquoted.env": {
        "OPTION_A": "some quoted phrase",
        "OPTION_B": "first one with an unquoted phrase",
        "OPTION_C": "then another one with an unquoted phrase",
        "OPTION_D": "then another one with an unquoted phrase special è char",
        "OPTION_E": "then another one quoted phrase",
    },
    "special.env": {"VAR.WITH.DOTS": "dots", "VAR_WITH_UNDERSCORES": "underscores",
                    "VAR-WITH-DASHES": "dashes"},
    "substitutions.env": {"OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1",
                          "OPTION_D": "1_1", "OPTION_E": ""},
    "substitutions-default.env": {"OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1",
                                  "OPTION_D": "1_1", "OPTION_E": ""},
    "inherited-single-var.env": dict(_OS),
    "inherited-multi-var.env": {"foo": "bar", "bar": "baz", **_OS},
    "inherited-not-found.env": {},
}


@pytest.mark.parametrize("name", sorted(FIXTURE_EXPECTATIONS))
def test_fixture(name: str) -> None:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"fixture not found: {path}")
    assert read_dotenv(str(path), _OS.get) == FIXTURE_EXPECTATIONS[name]


def test_invalid_fixture_reports_file_and_line() -> None:
    path = FIXTURES / "invalid1.env"
    if not path.is_file():
        pytest.skip(f"fixture not found: {path}")
    with pytest.raises(ComposeError) as info:
        read_dotenv(str(path))
    assert str(info.value) == f"{path}:7: key cannot contain a space"


def test_utf8_bom_fixture_really_has_a_bom() -> None:
    path = FIXTURES / "utf8-bom.env"
    if not path.is_file():
        pytest.skip(f"fixture not found: {path}")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


# (line, key, value) from compose-go TestParsing / TestExpanding.
PARSING = [
    ("FOO=bar", "FOO", "bar"),
    ("FOO =bar", "FOO", "bar"),
    ("FOO= bar", "FOO", "bar"),
    ('FOO="bar"', "FOO", "bar"),
    ("FOO='bar'", "FOO", "bar"),
    ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'),
    ('FOO="\\"quoted\\""', "FOO", '"quoted"'),
    ("FOO=\"'d'\"", "FOO", "'d'"),
    ("OPTION_A: 1", "OPTION_A", "1"),
    ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
    ("OPTION_A=1:B", "OPTION_A", "1:B"),
    ("export OPTION_A=2", "OPTION_A", "2"),
    ("export OPTION_B='\\n'", "OPTION_B", "\\n"),
    ("export exportFoo=2", "exportFoo", "2"),
    ("exportFOO=2", "exportFOO", "2"),
    ("export_FOO =2", "export_FOO", "2"),
    ("export.FOO= 2", "export.FOO", "2"),
    ("export\tOPTION_A=2", "OPTION_A", "2"),
    ("  export OPTION_A=2", "OPTION_A", "2"),
    ("\texport OPTION_A=2", "OPTION_A", "2"),
    ('export OPTION_A="export A"', "OPTION_A", "export A"),
    ('FOO="bar\\nbaz"', "FOO", "bar\nbaz"),
    ("FOO=a\\tb", "FOO", "a\\tb"),
    ('FOO="a\\tb"', "FOO", "a\tb"),
    ('KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
    ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
    ("FOO=foobar=", "FOO", "foobar="),
    ("FOO=bar ", "FOO", "bar"),
    ("FOO=bar # this is foo", "FOO", "bar"),
    ("FOO=bar #this is foo", "FOO", "bar"),
    ("FOO=bar #", "FOO", "bar"),
    ("FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"),
    ('FOO="bar#baz"', "FOO", "bar#baz"),
    ('FOO="bar#baz"#', "FOO", "bar#baz"),
    ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
    ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
    ('FOO="bar#baz#bang" # comment', "FOO", "bar#baz#bang"),
    ('FOO="ba#r"', "FOO", "ba#r"),
    ("FOO='ba#r'", "FOO", "ba#r"),
    ('FOO="bar\\n\\ b\\az"', "FOO", "bar\n\\ b\az"),
    ('FOO="bar\\\\\\n\\ b\\az"', "FOO", "bar\\\n\\ b\az"),
    ('FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r\\ b\az"),
    ('="value"', "", "value"),
    (" KEY =value", "KEY", "value"),
    ("   KEY=value", "KEY", "value"),
    ("\tKEY=value", "KEY", "value"),
    ('KEY="\\0123"', "KEY", "S"),
    ('KEY="\\x07"', "KEY", "\\x07"),
    ('KEY="\\u12e4"', "KEY", "\\u12e4"),
    ('KEY="\\U00101234"', "KEY", "\\U00101234"),
    ("FOO=test\nBAR=$FOO", "BAR", "test"),
    ("FOO=test\nBAR=${FOO}bar", "BAR", "testbar"),
    ("BAR=$FOO", "BAR", ""),
    ('FOO=test\nBAR="quote $FOO"', "BAR", "quote test"),
    ("BAR='quote $FOO'", "BAR", "quote $FOO"),
    ('FOO="foo\\$BAR"', "FOO", "foo$BAR"),
    ('FOO="foo\\${BAR}"', "FOO", "foo${BAR}"),
    ('FOO=test\nBAR="foo\\${FOO} ${FOO}"', "BAR", "foo${FOO} test"),
    ('TEST_URLS="stratum+tcp://a:3333\nstratum+tcp://b:443"', "TEST_URLS",
     "stratum+tcp://a:3333\nstratum+tcp://b:443"),
    ("FOO=bar\r\nBAZ=qux\r\n", "FOO", "bar"),
]


@pytest.mark.parametrize("text,key,value", PARSING, ids=[repr(p[0]) for p in PARSING])
def test_parsing(text: str, key: str, value: str) -> None:
    env = parse_dotenv(text, "t.env")
    assert key in env
    assert env[key] == value


# compose-go TestExpandIfEmptyOrUnset / IfUnset / ErrorIf*: lookup env, then expected.
_EXPANSION_ENV = {"EMPTY_VAR": "", "TEST_VAR": "Test Value"}
EXPANSION = [
    ("${UNSET_VAR:-Default Value}", "Default Value"),
    ("${EMPTY_VAR:-Default Value}", "Default Value"),
    ("${TEST_VAR:-Default Value}", "Test Value"),
    ("${UNSET_VAR-Default Value}", "Default Value"),
    ("${EMPTY_VAR-Default Value}", ""),
    ("${TEST_VAR-Default Value}", "Test Value"),
    ("${TEST_VAR:?Default Value}", "Test Value"),
    ("${EMPTY_VAR?Test error}", ""),
    ("${TEST_VAR?Default Value}", "Test Value"),
]


@pytest.mark.parametrize("template,expected", EXPANSION, ids=[e[0] for e in EXPANSION])
def test_expansion_from_lookup(template: str, expected: str) -> None:
    assert parse_dotenv(f"RESULT={template}", "t.env", _EXPANSION_ENV.get) == {
        "RESULT": expected
    }


@pytest.mark.parametrize("template,variable", [
    ("${UNSET_VAR:?Test error}", "UNSET_VAR"),
    ("${EMPTY_VAR:?Test error}", "EMPTY_VAR"),
    ("${UNSET_VAR?Test error}", "UNSET_VAR"),
])
def test_required_variable_errors_point_at_the_line(template: str, variable: str) -> None:
    with pytest.raises(ComposeError) as info:
        parse_dotenv(f"# head\nOK=1\nRESULT={template}\n", "x.env", _EXPANSION_ENV.get)
    expected = f"x.env:3: required variable {variable} is missing a value: Test error"
    assert str(info.value) == expected


@pytest.mark.parametrize("text,message", [
    ("lol$wut", 'x.env:1: unexpected character "$" in variable name "lol$wut"'),
    ("A=1\n\nB C=2\n", "x.env:3: key cannot contain a space"),
    ("A=1\nKEY=\"", 'x.env:2: unterminated quoted value "'),
    ('KEY="value', 'x.env:1: unterminated quoted value "value'),
    ('KEY="value\\"', 'x.env:1: unterminated quoted value "value\\"'),
    ("KEY=\"value'", "x.env:1: unterminated quoted value \"value'"),
    ("KEY='", "x.env:1: unterminated quoted value '"),
    ("KEY='value\\'", "x.env:1: unterminated quoted value 'value\\'"),
    ("KEY='value\"", "x.env:1: unterminated quoted value 'value\""),
])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        parse_dotenv(text, "x.env")
    assert str(info.value) == message


@pytest.mark.parametrize("text", ["\n", "\r\n", "\t\t ", "# Comment", "\t # comment"])
def test_lines_to_ignore(text: str) -> None:
    assert parse_dotenv(text, "t.env") == {}


def test_lookup_wins_over_earlier_keys_and_inherits() -> None:
    env = parse_dotenv("A=file\nB=$A\nC\nD\n", "t.env", {"A": "os", "C": "c"}.get)
    assert env == {"A": "file", "B": "os", "C": "c"}


def test_into_shares_keys_with_interpolation() -> None:
    shared = {"BASE": "/srv"}
    result = parse_dotenv("DATA=${BASE}/data\n", "t.env", into=shared)
    assert result is shared
    assert shared == {"BASE": "/srv", "DATA": "/srv/data"}


def test_unset_variable_warns() -> None:
    warnings: list[str] = []
    parse_dotenv("A=$NOPE\n", "t.env", warn=warnings.append)
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_last_line_key_without_newline_is_inherited() -> None:
    assert parse_dotenv("A=1\nB", "t.env", {"B": "inherited"}.get) == {"A": "1", "B": "inherited"}


def test_read_missing_file_names_it(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(ComposeError, match=f"env file {missing} not found"):
        read_dotenv(str(missing))


def test_raw_format_keeps_values_verbatim(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "raw.env"
    path.write_text("\ufeff# comment\n  A=\"quoted\" $HOME # not a comment \nB=\r\nINHERIT\n"
                    "GONE\nC=x=y\n")
    env = read_raw_env_file(str(path), {"INHERIT": "from-env"}.get)
    assert env == {"A": '"quoted" $HOME # not a comment ', "B": "", "INHERIT": "from-env",
                   "C": "x=y"}


@pytest.mark.parametrize("text,message", [
    ("A=1\n=2\n", "r.env:2: no variable name on line '=2'"),
    ("A B=1\n", "r.env:1: variable 'A B' contains whitespaces"),
])
def test_raw_format_errors(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        parse_raw_env(text, "r.env")
    assert str(info.value) == message


def test_custom_format_fixture_is_yaml_style_dotenv() -> None:
    path = FIXTURES / "custom.format"
    if not path.is_file():
        pytest.skip(f"fixture not found: {path}")
    assert read_dotenv(str(path)) == {"FOO": "BAR", "ZOT": "QIX"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="AB_=:#'\"\\$ {}\n\t\rx-0", max_size=40))
def test_any_text_parses_or_raises_compose_error(text: str) -> None:
    try:
        env = parse_dotenv(text, "fuzz.env", {"A": "1"}.get)
    except ComposeError as exc:
        assert str(exc).startswith("fuzz.env:")
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
