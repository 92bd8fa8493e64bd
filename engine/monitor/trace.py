"""Start-path timestamps for profiling, off unless SHOAL_TRACE names a file to append to.

Each mark is one line ``<CLOCK_MONOTONIC seconds> <pid> <label>``; the clock is
system-wide, so the Engine's and the monitor's marks line up in one file.
"""

from __future__ import annotations

import os
import time

__all__ = ["mark", "enabled"]

_PATH = os.environ.get("SHOAL_TRACE", "")


def enabled() -> bool:
    """True when marks are being recorded."""
    return bool(_PATH)


def mark(label: str) -> None:
    """Append a timestamped mark (a no-op unless SHOAL_TRACE is set)."""
    if not _PATH:
        return
    fd = os.open(_PATH, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, f"{time.monotonic():.6f} {os.getpid()} {label}\n".encode())
    finally:
        os.close(fd)
