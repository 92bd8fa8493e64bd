"""What the reconciler sees of one container: engine state plus Compose labels.

The engine knows nothing of services; the orchestrator finds its containers by
the ``com.docker.compose.*`` labels it put on them. Health and restart counts
are kept by the orchestrator (probes, restart manager) and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping

from engine.state import ContainerInfo, parse_rfc3339

__all__ = [
    "ObservedContainer", "from_engine", "State", "Health",
    "LABEL_PROJECT", "LABEL_SERVICE", "LABEL_NUMBER", "LABEL_ONEOFF", "LABEL_CONFIG_HASH",
]

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"

State = Literal["created", "running", "paused", "restarting", "exited", "dead"]
Health = Literal["starting", "healthy", "unhealthy", "none"]


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    """One container as the planner sees it (times are epoch seconds, 0 = never)."""

    id: str
    name: str
    project: str = ""
    service: str = ""
    number: int = 0
    state: State = "created"
    exit_code: int = 0
    oom_killed: bool = False
    health: Health = "none"
    config_hash: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    created_at: float = 0.0
    restart_count: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    oneoff: bool = False

    @property
    def running(self) -> bool:
        """A live process (paused counts: it holds its slot and resumes)."""
        return self.state in ("running", "paused")

    @property
    def ready(self) -> bool:
        """Running and, when it has a healthcheck, healthy."""
        return self.state == "running" and self.health in ("healthy", "none")

    @property
    def completed(self) -> bool:
        """Exited with status 0 (what ``service_completed_successfully`` waits for)."""
        return self.state == "exited" and self.exit_code == 0

    def with_(self, **changes: Any) -> "ObservedContainer":
        """A copy with ``changes`` (tests and the probe manager update health this way)."""
        return replace(self, **changes)


def _epoch(text: str) -> float:
    if not text or text.startswith("0001-"):
        return 0.0
    try:
        return parse_rfc3339(text)
    except ValueError:
        return 0.0


def _number(labels: Mapping[str, str]) -> int:
    try:
        return int(labels.get(LABEL_NUMBER, "0"))
    except ValueError:
        return 0


def from_engine(info: ContainerInfo, *, health: Health = "none", restart_count: int = 0,
                restarting: bool = False) -> ObservedContainer:
    """Build the planner's view of an engine container; ``restarting`` = in restart backoff."""
    labels = dict(info.labels or {})
    state: State = info.state if info.state in ("created", "running", "paused", "exited") else "dead"
    if restarting and state == "exited":
        state = "restarting"
    return ObservedContainer(
        id=info.id,
        name=info.name,
        project=labels.get(LABEL_PROJECT, ""),
        service=labels.get(LABEL_SERVICE, ""),
        number=_number(labels),
        state=state,
        exit_code=info.exit_code,  # the monitor already reports 128+signal, like Docker
        oom_killed=info.oom_killed,
        health=health if state in ("running", "paused") else "none",
        config_hash=labels.get(LABEL_CONFIG_HASH, ""),
        started_at=_epoch(info.started_at),
        finished_at=_epoch(info.finished_at),
        created_at=_epoch(info.created_at),
        restart_count=restart_count,
        labels=labels,
        oneoff=labels.get(LABEL_ONEOFF, "False").lower() == "true",
    )
