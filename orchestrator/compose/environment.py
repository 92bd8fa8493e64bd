"""Where variables come from: the project environment and each service's container environment.

Two different things, often confused (docker/compose #9135):

* the **project environment** feeds interpolation and ``COMPOSE_*`` settings: the OS
  environment plus ``.env`` (or ``--env-file`` files), the OS always winning;
* a **service environment** is what the container gets: ``env_file:`` entries, then
  ``environment:`` on top. A bare ``FOO`` (or ``FOO:`` null) takes FOO from the
  project environment, and stays ``None`` (not set at all) when it is absent there,
  which ``docker compose config`` shows as ``FOO: null``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .dotenv import parse_dotenv, parse_raw_env, read_text
from .errors import ComposeError
from .interpolate import Warn, go_quote
from .merge import go_str

__all__ = [
    "to_mapping",
    "env_file_entries",
    "project_environment",
    "resolve_service_environment",
]

_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go strconv.ParseBool
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _scalar(value: Any) -> str | None:
    """A YAML scalar as the string a container sees (booleans as Compose writes them)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_str(value)  # compose-go uses fmt.Sprint: 1.0 -> "1", 1e6 -> "1e+06"
    raise ComposeError(f"must be a boolean, null, number or string, not {type(value).__name__}")


def to_mapping(value: Any, what: str = "environment") -> dict[str, str | None]:
    """``environment``/``labels``-style value (``[K=V, K]`` or ``{K: V}``) as a dict.

    ``K`` alone or a null value maps to ``None``; later list entries win.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out: dict[str, str | None] = {}
        for key, item in value.items():
            try:
                out[str(key)] = _scalar(item)
            except ComposeError as exc:
                raise ComposeError(f"{what}.{key} {exc.message}") from None
        return out
    if isinstance(value, list):
        out = {}
        for item in value:
            if not isinstance(item, str):
                raise ComposeError(f"{what} entries must be strings, got {item!r}")
            key, sep, val = item.partition("=")
            if key != key.rstrip():
                raise ComposeError(f"{what} variable {key} is declared with a trailing space")
            out[key] = val if sep else None
        return out
    raise ComposeError(f"{what} must be a mapping or a list")


def _required(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() != "false"
    return bool(value)


def env_file_entries(value: Any, working_dir: str) -> list[dict[str, Any]]:
    """``env_file`` (string, list or long form) as ``[{path, required, format}]``, absolute."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    entries = []
    for item in items:
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
            raise ComposeError(
                f"env_file entries must be a path or {{path: ...}}, got {item!r}")
        entries.append({
            "path": os.path.normpath(os.path.join(working_dir, os.path.expanduser(item["path"]))),
            "required": _required(item.get("required", True)),
            "format": item.get("format"),
        })
    return entries


def _disable_env_file(os_env: Mapping[str, str]) -> bool:
    """``COMPOSE_DISABLE_ENV_FILE`` read with Go's ParseBool: anything else is an error."""
    value = os_env.get("COMPOSE_DISABLE_ENV_FILE")
    if not value or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise ComposeError(f"COMPOSE_DISABLE_ENV_FILE: strconv.ParseBool: parsing "
                       f"{go_quote(value)}: invalid syntax")


def _env_file_list(os_env: Mapping[str, str], env_files: Sequence[str] | None,
                   project_dir: str, cwd: str) -> list[str]:
    """The project env files to read: explicit ones, ``COMPOSE_ENV_FILES``, or ``.env``."""
    if env_files is None and os_env.get("COMPOSE_ENV_FILES"):
        env_files = [f for f in os_env["COMPOSE_ENV_FILES"].split(",") if f]
    if env_files is not None:
        files = [os.path.join(cwd, f) for f in env_files]
        for path in files:
            if not os.path.exists(path):
                raise ComposeError(f"Couldn't find env file: {os.path.abspath(path)}")
            if os.path.isdir(path):
                raise ComposeError(f"{os.path.abspath(path)} is a directory")
        return files
    if _disable_env_file(os_env):
        return []
    default = os.path.join(project_dir, ".env")
    return [default] if os.path.isfile(default) else []


def project_environment(
    os_env: Mapping[str, str],
    env_files: Sequence[str] | None,
    project_dir: str,
    *,
    cwd: str | None = None,
    warn: Warn | None = None,
) -> dict[str, str]:
    """The variables interpolation sees: ``os_env`` plus the project env files.

    ``env_files=None`` means ``COMPOSE_ENV_FILES`` if set, else ``<project_dir>/.env``
    if it exists (unless ``COMPOSE_DISABLE_ENV_FILE`` is true). Explicit files are
    relative to ``cwd`` and must exist. Later files override earlier ones, values may
    reference the OS environment and earlier keys, and the OS environment always wins.
    """
    cwd = cwd if cwd is not None else os.getcwd()
    from_files: dict[str, str] = {}
    for path in _env_file_list(os_env, env_files, project_dir, cwd):
        def lookup(name: str) -> str | None:
            return os_env[name] if name in os_env else from_files.get(name)

        from_files.update(parse_dotenv(read_text(path), path, lookup, warn))
    env = dict(os_env)
    for key, value in from_files.items():
        env.setdefault(key, value)
    env.setdefault("PWD", cwd)
    return env


def _read_env_file(entry: Mapping[str, Any], lookup: Callable[[str], str | None],
                   shared: dict[str, str], warn: Warn | None) -> None:
    """Read one env_file entry into ``shared`` (values it sets override earlier ones)."""
    path, fmt = entry["path"], entry.get("format")
    if not os.path.exists(path):
        if entry.get("required", True):
            raise ComposeError(f"env file {path} not found")
        return
    if fmt in (None, "", "env"):
        parse_dotenv(read_text(path), path, lookup, warn, into=shared)
    elif fmt == "raw":
        parse_raw_env(read_text(path), path, lookup, into=shared)
    else:
        raise ComposeError(f"unsupported env_file format {go_quote(str(fmt))}")


def resolve_service_environment(
    service: Mapping[str, Any],
    project_env: Mapping[str, str],
    working_dir: str,
    *,
    warn: Warn | None = None,
) -> dict[str, str | None]:
    """The environment a service's containers get, as ``docker compose config`` shows it.

    ``env_file`` entries are read in order (later win; values are expanded with the
    project environment, then the service's own ``environment``), then ``environment``
    overrides them. A bare name takes the project value, or stays ``None`` if absent.
    """
    declared = to_mapping(service.get("environment"))
    resolved = {k: (project_env.get(k) if v is None else v) for k, v in declared.items()}
    shared = {k: v for k, v in resolved.items() if v is not None}

    def lookup(name: str) -> str | None:
        if name in project_env:
            return project_env[name]
        return resolved.get(name)

    for entry in env_file_entries(service.get("env_file"), working_dir):
        _read_env_file(entry, lookup, shared, warn)
    result: dict[str, str | None] = dict(shared)
    result.update(resolved)
    return result
