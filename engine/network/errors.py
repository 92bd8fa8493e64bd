"""Errors of the network layer: one class per thing a caller can act on."""

from __future__ import annotations

from engine.errors import EngineError

__all__ = ["NetworkError", "NetworkNotFound", "SubnetConflict", "AddressError", "PortError",
           "PortInUse"]


class NetworkError(EngineError):
    """Base of every error the network layer raises on purpose."""


class NetworkNotFound(NetworkError):
    """No network (or external network) has this name."""


class SubnetConflict(NetworkError):
    """A subnet overlaps another network's subnet or a route of the host."""


class AddressError(NetworkError):
    """An address is malformed, outside its subnet, or already taken."""


class PortError(NetworkError):
    """A port binding is malformed or out of range."""


class PortInUse(PortError):
    """A host port is already published or bound by another process."""
