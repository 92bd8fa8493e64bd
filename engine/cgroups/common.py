"""Helpers both drivers share: signalling a pid list and waiting for a cgroup to empty."""

from __future__ import annotations

import os
import time
from typing import Callable

from engine.cgroups.base import Cgroup, CgroupError

__all__ = ["parse_pids", "signal_pids", "wait_empty", "signal_frozen"]


def parse_pids(text: str) -> list[int]:
    """Pids from the content of a cgroup.procs file."""
    return [int(tok) for tok in text.split()]


def signal_pids(pids: list[int], sig: int) -> None:
    """Send ``sig`` to each pid; processes that already exited are skipped."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_empty(procs: Callable[[], list[int]], what: str, timeout: float = 5.0) -> None:
    """Poll ``procs`` until it returns nothing; CgroupError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while procs():
        if time.monotonic() > deadline:
            raise CgroupError(f"{what}: processes still present after {timeout}s: {procs()}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def signal_frozen(cg: Cgroup, sig: int) -> None:
    """Freeze so nothing forks meanwhile, signal every pid, thaw.

    If freezing times out (a task stuck in the kernel), signal anyway, as runc does:
    killing matters more than the race the freeze prevents.
    """
    try:
        cg.freeze()
    except CgroupError:
        pass
    try:
        signal_pids(cg.procs(), sig)
    finally:
        cg.thaw()
