"""Pure updates of the reconciler's memory (``PlanState``) from a plan and its results.

The daemon keeps one ``PlanState`` per project. Before executing, :func:`defer`
takes restarts whose backoff has not elapsed out of the plan and records them
(so a worker never sleeps holding its key: the caller requeues the service at
the returned time). After executing, :func:`advance` folds the results in:
restart histories, failed slots, rollout batch times, explicit starts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Mapping, Sequence

from orchestrator.reconciler.actions import (Action, CreateContainer, MarkFailed, RemoveContainer,
                                             ReplaceUnhealthy, RestartContainer, StartContainer)
from orchestrator.reconciler.plan import PlanState

__all__ = ["defer", "advance", "next_wakeup"]


def _without(mapping: Mapping[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != name}


def defer(state: PlanState, actions: Sequence[Action], now: float) -> tuple[PlanState, list[Action]]:
    """Record restarts due later in ``state.restart_at``; return the state and the actions to run now."""
    restarts, restart_at = dict(state.restarts), dict(state.restart_at)
    run_now: list[Action] = []
    for a in actions:
        if isinstance(a, (RestartContainer, ReplaceUnhealthy)) and a.history is not None and a.at > now:
            restarts[a.name] = a.history
            restart_at[a.name] = a.at
        else:
            run_now.append(a)
    return replace(state, restarts=restarts, restart_at=restart_at), run_now


def next_wakeup(state: PlanState, actions: Iterable[Action] = ()) -> float | None:
    """The earliest time a pass is due: a deferred restart or a wait with a known end."""
    times = list(state.restart_at.values())
    times += [until for a in actions if (until := getattr(a, "until", None))]
    return min(times) if times else None


def advance(state: PlanState, results: Iterable[Any], now: float) -> PlanState:
    """Fold executed results (objects with ``.action`` and ``.ok``) into the state."""
    restarts, restart_at = dict(state.restarts), dict(state.restart_at)
    failed, stopped = set(state.failed), set(state.manually_stopped)
    rollout = dict(state.last_rollout)
    for result in results:
        a, ok = result.action, result.ok
        if isinstance(a, MarkFailed):
            failed.add(a.name)
        if not ok:
            continue
        if isinstance(a, (RestartContainer, ReplaceUnhealthy)):
            if a.history is not None:
                restarts[a.name] = a.history
            restart_at.pop(a.name, None)
        elif isinstance(a, StartContainer):
            failed.discard(a.name)  # an explicit start clears "failed" and the manual-stop flag
            stopped.discard(a.name)
        elif isinstance(a, (RemoveContainer, CreateContainer)):
            gone = a.replace if isinstance(a, CreateContainer) else a.name
            if gone:  # a new container in the slot: its restart history starts over
                restarts.pop(gone, None)
                restart_at.pop(gone, None)
                failed.discard(gone)
                stopped.discard(gone)
            if isinstance(a, CreateContainer) and a.rollout:
                rollout[a.service] = now
    return replace(state, restarts=restarts, restart_at=restart_at, failed=frozenset(failed),
                   manually_stopped=frozenset(stopped), last_rollout=rollout)
