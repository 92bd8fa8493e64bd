"""Fixtures for the network tests: a private lab (host netns, outside netns, manager) per test."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from netlab_helpers import Lab, make_lab  # noqa: E402


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
