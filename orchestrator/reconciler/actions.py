"""The actions a plan is made of: frozen values the executor turns into engine calls.

Every action has a ``phase``: the executor runs phases in increasing order and
the actions inside one phase concurrently. Planning puts networks and volumes
before the containers that use them, removals before creations, and, for
``down``, each stop generation in its own phase (dependents first).
Informational actions (``WaitFor``, ``DependencyFailed``, ``Warn``,
``MarkFailed``) do nothing in the engine: they feed progress output and the
reconciler's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.reconciler.restart import RestartHistory

__all__ = [
    "Action", "CreateNetwork", "CreateVolume", "RemoveNetwork", "RemoveVolume",
    "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "RestartContainer",
    "ReplaceUnhealthy", "WaitFor", "DependencyFailed", "Warn", "MarkFailed", "ENGINE_ACTIONS",
    "PHASE_RESOURCES", "PHASE_REMOVE", "PHASE_CONTAINERS", "PHASE_DEPENDENTS", "PHASE_INFO",
]

PHASE_RESOURCES = 0
PHASE_REMOVE = 10
PHASE_CONTAINERS = 20
PHASE_DEPENDENTS = 30
PHASE_INFO = 99


@dataclass(frozen=True, slots=True)
class Action:
    """Base of every action."""

    @property
    def phase(self) -> int:
        return PHASE_INFO

    @property
    def key(self) -> str:
        """What the action is about, for progress lines (``web-1``, ``network p_default``)."""
        return ""


@dataclass(frozen=True, slots=True)
class CreateNetwork(Action):
    """Create the engine network ``name`` (compose key ``network``) if it does not exist."""

    name: str
    network: str = ""

    @property
    def phase(self) -> int:
        return PHASE_RESOURCES

    @property
    def key(self) -> str:
        return f"network {self.name}"


@dataclass(frozen=True, slots=True)
class CreateVolume(Action):
    """Create the engine volume ``name`` (compose key ``volume``) if it does not exist."""

    name: str
    volume: str = ""

    @property
    def phase(self) -> int:
        return PHASE_RESOURCES

    @property
    def key(self) -> str:
        return f"volume {self.name}"


@dataclass(frozen=True, slots=True)
class RemoveNetwork(Action):
    """Delete a project network (``down``), after every container left it."""

    name: str
    order: int = 1000

    @property
    def phase(self) -> int:
        return self.order

    @property
    def key(self) -> str:
        return f"network {self.name}"


@dataclass(frozen=True, slots=True)
class RemoveVolume(Action):
    """Delete a project volume (``down -v``)."""

    name: str
    order: int = 1000

    @property
    def phase(self) -> int:
        return self.order

    @property
    def key(self) -> str:
        return f"volume {self.name}"


@dataclass(frozen=True, slots=True)
class _Slot(Action):
    service: str
    number: int
    name: str

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class CreateContainer(_Slot):
    """Create (and unless ``start`` is False, start) the replica ``number`` of ``service``.

    ``replace`` names an existing container to stop and remove first (recreate in
    place, stop-first); ``rollout`` marks one batch of a rolling update.
    """

    config_hash: str = ""
    replace: str | None = None
    start: bool = True
    rollout: bool = False
    reason: str = ""

    @property
    def phase(self) -> int:
        return PHASE_CONTAINERS


@dataclass(frozen=True, slots=True)
class StartContainer(_Slot):
    """Start an existing created or stopped container."""

    @property
    def phase(self) -> int:
        return PHASE_CONTAINERS


@dataclass(frozen=True, slots=True)
class StopContainer(_Slot):
    """Stop a running container (signal, grace period, then SIGKILL)."""

    timeout: float | None = None
    order: int = PHASE_REMOVE

    @property
    def phase(self) -> int:
        return self.order


@dataclass(frozen=True, slots=True)
class RemoveContainer(_Slot):
    """Remove a container, stopping it first if it runs (scale down, orphans, ``down``)."""

    timeout: float | None = None
    order: int = PHASE_REMOVE
    reason: str = ""
    volumes: bool = False  # also remove its anonymous volumes (down -v, rm -v)

    @property
    def phase(self) -> int:
        return self.order


@dataclass(frozen=True, slots=True)
class RestartContainer(_Slot):
    """Wait ``backoff`` seconds (until ``at``), then start it again (stopping it if it runs).

    ``history`` is the slot's restart history once this restart counts; the
    reconciler stores it for the next decision (None when it was stored already,
    for a restart deferred with :func:`plan_state.defer`).
    """

    backoff: float = 0.0
    at: float = 0.0
    history: RestartHistory | None = None
    reason: str = ""
    dependent: bool = False  # a ``depends_on: {restart: true}`` restart, after the dependency's recreate

    @property
    def phase(self) -> int:
        return PHASE_DEPENDENTS if self.dependent else PHASE_CONTAINERS


@dataclass(frozen=True, slots=True)
class ReplaceUnhealthy(_Slot):
    """Recreate an unhealthy replica in its slot after ``backoff`` (shoal; Swarm does, Docker never)."""

    config_hash: str = ""
    backoff: float = 0.0
    at: float = 0.0
    history: RestartHistory | None = None

    @property
    def phase(self) -> int:
        return PHASE_CONTAINERS


@dataclass(frozen=True, slots=True)
class WaitFor(Action):
    """``service`` waits: for ``dependency`` to meet ``condition``, or for its own rollout.

    ``until`` is set when the wait ends at a known time (update delay), so the
    reconciler can requeue the service then.
    """

    service: str
    dependency: str
    condition: str
    until: float | None = None

    @property
    def key(self) -> str:
        return self.service


@dataclass(frozen=True, slots=True)
class DependencyFailed(Action):
    """``service`` cannot start; ``message`` is worded as Compose words it."""

    service: str
    dependency: str
    message: str

    @property
    def key(self) -> str:
        return self.service


@dataclass(frozen=True, slots=True)
class Warn(Action):
    """A warning for the user (orphans, optional dependency missing, scale capped)."""

    message: str


@dataclass(frozen=True, slots=True)
class MarkFailed(_Slot):
    """The restart policy gave up on this slot: it stays visible as ``failed``."""

    reason: str = ""


ENGINE_ACTIONS = (CreateNetwork, CreateVolume, RemoveNetwork, RemoveVolume, CreateContainer,
                  StartContainer, StopContainer, RemoveContainer, RestartContainer, ReplaceUnhealthy)
