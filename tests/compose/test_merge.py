"""Merging override files: compose-go's merge triples, plus !reset / !override and rule details."""

from __future__ import annotations

import os
import pathlib

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.merge import go_str, merge_models, to_sequence
from orchestrator.compose.parse import parse_yaml
from orchestrator.compose.unicity import enforce_unicity
REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("SHOAL_SHARED", REPO.parent / "shared"))
OVERRIDE = SHARED / "conformance" / "compose-go" / "go-test-snippets" / "override"

# Tests whose Go source passes variables, so the extractor could not label the roles:
# (test dir, base file, override file, expected file), read from the Go test bodies.
MIXED = [
    ("merge_env_file/TestMergeEnvFilesMixed", "02-r", "01-l", "03-assertMergeYaml-arg0"),
    ("merge_env_file/TestMergeEnvFilesMixed", "01-l", "02-r", "04-assertMergeYaml-arg0"),
    ("merge_env_file/TestMergeEnvFilesMixed", "01-l", "05-r", "06-assertMergeYaml-arg0"),
    ("merge_mem/TestMemLimitMixed", "02-r", "01-l", "03-assertMergeYaml-arg0"),
    ("merge_mem/TestMemLimitMixed", "01-l", "02-r", "04-assertMergeYaml-arg0"),
    ("merge_tmpfs/TestMergeTmpfsMixed", "02-r", "01-l", "03-assertMergeYaml-arg0"),
    ("merge_tmpfs/TestMergeTmpfsMixed", "01-l", "02-r", "04-assertMergeYaml-arg0"),
    ("merge/Test_mergeOverrides", "01-right", "02-left", "03-expected"),
]


def _triples() -> list:
    if not OVERRIDE.is_dir():
        return []
    out = []
    for arg2 in sorted(OVERRIDE.glob("*/*/*-assertMergeYaml-arg2.yaml")):
        d = arg2.parent
        base = next(d.glob("*-assertMergeYaml-arg0.yaml"))
        over = next(d.glob("*-assertMergeYaml-arg1.yaml"))
        out.append(pytest.param(base, over, arg2, id=f"{d.parent.name}/{d.name}"))
    for rel, b, o, e in MIXED:
        d = OVERRIDE / rel
        out.append(pytest.param(d / f"{b}.yaml", d / f"{o}.yaml", d / f"{e}.yaml", id=f"{rel}:{o}-over-{b}"))
    return out


TRIPLES = _triples()


def _doc(path: pathlib.Path):
    return parse_yaml(path.read_text(), str(path))[0]


def test_all_conformance_triples_found():
    if not OVERRIDE.is_dir():
        pytest.skip(f"conformance data not found at {OVERRIDE}")
    assert len(TRIPLES) == 59 + len(MIXED)


@pytest.mark.parametrize("base_file,override_file,expected_file", TRIPLES)
def test_merge_triple(base_file, override_file, expected_file):
    base, over, expected = _doc(base_file), _doc(override_file), _doc(expected_file)
    merged = merge_models(base.data, over.data, over.resets, over.overrides)
    assert enforce_unicity(merged) == expected.data


def _merge_text(base: str, override: str) -> dict:
    b = parse_yaml(base, "base.yaml")[0]
    o = parse_yaml(override, "override.yaml")[0]
    return enforce_unicity(merge_models(b.data, o.data, o.resets, o.overrides))


def test_reset_removes_base_value():
    out = _merge_text(
        "services:\n  web:\n    image: a\n    ports: ['80:80']\n    command: run\n",
        "services:\n  web:\n    ports: !reset []\n    command: !reset null\n",
    )
    assert out == {"services": {"web": {"image": "a"}}}


def test_override_tag_replaces_instead_of_merging():
    out = _merge_text(
        "services:\n  web:\n    ports: ['80:80', '443:443']\n    environment: {A: '1', B: '2'}\n",
        "services:\n  web:\n    ports: !override ['8080:80']\n    environment: !override {C: '3'}\n",
    )
    assert out["services"]["web"]["ports"] == ["8080:80"]
    assert out["services"]["web"]["environment"] == {"C": "3"}


def test_command_and_healthcheck_test_are_replaced():
    out = _merge_text(
        "services:\n  web:\n    command: [a, b]\n    entrypoint: [sh]\n    healthcheck: {test: [CMD, x], interval: 5s}\n",
        "services:\n  web:\n    command: [c]\n    entrypoint: [bash, -c]\n    healthcheck: {test: [CMD, y]}\n",
    )
    web = out["services"]["web"]
    assert web["command"] == ["c"]
    assert web["entrypoint"] == ["bash", "-c"]
    assert web["healthcheck"] == {"test": ["CMD", "y"], "interval": "5s"}


def test_depends_on_list_and_map_merge_with_defaults():
    out = _merge_text(
        "services:\n  web:\n    depends_on: [db, cache]\n",
        "services:\n  web:\n    depends_on:\n      db: {condition: service_healthy}\n",
    )
    assert out["services"]["web"]["depends_on"] == {
        "db": {"condition": "service_healthy", "required": True},
        "cache": {"condition": "service_started", "required": True},
    }


def test_ports_redefined_by_override_are_not_duplicated():
    out = _merge_text(
        "services:\n  web:\n    ports: ['8080:80', '9090:90']\n",
        "services:\n  web:\n    ports: ['8080:80', '7070:70']\n",
    )
    assert out["services"]["web"]["ports"] == ["8080:80", "9090:90", "7070:70"]


def test_null_override_keeps_base_and_new_keys_are_added():
    out = _merge_text("services:\n  web:\n    image: a\n", "services:\n  web:\n    image:\n    init: true\n")
    assert out == {"services": {"web": {"image": "a", "init": True}}}


def test_build_string_becomes_context():
    out = _merge_text("services:\n  web:\n    build: ./app\n", "services:\n  web:\n    build: {target: dev}\n")
    assert out["services"]["web"]["build"] == {"context": "./app", "target": "dev"}


def test_ipam_pool_with_new_subnet_is_added():
    out = _merge_text(
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1}]\n",
        "networks:\n  n:\n    ipam:\n      config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.254}, {subnet: 10.1.0.0/24}]\n",
    )
    assert out["networks"]["n"]["ipam"]["config"] == [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.254"},
        {"subnet": "10.1.0.0/24"},
    ]


def test_inputs_are_not_modified():
    base = {"services": {"web": {"environment": {"A": "1"}, "ports": ["1:1"]}}}
    over = {"services": {"web": {"environment": ["B=2"], "ports": ["2:2"]}}}
    merge_models(base, over)
    assert base == {"services": {"web": {"environment": {"A": "1"}, "ports": ["1:1"]}}}
    assert over == {"services": {"web": {"environment": ["B=2"], "ports": ["2:2"]}}}


def test_type_conflict_is_a_compose_error():
    with pytest.raises(ComposeError, match=r"cannot override services\.web\.ports"):
        merge_models({"services": {"web": {"ports": ["1:1"]}}}, {"services": {"web": {"ports": {"a": 1}}}})


def test_values_are_rendered_like_go():
    assert to_sequence({"B": True, "A": 1.0, "C": None, "D": 1500000.0, "E": 0.5}) == [
        "A=1", "B=true", "C", "D=1.5e+06", "E=0.5",
    ]
    assert go_str(123456.0) == "123456"
    assert go_str(0.0001) == "0.0001"
    assert go_str(0.00001) == "1e-05"


# Random trees over the keys the rules care about: merging and de-duplicating
# either works or raises ComposeError, never anything else.
from hypothesis import given, settings, strategies as st  # noqa: E402

_KEYS = st.sampled_from([
    "services", "web", "environment", "labels", "ports", "volumes", "build", "args", "logging", "driver",
    "options", "depends_on", "networks", "aliases", "ulimits", "nofile", "ipam", "config", "subnet",
    "extra_hosts", "secrets", "configs", "devices", "env_file", "expose", "target", "published", "command",
    "healthcheck", "test", "models", "dns", "tmpfs", "path", "source", "x-any",
])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True),
                     st.sampled_from(["a", "A=1", "80:80", "/data", "./x:/y", "", "tcp"]))
_TREES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=30)
_SERVICES = st.dictionaries(st.sampled_from(["web", "db"]), st.dictionaries(_KEYS, _TREES, max_size=6), max_size=2)
_MODELS = st.one_of(
    st.dictionaries(_KEYS, _TREES, max_size=4),
    st.fixed_dictionaries({"services": _SERVICES}),
    st.fixed_dictionaries({"networks": st.dictionaries(st.just("n"), st.dictionaries(_KEYS, _TREES, max_size=3))}),
)


@settings(max_examples=250, deadline=None)
@given(_MODELS, _MODELS)
def test_random_trees_merge_or_raise_compose_error(base, override):
    try:
        enforce_unicity(merge_models(base, override))
    except ComposeError:
        pass


def test_merge_error_points_into_the_override_file():
    base = parse_yaml("services:\n  web:\n    ports: ['1:1']\n", "base.yaml")[0]
    over = parse_yaml("services:\n  web:\n    image: x\n    ports: {a: 1}\n", "over.yaml")[0]
    with pytest.raises(ComposeError) as err:
        merge_models(base.data, over.data, pos=over.pos)
    assert str(err.value).startswith("over.yaml:4:5: cannot override services.web.ports")


def test_path_patterns_match_element_by_element():
    from orchestrator.compose import paths

    assert paths.match("services.*.environment", ("services", "web", "environment"))
    assert paths.match("services.*.ulimits.*", ("services", "web", "ulimits", "nofile"))
    assert not paths.match("services.*.environment", ("services", "web", "environment", 0))
    assert not paths.match("services.*", ("volumes", "web"))
    assert paths.match("services.*.sysctls", ("services", "a.b", "sysctls"))  # dots inside keys are fine
    table = {"services.*.build": "any build", "services.web.build": "web build", "*.*.build": "wild"}
    assert paths.lookup(table, ("services", "web", "build")) == "web build"
    assert paths.lookup(table, ("services", "db", "build")) == "any build"
    assert paths.lookup(table, ("x", "db", "build")) == "wild"
    assert paths.lookup(table, ("services", "db")) is None
    assert paths.dotted(("services", "web", "ports", 2, "target")) == "services.web.ports[2].target"


def _merge_files(*texts: str) -> dict:
    model: dict = {}
    for i, text in enumerate(texts):
        doc = parse_yaml(text, f"f{i}.yaml")[0]
        model = enforce_unicity(merge_models(model, doc.data, doc.resets, doc.overrides))
    return model


def test_reset_of_whole_fields_and_of_mapping_keys():
    # compose-go loader/merge_reset_test.go Test_LoadWithReset
    out = _merge_files(
        "services:\n  foo:\n    build: {context: ., dockerfile: foo.Dockerfile}\n    environment: {FOO: BAR}\n",
        "services:\n  foo:\n    image: foo\n    build: !reset\n    environment:\n      FOO: !reset\n",
    )
    assert out == {"services": {"foo": {"image": "foo", "environment": []}}}


def test_reset_of_keys_already_merged_into_a_sequence():
    # docker/compose#11816: the reset key lives in a KEY=VAL list built by an earlier merge
    out = _merge_files(
        "services:\n  foo:\n    image: foo\n    environment: {FOO: BAR, KEEP: ME}\n    labels: {com.example.foo: bar}\n",
        "services:\n  foo:\n    environment: [ANOTHER=BAR, PASSTHROUGH]\n    labels: {com.example.extra: bar}\n",
        "services:\n  foo:\n    environment:\n      FOO: !reset\n      ANOTHER: !reset\n      PASSTHROUGH: !reset\n"
        "    labels:\n      com.example.foo: !reset\n",
    )
    assert out["services"]["foo"]["environment"] == ["KEEP=ME"]
    assert out["services"]["foo"]["labels"] == ["com.example.extra=bar"]


# compose-go loader/override_test.go: two files, the Go assertions written as expected values.
LOADER_OVERRIDES = [
    pytest.param("services:\n  test:\n    build: .\n", "services:\n  test:\n    build: {context: src}\n",
                 {"build": {"context": "src"}}, id="TestOverrideBuildContext"),
    pytest.param("services:\n  test:\n    depends_on: [foo]\n",
                 "services:\n  test:\n    depends_on:\n      foo: {condition: service_healthy, required: false}\n",
                 {"depends_on": {"foo": {"condition": "service_healthy", "required": False}}},
                 id="TestOverrideDepends_on"),
    pytest.param("services:\n  test:\n    networks: [test_network]\n",
                 "services:\n  test:\n    networks:\n      test_network: {aliases: [alias1, alias2]}\n",
                 {"networks": {"test_network": {"aliases": ["alias1", "alias2"]}}}, id="TestOverrideNetworks"),
    pytest.param("services:\n  test:\n    depends_on:\n      foo: {condition: service_healthy}\n",
                 "services:\n  test:\n    depends_on:\n      foo: {required: false}\n",
                 {"depends_on": {"foo": {"condition": "service_healthy", "required": False}}},
                 id="TestOverridePartial"),
    pytest.param("services:\n  test:\n    volumes: [./src:/src]\n", "services:\n  test:\n    volumes: [./src:/src]\n",
                 {"volumes": ["./src:/src"]}, id="TestOverrideVolume"),
]


@pytest.mark.parametrize("base,override,expected", LOADER_OVERRIDES)
def test_loader_override_cases(base, override, expected):
    assert _merge_files(base, override)["services"]["test"] == expected
