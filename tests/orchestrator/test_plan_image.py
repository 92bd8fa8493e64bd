"""A rebuilt or re-pulled image recreates the service's containers, as Compose does."""

from __future__ import annotations

from orchestrator.compose.model import Project
from orchestrator.reconciler.actions import CreateContainer
from orchestrator.reconciler.hash import config_hash
from orchestrator.reconciler.observed import ObservedContainer
from orchestrator.reconciler.plan import Desired, PlanState, plan
from orchestrator.to_spec import container_spec

PROJECT = Project.from_dict({"name": "p", "services": {"web": {"image": "app:dev"}, "db": {"image": "pg"}}})
STATE = PlanState(networks=frozenset({"p_default"}))


def running(service: str, image_id: str) -> ObservedContainer:
    """A container created from ``image_id``: its label hash is what to_spec wrote then."""
    spec = container_spec(PROJECT, PROJECT.services[service], 1, image_id=image_id)
    labels = dict(spec.labels)
    return ObservedContainer(id=f"id-{service}", name=f"p-{service}-1", project="p", service=service, number=1,
                             state="running", config_hash=labels["com.docker.compose.config-hash"],
                             started_at=10.0, created_at=5.0)


def recreated(actions) -> list[str]:
    return sorted(a.name for a in actions if isinstance(a, CreateContainer) and a.replace)


def test_same_image_keeps_containers():
    observed = [running("web", "sha256:aaa"), running("db", "sha256:ddd")]
    desired = Desired(PROJECT, image_ids={"web": "sha256:aaa", "db": "sha256:ddd"})
    assert recreated(plan(desired, observed, 100.0, STATE)) == []


def test_a_new_image_id_recreates_only_that_service():
    observed = [running("web", "sha256:aaa"), running("db", "sha256:ddd")]
    desired = Desired(PROJECT, image_ids={"web": "sha256:bbb", "db": "sha256:ddd"})
    assert recreated(plan(desired, observed, 100.0, STATE)) == ["p-web-1"]


def test_hash_and_image_label_carry_the_image_id():
    spec = container_spec(PROJECT, PROJECT.services["web"], 1, image_id="sha256:aaa")
    labels = dict(spec.labels)
    assert labels["com.docker.compose.image"] == "sha256:aaa"
    assert labels["com.docker.compose.config-hash"] == config_hash(PROJECT.services["web"], "sha256:aaa")
    assert config_hash(PROJECT.services["web"]) != config_hash(PROJECT.services["web"], "sha256:aaa")
