"""Start/stop order and cycle detection over depends_on, explicit and implicit."""

from __future__ import annotations

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.model import DependsOn, Project, Service
from orchestrator.compose.normalize import normalize
from orchestrator.graph import ServiceGraph


def project(**deps: list[str]) -> Project:
    return Project(
        name="p",
        services={
            name: Service(name=name, image="x", depends_on={d: DependsOn() for d in ds})
            for name, ds in deps.items()
        },
    )


def test_generations_start_dependencies_first_and_group_parallel_ones():
    graph = ServiceGraph.from_project(project(web=["api", "static"], api=["db", "cache"], worker=["db"],
                                              db=[], cache=[], static=[]))
    assert graph.generations() == [["cache", "db", "static"], ["api", "worker"], ["web"]]
    assert graph.stop_order() == [["web"], ["api", "worker"], ["cache", "db", "static"]]


def test_transitive_dependencies_and_dependents():
    graph = ServiceGraph.from_project(project(web=["api"], api=["db"], db=[], admin=["db"]))
    assert graph.dependencies("web") == {"api", "db"}
    assert graph.dependents("db") == {"api", "web", "admin"}
    assert graph.dependencies("db") == set()
    assert graph.subset(["web"]) == [["db"], ["api"], ["web"]]
    assert graph.subset(["web"], with_dependencies=False) == [["web"]]


def test_cycle_names_every_member_in_order():
    with pytest.raises(ComposeError) as err:
        ServiceGraph.from_project(project(c=["a"], a=["b"], b=["c"], ok=[]))
    assert str(err.value) == "dependency cycle detected: a -> b -> c -> a"


def test_self_dependency_is_a_cycle():
    with pytest.raises(ComposeError, match="dependency cycle detected: a -> a"):
        ServiceGraph.from_project(project(a=["a"]))


def test_implicit_dependencies_from_normalisation_are_edges():
    model = {"services": {
        "app": {"image": "x", "network_mode": "service:vpn", "volumes_from": ["data", "container:ext"]},
        "vpn": {"image": "x", "links": ["dns:resolver"]},
        "data": {"image": "x"},
        "dns": {"image": "x"},
    }}
    proj = Project.from_dict(normalize(model, project_name="p", working_dir="/w", env={}))
    assert ServiceGraph.from_project(proj).generations() == [["data", "dns"], ["vpn"], ["app"]]


def test_unknown_service_and_missing_dependency():
    graph = ServiceGraph.from_project(project(a=["gone"]))  # validate reports undefined ones
    assert graph.generations() == [["a"]]
    with pytest.raises(ComposeError, match="no such service: zzz"):
        graph.dependencies("zzz")
