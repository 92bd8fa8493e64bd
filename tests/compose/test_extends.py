"""``extends``: compose-go's extends tests (loader/extends_test.go) on their testdata, plus path rebasing and cycles."""

from __future__ import annotations

import os
import pathlib

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.extends import apply_extends, relocate_service
from orchestrator.compose.parse import parse_yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("SHOAL_SHARED", REPO.parent / "shared"))
LOADER = SHARED / "conformance" / "compose-go" / "loader"


def _load_doc(path: str):
    return parse_yaml(pathlib.Path(path).read_text(), path)[0]


def _extend(text: str, workdir: pathlib.Path, file: str = "compose.yaml") -> dict:
    doc = parse_yaml(text, str(workdir / file))[0]
    out = apply_extends(doc.data, file=str(workdir / file), load_file=_load_doc, working_dir=str(workdir),
                        resets=doc.resets, overrides=doc.overrides)
    return out["services"]


@pytest.fixture
def loader_dir() -> pathlib.Path:
    if not (LOADER / "testdata" / "extends").is_dir():
        pytest.skip(f"conformance data not found at {LOADER}")
    return LOADER


def test_extends_from_other_file_and_chain(loader_dir):
    services = _extend(
        "services:\n"
        "  test1: {extends: {file: testdata/extends/base.yaml, service: base}, hostname: test1}\n"
        "  test2: {extends: {file: testdata/extends/base.yaml, service: base}, hostname: test2}\n"
        "  test3: {extends: {file: testdata/extends/base.yaml, service: another}, hostname: test3}\n",
        loader_dir,
    )
    assert services["test1"] == {"image": "base", "hostname": "test1"}
    assert services["test2"] == {"image": "base", "hostname": "test2"}
    assert services["test3"] == {"image": "base", "hostname": "test3"}


def test_extends_port_and_ulimits(loader_dir):
    services = _extend(
        "services:\n"
        "  test: {image: test, extends: {file: testdata/extends/base.yaml, service: with-port}}\n"
        "  lim: {extends: {file: testdata/extends/base.yaml, service: withUlimits}}\n",
        loader_dir,
    )
    assert services["test"] == {"image": "test", "ports": ["8000:8000"]}
    assert services["lim"]["ulimits"]["nproc"] == 65535


def test_relative_build_context_rebased_to_working_dir(loader_dir):
    services = _extend("services:\n  test:\n    extends: {file: testdata/extends/base.yaml, service: with-build}\n",
                       loader_dir)
    assert services["test"]["build"] == os.path.join("testdata", "extends")


def test_extending_an_empty_service_keeps_local_definition(loader_dir):
    services = _extend("services:\n  test: {image: test, extends: {file: testdata/extends/base.yaml, service: nil}}\n",
                       loader_dir)
    assert services["test"] == {"image": "test"}


def test_extends_without_service_is_an_error(loader_dir):
    with pytest.raises(ComposeError, match="extends.test.service is required"):
        _extend("services:\n  test: {image: test, extends: {file: testdata/extends/base.yaml}}\n", loader_dir)


def test_reset_in_extending_service_of_other_file(loader_dir):
    services = _extend("services:\n  test:\n    extends: {file: testdata/extends/reset.yaml, service: base}\n",
                       loader_dir)
    assert services["test"] == {"image": "alpine:latest"}


def test_depends_on_is_inherited_for_later_validation(loader_dir):
    services = _extend(
        "services:\n  bar:\n    extends: {file: ./testdata/extends/depends_on.yaml, service: with_depends_on}\n",
        loader_dir,
    )
    assert services["bar"] == {"image": "foo", "depends_on": ["zot"]}


def test_override_tag_in_extending_service(tmp_path):
    services = _extend(
        "services:\n"
        "  service_a: {image: a, depends_on: [service_c]}\n"
        "  service_b:\n    extends: service_a\n    depends_on: !override [service_a]\n"
        "  service_c: {image: c}\n",
        tmp_path,
    )
    assert services["service_b"] == {"image": "a", "depends_on": ["service_a"]}
    assert services["service_a"] == {"image": "a", "depends_on": ["service_c"]}


def test_same_file_chain_is_followed(tmp_path):
    services = _extend(
        "services:\n"
        "  foo: {image: busybox, extends: bar}\n"
        "  bar: {image: alpine, command: echo, extends: wee}\n"
        "  wee: {extends: last, command: echo, ports: ['80:80']}\n"
        "  last: {image: python, ports: ['80:80', '81:81']}\n",
        tmp_path,
    )
    assert services["foo"] == {"image": "busybox", "command": "echo", "ports": ["80:80", "81:81"]}
    assert "extends" not in services["wee"]


def test_paths_of_a_base_in_a_subdirectory_are_rebased(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "compose.yaml").write_text(
        "services:\n"
        "  base:\n"
        "    build: {context: .., target: t}\n"
        "    volumes: ['./data:/data', 'named:/named', {type: bind, source: ../etc, target: /etc/x}]\n"
        "    env_file: [app.env, {path: /abs.env}]\n"
        "  service: {extends: base, build: {target: target}}\n"
    )
    services = _extend(
        "services:\n"
        "  out-base: {extends: {file: sub/compose.yaml, service: base}}\n"
        "  out-service: {extends: {file: sub/compose.yaml, service: service}}\n",
        tmp_path,
    )
    base = services["out-base"]
    assert base["build"] == {"context": ".", "target": "t"}
    assert base["volumes"] == ["./sub/data:/data", "named:/named", {"type": "bind", "source": "./etc", "target": "/etc/x"}]
    assert base["env_file"] == ["sub/app.env", {"path": "/abs.env"}]
    assert services["out-service"]["build"] == {"context": ".", "target": "target"}


def test_cycle_in_same_file_names_the_chain(tmp_path):
    with pytest.raises(ComposeError, match=r'circular reference with extends: "a".*-> "b".*-> "a"'):
        _extend("services:\n  a: {extends: b}\n  b: {extends: a}\n", tmp_path)


def test_cycle_across_files(tmp_path):
    (tmp_path / "other.yaml").write_text("services:\n  b: {extends: {file: compose.yaml, service: a}}\n")
    (tmp_path / "compose.yaml").write_text("services:\n  a: {extends: {file: other.yaml, service: b}}\n")
    with pytest.raises(ComposeError, match="circular reference"):
        _extend((tmp_path / "compose.yaml").read_text(), tmp_path)


def test_missing_base_services_are_errors(tmp_path):
    (tmp_path / "other.yaml").write_text("services:\n  x: {image: x}\n")
    with pytest.raises(ComposeError, match=r'cannot extend service "a" in .*: service "nope" not found$'):
        _extend("services:\n  a: {extends: nope}\n", tmp_path)
    with pytest.raises(ComposeError, match=r'service "nope" not found in other.yaml'):
        _extend("services:\n  a: {extends: {file: other.yaml, service: nope}}\n", tmp_path)


def test_relocate_to_absolute_for_includes(tmp_path):
    out = relocate_service({"build": "app", "volumes": ["./d:/d"]}, str(tmp_path), None)
    assert out == {"build": str(tmp_path / "app"), "volumes": [f"{tmp_path / 'd'}:/d"]}


def test_input_model_is_not_modified(tmp_path):
    model = {"services": {"a": {"extends": "b", "ports": ["1:1"]}, "b": {"image": "x"}}}
    apply_extends(model, file=str(tmp_path / "c.yaml"), load_file=_load_doc)
    assert model["services"]["a"] == {"extends": "b", "ports": ["1:1"]}


def test_load_file_may_return_documents_or_plain_dicts(tmp_path):
    (tmp_path / "other.yaml").write_text(
        "services:\n  init: {image: alpine, command: sleep}\n---\n"
        "services:\n  base: {extends: init, command: !reset null}\n"
    )
    model = {"services": {"test": {"extends": {"file": "other.yaml", "service": "base"}}}}
    file = str(tmp_path / "c.yaml")

    def documents(path: str):
        return parse_yaml(pathlib.Path(path).read_text(), path)

    out = apply_extends(model, file=file, load_file=documents)
    assert out["services"]["test"] == {"image": "alpine"}

    out = apply_extends(model, file=file, load_file=lambda p: {"services": {"base": {"image": "busybox"}}})
    assert out["services"]["test"] == {"image": "busybox"}


def test_errors_point_at_the_extends_line(tmp_path):
    file = str(tmp_path / "compose.yaml")
    doc = parse_yaml("services:\n  web:\n    image: x\n  a:\n    extends: nope\n", file)[0]
    with pytest.raises(ComposeError) as err:
        apply_extends(doc.data, file=file, load_file=_load_doc, pos=doc.pos)
    assert str(err.value).startswith(f"{file}:5:5: cannot extend service \"a\"")


def test_errors_inside_the_other_file_point_there(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("services:\n  b:\n    extends: missing\n")
    file = str(tmp_path / "compose.yaml")
    doc = parse_yaml("services:\n  a:\n    extends: {file: other.yaml, service: b}\n", file)[0]
    with pytest.raises(ComposeError) as err:
        apply_extends(doc.data, file=file, load_file=_load_doc, pos=doc.pos)
    assert str(err.value).startswith(f"{other}:3:5: ")


def test_override_tag_in_a_middle_file(tmp_path):
    # compose-go loader/override_test.go TestOverrideMiddle (docker/compose#13298)
    (tmp_path / "base.yaml").write_text("services:\n  base:\n    volumes: [/foo:/foo]\n    networks: [foo]\n")
    (tmp_path / "override.yaml").write_text(
        "services:\n  override:\n    extends: {file: ./base.yaml, service: base}\n"
        "    volumes: !override\n      - /bar:/bar\n    networks: !override\n      - bar\n"
    )
    services = _extend(
        "services:\n  test:\n    image: test\n    extends: {file: ./override.yaml, service: override}\n"
        "    volumes: [/zot:/zot]\n    networks: !override [zot]\n",
        tmp_path,
    )
    assert services["test"] == {"image": "test", "volumes": ["/bar:/bar", "/zot:/zot"], "networks": ["zot"]}


def test_override_tag_does_not_leak_to_services_extending_it(tmp_path):
    # compose-go loader/override_test.go TestOverrideSelfExtends (docker/compose#13346)
    services = _extend(
        "services:\n"
        "  depend_base: {image: nginx}\n"
        "  depend_one: {image: nginx}\n"
        "  depend_two: {extends: {service: depend_one}}\n"
        "  main_one: {image: nginx, depends_on: [depend_one], ports: ['8090:80']}\n"
        "  main_two:\n    extends: main_one\n    depends_on: !override\n      - depend_two\n"
        "  main: {extends: {service: main_two}, depends_on: [depend_base]}\n",
        tmp_path,
    )
    started = {"condition": "service_started", "required": True}
    assert services["main"]["depends_on"] == {"depend_two": started, "depend_base": started}
    assert services["main"]["ports"] == ["8090:80"]
