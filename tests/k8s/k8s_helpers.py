"""Helpers for the Kubernetes converter tests: tiny normalised projects and object lookup."""

from __future__ import annotations

from typing import Any


def project(services: dict[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A normalised project dict as `docker compose config --format json` prints it."""
    data: dict[str, Any] = {"name": "demo", "services": services}
    data.update(top)
    return data


def find(manifests: list[dict], kind: str, name: str) -> dict:
    """The one object of a kind and name (fails the test if absent)."""
    hits = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name} not found once in {[(m['kind'], m['metadata']['name']) for m in manifests]}"
    return hits[0]


def container(manifests: list[dict], kind: str, name: str) -> dict:
    """The main container of a workload."""
    return find(manifests, kind, name)["spec"]["template"]["spec"]["containers"][0]


def keys(warnings) -> set[tuple[str, str]]:
    """(service, key) of each warning."""
    return {(w.service, w.key) for w in warnings}
