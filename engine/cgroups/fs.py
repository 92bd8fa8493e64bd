"""File access to a cgroup filesystem, behind one small class so tests can simulate the kernel."""

from __future__ import annotations

import errno
import os
import time
from typing import Sequence

from engine.cgroups.base import CgroupError
from engine.cgroups.devices import DeviceRule

__all__ = ["HostFS"]


class HostFS:
    """The real cgroupfs: plain file I/O plus the BPF device filter attach (v2).

    Test fakes subclass it and add what the kernel would do on each write.
    """

    def mkdir(self, path: str) -> None:
        """Create a cgroup directory (the kernel fills in its control files)."""
        os.mkdir(path)

    def rmdir(self, path: str, timeout: float = 1.0) -> None:
        """Remove a cgroup directory; missing is fine, EBUSY is retried until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError as e:
                if e.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                    raise CgroupError(f"cannot remove {path}: {e.strerror}") from e
                time.sleep(0.01)

    def exists(self, path: str) -> bool:
        """True if the file or directory exists."""
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        """True if ``path`` is a directory."""
        return os.path.isdir(path)

    def listdir(self, path: str) -> list[str]:
        """Entries of a directory (cgroups are the subdirectories)."""
        return sorted(os.listdir(path))

    def read(self, path: str) -> str:
        """Whole content of a control file."""
        with open(path, encoding="ascii") as f:
            return f.read()

    def write(self, path: str, value: str) -> None:
        """Write one value to a control file with a single write(2), as the kernel expects."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError(f"cannot open {path}: {e.strerror}") from e
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise CgroupError(f"cannot write {value!r} to {path}: {e.strerror}") from e
        finally:
            os.close(fd)

    def attach_devices(self, path: str, rules: Sequence[DeviceRule]) -> None:
        """Enforce ``rules`` on the v2 cgroup at ``path`` with an eBPF device program."""
        from engine.cgroups import bpf  # only v2 needs it

        bpf.attach_device_filter(path, rules)
