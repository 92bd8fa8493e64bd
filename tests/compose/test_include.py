"""``include``: compose-go's include testdata, conflicts, env files and cycles."""

from __future__ import annotations

import os
import pathlib

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.include import apply_include, parse_entries
from orchestrator.compose.merge import merge_models
from orchestrator.compose.parse import parse_yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("SHOAL_SHARED", REPO.parent / "shared"))
TESTDATA = SHARED / "conformance" / "compose-go" / "loader" / "testdata"


class Loader:
    """A tiny pipeline: parse the files, apply their includes, merge them; records calls."""

    def __init__(self):
        self.calls: list[tuple[list[str], str, list[str] | None]] = []

    def load(self, paths: list[str], project_dir: str, env_files: list[str] | None) -> dict:
        self.calls.append((paths, project_dir, env_files))
        model: dict = {}
        for path in paths:
            doc = parse_yaml(pathlib.Path(path).read_text(), path)[0]
            data = apply_include(doc.data, file=path, project_dir=project_dir, load_included=self.load,
                                 resets=doc.resets, overrides=doc.overrides)
            model = merge_models(model, data, doc.resets, doc.overrides)
        return model

    def root(self, path: pathlib.Path, project_dir: pathlib.Path | None = None) -> dict:
        doc = parse_yaml(path.read_text(), str(path))[0]
        pdir = str(project_dir or path.parent)
        return apply_include(doc.data, file=str(path), project_dir=pdir, load_included=self.load,
                             resets=doc.resets, overrides=doc.overrides)


@pytest.fixture
def testdata() -> pathlib.Path:
    if not (TESTDATA / "include").is_dir():
        pytest.skip(f"conformance data not found at {TESTDATA}")
    return TESTDATA


def test_included_services_get_absolute_paths(testdata):
    out = Loader().root(testdata / "include" / "compose.yaml")
    included = out["services"]["included"]
    assert included["build"] == str(testdata / "include")
    assert included["volumes"] == [f"{testdata / 'include'}:/mnt"]
    assert "include" not in out


def test_project_directory_and_env_file_resolution(testdata):
    loader = Loader()
    out = loader.root(testdata / "include" / "project-directory.yaml")
    paths, pdir, env = loader.calls[0]
    assert paths == [str(testdata / "include" / "dir" / "compose.yaml")]
    assert pdir == str(testdata / "subdir")
    assert env == []
    service = out["services"]["service"]
    assert service["volumes"][0]["source"] == str(testdata / "subdir" / "compose-test-extends-imported.yaml")
    assert service["env_file"] == [str(testdata / "subdir" / "extra.env")]


def test_include_of_itself_is_a_cycle(testdata):
    with pytest.raises(ComposeError, match="include cycle detected"):
        Loader().root(testdata / "compose-include-cycle.yaml")


def test_two_file_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("include: [b.yaml]\nservices: {a: {image: a}}\n")
    (tmp_path / "b.yaml").write_text("include: [a.yaml]\nservices: {b: {image: b}}\n")
    with pytest.raises(ComposeError, match=r"include cycle detected: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        Loader().root(tmp_path / "a.yaml")


def test_same_file_included_twice_is_not_a_cycle(tmp_path):
    (tmp_path / "common.yaml").write_text("services: {db: {image: db}}\n")
    (tmp_path / "x.yaml").write_text("include: [common.yaml]\nservices: {x: {image: x}}\n")
    (tmp_path / "compose.yaml").write_text("include: [common.yaml, x.yaml]\nservices: {app: {image: app}}\n")
    out = Loader().root(tmp_path / "compose.yaml")
    assert set(out["services"]) == {"app", "db", "x"}


def test_local_definition_wins_and_is_merged(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "compose.yaml").write_text(
        "services:\n  db: {image: postgres:15, environment: {A: '1'}}\n"
        "networks: {back: {driver: bridge}}\nvolumes: {data: {}}\n"
        "secrets: {token: {file: ./token.txt}}\n"
    )
    (tmp_path / "compose.yaml").write_text(
        "include: [lib/compose.yaml]\n"
        "services:\n  db: {image: postgres:16, environment: {B: '2'}}\n"
    )
    out = Loader().root(tmp_path / "compose.yaml")
    assert out["services"]["db"] == {"image": "postgres:16", "environment": ["A=1", "B=2"]}
    assert out["networks"] == {"back": {"driver": "bridge"}}
    assert out["volumes"] == {"data": {}}
    assert out["secrets"] == {"token": {"file": str(tmp_path / "lib" / "token.txt")}}


def test_long_form_with_overrides_and_env_file(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "compose.yml").write_text("services: {b: {image: alpine}}\n")
    (tmp_path / "m" / "override.yml").write_text("services: {b: {command: [sleep, '1']}}\n")
    (tmp_path / "custom.env").write_text("VAR_NAME=x\n")
    (tmp_path / "compose.yaml").write_text(
        "include:\n  - path: [./m/compose.yml, ./m/override.yml]\n    env_file: ./custom.env\n"
    )
    loader = Loader()
    out = loader.root(tmp_path / "compose.yaml")
    assert loader.calls[0] == (
        [str(tmp_path / "m" / "compose.yml"), str(tmp_path / "m" / "override.yml")],
        str(tmp_path / "m"),
        [str(tmp_path / "custom.env")],
    )
    assert out["services"]["b"] == {"image": "alpine", "command": ["sleep", "1"]}


def test_default_env_file_is_dot_env_of_included_project(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "compose.yml").write_text("services: {b: {image: alpine}}\n")
    (tmp_path / "m" / ".env").write_text("A=1\n")
    (tmp_path / "compose.yaml").write_text("include: [m/compose.yml]\n")
    loader = Loader()
    loader.root(tmp_path / "compose.yaml")
    assert loader.calls[0][2] == [str(tmp_path / "m" / ".env")]


def test_missing_env_file_is_an_error(tmp_path):
    (tmp_path / "compose.yaml").write_text("include:\n  - {path: x.yaml, env_file: nope.env}\n")
    with pytest.raises(ComposeError, match="nope.env not found"):
        Loader().root(tmp_path / "compose.yaml")


@pytest.mark.parametrize("value,message", [
    ("x.yaml", "must be a list"),
    ([{"project_directory": "."}], "mapping with a path"),
    ([{"path": 3}], "path must be a string"),
    ([{"path": "a", "bogus": 1}], "bogus is not allowed"),
])
def test_malformed_include_entries(value, message):
    with pytest.raises(ComposeError, match=message):
        parse_entries(value)


def test_no_include_returns_a_copy():
    model = {"services": {"a": {"image": "a"}}}
    out = apply_include(model, file="/x/compose.yaml", project_dir="/x", load_included=lambda *a: {})
    assert out == model and out is not model


def test_errors_point_at_the_include_entry(tmp_path):
    file = str(tmp_path / "compose.yaml")
    doc = parse_yaml("services: {}\ninclude:\n  - a.yaml\n  - {path: b.yaml, env_file: nope.env}\n", file)[0]
    with pytest.raises(ComposeError) as err:
        apply_include(doc.data, file=file, project_dir=str(tmp_path), load_included=lambda *a: {}, pos=doc.pos)
    assert str(err.value).startswith(f"{file}:4:5: include env file")
    doc = parse_yaml("include:\n  - a.yaml\n  - {}\n", file)[0]
    with pytest.raises(ComposeError) as err:
        apply_include(doc.data, file=file, project_dir=str(tmp_path), load_included=lambda *a: {}, pos=doc.pos)
    assert str(err.value).startswith(f"{file}:3:5: include[1]: an include must be")


def test_local_override_tag_applies_over_imported_definition(testdata, tmp_path):
    # compose-go loader/include_test.go TestLoadWithMultipleIncludeConflict
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        f"include:\n  - path: {testdata / 'compose-include.yaml'}\n"
        "services:\n  bar:\n    image: busybox\n    environment: !override\n      - ZOT=QIX\n"
    )
    out = Loader().root(compose)
    assert out["services"]["bar"] == {"image": "busybox", "environment": ["ZOT=QIX"]}
    assert "imported" in out["services"]
