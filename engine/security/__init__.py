"""Process security for containers: capabilities and seccomp filters."""

__all__ = ["caps", "seccomp"]
