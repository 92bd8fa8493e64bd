"""Docker's health check state machine, pure: probe results in, status and next probe time out.

Semantics follow moby's ``daemon/health.go``:

* every (re)start sets the status to ``starting`` with a failing streak of 0;
* a probe exiting 0 makes the container ``healthy`` and resets the streak;
* any other result (including -1 for a timeout or an exec error) adds to the
  streak, except while still ``starting`` and the probe began inside
  ``start_period``; reaching ``retries`` makes it ``unhealthy``;
* the next probe is due ``interval`` after the previous one ended, or
  ``start_interval`` while ``starting`` inside the start period (never past the
  period's end);
* the last 5 results are kept, each output cut at 4 KiB.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "HealthConfig", "ProbeResult", "HealthState", "Status",
    "MAX_LOG_ENTRIES", "MAX_OUTPUT", "EXIT_HEALTHY",
]

MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
EXIT_HEALTHY = 0
Status = Literal["starting", "healthy", "unhealthy"]


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Probe timings in seconds with Docker's defaults (0 or None = default)."""

    test: tuple[str, ...] = ()
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0

    @classmethod
    def of(cls, check: Any) -> "HealthConfig":
        """From a compose ``Healthcheck`` or an engine ``HealthcheckSpec``; unset values default."""
        def pick(name: str, default: float) -> float:
            value = getattr(check, name, None)
            return default if not value else float(value)

        return cls(
            test=tuple(getattr(check, "test", ()) or ()),
            interval=pick("interval", 30.0),
            timeout=pick("timeout", 30.0),
            retries=int(pick("retries", 3)),
            start_period=pick("start_period", 0.0),
            start_interval=pick("start_interval", 5.0),
        )


def _cut(output: str) -> str:
    data = output.encode("utf-8", "replace")
    if len(data) <= MAX_OUTPUT:
        return output
    return data[:MAX_OUTPUT].decode("utf-8", "ignore") + "..."


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe run: start/end times, exit code (-1 = timed out or could not run), output."""

    start: float
    end: float
    exit_code: int
    output: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", _cut(self.output))

    @classmethod
    def timed_out(cls, start: float, end: float, timeout: float) -> "ProbeResult":
        """The result Docker records when a probe outlives its timeout."""
        return cls(start, end, -1, f"Health check exceeded timeout ({timeout:g}s)")

    @classmethod
    def error(cls, start: float, end: float, message: str) -> "ProbeResult":
        """A probe that could not be run counts as a failure with exit code -1."""
        return cls(start, end, -1, message)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_HEALTHY


@dataclass(frozen=True, slots=True)
class HealthState:
    """A running container's health: status, failing streak and the last results."""

    config: HealthConfig
    started_at: float
    status: Status = "starting"
    failing_streak: int = 0
    log: tuple[ProbeResult, ...] = ()

    def restarted(self, started_at: float) -> "HealthState":
        """The state after the container (re)starts: ``starting`` again, streak 0, log kept."""
        return replace(self, started_at=started_at, status="starting", failing_streak=0)

    def in_start_period(self, t: float) -> bool:
        return t - self.started_at < self.config.start_period

    def step(self, result: ProbeResult, now: float) -> "HealthState":
        """The state after ``result``; ``now`` stands in for a result without a start time."""
        log = (*self.log, result)[-MAX_LOG_ENTRIES:]
        if result.ok:
            return replace(self, status="healthy", failing_streak=0, log=log)
        began = result.start or now
        if self.status == "starting" and self.in_start_period(began):
            return replace(self, log=log)  # failures during the start period do not count
        streak = self.failing_streak + 1
        status: Status = "unhealthy" if streak >= self.config.retries else self.status
        return replace(self, status=status, failing_streak=streak, log=log)

    def next_probe_at(self, now: float) -> float:
        """When the next probe is due, ``now`` being the container start or the last probe's end."""
        cfg = self.config
        if self.status == "starting" and self.in_start_period(now):
            period_end = self.started_at + cfg.start_period
            return min(now + cfg.start_interval, period_end)
        return now + cfg.interval

    def changed_from(self, before: "HealthState") -> bool:
        """Whether a ``health_status`` event is due (the status differs)."""
        return self.status != before.status

    def to_docker(self) -> dict[str, Any]:
        """The ``State.Health`` object ``docker inspect`` shows (times as epoch seconds)."""
        return {
            "Status": self.status,
            "FailingStreak": self.failing_streak,
            "Log": [{"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output}
                    for r in self.log],
        }
