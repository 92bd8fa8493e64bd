"""shoal's image builder: Dockerfiles to OCI images in the engine's store (knows nothing of compose)."""

from engine.build.builder import BuildError, Builder, build
from engine.build.dockerfile import DockerfileError, parse

__all__ = ["build", "Builder", "BuildError", "DockerfileError", "parse"]
