"""Health probes: one task per running container with a healthcheck, driving the pure state machine.

Probes run through ``engine.exec`` (the monitor joins the container's
namespaces and uses its user and environment). Each status change calls
``on_change`` so the reconciler re-plans (replace unhealthy, release
dependents) and events/DNS follow.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from orchestrator.clock import Clock
from orchestrator.reconciler.health import HealthConfig, HealthState, ProbeResult

__all__ = ["ProbeManager", "probe_argv"]


def probe_argv(test: tuple[str, ...]) -> list[str]:
    """The command a healthcheck test runs: ``CMD`` argv or ``CMD-SHELL`` through /bin/sh -c."""
    if test and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:] if test and test[0] == "CMD" else test)


class ProbeManager:
    """Keeps one probe task per (container id, start time); health states by container id."""

    def __init__(self, engine: Any, clock: Clock,
                 on_change: Callable[[str, HealthState, HealthState], None]) -> None:
        self.engine = engine
        self.clock = clock
        self.on_change = on_change
        self.states: dict[str, HealthState] = {}
        self._tasks: dict[str, tuple[float, asyncio.Task[None]]] = {}

    def status(self, cid: str) -> str:
        st = self.states.get(cid)
        return st.status if st else "none"

    def ensure(self, cid: str, check: Any, started_at: float, running: bool,
               restored: dict[str, Any] | None = None) -> None:
        """Start, keep or stop the probe of one container from what the engine reports."""
        current = self._tasks.get(cid)
        if not running or check is None:
            if current:
                current[1].cancel()
                del self._tasks[cid]
            if not running:
                self.states.pop(cid, None)
            return
        if current and current[0] == started_at:
            return
        if current:
            current[1].cancel()
        state = HealthState(HealthConfig.of(check), started_at)
        if restored and restored.get("started_at") == started_at and restored.get("status"):
            state = HealthState(state.config, started_at, restored["status"],
                                int(restored.get("failing_streak", 0)))
        self.states[cid] = state
        task = asyncio.get_running_loop().create_task(self._run(cid, tuple(check.test)))
        self._tasks[cid] = (started_at, task)

    def forget_missing(self, live: set[str]) -> None:
        """Stop probes of containers that no longer exist."""
        for cid in [c for c in self._tasks if c not in live]:
            self._tasks.pop(cid)[1].cancel()
            self.states.pop(cid, None)

    async def _run(self, cid: str, test: tuple[str, ...]) -> None:
        argv = probe_argv(test)
        state = self.states[cid]
        at = state.next_probe_at(self.clock.time()) if state.status == "starting" else \
            self.clock.time() + state.config.interval
        while True:
            await self.clock.sleep(at - self.clock.time())
            result = await self._probe(cid, argv, state.config.timeout)
            before, state = state, state.step(result, self.clock.time())
            self.states[cid] = state
            if state.changed_from(before) or before.failing_streak != state.failing_streak:
                self.on_change(cid, before, state)
            at = state.next_probe_at(result.end)

    async def _probe(self, cid: str, argv: list[str], timeout: float) -> ProbeResult:
        start = self.clock.time()
        try:
            res = await asyncio.wait_for(
                asyncio.to_thread(self.engine.exec, cid, argv, timeout=timeout + 1), timeout)
        except asyncio.TimeoutError:
            return ProbeResult.timed_out(start, self.clock.time(), timeout)
        except Exception as exc:  # not running any more, monitor gone: a failed probe
            return ProbeResult.error(start, self.clock.time(), str(exc))
        out = (res.stdout + res.stderr).decode("utf-8", "replace")
        return ProbeResult(start, self.clock.time(), res.exit_code, out)

    def close(self) -> None:
        for _, task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
