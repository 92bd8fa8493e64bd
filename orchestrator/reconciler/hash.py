"""The config hash Compose stores in ``com.docker.compose.config-hash``.

A replica whose label differs from the service's current hash is out of date
and gets recreated. Like Compose, fields that do not change a container (build,
pull_policy, scale, deploy.replicas, depends_on, profiles) are blanked first,
so scaling or reordering dependencies never recreates anything.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orchestrator.compose.model import Service

__all__ = ["config_hash", "hashed_config", "IGNORED_KEYS"]

IGNORED_KEYS = ("build", "pull_policy", "scale", "depends_on", "profiles")


def hashed_config(service: Service) -> dict[str, Any]:
    """The service's config as hashed: its dict without the fields that never recreate."""
    data = service.to_dict()
    for key in IGNORED_KEYS:
        data.pop(key, None)
    deploy = data.get("deploy")
    if isinstance(deploy, dict):
        deploy = {k: v for k, v in deploy.items() if k != "replicas"}
        data["deploy"] = deploy
    return data


def config_hash(service: Service, image_id: str = "") -> str:
    """sha256 hex of the canonical JSON (sorted keys, no spaces) of :func:`hashed_config`.

    With the ``image_id`` the service's image resolves to, a rebuilt or re-pulled image
    changes the hash too, so its containers are recreated (Compose compares the image
    digest label for the same reason).
    """
    text = json.dumps(hashed_config(service), sort_keys=True, separators=(",", ":"), default=str)
    if image_id:
        text += "\n" + image_id
    return hashlib.sha256(text.encode()).hexdigest()
