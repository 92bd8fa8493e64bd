"""Fixtures for the Kubernetes converter tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def kv():
    """kubernetes_validate, or skip when the test extra is not installed."""
    return pytest.importorskip("kubernetes_validate")
