"""Which compose files to load, from where, and under which project name.

Follows docker compose: ``-f`` (repeatable, ``-`` for stdin), else ``COMPOSE_FILE``
(split on ``COMPOSE_PATH_SEPARATOR``, default ``:``), else discovery from the
working directory up through its parents, plus the matching override file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from .errors import ComposeError

__all__ = [
    "DEFAULT_FILES",
    "OVERRIDE_FILES",
    "find_config_files",
    "normalize_project_name",
    "check_project_name",
    "choose_project_name",
]

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _discover(cwd: str, warn) -> list[str]:
    """Search ``cwd`` and its parents for the first directory holding a compose file."""
    directory = os.path.abspath(cwd)
    while True:
        found = [n for n in DEFAULT_FILES if os.path.isfile(os.path.join(directory, n))]
        if found:
            if len(found) > 1 and warn:
                warn(f"Found multiple config files with supported names: "
                     f"{', '.join(os.path.join(directory, n) for n in found)}; using {found[0]}")
            files = [os.path.join(directory, found[0])]
            for name in OVERRIDE_FILES:
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    files.append(path)
                    break
            return files
        parent = os.path.dirname(directory)
        if parent == directory:
            raise ComposeError(
                "no configuration file provided: not found (looked for "
                + ", ".join(DEFAULT_FILES) + f" in {os.path.abspath(cwd)} and its parents)"
            )
        directory = parent


def find_config_files(
    files: Sequence[str] | None,
    env: Mapping[str, str],
    cwd: str,
    project_directory: str | None = None,
    warn=None,
) -> list[str]:
    """Return the compose files to load, as absolute paths (``-`` kept for stdin).

    Explicit files must exist; relative ones are taken from ``cwd``.
    """
    chosen: list[str]
    if files:
        chosen = list(files)
    elif env.get("COMPOSE_FILE"):
        sep = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        chosen = [f for f in env["COMPOSE_FILE"].split(sep) if f]
        # COMPOSE_FILE entries are relative to the project directory when one is given.
        base = project_directory or cwd
        chosen = [f if os.path.isabs(f) else os.path.join(base, f) for f in chosen]
    else:
        return _discover(project_directory or cwd, warn)
    out = []
    for f in chosen:
        if f == "-":
            out.append(f)
            continue
        path = os.path.abspath(os.path.join(cwd, os.path.expanduser(f)))
        if os.path.isdir(path):
            for name in DEFAULT_FILES:
                if os.path.isfile(os.path.join(path, name)):
                    path = os.path.join(path, name)
                    break
        if not os.path.isfile(path):
            raise ComposeError(f"open {path}: no such file or directory")
        out.append(path)
    return out


def normalize_project_name(name: str) -> str:
    """Lowercase, drop characters outside ``[a-z0-9_-]``, trim leading ``_``/``-`` (as Compose)."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def check_project_name(name: str, source: str = "") -> str:
    """Reject a name the user gave explicitly that Compose would reject."""
    if not name:
        raise ComposeError("project name must not be empty")
    if not _VALID_NAME.match(name):
        where = f" (from {source})" if source else ""
        raise ComposeError(
            f'invalid project name "{name}"{where}: must consist only of lowercase alphanumeric '
            "characters, hyphens, and underscores as well as start with a letter or number"
        )
    return name


def choose_project_name(
    explicit: str | None,
    env: Mapping[str, str],
    model_name: object,
    project_dir: str,
) -> str:
    """Project name by Compose's precedence: -p > COMPOSE_PROJECT_NAME > name: > directory."""
    if explicit:
        return check_project_name(explicit, "-p")
    if env.get("COMPOSE_PROJECT_NAME"):
        return check_project_name(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    if isinstance(model_name, str) and model_name:
        return check_project_name(normalize_project_name(model_name), "name:")
    name = normalize_project_name(os.path.basename(os.path.abspath(project_dir)))
    if not name:
        raise ComposeError(
            f"project name must not be empty: the directory name {os.path.basename(project_dir)!r} "
            "has no usable characters; set one with -p or name:"
        )
    return name
