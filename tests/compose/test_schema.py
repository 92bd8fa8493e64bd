"""Schema stage: conformance files validate; typos and wrong types fail at the right file:line:col."""

from __future__ import annotations

import textwrap

import jsonschema
import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.parse import parse_yaml
from orchestrator.compose.schema import format_path, load_schema, validate_document


def _docs(text: str, file: str = "compose.yaml"):
    return parse_yaml(textwrap.dedent(text), file)


def _error(text: str) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        for doc in _docs(text):
            validate_document(doc)
    return info.value


def _valid(text: str) -> None:
    for doc in _docs(text):
        validate_document(doc)


def _validate_file(path) -> None:
    for doc in parse_yaml(path.read_text(), str(path)):
        validate_document(doc)


def test_schema_is_valid_draft7_and_loaded_once():
    jsonschema.Draft7Validator.check_schema(load_schema())
    assert load_schema() is load_schema()


def test_full_example_validates(conformance):
    _validate_file(conformance / "compose-go/historic-full-example/full-example.yml")


def test_using_variables_validates_once_interpolated(conformance):
    text = (conformance / "compose-go/schema/using-variables.yaml").read_text()
    doc = parse_yaml(text.replace("${VARIABLE}", "10s"), "using-variables.yaml")[0]
    doc.data["services"]["foo"]["restart"] = "always"
    validate_document(doc)


def _compose_go_inputs(root):
    skip = {"compose-test-extends-imported.yaml"}  # container_name is a ${VAR} only valid once interpolated
    return sorted(p for p in (root / "compose-go/loader/testdata").rglob("*.y*ml") if p.name not in skip)


def test_compose_go_loader_testdata_validates(conformance):
    files = _compose_go_inputs(conformance)
    assert len(files) > 20
    for path in files:
        _validate_file(path)


def test_v1_fixtures_in_compose_v2_format_validate(conformance):
    root = conformance / "docker-compose-v1-fixtures/tests/fixtures"
    checked = 0
    for path in sorted(root.rglob("*.y*ml")):
        docs = parse_yaml(path.read_text(), str(path))
        if path.name == "v2-invalid.yml" or not any(isinstance(d.data, dict) and (
                "services" in d.data or "version" in d.data) for d in docs):
            continue
        for doc in docs:
            validate_document(doc)
        checked += 1
    assert checked > 40


def test_v1_format_files_are_rejected(conformance):
    root = conformance / "docker-compose-v1-fixtures/tests/fixtures"
    with pytest.raises(ComposeError) as info:
        _validate_file(root / "simple-composefile/docker-compose.yml")
    assert info.value.message == '(root) additional property "simple" is not allowed'
    assert (info.value.pos.line, info.value.pos.column) == (1, 1)
    with pytest.raises(ComposeError) as info:
        _validate_file(root / "net-container/v2-invalid.yml")
    assert info.value.message == 'services.bar additional property "net" is not allowed'
    assert (info.value.pos.line, info.value.pos.column) == (10, 5)


def test_typo_in_service_key_points_at_the_key():
    err = _error("""
        services:
          web:
            image: nginx
            imgae: nginx
        """)
    assert str(err) == ('compose.yaml:5:5: services.web additional property "imgae" is not allowed '
                        '(did you mean "image"?)')


def test_typo_at_top_level_and_deep_inside():
    assert str(_error("servces: {}\n")).startswith('compose.yaml:1:1: (root) additional property "servces"')
    err = _error("""
        services:
          web:
            image: nginx
            deploy:
              resources:
                limits:
                  memroy: 1g
        """)
    assert err.message.startswith('services.web.deploy.resources.limits additional property "memroy"')
    assert (err.pos.line, err.pos.column) == (8, 11)


def test_port_of_wrong_type():
    err = _error("""
        services:
          web:
            image: nginx
            ports:
              - "80:80"
              - [8080]
        """)
    assert str(err) == "compose.yaml:7:9: services.web.ports.1 must be a number, string or mapping"


def test_scalar_of_wrong_type():
    err = _error("""
        services:
          web:
            image: {name: nginx}
        """)
    assert str(err) == "compose.yaml:4:5: services.web.image must be a string"


def test_restart_value():
    err = _error("""
        services:
          web:
            image: nginx
            restart: sometimes
        """)
    assert err.message.startswith('services.web.restart must be one of "no", "always"')
    assert err.pos.line == 5
    for value in ('"no"', "always", "on-failure", "on-failure:3", "unless-stopped"):
        _valid(f"services:\n  web:\n    image: x\n    restart: {value}\n")


def test_enum_and_required_inside_long_syntax():
    err = _error("""
        services:
          web:
            image: nginx
            depends_on:
              db:
                condition: service_ready
          db: {image: postgres}
        """)
    assert err.message.startswith('services.web.depends_on.db.condition must be one of "service_started"')
    assert err.pos.line == 7
    err = _error("""
        services:
          web:
            image: nginx
            volumes:
              - source: data
                target: /data
        """)
    assert err.message == 'services.web.volumes.0 requires "type"'
    assert err.pos.line == 6


def test_duration_format():
    err = _error("""
        services:
          web:
            image: nginx
            healthcheck:
              interval: 10 seconds
        """)
    assert err.message == 'services.web.healthcheck.interval is not a valid duration: "10 seconds"'
    _valid("services:\n  web:\n    image: x\n    stop_grace_period: 1m30s\n"
           "    healthcheck: {interval: 1.5s, timeout: 500ms, start_period: '0'}\n")


def test_duplicate_list_items_point_at_the_duplicate():
    err = _error("""
        services:
          web:
            image: nginx
            environment:
              - A=1
              - B=2
              - A=1
        """)
    assert err.message == 'services.web.environment contains a duplicate item: "A=1"'
    assert err.pos.line == 8


def test_invalid_service_name():
    err = _error("""
        services:
          "my web":
            image: nginx
        """)
    assert err.message.startswith('services has an invalid name "my web"')
    assert err.pos.line == 3


def test_first_problem_in_the_file_is_reported():
    err = _error("""
        services:
          b:
            image: [x]
          a:
            imgae: x
        """)
    assert err.pos.line == 4


def test_override_file_may_be_partial():
    _valid("""
        services:
          web:
            environment: {DEBUG: "1"}
        """)
    _valid("{}\n")


def test_null_sections_and_non_string_keys():
    _valid("""
        services:
          web:
            image: nginx
            environment:
              1: one
              true: yes
            labels: {8080: http}
            networks: {front: null}
            deploy:
        networks:
          front:
        volumes:
          data:
        """)


def test_document_must_be_a_mapping():
    err = _error("- web\n")
    assert err.message == "(root) must be a mapping"


EXTENSIONS_EVERYWHERE = """
x-top: {anything: [1, 2]}
name: demo
services:
  web:
    x-svc: 1
    image: nginx
    build:
      x-build: 1
      context: .
    credential_spec: {x-cs: 1, file: f}
    depends_on:
      db: {x-dep: 1, condition: service_started}
    devices:
      - {x-dev: 1, source: /dev/null}
    logging: {x-log: 1, driver: json-file}
    models:
      llm: {x-m: 1, endpoint_var: URL}
    networks:
      front: {x-net: 1, aliases: [w]}
    ports:
      - {x-port: 1, target: 80}
    post_start:
      - {x-hook: 1, command: [echo]}
    volumes:
      - type: bind
        x-vol: 1
        source: .
        target: /a
        bind: {x-bind: 1, create_host_path: true}
      - type: volume
        source: data
        target: /b
        volume: {x-v: 1, nocopy: true}
      - type: tmpfs
        target: /c
        tmpfs: {x-t: 1, size: 10}
      - type: image
        source: alpine
        target: /d
        image: {x-i: 1, subpath: etc}
    healthcheck: {x-hc: 1, test: [CMD, "true"]}
    develop:
      x-dev: 1
      watch:
        - {x-w: 1, path: ./src, action: rebuild}
    deploy:
      x-deploy: 1
      rollback_config: {x-r: 1}
      update_config: {x-u: 1}
      resources:
        x-res: 1
        limits: {x-l: 1, cpus: 1}
        reservations:
          x-rs: 1
          generic_resources:
            - x-g: 1
              discrete_resource_spec: {x-d: 1, kind: gpu, value: 1}
          devices:
            - {x-dv: 1, capabilities: [gpu]}
      restart_policy: {x-rp: 1}
      placement:
        x-p: 1
        preferences:
          - {x-pp: 1, spread: node}
    gpus:
      - {x-gpu: 1, driver: nvidia}
    secrets:
      - {x-s: 1, source: token}
    configs:
      - {x-c: 1, source: conf}
    ulimits:
      nofile: {x-u: 1, soft: 1, hard: 2}
    provider: {x-prov: 1, type: model}
networks:
  front:
    x-n: 1
    external: {x-e: 1, name: other}
  back:
    ipam:
      x-ipam: 1
      config:
        - {x-ic: 1, subnet: 10.0.0.0/24}
volumes:
  data: {x-vol: 1, external: {x-e: 1}}
secrets:
  token: {x-sec: 1, file: ./t}
configs:
  conf: {x-conf: 1, content: hi}
models:
  llm: {x-model: 1, model: ai/smollm2}
"""


def test_x_extensions_are_accepted_wherever_compose_allows_them():
    _valid(EXTENSIONS_EVERYWHERE)


@pytest.mark.parametrize(
    ("snippet", "where"),
    [("extends: {service: base, x-e: 1}", "services.web.extends"),
     ("blkio_config: {x-b: 1}", "services.web.blkio_config"),
     ("env_file: [{path: .env, x-e: 1}]", "services.web.env_file.0")],
)
def test_x_extensions_rejected_where_compose_rejects_them(snippet, where):
    err = _error(f"services:\n  web:\n    image: x\n    {snippet}\n")
    assert err.message.startswith(f"{where} additional property")


def test_format_path():
    assert format_path(()) == "(root)"
    assert format_path(("services", "web", "ports", 0)) == "services.web.ports.0"
