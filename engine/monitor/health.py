"""Healthcheck probes run by the monitor, with Docker's semantics.

A probe is an exec in the container every ``interval`` (``start_interval`` during
``start_period``); exit 0 is healthy; a failure or a probe past ``timeout`` adds to
the failing streak, which turns the container unhealthy at ``retries`` (failures
inside the start period do not count). The status and the last five results go
into ``state.json`` under ``health``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from engine.state import now_rfc3339

if TYPE_CHECKING:  # pragma: no cover
    from engine.monitor.main import Monitor

__all__ = ["HealthProbe"]

_KEEP = 5
_MAX_OUTPUT = 4096


class HealthProbe:
    """Schedules probes through the monitor's timers and records their outcome."""

    def __init__(self, mon: "Monitor", hc: dict) -> None:
        self.mon, self.hc = mon, hc
        self.started = time.monotonic()
        self.job = None
        self.health = self.initial()
        self._schedule()

    @staticmethod
    def initial() -> dict:
        """The health record before the first probe."""
        return {"status": "starting", "failing_streak": 0, "log": []}

    def _in_start_period(self) -> bool:
        return time.monotonic() - self.started < float(self.hc.get("start_period") or 0)

    def _schedule(self) -> None:
        starting = self._in_start_period() and self.health["status"] == "starting"
        delay = float(self.hc["start_interval"] if starting else self.hc["interval"])
        self.mon.add_timer(max(delay, 0.01), self._run)

    def _run(self) -> None:
        if self.mon.exited:
            return
        if self.mon.state.get("state") == "paused":
            self._schedule()
            return
        from engine.monitor.execs import ExecJob

        self.begin = now_rfc3339()
        try:
            self.job = ExecJob(self.mon, None, {"argv": self.hc["argv"]}, on_done=self._done)
        except Exception as exc:  # noqa: BLE001 - counts as a failed probe
            self._done(-1, str(exc).encode())
            return
        self.mon.execs[self.job.pid] = self.job
        self.mon.add_timer(float(self.hc["timeout"]), self._expire, self.job)

    def _expire(self, job) -> None:
        if job is self.job and job.status is None:
            job.timed_out = True
            job.kill()

    def _done(self, code: int, output: bytes) -> None:
        if self.job is not None and getattr(self.job, "timed_out", False):
            code, output = -1, f"Health check exceeded timeout ({self.hc['timeout']}s)".encode()
        self.job = None
        h = self.health
        h["log"] = (h["log"] + [{"start": self.begin if hasattr(self, "begin") else now_rfc3339(),
                                 "end": now_rfc3339(), "exit_code": code,
                                 "output": output[:_MAX_OUTPUT].decode("utf-8", "replace")}])[-_KEEP:]
        if code == 0:
            h["status"], h["failing_streak"] = "healthy", 0
        elif not (self._in_start_period() and h["status"] == "starting"):
            h["failing_streak"] += 1
            if h["failing_streak"] >= int(self.hc["retries"]):
                h["status"] = "unhealthy"
        if not self.mon.exited:
            self.mon.save(health=h)
            self._schedule()
