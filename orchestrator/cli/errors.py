"""The CLI's user-facing error, in its own module so every command raises the class main() catches.

(When the CLI runs as ``python -m orchestrator.cli.main`` the main module is loaded twice, once as
``__main__``; a class defined there would exist twice.)
"""

from __future__ import annotations

__all__ = ["ShoalError"]


class ShoalError(Exception):
    """A runtime error to show the user as one line (with the failing service named)."""
