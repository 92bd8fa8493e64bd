"""The one error type of the compose loader, and where in a file a node came from."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Pos", "ComposeError"]


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a source file: 1-based line and column (column 0 means unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class ComposeError(Exception):
    """A compose file is wrong; ``str()`` is one line ``file:line:col: message``.

    Every stage of the loader raises only this (the fuzz test holds it to that),
    so the CLI can print it and exit non-zero without a traceback.
    """

    def __init__(self, message: str, pos: Pos | None = None, *, file: str | None = None):
        super().__init__(message)
        self.message = message
        if pos is None and file is not None:
            pos = Pos(file)
        self.pos = pos

    def __str__(self) -> str:
        if self.pos is None:
            return self.message
        return f"{self.pos}: {self.message}"

    def at(self, pos: Pos | None) -> "ComposeError":
        """Return a copy placed at ``pos`` unless this error already has a place."""
        if self.pos is not None or pos is None:
            return self
        return ComposeError(self.message, pos)
