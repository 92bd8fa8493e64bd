"""Output validates against the Kubernetes API schemas (strict) and passes the semantic lint."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml
from k8s_helpers import find, project

from orchestrator.k8s import convert, lint, to_yaml_stream

REPO = pathlib.Path(__file__).resolve().parents[2]
VERSION = "1.37.0"


def _schema_errors(kv, manifests) -> list[str]:
    errors = []
    for obj in manifests:
        try:
            kv.validate(obj, VERSION, strict=True)
        except Exception as exc:  # ValidationError and SchemaNotFoundError alike
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {str(exc)[:300]}")
    return errors


def _full_example(conformance) -> dict:
    return json.loads((conformance / "compose-go/historic-full-example/expected.json").read_text())


@pytest.mark.parametrize("service_type", ["NodePort", "LoadBalancer", "ClusterIP"])
def test_full_example_validates_strictly_and_lints_clean(kv, conformance, service_type):
    result = convert(_full_example(conformance), namespace="full", service_type=service_type)
    assert _schema_errors(kv, result.manifests) == []
    assert lint(result.manifests, result.external) == []
    assert {m["kind"] for m in result.manifests} >= {"Namespace", "ConfigMap", "Secret", "Service", "Deployment"}


def test_full_example_warns_about_every_inexpressible_key(conformance):
    warned = {(w.service, w.key) for w in convert(_full_example(conformance)).warnings}
    for key in ("devices", "ulimits", "logging", "stop_signal", "container_name", "network_mode",
                "uts", "cgroup_parent", "volumes", "user", "build"):
        assert ("foo", key) in warned


def test_yaml_stream_round_trips_to_the_same_objects(conformance):
    result = convert(_full_example(conformance))
    text = to_yaml_stream(result.manifests)
    assert "&id" not in text  # no YAML anchors: kubectl users read this
    assert list(yaml.safe_load_all(text)) == result.manifests


def test_a_rich_hand_written_project_validates(kv):
    data = project({
        "db": {"image": "postgres:16", "environment": {"POSTGRES_PASSWORD": "x"}, "expose": ["5432"],
               "volumes": [{"type": "volume", "source": "pg", "target": "/var/lib/postgresql/data"}],
               "healthcheck": {"test": ["CMD-SHELL", "pg_isready"], "interval": "2s", "start_period": "10s"}},
        "migrate": {"image": "app", "command": ["migrate"], "restart": "no",
                    "depends_on": {"db": {"condition": "service_healthy", "required": True}}},
        "app": {"image": "app", "ports": [{"target": 8000, "published": "30800", "protocol": "tcp"}],
                "depends_on": {"migrate": {"condition": "service_completed_successfully", "required": True},
                               "db": {"condition": "service_healthy", "required": True}},
                "user": "1000", "read_only": True, "tmpfs": ["/tmp"], "cap_drop": ["ALL"],
                "deploy": {"replicas": 2, "resources": {"limits": {"cpus": 1.5, "memory": "268435456"}}},
                "secrets": [{"source": "key"}], "sysctls": {"net.ipv4.tcp_syncookies": "1"}},
        "agent": {"image": "agent", "deploy": {"mode": "global"}, "pid": "host"},
    }, volumes={"pg": {}}, secrets={"key": {"content": "abc"}})
    result = convert(data)
    kinds = {(m["kind"], m["metadata"]["name"]) for m in result.manifests}
    assert {("StatefulSet", "db"), ("Job", "migrate"), ("Deployment", "app"), ("DaemonSet", "agent")} <= kinds
    assert _schema_errors(kv, result.manifests) == []
    assert lint(result.manifests) == []


def test_quickstart_example_converts_to_the_expected_objects(kv):
    loader = pytest.importorskip("orchestrator.compose.loader")
    loaded = loader.load_project(loader.ProjectOptions(
        files=[str(REPO / "examples/compose/quickstart/compose.yaml")], os_env={}, warn=lambda m: None))
    result = convert(loaded.data)
    assert find(result.manifests, "Job", "migrate")
    assert find(result.manifests, "Deployment", "web")["spec"]["replicas"] == 3
    assert find(result.manifests, "Service", "web-published")["spec"]["type"] == "NodePort"
    api = find(result.manifests, "Deployment", "api")["spec"]["template"]["spec"]
    assert [c["name"] for c in api["initContainers"]] == ["wait-for-cache", "wait-for-migrate"]
    assert _schema_errors(kv, result.manifests) == []
    assert lint(result.manifests, result.external) == []


def _compose_files(conformance) -> list[pathlib.Path]:
    files = sorted(conformance.rglob("*.yml")) + sorted(conformance.rglob("*.yaml"))
    return files + sorted((REPO / "examples/compose").rglob("compose.y*ml"))


def test_every_loadable_conformance_file_converts_validates_and_lints(kv, conformance):
    loader = pytest.importorskip("orchestrator.compose.loader")
    from orchestrator.compose.errors import ComposeError

    loaded_count, problems = 0, []
    for path in _compose_files(conformance):
        options = loader.ProjectOptions(files=[str(path)], os_env={}, warn=lambda m: None, stdin=lambda: "")
        try:
            loaded = loader.load_project(options)
        except (ComposeError, ValueError, OSError):
            continue  # invalid on purpose (schema/negative fixtures): not ours to convert
        loaded_count += 1
        result = convert(loaded.data)
        problems += [f"{path}: {e}" for e in _schema_errors(kv, result.manifests)]
        problems += [f"{path}: {p}" for p in lint(result.manifests, result.external)]
    assert loaded_count > 100
    assert problems == []
