"""Re-adoption after a crash: clear what a daemon killed mid-create or mid-start left behind.

The engine keeps every container on disk, so adopting is mostly reading. Two
leftovers need a hand: a container directory without its ``state.json`` (the
create was cut short: it never ran and does not list, yet may hold its name), and a container whose monitor died before reporting
any exit (the start was cut short: its cgroup may still hold the process).
Both are removed, so the slot is simply created again: creates stay idempotent.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from engine.state import ContainerInfo

__all__ = ["half_created", "discard_half_created", "interrupted_start"]

log = logging.getLogger("shoald.adopt")


def half_created(containers_dir: str) -> list[str]:
    """Container directories without a state file (called at start, before any create runs)."""
    out = []
    for cid in sorted(os.listdir(containers_dir)):
        if cid.startswith("."):  # the engine's own staging area (.creating), cleaned by the engine
            continue
        base = os.path.join(containers_dir, cid)
        if os.path.isdir(base) and not os.path.exists(os.path.join(base, "state.json")):
            out.append(cid)
    return out


def discard_half_created(engine: Any) -> list[str]:
    """Delete containers whose create never finished; returns their ids."""
    from engine.container.lifecycle import discard_partial

    discard_partial(engine.containers_dir, older_than=0.0)  # nothing is being created at start
    ids = half_created(engine.containers_dir)
    for cid in ids:
        log.warning("removing container %s: its create was interrupted", cid[:12])
        shutil.rmtree(os.path.join(engine.run_dir, "containers", cid), ignore_errors=True)
        shutil.rmtree(os.path.join(engine.containers_dir, cid), ignore_errors=True)
    return ids


def interrupted_start(info: ContainerInfo) -> bool:
    """A container whose monitor died before recording any exit (the starter was killed mid-start)."""
    return info.state == "exited" and info.error == "monitor died" and not info.finished_at
