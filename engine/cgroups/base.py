"""The cgroup seam: one Protocol for v1 and v2, the stats record and the error root."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import Protocol, Sequence

from engine.spec import DeviceSpec, ResourceSpec

__all__ = [
    "PARENT",
    "MIN_MEMORY",
    "CgroupError",
    "CgroupStats",
    "Cgroup",
    "CgroupDriver",
    "check_name",
    "check_resources",
]

PARENT = "shoal"  # every cgroup shoal makes lives under this parent, in every hierarchy
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses smaller memory limits; so do we

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class CgroupError(Exception):
    """Any failure of a cgroup operation (missing controller, kernel refusal, timeout)."""


@dataclass(frozen=True, slots=True)
class CgroupStats:
    """Usage counters of one cgroup; a limit of 0 means "no limit" like ResourceSpec."""

    cpu_usage_ns: int = 0
    memory_usage: int = 0
    memory_limit: int = 0
    memory_max_usage: int = 0
    pids_current: int = 0
    pids_limit: int = 0
    io_read_bytes: int = 0
    io_write_bytes: int = 0


class Cgroup(Protocol):
    """One container's cgroup, in every hierarchy the driver manages.

    Lifecycle: a driver ``create``s it (limits and device rules applied, still
    empty), the runtime ``add_process``es the container's first process, which
    its descendants inherit; ``freeze``/``thaw`` pause and resume it;
    ``kill_all`` ends every process in it; ``remove`` deletes the now empty
    directories. ``stats`` and ``oom_killed`` may be read at any time, including
    after every process exited and before ``remove``.
    Vocabulary: ``name`` is shoal's name (no slashes), the directory is
    ``<hierarchy>/shoal/<name>``; "empty" means ``procs()`` returns ``[]``.
    """

    name: str

    def add_process(self, pid: int) -> None:
        """Move ``pid`` (and, for new children, its descendants) into this cgroup."""

    def procs(self) -> list[int]:
        """Pids currently in the cgroup."""

    def freeze(self) -> None:
        """Stop every process in the cgroup; returns once the kernel says frozen."""

    def thaw(self) -> None:
        """Resume a frozen cgroup."""

    def frozen(self) -> bool:
        """True while the cgroup is frozen."""

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process (freeze, signal, thaw) and wait, bounded, until empty."""

    def stats(self) -> CgroupStats:
        """Current usage counters and limits."""

    def oom_killed(self) -> bool:
        """True if the kernel OOM killer killed a process of this cgroup."""

    def remove(self) -> None:
        """Delete the cgroup (idempotent); kills nothing, retries EBUSY briefly."""


class CgroupDriver(Protocol):
    """Creates and finds shoal's cgroups in one cgroup filesystem (v1 or v2).

    Lifecycle: ``engine.cgroups.open_driver`` probes the host once and returns
    the v1 or v2 driver; the driver ``create``s a cgroup per container (limits
    from ``ResourceSpec`` and device rules applied before any process joins),
    ``open``s an existing one after a daemon restart, and ``list``s the names
    it owns so leftovers can be pruned after a crash.
    Vocabulary: ``version`` is 1 or 2; a *name* is shoal's per-container name
    (``[A-Za-z0-9][A-Za-z0-9_.-]*``), always placed under the ``shoal/``
    parent, so nothing outside that parent is ever written.
    """

    version: int

    def create(self, name: str, resources: ResourceSpec,
               devices: Sequence[DeviceSpec] = (), *, privileged: bool = False) -> Cgroup:
        """Make the cgroup, apply limits and device rules; error if it exists."""

    def open(self, name: str) -> Cgroup:
        """Return an existing cgroup; CgroupError if there is none."""

    def list(self) -> list[str]:
        """Names of the cgroups under ``shoal/``."""


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid cgroup name, else raise ValueError."""
    if not _NAME.match(name) or name in (".", ".."):
        raise ValueError(f"invalid cgroup name {name!r}")
    return name


def check_resources(res: ResourceSpec) -> None:
    """Reject limits the kernel would take but Docker refuses, before any mkdir."""
    if 0 < res.memory < MIN_MEMORY:
        raise ValueError("Minimum memory limit allowed is 6MB")
    if 0 < res.memory_reservation < MIN_MEMORY:
        raise ValueError("Minimum memory reservation allowed is 6MB")
    if res.memory_swap > 0 and res.memory and res.memory_swap < res.memory:
        raise ValueError("Minimum memoryswap limit should be larger than memory limit")
    if res.memory_swap > 0 and not res.memory:
        raise ValueError("You should always set the Memory limit when using Memoryswap limit")
    if res.cpus < 0 or res.cpu_shares < 0:
        raise ValueError("cpus and cpu_shares must not be negative")
    if res.blkio_weight and not 10 <= res.blkio_weight <= 1000:
        raise ValueError("Range of blkio weight is from 10 to 1000")
