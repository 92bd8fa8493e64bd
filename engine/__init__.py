"""shoal's container engine: runs one container from a plain ContainerSpec.

The engine knows nothing about compose files; it never imports ``orchestrator``.
"""
