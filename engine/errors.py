"""Errors the engine raises: one class per thing a caller can act on.

Every message is one clear line naming the container or path involved, so the
CLI can print it as is.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "InvalidSpec",
    "RootfsNotFound",
    "ImageNotFound",
    "UserNotFound",
    "BindSourceNotFound",
    "MemoryTooLow",
    "DeviceNotFound",
    "ContainerNotFound",
    "NameInUse",
    "InvalidState",
    "CommandNotFound",
    "StartFailed",
    "MonitorUnavailable",
]


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidSpec(EngineError):
    """The ContainerSpec asks for something impossible or unsafe."""


class RootfsNotFound(InvalidSpec):
    """The rootfs directory does not exist."""


class ImageNotFound(InvalidSpec):
    """The rootfs names an image the store does not have."""


class UserNotFound(InvalidSpec):
    """The user or group is not in the rootfs's /etc/passwd or /etc/group."""


class BindSourceNotFound(InvalidSpec):
    """A bind mount's host path is missing and create_host_path is off."""


class MemoryTooLow(InvalidSpec):
    """A memory limit under the minimum a container can start with (6 MiB, like Docker)."""


class DeviceNotFound(InvalidSpec):
    """A device to expose does not exist on the host or is not a device node."""


class ContainerNotFound(EngineError):
    """No container has this id or name."""


class NameInUse(EngineError):
    """Another container already has this name."""


class InvalidState(EngineError):
    """The operation does not fit the container's state (e.g. remove a running one)."""


class CommandNotFound(EngineError):
    """The command is not in the container's $PATH (the container exits 127)."""


class StartFailed(EngineError):
    """The container's setup failed before its command ran; nothing is left behind."""


class MonitorUnavailable(EngineError):
    """The container's monitor process does not answer."""
