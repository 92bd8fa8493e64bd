"""Shared test fixtures: paths to shared conformance data, root gating, a busybox rootfs."""

from __future__ import annotations

import os
import pathlib

import pytest

from engine.testing import busybox_available, make_busybox_rootfs

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("SHOAL_SHARED", REPO.parent / "shared"))
CONFORMANCE = SHARED / "conformance"


def pytest_collection_modifyitems(config, items):
    """Tests marked `root` skip, with the reason, when not root or no busybox."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root")
    if not busybox_available():
        reasons.append("needs busybox-static (apt-get install busybox-static)")
    if not reasons:
        return
    skip = pytest.mark.skip(reason="; ".join(reasons))
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def conformance() -> pathlib.Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance data not found at {CONFORMANCE} (set SHOAL_SHARED)")
    return CONFORMANCE


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> str:
    """A read-only-by-convention busybox rootfs shared by the session's tests."""
    if not busybox_available():
        pytest.skip("needs busybox-static (apt-get install busybox-static)")
    return make_busybox_rootfs(str(tmp_path_factory.mktemp("busybox") / "rootfs"))


@pytest.fixture
def eng(tmp_path):
    """An Engine on private roots; every container is force-removed afterwards, even on failure,
    and its fork server is stopped."""
    from engine.api import Engine

    e = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    yield e
    for info in e.list():
        e.remove(info.id, force=True)
    e.close()
