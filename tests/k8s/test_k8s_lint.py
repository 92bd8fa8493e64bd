"""The semantic lint finds what schema validation cannot: each check is shown to fire."""

from __future__ import annotations

import copy

from k8s_helpers import find, project

from orchestrator.k8s import convert, lint

BASE = project({
    "web": {"image": "w", "expose": ["80"],
            "volumes": [{"type": "tmpfs", "target": "/cache"}]},
    "job": {"image": "j", "restart": "no"},
    "app": {"image": "a", "depends_on": {"job": {"condition": "service_completed_successfully"}}},
})


def _fresh() -> list[dict]:
    manifests = copy.deepcopy(convert(BASE).manifests)
    assert lint(manifests) == []
    return manifests


def test_selector_not_matching_the_template_is_found():
    m = _fresh()
    find(m, "Deployment", "web")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "other"
    assert any("selector does not match" in p for p in lint(m))


def test_service_selecting_no_pods_is_found():
    m = _fresh()
    find(m, "Service", "web")["spec"]["selector"] = {"app": "nothing"}
    assert any("matches no pod" in p for p in lint(m))


def test_service_targeting_a_port_no_pod_exposes_is_found():
    m = _fresh()
    find(m, "Service", "web")["spec"]["ports"][0]["targetPort"] = 8080
    assert any("targets 8080" in p for p in lint(m))


def test_mount_of_an_undeclared_volume_is_found():
    m = _fresh()
    find(m, "Deployment", "web")["spec"]["template"]["spec"]["volumes"] = []
    assert any("has no volume" in p for p in lint(m))


def test_invalid_names_are_found():
    m = _fresh()
    find(m, "Deployment", "web")["metadata"]["name"] = "Web_1"
    find(m, "Service", "web")["metadata"]["name"] = "9web"
    problems = lint(m)
    assert any("'Web_1' is not valid" in p for p in problems)
    assert any("'9web' is not valid for a Service" in p for p in problems)


def test_missing_service_account_and_wrong_restart_policy_are_found():
    m = _fresh()
    m = [o for o in m if o["kind"] != "ServiceAccount"]
    find(m, "Job", "job")["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    problems = lint(m)
    assert any("ServiceAccount 'demo-wait'" in p for p in problems)
    assert any("restartPolicy 'Always' not allowed for a Job" in p for p in problems)


def test_duplicate_objects_are_found():
    m = _fresh()
    m.append(copy.deepcopy(find(m, "Service", "web")))
    assert any("defined twice" in p for p in lint(m))
