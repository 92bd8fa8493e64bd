"""Fixtures for the network tests: a private lab per test and a leak check per module."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from netlab_helpers import Lab, make_lab  # noqa: E402


def host_snapshot(mount_filter: str = "") -> dict[str, str]:
    """What a leak would change in this netns: links, named netns, nft tables, netns mounts.

    Mounts are limited to those under ``mount_filter`` (other sessions share this machine).
    """
    def out(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True).stdout
    links = sorted(line.split(":")[1].strip() for line in out("ip", "-o", "link").splitlines())
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(line.split()[4] for line in f if mount_filter in line.split()[4])
    return {"links": "\n".join(links), "netns": out("ip", "netns"),
            "nft": out("nft", "list", "tables"), "mounts": "\n".join(mounts)}


@pytest.fixture
def lab(tmp_path) -> Lab:
    """A private host netns (uplink to an outside netns) with a NetworkManager inside it."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    lb = make_lab(str(tmp_path))
    try:
        yield lb
    finally:
        lb.close()
