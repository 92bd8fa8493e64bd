"""Semantic checks on a normalised project: one test per check, each error positioned."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.parse import Locator, parse_yaml
from orchestrator.compose.validate import check_model, parse_bytes


def _doc(text: str, file: str = "compose.yaml"):
    return parse_yaml(textwrap.dedent(text), file)[0]


def _error(text: str, project=None, **kwargs) -> ComposeError:
    """Check ``text`` (already in normalised shape unless ``project`` is given); return the error."""
    doc = _doc(text)
    with pytest.raises(ComposeError) as info:
        check_model(doc.data if project is None else project, Locator([doc]), **kwargs)
    return info.value


def _ok(text: str, **kwargs) -> None:
    doc = _doc(text)
    check_model(doc.data, Locator([doc]), **kwargs)


def test_valid_project_passes():
    _ok("""
        services:
          db:
            image: postgres
            volumes:
              - {type: volume, source: data, target: /var/lib/postgresql/data}
            healthcheck: {test: [CMD-SHELL, pg_isready], interval: 5s}
            networks: {back: null}
          web:
            build: {context: ., dockerfile: Dockerfile}
            depends_on: {db: {condition: service_healthy, required: true, restart: false}}
            ports:
              - {target: 80, published: "8080", protocol: tcp, host_ip: "", mode: ingress}
            tmpfs: [/run]
            networks: {back: null, default: null}
            secrets: [{source: token, target: /run/secrets/token}]
            deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: "536870912"}}}
            mem_limit: 512m
            cpus: 0.5
        networks: {back: {name: p_back}, default: {name: p_default}}
        volumes: {data: {name: p_data}}
        secrets: {token: {name: p_token, file: ./token.txt}}
        """)


def test_neither_image_nor_build():
    err = _error("""
        services:
          web:
            command: [echo]
        """)
    assert str(err) == ('compose.yaml:3:3: service "web" has neither an image nor a build context '
                        "specified: invalid compose project")


def test_dockerfile_and_dockerfile_inline():
    err = _error("""
        services:
          web:
            build:
              context: .
              dockerfile: Dockerfile
              dockerfile_inline: FROM busybox
        """)
    assert "mutually exclusive dockerfile and dockerfile_inline" in err.message
    assert (err.pos.line, err.pos.column) == (7, 7)


def test_network_mode_with_networks():
    err = _error("""
        services:
          web:
            image: nginx
            network_mode: host
            networks: {default: null}
        networks: {default: {}}
        """)
    assert err.message == ("service web declares mutually exclusive `network_mode` and `networks`: "
                           "invalid compose project")
    assert err.pos.line == 5


def test_undefined_network():
    err = _error("""
        services:
          web:
            image: nginx
            networks:
              front: {aliases: [www]}
        """)
    assert err.message == 'service "web" refers to undefined network front: invalid compose project'
    assert (err.pos.line, err.pos.column) == (6, 7)


def test_undefined_volume():
    err = _error("""
        services:
          web:
            image: nginx
            volumes:
              - type: volume
                source: data
                target: /data
        """)
    assert err.message == 'service "web" refers to undefined volume data: invalid compose project'
    assert err.pos.line == 7


def test_bind_and_anonymous_volumes_need_no_declaration():
    _ok("""
        services:
          web:
            image: nginx
            volumes:
              - {type: bind, source: /srv, target: /srv}
              - {type: volume, target: /cache}
        """)


def test_undefined_secret_and_config():
    err = _error("""
        services:
          web:
            image: nginx
            secrets: [{source: token}]
        """)
    assert err.message == 'service "web" refers to undefined secret token: invalid compose project'
    assert err.pos.line == 5
    err = _error("""
        services:
          web:
            image: nginx
            configs:
              - source: site
        """)
    assert err.message == 'service "web" refers to undefined config site: invalid compose project'
    assert err.pos.line == 6


def test_undefined_build_secret():
    err = _error("""
        services:
          web:
            build:
              context: .
              secrets: [npmrc]
        """)
    assert err.message == 'service "web" refers to undefined build secret npmrc: invalid compose project'


def test_secret_without_source():
    err = _error("""
        services:
          web: {image: nginx}
        secrets:
          token: {name: p_token}
        """)
    assert err.message == 'secret "token" must declare either `file` or `environment`: invalid compose project'
    assert err.pos.line == 5
    _ok("""
        services:
          web: {image: nginx}
        secrets:
          token: {name: p_token, external: true}
        """)


def test_depends_on_undefined_service():
    err = _error("""
        services:
          web:
            image: nginx
            depends_on:
              db: {condition: service_started, required: true}
        """)
    assert err.message == 'service "web" depends on undefined service "db": invalid compose project'
    assert (err.pos.line, err.pos.column) == (6, 7)


def test_depends_on_disabled_service_not_required_is_allowed():
    text = """
        services:
          web:
            image: nginx
            depends_on:
              db: {condition: service_started, required: false}
        """
    _ok(text, disabled={"db"})
    with pytest.raises(ComposeError):
        _ok(text)  # not disabled by a profile: simply undefined


def test_self_dependency():
    err = _error("""
        services:
          web:
            image: nginx
            depends_on:
              web: {condition: service_started}
        """)
    assert err.message == "dependency cycle detected: web -> web"
    assert err.pos.line == 6


def test_dependency_cycle_in_name_order():
    err = _error("""
        services:
          c: {image: x, depends_on: {a: {condition: service_started}}}
          b: {image: x, depends_on: {c: {condition: service_started}}}
          a: {image: x, depends_on: {b: {condition: service_started}}}
        """)
    assert err.message == "dependency cycle detected: a -> b -> c -> a"


def test_links_to_undefined_service():
    err = _error("""
        services:
          web:
            image: nginx
            links: ["db:database"]
        """)
    assert err.message == 'service "web" links to undefined service "db": invalid compose project'
    assert err.pos.line == 5


def test_volumes_from_undefined_service():
    err = _error("""
        services:
          web:
            image: nginx
            volumes_from: ["data:ro", "container:other"]
        """)
    assert 'undefined service "data" in volumes_from' in err.message
    _ok("""
        services:
          data: {image: busybox}
          web: {image: nginx, volumes_from: ["data:ro", "container:x"]}
        """)


@pytest.mark.parametrize("attr", ["network_mode", "ipc", "pid"])
def test_service_namespace_reference_to_unknown_service(attr):
    err = _error(f"""
        services:
          web:
            image: nginx
            {attr}: "service:ghost"
        """)
    assert err.message == f"service \"ghost\" not found for {attr} 'service:ghost'"
    assert err.pos.line == 5


def test_healthcheck_test_first_word():
    err = _error("""
        services:
          web:
            image: nginx
            healthcheck:
              test: [curl, -f, http://localhost]
        """)
    assert err.message == 'services.web.healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"'
    assert err.pos.line == 6


def test_start_interval_requires_start_period():
    err = _error("""
        services:
          web:
            image: nginx
            healthcheck:
              test: [CMD, "true"]
              start_interval: 1s
        """)
    assert err.message == ("services.web: healthcheck.start_interval requires healthcheck.start_period "
                           "to be set")
    assert err.pos.line == 7
    _ok("""
        services:
          web:
            image: nginx
            healthcheck: {test: [CMD, "true"], start_interval: 1s, start_period: 10s}
        """)


def test_scale_and_replicas_differ():
    err = _error("""
        services:
          web:
            image: nginx
            scale: 2
            deploy: {replicas: 3}
        """)
    assert err.message == ("services.web: can't set distinct values on 'scale' and 'deploy.replicas': "
                           "invalid compose project")
    assert err.pos.line == 5
    _ok("""
        services:
          web: {image: nginx, scale: 2, deploy: {replicas: 2}}
        """)


def test_negative_replicas():
    err = _error("""
        services:
          web: {image: nginx, deploy: {replicas: -1}}
        """)
    assert "deploy.replicas must be greater than or equal to 0" in err.message


@pytest.mark.parametrize(
    ("attr", "value", "keys", "deploy_value"),
    [
        ("cpus", "0.5", "limits.cpus", "1.5"),
        ("mem_limit", "512m", "limits.memory", "1g"),
        ("mem_reservation", "128m", "reservations.memory", "256m"),
        ("pids_limit", "100", "limits.pids", "200"),
    ],
)
def test_resource_attribute_conflicts_with_deploy(attr, value, keys, deploy_value):
    section, key = keys.split(".")
    err = _error(f"""
        services:
          web:
            image: nginx
            {attr}: {value}
            deploy:
              resources:
                {section}:
                  {key}: {deploy_value}
        """)
    assert err.message == (f"services.web: can't set distinct values on '{attr}' and "
                           f"'deploy.resources.{keys}': invalid compose project")
    assert err.pos.line == 5


def test_equal_resource_values_in_other_units_are_fine():
    _ok("""
        services:
          web:
            image: nginx
            mem_limit: 1g
            cpus: 1
            pids_limit: 50
            deploy: {resources: {limits: {memory: 1024m, cpus: "1.0", pids: 50}}}
        """)


def test_container_name_with_replicas():
    err = _error("""
        services:
          web:
            image: nginx
            container_name: web
            deploy: {replicas: 2}
        """)
    assert err.message == ("services.web: can't set container_name and deploy.replicas as container "
                           "name must be unique: invalid compose project")
    assert err.pos.line == 5


def test_invalid_container_name():
    err = _error("""
        services:
          web:
            image: nginx
            container_name: "my web"
        """)
    assert 'container_name "my web" is invalid' in err.message
    assert err.pos.line == 5


def test_duplicate_mount_target_volume_and_tmpfs():
    err = _error("""
        services:
          web:
            image: nginx
            volumes:
              - {type: bind, source: /srv, target: /data/}
            tmpfs:
              - /data:size=64m
        """)
    assert "mounts /data twice (tmpfs and volumes)" in err.message
    assert err.pos.line == 8


@pytest.mark.parametrize(
    ("port", "key"),
    [("{target: 70000, published: '80'}", "target"),
     ("{target: 80, published: '65536'}", "published"),
     ("{target: 0}", "target"),
     ("{target: 80, published: '9000-8000'}", "published")],
)
def test_port_out_of_range(port, key):
    err = _error(f"""
        services:
          web:
            image: nginx
            ports:
              - {port}
        """)
    assert err.message.startswith(f"services.web.ports.0: invalid {key} port")
    assert err.pos.line == 6


def test_expose_out_of_range():
    err = _error("""
        services:
          web:
            image: nginx
            expose: ["3000", "8000-8010/udp", "99999"]
        """)
    assert err.message.startswith("services.web.expose.2: invalid port 99999")
    assert err.pos.line == 5


def test_published_port_conflict_between_services():
    err = _error("""
        services:
          a:
            image: nginx
            ports: [{target: 80, published: "8080", protocol: tcp}]
          b:
            image: nginx
            ports:
              - {target: 81, published: "8080", protocol: tcp, host_ip: 127.0.0.1}
        """)
    assert err.message == ('service "b" publishes 127.0.0.1:8080/tcp, which service "a" already '
                           "publishes: port is already allocated")
    assert (err.pos.line, err.pos.column) == (9, 22)


def test_ports_differing_in_ip_or_protocol_do_not_conflict():
    _ok("""
        services:
          a:
            image: nginx
            ports:
              - {target: 53, published: "53", protocol: udp}
              - {target: 80, published: "8080", host_ip: 127.0.0.1}
          b:
            image: nginx
            ports:
              - {target: 53, published: "53", protocol: tcp}
              - {target: 80, published: "8080", host_ip: 127.0.0.2}
              - {target: 90}
          c:
            image: nginx
            ports: [{target: 90}]
        """)


def test_error_points_into_short_syntax_when_model_is_long_syntax():
    doc = _doc("""
        services:
          web:
            image: nginx
            ports:
              - "8080:80"
          api:
            image: nginx
            ports:
              - "8080:81"
        """)
    project = {"services": {
        "web": {"image": "nginx", "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]},
        "api": {"image": "nginx", "ports": [{"target": 81, "published": "8080", "protocol": "tcp"}]},
    }}
    with pytest.raises(ComposeError) as info:
        check_model(project, Locator([doc]))
    # "api" sorts first, so "web" is the one reported, at its short-syntax entry.
    assert str(info.value).startswith('compose.yaml:6:9: service "web" publishes 0.0.0.0:8080/tcp')


def test_watch_target_required_for_sync():
    err = _error("""
        services:
          web:
            image: nginx
            develop:
              watch:
                - {path: ./src, action: sync}
        """)
    assert err.message == ("services.web.develop.watch: target is required for non-rebuild actions: "
                           "invalid compose project")


def test_first_error_in_service_name_order():
    err = _error("""
        services:
          zeta: {command: [x]}
          alpha: {command: [x]}
        """)
    assert '"alpha"' in err.message


def test_error_in_override_file_points_there():
    base = _doc("services:\n  web:\n    image: nginx\n", "compose.yaml")
    override = _doc("services:\n  web:\n    volumes:\n      - data:/data\n", "compose.override.yaml")
    project = {"services": {"web": {"image": "nginx", "volumes": [
        {"type": "volume", "source": "data", "target": "/data"}]}}}
    with pytest.raises(ComposeError) as info:
        check_model(project, Locator([base, override]))
    assert str(info.value.pos) == "compose.override.yaml:4:9"


@pytest.mark.parametrize(
    ("text", "value"),
    [("512m", 512 * 1024**2), ("1g", 1024**3), ("1.5GiB", int(1.5 * 1024**3)), ("100", 100),
     (2048, 2048), ("64kb", 65536), ("lots", None)],
)
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value
