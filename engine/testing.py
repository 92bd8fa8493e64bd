"""Helpers for tests and benchmarks that need a real root filesystem.

A busybox rootfs is made from Debian's ``busybox-static`` (``/bin/busybox``),
about 2 MB and well under a second: the usual base of shoal's tests.
"""

from __future__ import annotations

from engine.build.busybox import BUSYBOX, busybox_available, make_busybox_rootfs

__all__ = ["BUSYBOX", "busybox_available", "make_busybox_rootfs"]
