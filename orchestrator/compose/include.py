"""``include``: import the resources of other compose projects (spec 14-include.md).

Each entry is loaded as its own project by the pipeline's ``load_included``
(own project directory, own env file, parent env winning), then its services,
networks, volumes, secrets, configs and models are added to this model. A
resource defined on both sides is merged with the local definition winning,
as current compose-go does. Relative paths of imported resources are made
absolute against the included project's directory, so they keep pointing
where the included file meant them to once they live in the parent model.

Include cycles are detected across nested loads with a context variable: the
chain of files being included is visible to the nested ``apply_include``
calls the pipeline makes from inside ``load_included``.
"""

from __future__ import annotations

import copy
import os
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import ComposeError, Pos
from .extends import rebase_path, relocate_service
from .merge import merge_models

__all__ = ["apply_include", "IncludeEntry", "parse_entries", "RESOURCES"]

RESOURCES = ("services", "volumes", "networks", "secrets", "configs", "models")

LoadIncluded = Callable[[list[str], str, "list[str] | None"], dict]
Locate = Callable[[tuple], "Pos | None"]

_CHAIN: ContextVar[tuple[str, ...]] = ContextVar("shoal_compose_include_chain", default=())


@dataclass(frozen=True)
class IncludeEntry:
    """One ``include`` item in long form, paths as written."""

    paths: tuple[str, ...]
    project_directory: str | None = None
    env_files: tuple[str, ...] | None = None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ComposeError(f"{where} must be a string or a list of strings")


def _parse_entry(item: Any, where: str) -> IncludeEntry:
    if isinstance(item, str):
        return IncludeEntry((item,))
    if not isinstance(item, dict) or "path" not in item:
        raise ComposeError(f"{where}: an include must be a path or a mapping with a path")
    unknown = sorted(set(item) - {"path", "project_directory", "env_file"})
    if unknown:
        raise ComposeError(f"{where}: additional property {unknown[0]} is not allowed")
    pdir = item.get("project_directory")
    if pdir is not None and not isinstance(pdir, str):
        raise ComposeError(f"{where}.project_directory must be a string")
    env = item.get("env_file")
    return IncludeEntry(
        _strings(item["path"], f"{where}.path"),
        pdir,
        None if env is None else _strings(env, f"{where}.env_file"),
    )


def parse_entries(value: Any, pos: Locate | None = None) -> list[IncludeEntry]:
    """The ``include`` section as :class:`IncludeEntry` items (short strings expanded)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ComposeError("`include` must be a list", pos(("include",)) if pos else None)
    entries = []
    for i, item in enumerate(value):
        try:
            entries.append(_parse_entry(item, f"include[{i}]"))
        except ComposeError as exc:
            raise exc.at(pos(("include", i)) if pos else None) from None
    return entries


def _absolute(path: str, base: str) -> str:
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


def _env_files(entry: IncludeEntry, project_dir: str, included_dir: str) -> list[str]:
    """The env files of an included project: the given ones (must exist) or its ``.env``."""
    if entry.env_files is None:
        default = os.path.join(included_dir, ".env")
        return [default] if os.path.isfile(default) else []
    out = []
    for name in entry.env_files:
        if name == "/dev/null":
            continue
        path = _absolute(name, project_dir)
        if not os.path.exists(path):
            raise ComposeError(f"include env file {path} not found")
        if os.path.isdir(path):
            raise ComposeError(f"{path} is not a file")
        out.append(path)
    return out


def _relocate(kind: str, resource: Any, directory: str) -> Any:
    """Make an imported resource's relative paths absolute against its project directory."""
    if not isinstance(resource, dict):
        return resource
    if kind == "services":
        return relocate_service(resource, directory, None)
    if kind in ("secrets", "configs") and isinstance(resource.get("file"), str):
        return {**resource, "file": rebase_path(resource["file"], directory, None)}
    return resource


def _tags_under(tags: set, prefix: tuple) -> list:
    return [p for p in tags if tuple(p[: len(prefix)]) == prefix]


def _import(imported: dict, target: dict, directory: str, resets: set, overrides: set) -> None:
    """Add imported resources; on a name clash the local one is merged over it (its tags apply)."""
    for kind in RESOURCES:
        source = imported.get(kind)
        if not isinstance(source, dict):
            continue
        if not isinstance(target.get(kind), dict):
            target[kind] = {}
        into = target[kind]
        for name, resource in source.items():
            resource = _relocate(kind, copy.deepcopy(resource), directory)
            if name not in into:
                into[name] = resource
                continue
            prefix = (kind, name)
            merged = merge_models({kind: {name: resource}}, {kind: {name: into[name]}},
                                  _tags_under(resets, prefix), _tags_under(overrides, prefix))
            into[name] = merged[kind][name]


def apply_include(
    model: dict,
    *,
    file: str,
    project_dir: str,
    load_included: LoadIncluded,
    resets: Iterable[tuple] = (),
    overrides: Iterable[tuple] = (),
    pos: Locate | None = None,
) -> dict:
    """A copy of ``model`` (from ``file``) with its ``include`` entries imported and removed.

    ``load_included(paths, project_directory, env_files)`` gets absolute paths
    (first = main file, others = its overrides), the included project's
    directory, and the env files to read (absolute; ``<dir>/.env`` when the
    entry names none and it exists), and returns the loaded model.
    ``resets``/``overrides`` are this document's ``!reset``/``!override`` paths:
    they apply when a local resource is merged over an imported one. ``pos``
    (e.g. ``Document.pos``) places errors at the include entry's line.
    """
    if not isinstance(model, dict):
        raise ComposeError("top-level object must be a mapping", file=file)
    out = copy.deepcopy(model)
    value = out.pop("include", None)
    entries = parse_entries(value, pos)
    chain = _CHAIN.get()
    me = os.path.abspath(file)
    if not chain or chain[-1] != me:
        chain = chain + (me,)
    for i, entry in enumerate(entries):
        here = pos(("include", i)) if pos else None
        paths = [_absolute(p, project_dir) for p in entry.paths]
        if paths[0] in chain:
            raise ComposeError("include cycle detected: " + " -> ".join(chain + (paths[0],)), here)
        if entry.project_directory is None:
            included_dir = os.path.dirname(paths[0])
        else:
            included_dir = _absolute(entry.project_directory, project_dir)
        try:
            env_files = _env_files(entry, project_dir, included_dir)
        except ComposeError as exc:
            raise exc.at(here) from None
        token = _CHAIN.set(chain)
        try:
            imported = load_included(paths, included_dir, env_files)
        finally:
            _CHAIN.reset(token)
        if not isinstance(imported, dict):
            raise ComposeError(f"included file {paths[0]} is not a compose model", here)
        try:
            _import(imported, out, included_dir, set(map(tuple, resets)), set(map(tuple, overrides)))
        except ComposeError as exc:
            raise exc.at(here) from None
    return out
