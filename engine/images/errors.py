"""Errors raised by the image store, pulls, archives and layer unpacking."""

from __future__ import annotations

try:  # the engine's common base, so callers can catch EngineError for everything
    from engine.errors import EngineError as _Base
    from engine.errors import ImageNotFound as _EngineImageNotFound
except ImportError:  # pragma: no cover - engine.errors is optional for library use
    _Base = Exception
    _EngineImageNotFound = LookupError  # type: ignore[assignment,misc]

__all__ = [
    "ImageError",
    "ImageNotFound",
    "InvalidReference",
    "PullError",
    "RegistryError",
    "LayerError",
    "DigestMismatch",
    "ImageInUse",
]


class ImageError(_Base):  # type: ignore[misc,valid-type]
    """Base class of every image error; its message is one line for the user."""


class InvalidReference(ImageError, ValueError):
    """An image reference that cannot be parsed."""


class ImageNotFound(ImageError, _EngineImageNotFound, LookupError):  # type: ignore[misc,valid-type]
    """No image in the local store matches the reference."""


class ImageInUse(ImageError):
    """Removal refused: the image has several names or is used (pass force)."""


class LayerError(ImageError):
    """A layer tar is hostile or malformed; nothing was written outside its directory."""


class DigestMismatch(ImageError):
    """A blob's content does not match its digest (tampered or truncated)."""


class RegistryError(ImageError):
    """A registry answered with an error status (401, 403, 404, 429, 5xx)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class PullError(ImageError):
    """A pull failed; the message names the image and the reason. The store is unchanged."""
