"""The loader only ever raises its own error type, whatever it is fed."""

from __future__ import annotations

import pathlib

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.loader import ProjectOptions, load_project

REPO = pathlib.Path(__file__).resolve().parents[2]
SEEDS = [p.read_text() for p in sorted((REPO / "examples" / "compose").glob("*/compose.yaml"))]
SEEDS.append(
    "services:\n  web:\n    image: nginx\n    ports: ['80:80', '127.0.0.1:53:53/udp']\n"
    "    volumes: [data:/d, ./src:/src:ro]\n    depends_on: {db: {condition: service_healthy}}\n"
    "    healthcheck: {test: [CMD, true], interval: 1m30s}\n    deploy: {replicas: 2}\n"
    "  db:\n    image: postgres\n    environment: [A=1, B]\n    env_file: [{path: x.env, required: false}]\n"
    "volumes:\n  data: {}\nnetworks:\n  back: {internal: true}\n"
)

KEYS = st.sampled_from(["services", "web", "image", "ports", "volumes", "networks", "depends_on",
                        "environment", "healthcheck", "deploy", "replicas", "command", "x-a",
                        "extends", "include", "profiles", "build", "secrets", "configs", "name"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["${X}", "${X:?no}", "$$", "80:80", "a:b:c:d",
                                                           "1m30s", "512m", "service:web", "./x:/y"]))
TREES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), children, max_size=4)),
    max_leaves=25)


def load_text(tmp_path, text: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    try:
        load_project(ProjectOptions(files=[str(path)], cwd=str(tmp_path), os_env={}, project_name="fuzz"))
    except ComposeError as exc:
        assert str(exc)  # one printable line
        assert "\n" not in str(exc).strip() or str(exc).count("\n") < 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREES)
def test_random_yaml_trees(tmp_path, tree):
    load_text(tmp_path, yaml.safe_dump(tree) if not isinstance(tree, str) else tree)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_real_files(tmp_path, seed, data):
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["delete", "insert", "swap", "dup"]))
        i = data.draw(st.integers(0, max(0, len(text) - 1)))
        if kind == "delete":
            text = text[:i] + text[i + data.draw(st.integers(1, 8)):]
        elif kind == "insert":
            text = text[:i] + data.draw(st.sampled_from([":", "-", " ", "\n", "{", "[", "'", "${", "&a", "*a", "!reset", "\t"])) + text[i:]
        elif kind == "swap":
            lines = text.splitlines(True)
            if len(lines) > 1:
                j = data.draw(st.integers(0, len(lines) - 2))
                lines[j], lines[j + 1] = lines[j + 1], lines[j]
                text = "".join(lines)
        else:
            lines = text.splitlines(True)
            j = data.draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: j + 1] + [lines[j]] + lines[j + 1:])
    load_text(tmp_path, text)
