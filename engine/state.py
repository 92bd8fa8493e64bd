"""On-disk container state: paths, atomic JSON files, and the records the API returns.

The monitor owns ``state.json`` while the container runs and writes it atomically
(tmp + fsync + rename), so a crash or a new Engine always reads a whole state.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContainerPaths", "ContainerInfo", "ExitStatus", "ExecResult", "LogLine",
    "write_json_atomic", "read_json", "now_rfc3339", "rfc3339_nano", "parse_rfc3339",
]


def write_json_atomic(path: str, data: Any) -> None:
    """Write JSON to ``path`` via a fsynced temp file and rename: readers never see half a file."""
    tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"  # unique per thread: writers never share it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(data, sort_keys=True).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_json(path: str) -> Any:
    """Load a JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def rfc3339_nano(ns: int) -> str:
    """UTC RFC3339 with nanoseconds, like Docker's log timestamps."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def now_rfc3339() -> str:
    """The current time as RFC3339Nano."""
    return rfc3339_nano(time.time_ns())


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch for an RFC3339 UTC timestamp as written by rfc3339_nano."""
    import calendar  # with time.strptime's own imports, ~4 ms the monitor does not need at start

    base, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs + (float("0." + frac) if frac else 0.0)


@dataclass(frozen=True, slots=True)
class ContainerPaths:
    """Where one container's files live: state under root, sockets under run."""

    state_dir: str
    run_dir: str

    @property
    def state(self) -> str:
        return os.path.join(self.state_dir, "state.json")

    @property
    def config(self) -> str:
        return os.path.join(self.state_dir, "config.json")

    @property
    def plan(self) -> str:
        return os.path.join(self.state_dir, "plan.json")

    @property
    def log(self) -> str:
        return os.path.join(self.state_dir, "container-json.log")

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "monitor.sock")


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a container's PID 1 ended."""

    exit_code: int
    signal: int = 0  # the killing signal, 0 if it exited
    oom_killed: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What inspect/list report about one container."""

    id: str
    name: str
    state: str  # created | running | paused | exited
    pid: int = 0
    exit_code: int = 0
    signal: int = 0
    oom_killed: bool = False
    error: str = ""
    created_at: str = ""
    started_at: str = ""
    finished_at: str = ""
    spec: Any = None
    labels: dict[str, str] = field(default_factory=dict)
    health: str = ""  # "" (no healthcheck) | starting | healthy | unhealthy
    health_log: tuple[dict, ...] = ()  # last probes: start, end, exit_code, output


@dataclass(frozen=True, slots=True)
class ExecResult:
    """Output and exit code of a command run inside a container."""

    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a container's output."""

    stream: str  # stdout | stderr
    message: str  # with its trailing newline, as written
    time: str  # RFC3339Nano
    timestamps: bool = False  # whether str() shows the time, like ``docker logs -t``

    def format(self, timestamps: bool | None = None) -> str:
        """The line as ``docker logs`` prints it."""
        show = self.timestamps if timestamps is None else timestamps
        return f"{self.time} {self.message}" if show else self.message

    def __str__(self) -> str:
        return self.format()
