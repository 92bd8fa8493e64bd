"""Docker's restart policies as a pure decision: should this exited container restart, and when?

The rules are moby's restart manager's, plus what Swarm honours and Compose
drops from ``deploy.restart_policy``:

* ``no`` never restarts; ``always`` and ``unless-stopped`` always restart after
  an exit; ``on-failure[:N]`` restarts on a non-zero exit while fewer than N
  restarts happened (0 = unlimited).
* A manual stop is never restarted, whatever the policy.
* Backoff: 100 ms, doubling on each restart, capped at 1 min; a run that lasted
  10 s or more resets it to 100 ms.
* ``deploy.restart_policy``: ``condition`` none|on-failure|any, ``max_attempts``
  (for every condition), ``window`` (only restarts inside the last window count
  toward max_attempts) and ``delay`` (the first backoff step instead of 100 ms).
* Giving up leaves the slot ``failed`` (visible) instead of spinning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from orchestrator.compose.model import Service

__all__ = [
    "RestartPolicy", "RestartHistory", "RestartDecision", "decide", "start_at_boot",
    "policy_of", "DEFAULT_DELAY", "MAX_DELAY", "RESET_AFTER",
]

DEFAULT_DELAY = 0.1  # moby restartmanager defaultTimeout
MAX_DELAY = 60.0  # maxRestartTimeout
RESET_AFTER = 10.0  # a run this long resets the backoff

Name = Literal["no", "always", "on-failure", "unless-stopped"]
_CONDITIONS: dict[str, Name] = {
    "none": "no", "no": "no", "on-failure": "on-failure", "any": "always", "always": "always",
    "unless-stopped": "unless-stopped",
}


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """An engine restart policy; ``max_retries`` 0 means unlimited."""

    name: Name = "no"
    max_retries: int = 0
    delay: float | None = None  # first backoff step (deploy.restart_policy.delay)
    window: float | None = None  # only restarts within this many seconds count toward max_retries

    @classmethod
    def parse(cls, text: str | None) -> "RestartPolicy":
        """``no``, ``always``, ``unless-stopped``, ``on-failure`` or ``on-failure:N``."""
        if not text:
            return cls()
        name, _, count = text.partition(":")
        if name not in ("no", "always", "on-failure", "unless-stopped"):
            raise ValueError(f"invalid restart policy {text!r}")
        if count and name != "on-failure":
            raise ValueError(f"maximum retry count cannot be used with restart policy {name!r}")
        try:
            retries = int(count) if count else 0
        except ValueError:
            raise ValueError(f"invalid restart policy {text!r}: {count!r} is not a number") from None
        if retries < 0:
            raise ValueError(f"invalid restart policy {text!r}: negative retry count")
        return cls(name, retries)  # type: ignore[arg-type]

    @property
    def enabled(self) -> bool:
        return self.name != "no"


def policy_of(service: Service) -> RestartPolicy:
    """The service's policy: ``deploy.restart_policy`` wins over ``restart``, as in Compose."""
    deploy = service.deploy.restart_policy if service.deploy else None
    if deploy is None:
        return RestartPolicy.parse(service.restart)
    name = _CONDITIONS.get(deploy.condition or "any")
    if name is None:
        raise ValueError(f"service {service.name!r}: invalid restart condition {deploy.condition!r}")
    return RestartPolicy(name, deploy.max_attempts or 0, deploy.delay, deploy.window or None)


@dataclass(frozen=True, slots=True)
class RestartHistory:
    """What the restart manager remembers about a slot (times on the caller's clock)."""

    exit_code: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    manually_stopped: bool = False
    restart_count: int = 0
    backoff: float = 0.0  # the last delay used; 0 = none yet
    restart_times: tuple[float, ...] = ()  # when earlier restarts were decided

    def after(self, decision: "RestartDecision") -> "RestartHistory":
        """The history once ``decision`` (a restart) has been applied."""
        if not decision.restart:
            return self
        return replace(self, restart_count=self.restart_count + 1, backoff=decision.delay,
                       restart_times=(*self.restart_times, decision.at - decision.delay)[-64:])


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """Restart after ``delay`` (at ``at``), or not; ``failed`` when the policy gave up."""

    restart: bool
    delay: float = 0.0
    at: float = 0.0
    failed: bool = False
    reason: str = ""


def _next_delay(policy: RestartPolicy, history: RestartHistory) -> float:
    base = policy.delay if policy.delay is not None else DEFAULT_DELAY
    cap = max(MAX_DELAY, base)
    ran = history.finished_at - history.started_at
    previous = 0.0 if ran >= RESET_AFTER else history.backoff
    return base if previous <= 0 else min(cap, previous * 2)


def _attempts(policy: RestartPolicy, history: RestartHistory, now: float) -> int:
    if policy.window is None:
        return history.restart_count
    return sum(1 for t in history.restart_times if now - t < policy.window)


def decide(policy: RestartPolicy, history: RestartHistory, now: float) -> RestartDecision:
    """Whether and when a container that just exited restarts under ``policy``."""
    if not policy.enabled:
        return RestartDecision(False, reason="restart policy is no")
    if history.manually_stopped:
        return RestartDecision(False, reason="stopped by the user")
    if policy.name == "on-failure" and history.exit_code == 0:
        return RestartDecision(False, reason="exited with code 0")
    if policy.max_retries and _attempts(policy, history, now) >= policy.max_retries:
        return RestartDecision(False, failed=True,
                               reason=f"gave up after {policy.max_retries} restarts "
                                      f"(last exit code {history.exit_code})")
    delay = _next_delay(policy, history)
    return RestartDecision(True, delay=delay, at=now + delay,
                           reason=f"exit code {history.exit_code}, restart #{history.restart_count + 1}")


def start_at_boot(policy: RestartPolicy, history: RestartHistory, running_before: bool) -> bool:
    """Whether a container is started when the daemon starts (moby's restore rules).

    ``always`` starts even after a manual stop; ``unless-stopped`` unless manually
    stopped; ``on-failure`` only if it was running or its last exit failed and
    retries remain; ``no`` never.
    """
    if policy.name == "always":
        return True
    if policy.name == "unless-stopped":
        return not history.manually_stopped
    if policy.name == "on-failure":
        if history.manually_stopped:
            return False
        if running_before:
            return True
        retries_left = not policy.max_retries or history.restart_count < policy.max_retries
        return history.exit_code != 0 and retries_left
    return False
