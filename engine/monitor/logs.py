"""Container logs as JSON lines (Docker json-file format) with size-based rotation, and their reader.

The writer runs in the monitor: one object per line,
``{"log": "text\\n", "stream": "stdout", "time": "<RFC3339Nano>"}``. When the file
would pass ``max_size`` it becomes ``.1`` (older ones shift up, the oldest past
``max_file`` is dropped).
"""

from __future__ import annotations

import json
import os
import time
from typing import Iterator

from engine.state import LogLine, parse_rfc3339, rfc3339_nano

__all__ = ["LogWriter", "log_files", "read_lines", "read_with_offset", "follow"]

_MAX_PARTIAL = 16 * 1024


class LogWriter:
    """Append stdout/stderr chunks as complete JSON lines, rotating by size."""

    def __init__(self, path: str, max_size: int = 0, max_file: int = 1, enabled: bool = True) -> None:
        self.path, self.max_size, self.max_file, self.enabled = path, max_size, max(1, max_file), enabled
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640) \
            if enabled else -1
        self._size = os.fstat(self._fd).st_size if enabled else 0

    def write(self, stream: str, data: bytes) -> None:
        """Add a chunk; every complete line (or 16 KiB of one) becomes a record."""
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        self._partial[stream] = lines.pop()
        for line in lines:
            self._emit(stream, line + b"\n")
        while len(self._partial[stream]) >= _MAX_PARTIAL:
            chunk, self._partial[stream] = self._partial[stream][:_MAX_PARTIAL], \
                self._partial[stream][_MAX_PARTIAL:]
            self._emit(stream, chunk)

    def flush(self) -> None:
        """Emit unterminated trailing output (at exit)."""
        for stream, rest in self._partial.items():
            if rest:
                self._emit(stream, rest)
                self._partial[stream] = b""

    def _emit(self, stream: str, raw: bytes) -> None:
        if not self.enabled:
            return
        rec = (json.dumps({"log": raw.decode("utf-8", "replace"), "stream": stream,
                           "time": rfc3339_nano(time.time_ns())}) + "\n").encode()
        if self.max_size and self._size and self._size + len(rec) > self.max_size:
            self._rotate()
        os.write(self._fd, rec)
        self._size += len(rec)

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_file == 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = 0

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def log_files(path: str) -> list[str]:
    """Existing log files, oldest first."""
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def _parse(raw: str) -> LogLine | None:
    try:
        rec = json.loads(raw)
        return LogLine(rec["stream"], rec["log"], rec["time"])
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line while the monitor writes


def read_lines(path: str, since: float | None = None) -> list[LogLine]:
    """Every record in all files of the log, oldest first, optionally only those after ``since``."""
    return read_with_offset(path, since)[0]


def read_with_offset(path: str, since: float | None = None) -> tuple[list[LogLine], int]:
    """Records as in read_lines, plus the byte offset in ``path`` just after the last complete one."""
    out: list[LogLine] = []
    offset = 0
    for name in log_files(path):
        with open(name, "rb") as f:
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        if name == path:
            offset = len(complete)
        for raw in complete.decode("utf-8", "replace").splitlines():
            line = _parse(raw)
            if line and (since is None or parse_rfc3339(line.time) >= since):
                out.append(line)
    return out, offset


def follow(path: str, offset: int, alive, pause=time.sleep) -> Iterator[LogLine]:
    """Yield records appended to ``path`` after byte ``offset`` until ``alive()`` is false.

    Between reads it calls ``pause(0.05)``; the Engine passes one that returns as soon as the
    container exits, so following a short-lived container ends with it, not up to 50 ms later.
    """
    ino = os.stat(path).st_ino if os.path.exists(path) else 0
    pending = b""
    while True:
        running = alive()
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_ino != ino:  # rotated: start the new file
                    ino, offset, pending = os.fstat(f.fileno()).st_ino, 0, b""
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        offset += len(data)
        pending += data
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            line = _parse(raw.decode("utf-8", "replace"))
            if line:
                yield line
        if not running:
            return
        pause(0.05)
