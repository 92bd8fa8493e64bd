"""Steering commands are parsed strictly: only names and counts, only allowed projects and actions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.events.steering import Refusal, SteeringCommand, SteeringPolicy, parse_command, result_payload

POLICY = SteeringPolicy.of(["shop"], ["scale", "restart", "up", "down"])
KNOWN = {"shop", "lab"}


def parse(body, project: str = "shop", policy=POLICY, **kw):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_command(payload, project, policy, KNOWN, **kw)


def test_allowed_commands():
    assert parse({"id": "1", "action": "scale", "service": "web", "replicas": 0}) == \
           SteeringCommand("1", "shop", "scale", "web", 0)
    assert parse({"id": "a.b:c-d_e", "action": "restart"}) == SteeringCommand("a.b:c-d_e", "shop", "restart")
    assert parse({"id": "x", "action": "down"}) == SteeringCommand("x", "shop", "down")


@pytest.mark.parametrize("body,reason", [
    (b"\xff\xfe", "command is not valid UTF-8 JSON"),
    (b"[1, 2", "command is not valid UTF-8 JSON"),
    ({"id": "1", "action": "restart", "cmd": ["sh"]}, "unexpected field 'cmd': a command has only id, action"),
    ({"id": "1", "action": "exec"}, "action: 'exec' is not one of"),
    ({"id": "1"}, "'action' is a required property"),
    ({"action": "restart"}, "'id' is a required property"),
    ({"id": "1", "action": "scale", "service": "web"}, "'replicas' is a required property"),
    ({"id": "1", "action": "restart", "replicas": 2}, "field 'replicas' not accepted with action 'restart'"),
    ({"id": "1", "action": "up", "service": "web"}, "field 'service' not accepted with action 'up'"),
    ({"id": "1", "action": "scale", "service": "web", "replicas": 10**6}, "replicas: 1000000 is greater"),
    ({"id": "1", "action": "scale", "service": "web", "replicas": "3"}, "replicas: '3' is not of type"),
    ({"id": "1", "action": "restart", "service": "/etc/passwd"}, "service: value not allowed"),
    ({"id": "1", "action": "restart", "service": "a..b"}, "service: value not allowed"),
    ({"id": "1", "action": "restart", "service": "$(reboot)"}, "service: value not allowed"),
    ({"id": "../x", "action": "restart"}, "id: value not allowed"),
    ([{"id": "1", "action": "restart"}], "is not of type 'object'"),
])
def test_malformed_refused_with_reason(body, reason):
    got = parse(body)
    assert isinstance(got, Refusal)
    assert got.reason.startswith(reason) or reason in got.reason, got.reason


def test_policy_and_known_projects():
    assert parse({"id": "1", "action": "stop"}).reason == "action 'stop' not allowed"
    assert parse({"id": "1", "action": "restart"}, project="lab").reason == "steering not allowed for project 'lab'"
    wildcard = SteeringPolicy.of(["*"], ["restart"])
    assert parse({"id": "1", "action": "restart"}, project="lab", policy=wildcard) == \
           SteeringCommand("1", "lab", "restart")
    assert parse({"id": "1", "action": "restart"}, project="ghost", policy=wildcard).reason == \
           "unknown project 'ghost'"
    assert parse({"id": "1", "action": "restart"}, project="Bad/..", policy=wildcard).reason == \
           "invalid project name in topic"
    assert parse({"id": "1", "action": "restart"}, policy=None).reason == "steering is disabled on this daemon"
    with pytest.raises(ValueError, match="unknown steering actions: rm"):
        SteeringPolicy.of(["shop"], ["rm"])


def test_size_limit_and_retained_and_correlation():
    big = json.dumps({"id": "7", "action": "restart", "service": "w" * 1100}).encode()
    assert parse(big) == Refusal(None, "command larger than 1024 bytes")
    assert parse({"id": "7", "action": "restart"}, retained=True).id == "7"
    assert "retained" in parse({"id": "7", "action": "restart"}, retained=True).reason
    assert parse({"id": "7", "action": "nope"}).id == "7"       # refusals still carry a readable id


def test_result_payloads():
    cmd = SteeringCommand("9", "shop", "scale", "web", 2)
    assert result_payload(cmd, True, "done", {"replicas": 2}) == {
        "id": "9", "ok": True, "message": "done", "action": "scale", "service": "web", "result": {"replicas": 2}}
    assert result_payload(Refusal(None, "nope"), False, "nope") == {"id": None, "ok": False, "message": "nope"}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "action", "service", "replicas", "file", "path"]),
                       st.one_of(st.text(max_size=40), st.integers(-5, 2000), st.none(), st.booleans()),
                       max_size=5))
def test_nothing_accepted_names_a_path_or_extra_field(body):
    got = parse(body)
    if isinstance(got, SteeringCommand):
        assert set(body) <= {"id", "action", "service", "replicas"}
        assert got.action in POLICY.actions
        for value in (got.id, got.service or ""):
            assert "/" not in value and ".." not in value and " " not in value
