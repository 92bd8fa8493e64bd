"""Steering over MQTT: which commands may run, and the strict parsing that decides it.

Off unless a ``SteeringPolicy`` names the projects and actions allowed. A
command is a small JSON object validated against ``schemas/cmd.schema.json``
(no extra fields, names restricted to compose's service-name characters, a
size cap); it can only name a project the daemon already knows, a service and a
replica count, never a file, a path or a command line. Everything here is pure.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from typing import Any, Iterable

import jsonschema

__all__ = ["SteeringPolicy", "SteeringCommand", "Refusal", "ACTIONS", "MAX_COMMAND_BYTES",
           "load_schema", "parse_command", "result_payload"]

ACTIONS = frozenset({"scale", "restart", "stop", "start", "up", "down"})
MAX_COMMAND_BYTES = 1024
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    """One of the payload schemas shipped in ``schemas/`` (``cmd``, ``cmd-result``, ``state``, ...)."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


_VALIDATOR = jsonschema.Draft202012Validator(load_schema("cmd"))


@dataclasses.dataclass(frozen=True)
class SteeringPolicy:
    """Which projects may be steered and with which actions; ``"*"`` in projects means any known one."""

    projects: frozenset[str]
    actions: frozenset[str]
    max_bytes: int = MAX_COMMAND_BYTES

    def __post_init__(self) -> None:
        unknown = set(self.actions) - ACTIONS
        if unknown:
            raise ValueError(f"unknown steering actions: {', '.join(sorted(unknown))}")

    @classmethod
    def of(cls, projects: Iterable[str], actions: Iterable[str]) -> "SteeringPolicy":
        """Build a policy from plain lists (``daemon.json``'s ``mqtt.steering``)."""
        return cls(frozenset(projects), frozenset(actions))

    def allows_project(self, project: str) -> bool:
        """True when the allow-list names ``project`` (or is ``*``)."""
        return "*" in self.projects or project in self.projects


@dataclasses.dataclass(frozen=True)
class SteeringCommand:
    """A validated command the executor is asked to run."""

    id: str
    project: str
    action: str
    service: str | None = None
    replicas: int | None = None


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why a message was not executed; answered on ``cmd/result`` with the id when one was readable."""

    id: str | None
    reason: str


def _correlation(data: Any) -> str | None:
    """The command's id if it is a well-formed one, so even a refusal can be matched."""
    if isinstance(data, dict) and isinstance(data.get("id"), str) and _ID_RE.match(data["id"]):
        return data["id"]
    return None


def _schema_reason(data: Any) -> str | None:
    """The first schema violation, said in one line, or None when valid."""
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "command"
    if error.validator == "additionalProperties":
        extra = sorted(set(data) - set(_VALIDATOR.schema["properties"])) if isinstance(data, dict) else []
        names = ", ".join(repr(k) for k in extra)
        return f"unexpected field {names}: a command has only id, action, service, replicas"
    if error.validator == "not" and not error.absolute_path:
        action = data.get("action") if isinstance(data, dict) else None
        field = "replicas" if action != "scale" and "replicas" in data else "service"
        return f"field {field!r} not accepted with action {action!r}"
    if error.validator in ("pattern", "not"):
        return f"{where}: value not allowed (names only: letters, digits, '_', '.', '-')"
    return f"{where}: {error.message}"


def parse_command(payload: bytes, project: str, policy: SteeringPolicy | None,
                  known_projects: Iterable[str], retained: bool = False) -> SteeringCommand | Refusal:
    """Decide whether ``payload`` on ``<prefix>/<project>/cmd`` runs; a Refusal says why not.

    A retained command is refused: it would run again on every reconnect.
    """
    if policy is None:
        return Refusal(None, "steering is disabled on this daemon")
    if len(payload) > policy.max_bytes:
        return Refusal(None, f"command larger than {policy.max_bytes} bytes")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Refusal(None, "command is not valid UTF-8 JSON")
    corr = _correlation(data)
    if retained:
        return Refusal(corr, "retained commands are refused (they would run again on every reconnect)")
    reason = _schema_reason(data)
    if reason:
        return Refusal(corr, reason)
    if not PROJECT_RE.match(project):
        return Refusal(corr, "invalid project name in topic")
    if not policy.allows_project(project):
        return Refusal(corr, f"steering not allowed for project {project!r}")
    if project not in set(known_projects):
        return Refusal(corr, f"unknown project {project!r}")
    if data["action"] not in policy.actions:
        return Refusal(corr, f"action {data['action']!r} not allowed")
    return SteeringCommand(data["id"], project, data["action"], data.get("service"), data.get("replicas"))


def result_payload(outcome: SteeringCommand | Refusal, ok: bool, message: str,
                   result: Any = None) -> dict[str, Any]:
    """The JSON answered on ``cmd/result`` (see ``schemas/cmd-result.schema.json``)."""
    body: dict[str, Any] = {"id": outcome.id, "ok": ok, "message": message}
    if isinstance(outcome, SteeringCommand):
        body["action"] = outcome.action
        if outcome.service:
            body["service"] = outcome.service
        if ok and result is not None:
            body["result"] = result
    return body
