"""The runtime layer: the syscalls and setup steps that turn a plan into a running container."""

__all__: list[str] = []
