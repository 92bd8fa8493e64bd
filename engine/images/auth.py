"""Registry credentials: shoal's own auth.json (0600, from 'shoal login') and ~/.docker/config.json."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from typing import Any

from .errors import ImageError

__all__ = ["resolve", "login", "logout", "server_keys", "docker_config_path"]

_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io",
             "https://registry-1.docker.io")


def server_keys(domain: str) -> list[str]:
    """Keys under which config files may store credentials for ``domain``."""
    if domain in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return list(_HUB_KEYS)
    return [domain, f"https://{domain}", f"http://{domain}", f"https://{domain}/v1/",
            f"https://{domain}/v2/"]


def docker_config_path() -> str:
    """~/.docker/config.json, or $DOCKER_CONFIG/config.json."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot read credentials file {path}: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def _decode(entry: dict[str, Any]) -> tuple[str, str] | None:
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password
    if entry.get("username"):
        return str(entry["username"]), str(entry.get("password", ""))
    return None


def _helper(name: str, server: str) -> tuple[str, str] | None:
    """Ask docker-credential-<name> for a server's credentials (None if absent or unknown)."""
    exe = shutil.which(f"docker-credential-{name}")
    if not exe:
        return None
    proc = subprocess.run([exe, "get"], input=server, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return None
    with contextlib.suppress(ValueError, KeyError, TypeError):
        doc = json.loads(proc.stdout)
        return str(doc["Username"]), str(doc["Secret"])
    return None


def resolve(domain: str, store_root: str | None = None) -> tuple[str, str] | None:
    """Credentials for ``domain``: shoal's auth.json first, then Docker's config (and helpers)."""
    keys = server_keys(domain)
    sources = ([os.path.join(store_root, "auth.json")] if store_root else []) + [docker_config_path()]
    for path in sources:
        doc = _load(path)
        auths = doc.get("auths") or {}
        for key in keys:
            if key in auths and (creds := _decode(auths[key] or {})):
                return creds
        helpers = doc.get("credHelpers") or {}
        for key in keys:
            if key in helpers and (creds := _helper(helpers[key], key)):
                return creds
        if doc.get("credsStore"):
            for key in keys:
                if creds := _helper(doc["credsStore"], key):
                    return creds
    return None


def _write(path: str, doc: dict[str, Any]) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def login(store_root: str, domain: str, user: str, password: str) -> None:
    """Save credentials for ``domain`` in <store_root>/auth.json with mode 0600."""
    path = os.path.join(store_root, "auth.json")
    os.makedirs(store_root, exist_ok=True)
    doc = _load(path)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    doc.setdefault("auths", {})[server_keys(domain)[0]] = {"auth": token}
    _write(path, doc)


def logout(store_root: str, domain: str) -> bool:
    """Forget saved credentials for ``domain``; False when there were none."""
    path = os.path.join(store_root, "auth.json")
    doc = _load(path)
    auths = doc.get("auths") or {}
    found = [k for k in server_keys(domain) if k in auths]
    for key in found:
        del auths[key]
    if found:
        _write(path, doc)
    return bool(found)
