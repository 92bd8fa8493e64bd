"""``profiles``: enabling services by profile, by target and by dependency; dependency errors."""

from __future__ import annotations

import pytest

from orchestrator.compose.errors import ComposeError
from orchestrator.compose.parse import parse_yaml
from orchestrator.compose.profiles import all_profiles, apply_profiles


def _model(text: str) -> dict:
    return parse_yaml(text, "compose.yaml")[0].data


# compose-go loader/tests/profiles_test.go
BASIC = _model("""
services:
  foo: {image: alpine, profiles: [debug, dev]}
  bar: {image: alpine}
""")

# the example of the Compose profiles documentation
DOCS = _model("""
services:
  web: {image: web}
  mock-backend: {image: backend, profiles: [dev], depends_on: [db]}
  db: {image: mysql, profiles: [dev]}
  phpmyadmin: {image: phpmyadmin, profiles: [debug], depends_on: [db]}
""")


def _names(model: dict) -> list[str]:
    return list(model["services"])


@pytest.mark.parametrize("active,expected", [
    ([], ["bar"]),
    (["debug"], ["foo", "bar"]),
    (["dev", "other"], ["foo", "bar"]),
    (["*"], ["foo", "bar"]),
    (["other"], ["bar"]),
])
def test_services_enabled_by_active_profiles(active, expected):
    assert _names(apply_profiles(BASIC, active)) == expected


def test_all_profiles_sorted_unique():
    assert all_profiles(BASIC) == ["debug", "dev"]
    assert all_profiles(DOCS) == ["debug", "dev"]
    assert all_profiles({"services": {"a": {"image": "x"}}}) == []


def test_profile_enables_a_group():
    assert _names(apply_profiles(DOCS, ["dev"])) == ["web", "mock-backend", "db"]


def test_dependency_on_disabled_service_is_an_error():
    with pytest.raises(ComposeError) as err:
        apply_profiles(DOCS, ["debug"])
    assert str(err.value) == (
        'service "db" is required by "phpmyadmin" but is disabled. Can be enabled by profiles [dev]'
    )


def test_targeted_service_enables_its_profiles_and_dependencies():
    out = apply_profiles(DOCS, [], targeted=["phpmyadmin"])
    assert _names(out) == ["web", "db", "phpmyadmin"]


def test_targeted_dependencies_are_followed_transitively():
    model = _model("""
services:
  web: {image: w, profiles: [front], depends_on: {api: {condition: service_healthy}}}
  api: {image: a, depends_on: [db]}
  db: {image: d, profiles: [data]}
  other: {image: o, profiles: [data]}
""")
    assert _names(apply_profiles(model, [], ["web"])) == ["web", "api", "db"]


def test_optional_dependency_on_disabled_service_is_dropped():
    model = _model("""
services:
  app:
    image: a
    depends_on:
      db: {condition: service_started, required: false}
      cache: {condition: service_started}
  db: {image: d, profiles: [db]}
  cache: {image: c}
""")
    out = apply_profiles(model, [])
    assert out["services"]["app"]["depends_on"] == {"cache": {"condition": "service_started"}}
    assert "db" not in out["services"]


def test_undefined_dependency_is_an_error():
    with pytest.raises(ComposeError, match='service "a" depends on undefined service "b"'):
        apply_profiles({"services": {"a": {"image": "x", "depends_on": ["b"]}}}, [])


def test_unknown_targeted_service_is_an_error():
    with pytest.raises(ComposeError, match="no such service: nope"):
        apply_profiles(BASIC, [], ["nope"])


def test_input_is_not_modified_and_other_sections_kept():
    model = {"services": {"a": {"image": "x", "profiles": ["p"]}}, "networks": {"n": {}}}
    out = apply_profiles(model, [])
    assert out == {"services": {}, "networks": {"n": {}}}
    assert model["services"]["a"]["profiles"] == ["p"]


from hypothesis import given, settings, strategies as st  # noqa: E402

_NAMES = st.sampled_from(["a", "b", "c", "d"])
_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.booleans())
_DEPENDS = st.one_of(_VALUES, st.lists(st.one_of(_NAMES, _VALUES), max_size=3),
                     st.dictionaries(_NAMES, st.one_of(_VALUES, st.fixed_dictionaries(
                         {"required": st.one_of(st.booleans(), st.sampled_from(["false", "true"]), _VALUES)})),
                         max_size=3))
_SERVICE = st.one_of(_VALUES, st.fixed_dictionaries({}, optional={
    "profiles": st.one_of(_VALUES, st.lists(st.sampled_from(["p", "q", "*"]), max_size=2)),
    "depends_on": _DEPENDS,
}))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, _SERVICE, max_size=4), st.lists(st.sampled_from(["p", "q", "*"])),
       st.lists(_NAMES, max_size=2))
def test_random_models_apply_or_raise_compose_error(services, active, targeted):
    try:
        out = apply_profiles({"services": services}, active, targeted)
    except ComposeError:
        return
    enabled = out["services"]
    assert set(targeted) <= set(enabled)
    for name, svc in enabled.items():
        deps = svc.get("depends_on") if isinstance(svc, dict) else None
        names = deps if isinstance(deps, list) else list(deps) if isinstance(deps, dict) else []
        assert all(str(d) in enabled for d in names)


def test_dependency_error_points_at_depends_on():
    doc = parse_yaml("services:\n  a:\n    image: x\n    depends_on: [b]\n", "compose.yaml")[0]
    with pytest.raises(ComposeError) as err:
        apply_profiles(doc.data, [], pos=doc.pos)
    assert str(err.value) == 'compose.yaml:4:5: service "a" depends on undefined service "b"'
