"""The typed model: built from the normalised dict, frozen, and loss-free."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.model import DependsOn, Project, Service, Ulimit
from orchestrator.compose.normalize import normalize
from orchestrator.compose.parse import parse_yaml

COMPOSE = """
services:
  web:
    image: nginx
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp"]
    volumes: ["./html:/usr/share/nginx/html:ro", "cache:/cache"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: curl -f http://localhost
      interval: 1m30s
      timeout: 500ms
    deploy:
      replicas: 3
      resources: {limits: {cpus: '0.5', memory: 512m}}
      restart_policy: {condition: on-failure, delay: 5s}
    stop_grace_period: 20s
    mem_limit: 1g
    ulimits: {nproc: 65535, nofile: {soft: 1024, hard: 2048}}
    secrets: [{source: token, mode: '0400'}]
    x-note: kept
    sysctls: {net.core.somaxconn: 1024}
  db:
    image: postgres
    scale: 2
    links: [cache]
  cache:
    image: redis
volumes:
  cache: {}
secrets:
  token: {file: ./token.txt}
"""


@pytest.fixture
def normalised():
    data = parse_yaml(COMPOSE, "compose.yaml")[0].data
    return normalize(data, project_name="shop", working_dir="/srv/shop", env={})


def test_typed_values(normalised):
    project = Project.from_dict(normalised)
    web = project.service("web")
    assert web.name == "web" and web.image == "nginx"
    assert web.replicas == 3 and project.service("db").replicas == 2 and project.service("cache").replicas == 1
    assert [(p.target, p.published, p.host_ip, p.protocol) for p in web.ports] == [
        (80, "8080", None, "tcp"), (9000, "9000", "127.0.0.1", "udp"), (9001, "9001", "127.0.0.1", "udp"),
    ]
    bind, named = web.volumes
    assert (bind.type, bind.source, bind.read_only, bind.create_host_path) == ("bind", "/srv/shop/html", True, True)
    assert (named.type, named.source) == ("volume", "cache")
    assert web.healthcheck.test == ("CMD-SHELL", "curl -f http://localhost")
    assert (web.healthcheck.interval, web.healthcheck.timeout) == (90.0, 0.5)
    assert web.deploy.limits.cpus == 0.5 and web.deploy.limits.memory == 512 * 1024**2
    assert web.deploy.restart_policy.delay == 5.0
    assert web.stop_grace_period == 20.0 and web.mem_limit == 1024**3
    assert web.ulimits == {"nproc": Ulimit(65535, 65535), "nofile": Ulimit(1024, 2048)}
    assert web.secrets[0].mode_bits == 0o400
    assert web.depends_on == {"db": DependsOn(condition="service_healthy", required=True)}
    assert project.service("db").depends_on["cache"].restart is True
    assert web.extras["x-note"] == "kept" and web.extras["sysctls"]["net.core.somaxconn"] == "1024"
    assert project.volumes["cache"].name == "shop_cache"
    assert project.secrets["token"].file == "/srv/shop/token.txt"
    assert project.service_names == ["cache", "db", "web"]


def test_round_trip_is_exact(normalised):
    assert Project.from_dict(normalised).to_dict() == normalised


def test_frozen_and_slotted(normalised):
    web = Project.from_dict(normalised).service("web")
    with pytest.raises(dataclasses.FrozenInstanceError):
        web.image = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        web.extras["x-note"] = "changed"  # type: ignore[index]
    assert not hasattr(web, "__dict__")


def test_unknown_service_is_a_compose_error():
    with pytest.raises(ComposeError, match="no such service: nope"):
        Project(name="p").service("nope")


def test_hand_built_project():
    project = Project(name="p", services={"a": Service(name="a", image="busybox", scale=0)})
    assert project.service("a").replicas == 0
    assert project.to_dict() == {"name": "p", "services": {"a": {"image": "busybox", "scale": 0}}}


def test_partial_ulimit_is_a_compose_error():
    with pytest.raises(ComposeError, match="ulimit must be"):
        Project.from_dict({"name": "p", "services": {"a": {"ulimits": {"nofile": {"soft": 1}}}}})


def test_empty_project_and_bare_bind_round_trip():
    data = normalize({"services": {"t": {"volumes": [{"type": "bind", "bind": {"create_host_path": False}}]}}},
                     project_name="p", working_dir="/w", env={})
    assert Project.from_dict(data).to_dict() == data
    empty = normalize({}, project_name="p", working_dir="/w", env={})
    assert empty == {"name": "p", "services": {}}
    assert Project.from_dict(empty).to_dict() == empty


def test_networks_by_priority():
    data = normalize({"services": {"a": {"image": "x", "networks": {"b": None, "c": {"priority": 10}, "a": None}}}},
                     project_name="p", working_dir="/w", env={})
    assert Project.from_dict(data).service("a").networks_by_priority() == ["c", "a", "b"]
