"""Project environment (.env, --env-file, OS first); service environment (env_file, environment)."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from orchestrator.compose.environment import (
    env_file_entries,
    project_environment,
    resolve_service_environment,
    to_mapping,
)
from orchestrator.compose.errors import ComposeError
from orchestrator.compose.interpolate import interpolate_document
from orchestrator.compose.parse import parse_yaml

_SHARED = pathlib.Path(
    os.environ.get("SHOAL_SHARED", pathlib.Path(__file__).resolve().parents[3] / "shared")
)
ENV_FILE_TESTDATA = _SHARED / "conformance/compose-go/cli/testdata/env-file"


def _write(path: pathlib.Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# --- project environment ----------------------------------------------------------------

@pytest.mark.parametrize("os_env,expected", [
    ({}, {"FOO": "foo", "BAR": "foo"}),
    ({"FOO": "zot"}, {"FOO": "zot", "BAR": "zot"}),
], ids=["no-value-in-os-env", "os-env-wins-and-feeds-expansion"])
def test_dotenv_precedence(tmp_path: pathlib.Path, os_env: dict, expected: dict) -> None:
    """compose-go cli TestEnvVariablePrecedence."""
    _write(tmp_path / ".env", "FOO=foo\nBAR=${FOO}")
    env = project_environment(os_env, None, str(tmp_path), cwd="/somewhere")
    assert env == {**expected, "PWD": "/somewhere"}


def test_pwd_kept_when_set(tmp_path: pathlib.Path) -> None:
    assert project_environment({"PWD": "/here"}, None, str(tmp_path))["PWD"] == "/here"


def test_no_dotenv_is_fine(tmp_path: pathlib.Path) -> None:
    assert project_environment({"A": "1"}, None, str(tmp_path), cwd="/x") == {"A": "1", "PWD": "/x"}


def test_dotenv_directory_is_ignored(tmp_path: pathlib.Path) -> None:
    (tmp_path / ".env").mkdir()
    assert project_environment({}, None, str(tmp_path), cwd="/x") == {"PWD": "/x"}


def test_compose_disable_env_file(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / ".env", "FROM_DOTENV=1\n")
    env = project_environment({"COMPOSE_DISABLE_ENV_FILE": "true"}, None, str(tmp_path))
    assert "FROM_DOTENV" not in env
    env = project_environment({"COMPOSE_DISABLE_ENV_FILE": "false"}, None, str(tmp_path))
    assert env["FROM_DOTENV"] == "1"


def test_explicit_files_replace_dotenv_and_later_override(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / ".env", "DOTENV=1\n")
    first = _write(tmp_path / "first.env", "A=first\nB=first\n")
    second = _write(tmp_path / "second.env", "B=second\nC=${A}-c\n")
    env = project_environment({"A": "os"}, [first, second], str(tmp_path), cwd="/")
    assert env == {"A": "os", "B": "second", "C": "os-c", "PWD": "/"}


def test_later_file_sees_earlier_file_keys(tmp_path: pathlib.Path) -> None:
    first = _write(tmp_path / "first.env", "HOST=db\n")
    second = _write(tmp_path / "second.env", "URL=postgres://${HOST}:5432\n")
    env = project_environment({}, [first, second], str(tmp_path), cwd="/")
    assert env["URL"] == "postgres://db:5432"


def test_explicit_files_relative_to_cwd(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "rel.env", "R=1\n")
    env = project_environment({}, ["rel.env"], "/elsewhere", cwd=str(tmp_path))
    assert env["R"] == "1"


def test_empty_explicit_list_reads_nothing(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / ".env", "DOTENV=1\n")
    assert "DOTENV" not in project_environment({}, [], str(tmp_path))


def test_missing_explicit_file_is_an_error_naming_it(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.env"
    with pytest.raises(ComposeError) as info:
        project_environment({}, [str(missing)], str(tmp_path))
    assert str(info.value) == f"Couldn't find env file: {missing}"


def test_compose_env_files_variable(tmp_path: pathlib.Path) -> None:
    a = _write(tmp_path / "a.env", "A=1\n")
    b = _write(tmp_path / "b.env", "A=2\nB=3\n")
    env = project_environment({"COMPOSE_ENV_FILES": f"{a},{b}"}, None, str(tmp_path))
    assert (env["A"], env["B"]) == ("2", "3")


def test_dotenv_syntax_error_is_positioned(tmp_path: pathlib.Path) -> None:
    path = _write(tmp_path / ".env", "OK=1\nBAD LINE\n")
    with pytest.raises(ComposeError) as info:
        project_environment({}, None, str(tmp_path))
    assert str(info.value) == f"{path}:2: key cannot contain a space"


# --- to_mapping / env_file entries ---------------------------------------------------------

def test_to_mapping_list_and_map_agree() -> None:
    """compose-go TestLoadWithEnvironment: list and map forms give the same mapping."""
    as_map = to_mapping({"FOO": "1", "BAR": 2, "GA": 2.5, "BU": "", "ZO": None, "MEU": None,
                         "T": True, "F": False})
    as_list = to_mapping(["FOO=1", "BAR=2", "GA=2.5", "BU=", "ZO", "MEU", "T=true", "F=false"])
    assert as_map == as_list == {"FOO": "1", "BAR": "2", "GA": "2.5", "BU": "", "ZO": None,
                                 "MEU": None, "T": "true", "F": "false"}


def test_to_mapping_value_with_equals_and_later_wins() -> None:
    assert to_mapping(["A=b=c", "A=d=e"]) == {"A": "d=e"}


@pytest.mark.parametrize("value,message", [
    (["DEBUG = true"], "environment variable DEBUG  is declared with a trailing space"),
    ({"FOO": ["1"]}, "environment.FOO must be a boolean, null, number or string"),
    ("FOO=1", "environment must be a mapping or a list"),
])
def test_to_mapping_errors(value: object, message: str) -> None:
    with pytest.raises(ComposeError) as info:
        to_mapping(value)
    assert str(info.value).startswith(message)


def test_env_file_forms() -> None:
    assert env_file_entries("a.env", "/p") == [
        {"path": "/p/a.env", "required": True, "format": None}]
    assert env_file_entries(["a.env", {"path": "/abs/b.env", "required": False,
                                       "format": "raw"}], "/p") == [
        {"path": "/p/a.env", "required": True, "format": None},
        {"path": "/abs/b.env", "required": False, "format": "raw"},
    ]


# --- service environment ----------------------------------------------------------------

def test_bare_names_resolved_from_project_env_or_none() -> None:
    """compose-go TestEnvironmentList / TestNormalizeEnvironment: ZO stays unset."""
    service = {"environment": ["FOO=1", "BAR=2", "BU=", "ZO", "MEU"]}
    env = resolve_service_environment(service, {"MEU": "Shadoks"}, "/p")
    assert env == {"FOO": "1", "BAR": "2", "BU": "", "ZO": None, "MEU": "Shadoks"}


def test_env_file_then_environment_wins(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "a.env", "A=from-a\nB=from-a\nC=from-a\n")
    _write(tmp_path / "b.env", "B=from-b\nC=from-b\n")
    service = {"env_file": ["a.env", "b.env"], "environment": {"C": "from-environment"}}
    env = resolve_service_environment(service, {}, str(tmp_path))
    assert env == {"A": "from-a", "B": "from-b", "C": "from-environment"}


def test_env_file_values_expanded_project_env_first(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "svc.env", "URL=${HOST}:${PORT}\nSELF=$NAME\n")
    service = {"env_file": "svc.env", "environment": {"HOST": "svc-host", "NAME": "n"}}
    env = resolve_service_environment(service, {"HOST": "proj-host", "PORT": "80"},
                                      str(tmp_path))
    assert env["URL"] == "proj-host:80"
    assert env["SELF"] == "n"
    assert env["HOST"] == "svc-host"


def test_bare_name_absent_from_project_overrides_env_file_with_none(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "svc.env", "FOO=from-file\n")
    service = {"env_file": "svc.env", "environment": ["FOO"]}
    assert resolve_service_environment(service, {}, str(tmp_path)) == {"FOO": None}


def test_missing_required_env_file(tmp_path: pathlib.Path) -> None:
    service = {"env_file": [{"path": "nope.env"}]}
    with pytest.raises(ComposeError) as info:
        resolve_service_environment(service, {}, str(tmp_path))
    assert str(info.value) == f"env file {tmp_path / 'nope.env'} not found"


def test_missing_optional_env_file_is_skipped(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "there.env", "X=1\n")
    service = {"env_file": [{"path": "nope.env", "required": False}, "there.env"]}
    assert resolve_service_environment(service, {}, str(tmp_path)) == {"X": "1"}


def test_raw_format_env_file(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "raw.env", "PASSWORD=\"p@ss$word\" # kept\n")
    service = {"env_file": [{"path": "raw.env", "format": "raw"}]}
    env = resolve_service_environment(service, {"word": "X"}, str(tmp_path))
    assert env == {"PASSWORD": "\"p@ss$word\" # kept"}


def test_unknown_format_is_an_error(tmp_path: pathlib.Path) -> None:
    _write(tmp_path / "x.env", "A=1\n")
    with pytest.raises(ComposeError, match='unsupported env_file format "toml"'):
        resolve_service_environment({"env_file": [{"path": "x.env", "format": "toml"}]}, {},
                                    str(tmp_path))


def test_env_file_syntax_error_names_file_and_line(tmp_path: pathlib.Path) -> None:
    path = _write(tmp_path / "bad.env", "A=1\nB=\"open\n")
    with pytest.raises(ComposeError) as info:
        resolve_service_environment({"env_file": "bad.env"}, {}, str(tmp_path))
    assert str(info.value) == f'{path}:2: unterminated quoted value "open'


# --- compose-go cli/testdata/env-file ------------------------------------------------------

@pytest.fixture()
def env_file_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    if not ENV_FILE_TESTDATA.is_dir():
        pytest.skip(f"not found: {ENV_FILE_TESTDATA}")
    target = tmp_path / "env-file"
    shutil.copytree(ENV_FILE_TESTDATA, target)
    return target


def _load_service(directory: pathlib.Path, compose: str, env: dict) -> dict:
    path = directory / compose
    [doc] = parse_yaml(path.read_text(), str(path))
    interpolate_document(doc, env.get)
    service = doc.data["services"]["simple"]
    service["environment"] = resolve_service_environment(service, env, str(directory))
    return service


def test_cli_single_env_file(env_file_dir: pathlib.Path) -> None:
    """compose-go TestProjectWithDiscardEnvFile."""
    env = project_environment({}, None, str(env_file_dir), cwd=str(env_file_dir))
    service = _load_service(env_file_dir, "compose-with-env-file.yaml", env)
    assert service["environment"]["DEFAULT_PORT"] == "8080"
    assert service["ports"] == ["8000:80"]


def test_cli_multiple_env_files_and_env_file_flag(env_file_dir: pathlib.Path) -> None:
    """compose-go TestProjectWithMultipleEnvFile (--env-file override.env feeds ${PORT})."""
    env = project_environment({}, ["override.env"], str(env_file_dir), cwd=str(env_file_dir))
    service = _load_service(env_file_dir, "compose-with-env-files.yaml", env)
    assert service["environment"]["DEFAULT_PORT"] == "9090"
    assert service["ports"] == ["9000:80"]
    assert "PORT" not in service["environment"]  # .env feeds the model, not containers


def test_cli_project_name_from_dotenv(env_file_dir: pathlib.Path) -> None:
    """compose-go TestProjectName 'by .env': COMPOSE_* settings may come from .env."""
    _write(env_file_dir / ".env", "COMPOSE_PROJECT_NAME=my_project_from_dot_env\n")
    env = project_environment({}, None, str(env_file_dir))
    assert env["COMPOSE_PROJECT_NAME"] == "my_project_from_dot_env"


# --- Go parity details ---------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    (1.0, "1"), (2.5, "2.5"), (1.10, "1.1"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (-3.0, "-3"), (10, "10"),
], ids=lambda v: repr(v))
def test_numbers_are_stringified_like_go_fmt(value: object, expected: str) -> None:
    """compose-go stringifies environment/label scalars with fmt.Sprint (%v)."""
    assert to_mapping({"V": value}) == {"V": expected}


def test_env_file_path_with_tilde_is_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert env_file_entries("~/app.env", "/p")[0]["path"] == "/home/someone/app.env"


@pytest.mark.parametrize("flag,reads_dotenv", [
    ("1", False), ("t", False), ("TRUE", False), ("0", True), ("False", True), ("", True),
])
def test_compose_disable_env_file_uses_go_parsebool(
    tmp_path: pathlib.Path, flag: str, reads_dotenv: bool
) -> None:
    _write(tmp_path / ".env", "FROM_DOTENV=1\n")
    env = project_environment({"COMPOSE_DISABLE_ENV_FILE": flag}, None, str(tmp_path))
    assert ("FROM_DOTENV" in env) is reads_dotenv


def test_compose_disable_env_file_rejects_non_boolean(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ComposeError) as info:
        project_environment({"COMPOSE_DISABLE_ENV_FILE": "yes"}, None, str(tmp_path))
    assert str(info.value) == (
        'COMPOSE_DISABLE_ENV_FILE: strconv.ParseBool: parsing "yes": invalid syntax')
