"""Fixtures: a real shoald in a subprocess with its own SHOAL_ROOT/SHOAL_RUN and a busybox image."""

from __future__ import annotations

import os
import tempfile

import pytest

from daemon_helpers import DaemonProc, teardown


@pytest.fixture
def daemon(busybox_rootfs, request):
    """A running shoald with busybox:latest imported; removes everything it made afterwards."""
    from engine.images.archive import import_rootfs
    from engine.images.store import ImageStore
    root = tempfile.mkdtemp(prefix="shd-root-")
    run_dir = tempfile.mkdtemp(prefix="shd-")
    import_rootfs(ImageStore(os.path.join(root, "images")), busybox_rootfs, "busybox:latest")
    d = DaemonProc(root, run_dir)
    d.start()
    try:
        yield d
    finally:
        teardown(d)


