"""Which files docker compose loads, and what the project is called."""

from __future__ import annotations

import os

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.files import (
    choose_project_name,
    find_config_files,
    normalize_project_name,
)


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("services: {}\n")
    return str(path)


def test_discovery_prefers_compose_yaml_and_adds_override(tmp_path):
    touch(tmp_path / "docker-compose.yml")
    main = touch(tmp_path / "compose.yaml")
    override = touch(tmp_path / "compose.override.yaml")
    warnings = []
    assert find_config_files(None, {}, str(tmp_path), warn=warnings.append) == [main, override]
    assert "multiple config files" in warnings[0]


def test_discovery_walks_up_parent_directories(tmp_path):
    main = touch(tmp_path / "docker-compose.yaml")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config_files(None, {}, str(deep)) == [main]


def test_discovery_without_any_file_is_a_clear_error(tmp_path):
    with pytest.raises(ComposeError, match="no configuration file provided"):
        find_config_files(None, {}, str(tmp_path))


def test_compose_file_variable_with_separator(tmp_path):
    a = touch(tmp_path / "a.yaml")
    b = touch(tmp_path / "b.yaml")
    env = {"COMPOSE_FILE": "a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR": ";"}
    assert find_config_files(None, env, str(tmp_path)) == [a, b]


def test_explicit_files_win_and_must_exist(tmp_path):
    a = touch(tmp_path / "x.yml")
    assert find_config_files(["x.yml", "-"], {"COMPOSE_FILE": "nope"}, str(tmp_path)) == [a, "-"]
    with pytest.raises(ComposeError, match="no such file"):
        find_config_files(["missing.yml"], {}, str(tmp_path))


@pytest.mark.parametrize("raw,expected", [
    ("My Project", "myproject"),
    ("__x-y_z", "x-y_z"),
    ("Café.app", "cafapp"),
    ("UNNORMALIZED PATH", "unnormalizedpath"),
])
def test_directory_names_are_normalized(raw, expected):
    assert normalize_project_name(raw) == expected


def test_name_precedence():
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert choose_project_name("cli", env, "file", "/x/dir") == "cli"
    assert choose_project_name(None, env, "file", "/x/dir") == "fromenv"
    assert choose_project_name(None, {}, "File_Name", "/x/dir") == "file_name"
    assert choose_project_name(None, {}, None, "/x/My Dir") == "mydir"


@pytest.mark.parametrize("bad", ["Upper", "-lead", "has space", "a.b"])
def test_explicit_invalid_names_are_rejected(bad):
    with pytest.raises(ComposeError, match="invalid project name"):
        choose_project_name(bad, {}, None, "/x")


def test_unusable_directory_name_asks_for_a_name():
    with pytest.raises(ComposeError, match="must not be empty"):
        choose_project_name(None, {}, None, "/x/___")
