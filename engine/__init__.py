"""shoal's container engine: runs one container from a plain ContainerSpec.

The engine knows nothing about compose files; it never imports ``orchestrator``.
"""

from __future__ import annotations

__all__ = [
    "Engine", "ContainerInfo", "ExecResult", "ExitStatus", "LogLine",
    "EngineError", "InvalidSpec", "RootfsNotFound", "ImageNotFound", "UserNotFound", "BindSourceNotFound",
    "MemoryTooLow", "DeviceNotFound", "ContainerNotFound", "NameInUse", "InvalidState",
    "CommandNotFound", "StartFailed", "MonitorUnavailable",
]

# Resolved on first use (PEP 562) so the monitor, which imports engine.monitor.*, stays light.
_WHERE = {"Engine": "engine.api", "ContainerInfo": "engine.state", "ExecResult": "engine.state",
          "ExitStatus": "engine.state", "LogLine": "engine.state"}


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    module = __import__(_WHERE.get(name, "engine.errors"), fromlist=[name])
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
