"""Normalisation against compose-go's own expectations: the normalize pairs and the full example."""

from __future__ import annotations

import os
import pathlib

import pytest
import yaml

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.normalize import normalize
from orchestrator.compose.output import to_json, to_yaml
from orchestrator.compose.parse import Locator, parse_yaml

PAIRS = "compose-go/go-test-snippets/loader/normalize"
NAMES = sorted(
    p.name
    for p in (pathlib.Path(__file__).resolve().parents[3] / "shared/conformance" / PAIRS).glob("*")
) or ["TestNormalizeDefaultNetwork"]

WORKDIR = "/work/project"
# The lookup each Go test gives Normalize (FOO=BAR unless the case says otherwise).
CASE_ENV = {"TestNormalizeEnvironment": {"BAR": "bar"}}


def _as_config(expected: dict) -> dict:
    """What `docker compose config` prints for compose-go's Normalize() expectation.

    Normalize() alone leaves paths relative, environment lists as lists and
    depends_on without defaults; the config pipeline resolves paths against the
    working dir, prints environment as a map, fills ``required: true`` and
    omits ``restart: false`` (omitempty); ``services`` is always printed.
    """
    expected.setdefault("services", {})
    for service in (expected.get("services") or {}).values():
        build = service.get("build")
        if build is not None:
            build["context"] = os.path.normpath(os.path.join(WORKDIR, build["context"]))
        env = service.get("environment")
        if isinstance(env, list):
            service["environment"] = {
                k: (v if sep else None) for k, sep, v in (e.partition("=") for e in env)
            }
        for dep in (service.get("depends_on") or {}).values():
            dep.setdefault("required", True)
            if dep.get("restart") is False:
                del dep["restart"]
    return expected


@pytest.mark.parametrize("name", NAMES)
def test_normalize_pair(conformance, name):
    folder = conformance / PAIRS / name
    [project_file] = sorted(folder.glob("*-project.yaml"))
    [expected_file] = sorted(folder.glob("*-expected.yaml"))
    model = yaml.safe_load(project_file.read_text())
    expected = _as_config(yaml.safe_load(expected_file.read_text()))
    env = CASE_ENV.get(name, {"FOO": "BAR"})
    got = normalize(model, project_name=model["name"], working_dir=WORKDIR, env=env)
    assert got == expected


def _load_full_example(conformance):
    folder = conformance / "compose-go/historic-full-example"
    text = (folder / "full-example.yml").read_text()
    # Interpolation is another stage; the file uses one variable.
    text = text.replace("${COMPOSE_PROJECT_NAME}", "full_example_project_name")
    # go-yaml reads `0440` as octal (ParseInt base 0); parse.py reads YAML 1.2 decimal.
    text = text.replace("mode: 0440", "mode: 0o440")
    return folder, parse_yaml(text, str(folder / "full-example.yml"))[0].data


def test_full_example_matches_expected_yaml_exactly(conformance):
    folder, model = _load_full_example(conformance)
    env = {"HOME": "/home/tester", "BAR": "this is a secret", "QUX": "qux_from_environment"}
    # The historic expectation was produced with SkipNormalization and env_file kept.
    got = normalize(
        model,
        project_name="full_example_project_name",
        working_dir=str(folder),
        env=env,
        skip_normalization=True,
        discard_env_files=False,
    )
    expected = (folder / "expected.yaml").read_text()
    expected = expected.replace("${WORKDIR}", str(folder)).replace("${HOME}", "/home/tester")
    assert to_yaml(got) == expected


def test_full_example_matches_expected_json_exactly(conformance):
    folder, model = _load_full_example(conformance)
    env = {"HOME": "/home/tester", "BAR": "this is a secret", "QUX": "qux_from_environment"}
    got = normalize(
        model,
        project_name="full_example_project_name",
        working_dir=str(folder),
        env=env,
        skip_normalization=True,
        discard_env_files=False,
    )
    expected = (folder / "expected.json").read_text()
    expected = expected.replace("${WORKDIR}", str(folder)).replace("${HOME}", "/home/tester")
    assert to_json(got) == expected


def test_full_example_normalised_names_networks_and_drops_env_file(conformance):
    folder, model = _load_full_example(conformance)
    env = {"HOME": "/home/tester", "QUX": "q"}
    got = normalize(model, project_name="full_example_project_name", working_dir=str(folder), env=env)
    networks = got["networks"]
    assert networks["some-network"]["name"] == "full_example_project_name_some-network"
    assert networks["external-network"]["name"] == "external-network"
    assert networks["other-external-network"]["name"] == "my-cool-network"
    assert networks["default"] == {"name": "full_example_project_name_default"}  # bar needs it
    assert got["services"]["bar"]["networks"] == {"default": None}
    assert "networks" not in got["services"]["foo"] or "default" not in got["services"]["foo"]["networks"]
    assert "env_file" not in got["services"]["foo"]
    assert got["services"]["foo"]["environment"]["QUX"] == "q"
    assert got["volumes"]["some-volume"]["name"] == "full_example_project_name_some-volume"
    assert got["services"]["bar"]["build"] == {
        "context": str(folder),
        "dockerfile_inline": 'FROM alpine\nRUN echo "hello" > /world.txt\n',
    }
    # links db/redis are already explicit; implicit deps must not override them
    assert got["services"]["foo"]["depends_on"]["db"] == {
        "condition": "service_started",
        "required": True,
    }


def test_default_network_only_when_needed():
    model = {"services": {"a": {"image": "x", "network_mode": "host"}}}
    got = normalize(model, project_name="p", working_dir="/w", env={})
    assert "networks" not in got
    assert "networks" not in got["services"]["a"]


def test_explicit_default_network_is_named_and_kept():
    model = {
        "services": {"a": {"image": "x", "networks": ["default", "back"]}},
        "networks": {"default": {"driver": "bridge"}, "back": None},
    }
    got = normalize(model, project_name="p", working_dir="/w", env={})
    assert got["networks"] == {
        "default": {"name": "p_default", "driver": "bridge"},
        "back": {"name": "p_back"},
    }
    assert got["services"]["a"]["networks"] == {"default": None, "back": None}


def test_version_dropped_and_name_first():
    got = normalize(
        {"version": "3.8", "services": {"a": {"image": "x"}}, "x-common": {"k": 1}},
        project_name="demo",
        working_dir="/w",
        env={},
    )
    assert list(got)[0] == "name" and got["name"] == "demo"
    assert "version" not in got
    assert got["x-common"] == {"k": 1}


def test_bad_port_is_placed_with_the_locator():
    text = "services:\n  web:\n    image: x\n    ports:\n      - '127.0.1:80:80'\n"
    doc = parse_yaml(text, "compose.yaml")[0]
    with pytest.raises(ComposeError) as err:
        normalize(doc.data, project_name="p", working_dir="/w", env={}, locator=Locator([doc]))
    assert str(err.value) == "compose.yaml:5:9: Invalid ip address: 127.0.1"


def test_env_file_folded_with_service_environment_winning(tmp_path):
    (tmp_path / "app.env").write_text("A=from_file\nB=from_file\n")
    model = {
        "services": {
            "a": {"image": "x", "env_file": "app.env", "environment": {"B": "mine", "C": None}}
        }
    }
    got = normalize(model, project_name="p", working_dir=str(tmp_path), env={"C": "os"})
    assert got["services"]["a"]["environment"] == {"A": "from_file", "B": "mine", "C": "os"}
    assert "env_file" not in got["services"]["a"]


def test_build_args_resolved_from_project_env():
    model = {"services": {"a": {"build": {"context": "sub", "args": ["X", "Y", "Z=1"]}}}}
    got = normalize(model, project_name="p", working_dir="/w", env={"X": "ex"})
    assert got["services"]["a"]["build"] == {
        "context": "/w/sub",
        "dockerfile": "Dockerfile",
        "args": {"X": "ex", "Z": "1"},
    }
