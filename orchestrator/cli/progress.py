"""Progress of long operations: a live per-resource block on a TTY, plain lines otherwise.

Mirrors docker compose's ``--progress auto|tty|plain|quiet|json``: on a terminal a
``[+] Running 3/4`` header over one line per container or resource, redrawn in
place; elsewhere one line per status change. Rendering is pure (``render_*``);
``Progress`` only decides when to write.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Iterable

__all__ = ["Progress", "Entry", "split_id", "resolve_mode", "render_plain", "render_tty", "consume",
           "DONE", "FAILED"]

MODES = ("auto", "tty", "plain", "quiet", "json")
DONE = {"Created", "Started", "Healthy", "Stopped", "Removed", "Pulled", "Built", "Running",
        "Exited", "Killed", "Paused", "Unpaused", "Restarted", "Recreated", "Skipped", "Scaled"}
FAILED = {"Error", "Unhealthy", "Failed"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class Entry:
    """What one line of the block shows: a resource, its last status, since when."""

    kind: str
    id: str
    status: str = ""
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def done(self) -> bool:
        return self.status in DONE or self.status in FAILED


def resolve_mode(requested: str | None, stream: IO[str]) -> str:
    """auto -> tty on a terminal (not TERM=dumb, not NO_COLOR-only), plain otherwise."""
    mode = requested or "auto"
    if mode not in MODES:
        mode = "auto"
    if mode == "auto":
        interactive = hasattr(stream, "isatty") and stream.isatty()
        return "tty" if interactive and os.environ.get("TERM") != "dumb" else "plain"
    return mode


RESOURCE_KINDS = ("network", "volume", "image", "service")


def split_id(event: dict) -> tuple[str, str]:
    """(kind, name) of a progress line: ids like `network p_default` name their kind."""
    ident = str(event.get("id", ""))
    first, sep, rest = ident.partition(" ")
    if sep and first in RESOURCE_KINDS:
        return first.capitalize(), rest
    if event.get("kind"):
        return str(event["kind"]).capitalize(), ident
    return ("Container" if event.get("service") else "Resource"), ident


def render_plain(event: dict) -> str:
    """One status change as compose prints it without a TTY: ` Container p-web-1  Started`."""
    kind, ident = split_id(event)
    line = f" {kind} {ident}  {event.get('status', '')}"
    if event.get("message"):
        line += f" {event['message']}"
    return line


def _elapsed(entry: Entry, now: float) -> str:
    return f"{((entry.ended or now) - entry.started):.1f}s"


def render_tty(entries: list[Entry], title: str, now: float, tick: int = 0) -> list[str]:
    """The whole block: header with done/total, then one aligned line per entry."""
    done = sum(1 for e in entries if e.done)
    lines = [f"[+] {title} {done}/{len(entries)}"]
    width = max((len(f"{e.kind} {e.id}") for e in entries), default=0)
    for e in entries:
        if e.status in FAILED:
            mark = "✘"
        elif e.done:
            mark = "✔"
        else:
            mark = SPINNER[tick % len(SPINNER)]
        label = f"{e.kind} {e.id}".ljust(width)
        text = f" {mark} {label}  {e.status:<9} {_elapsed(e, now):>6}"
        if e.message and e.status in FAILED:
            text += f"  {e.message}"
        lines.append(text)
    return lines


class Progress:
    """Feeds progress events to the chosen rendering."""

    def __init__(self, mode: str | None = "auto", out: IO[str] | None = None,
                 title: str = "Running"):
        self.out = out or sys.stderr
        self.mode = resolve_mode(mode, self.out)
        self.title = title
        self.entries: dict[str, Entry] = {}
        self._drawn = 0
        self._ticks = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        if self.mode == "tty":
            threading.Thread(target=self._tick, daemon=True).start()

    def update(self, event: dict) -> None:
        """Take one `{"type": "progress", "id", "service", "status", "message"}` event."""
        if self.mode == "quiet":
            return
        if self.mode == "json":
            self._write(json.dumps(event) + "\n")
            return
        with self._lock:
            self._record(event)
        if self.mode == "plain":
            self._write(render_plain(event) + "\n")
        else:
            with self._lock:
                self.redraw()

    def _record(self, event: dict) -> None:
        key = str(event.get("id", ""))
        service = str(event.get("service") or "")
        if service and key != service:
            waiting = self.entries.get(service)
            if waiting is not None and waiting.status == "Waiting":
                del self.entries[service]  # the service's wait is over: its containers take over
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = Entry(*split_id(event))
        entry.status = str(event.get("status", ""))
        entry.message = str(event.get("message") or "")
        entry.ended = time.monotonic() if entry.done else None

    def redraw(self) -> None:
        """Rewrite the block in place (cursor back up over what was drawn last time)."""
        if self.mode != "tty" or not self.entries:
            return
        self._ticks += 1
        lines = render_tty(list(self.entries.values()), self.title, time.monotonic(), self._ticks)
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._write(up + "".join(f"\x1b[2K{line}\n" for line in lines) + "\x1b[J")
        self._drawn = len(lines)

    def message(self, text: str) -> None:
        """A line (a warning) above the block: erase the block, write the line, draw it again."""
        with self._lock:
            if self.mode == "tty" and self._drawn:
                self._write(f"\x1b[{self._drawn}F\x1b[J")
                self._drawn = 0
            self._write(text + "\n")
            self.redraw()

    def _tick(self) -> None:
        """Keep spinners and elapsed times moving while nothing is reported (TTY only)."""
        while not self._stop.wait(0.1):
            with self._lock:
                if any(not e.done for e in self.entries.values()):
                    self.redraw()

    def finish(self) -> None:
        """Draw the final state (TTY) so the block stays on screen."""
        self._stop.set()
        with self._lock:
            self.redraw()

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except (BrokenPipeError, ValueError):
            pass


def consume(events: Iterable[dict], progress: Progress) -> dict:
    """Feed a daemon NDJSON stream to ``progress``; return its final `result` line."""
    result: dict = {"type": "result", "ok": False, "message": "the daemon ended the stream early",
                    "exit_code": 1}
    try:
        for event in events:
            kind = event.get("type")
            if kind == "result":
                result = event
                break
            if kind == "warning":
                progress.message(f"WARN[0000] {event.get('message', '')}")
                continue
            progress.update(event)
    finally:
        progress.finish()
    return result
