"""The per-container monitor: parent of PID 1, keeper of its exit status, logs and exec."""

__all__: list[str] = []
