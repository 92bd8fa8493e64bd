"""``extends``: a service starts from a copy of another one (compose-go loader/extends.go).

``extends: base`` takes ``base`` from the same file; ``extends: {service, file}``
takes it from another file, loaded on its own by the pipeline. Extends chains
are followed recursively (cycles are errors), the base is deep-copied and the
local definition is merged over it with the override-file rules, and the
``extends`` key is dropped. A base that comes from another file has its
relative paths (build context, bind sources, env_file, ...) rebased so they
still point where that file meant them to.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import ComposeError, Pos
from .merge import merge_models
from .parse import Locator
from .unicity import split_volume_spec, enforce_unicity

__all__ = ["apply_extends", "relocate_service", "rebase_path"]

Path = tuple
Locate = Callable[[Path], "Pos | None"]


@dataclass
class _File:
    """One compose file taking part in extends resolution."""

    file: str
    workdir: str
    services: dict
    resets: set = field(default_factory=set)
    overrides: set = field(default_factory=set)
    locate: Locate | None = None

    def error(self, message: str, name: str) -> ComposeError:
        """An error placed at ``services.<name>.extends`` of this file when positions are known."""
        pos = self.locate(("services", name, "extends")) if self.locate else None
        return ComposeError(message, pos)


def _is_remote(path: str) -> bool:
    return "://" in path or path.startswith(("git@", "github.com/"))


def rebase_path(path: str, from_dir: str, to_dir: str | None) -> str:
    """``path`` (relative to ``from_dir``) made relative to ``to_dir``, or absolute if None."""
    if not isinstance(path, str) or not path or os.path.isabs(path) or path.startswith("~"):
        return path
    if _is_remote(path):
        return path
    if to_dir is not None and os.path.abspath(from_dir) == os.path.abspath(to_dir):
        return path
    target = os.path.normpath(os.path.join(os.path.abspath(from_dir), path))
    if to_dir is None:
        return target
    return os.path.relpath(target, os.path.abspath(to_dir))


def _rebase_bind(source: str, from_dir: str, to_dir: str | None) -> str:
    """A bind source must keep looking like a path (``./x``), not a volume name."""
    out = rebase_path(source, from_dir, to_dir)
    if out == source or os.path.isabs(out) or out.startswith("."):
        return out
    return "./" + out


def _rebase_volume(item: Any, from_dir: str, to_dir: str | None) -> Any:
    if isinstance(item, str):
        parts = split_volume_spec(item)
        if len(parts) >= 2 and parts[0].startswith("."):
            parts[0] = _rebase_bind(parts[0], from_dir, to_dir)
            return ":".join(parts)
        return item
    if isinstance(item, dict):
        source = item.get("source")
        # Long syntax says `type: bind` explicitly, so any relative source is a path.
        if isinstance(source, str) and item.get("type") == "bind":
            return {**item, "source": _rebase_bind(source, from_dir, to_dir)}
    return item


def _rebase_file_entry(entry: Any, from_dir: str, to_dir: str | None) -> Any:
    if isinstance(entry, dict) and "path" in entry:
        return {**entry, "path": rebase_path(entry["path"], from_dir, to_dir)}
    return rebase_path(entry, from_dir, to_dir) if isinstance(entry, str) else entry


def _rebase_file_list(value: Any, from_dir: str, to_dir: str | None) -> Any:
    """``env_file``/``label_file``: a path, or a list of paths or ``{path: ...}``."""
    if isinstance(value, list):
        return [_rebase_file_entry(v, from_dir, to_dir) for v in value]
    return _rebase_file_entry(value, from_dir, to_dir)


def _rebase_build(build: Any, from_dir: str, to_dir: str | None) -> Any:
    if isinstance(build, str):
        return rebase_path(build, from_dir, to_dir)
    if isinstance(build, dict):
        context = build.get("context", ".")
        return {**build, "context": rebase_path(context, from_dir, to_dir)}
    return build


def relocate_service(service: dict, from_dir: str, to_dir: str | None) -> dict:
    """A copy of ``service`` whose relative paths, meant from ``from_dir``, work from ``to_dir``.

    With ``to_dir=None`` they become absolute (used for included projects).
    """
    out = dict(service)
    if "build" in out:
        out["build"] = _rebase_build(out["build"], from_dir, to_dir)
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [_rebase_volume(v, from_dir, to_dir) for v in out["volumes"]]
    for key in ("env_file", "label_file"):
        if key in out:
            out[key] = _rebase_file_list(out[key], from_dir, to_dir)
    develop = out.get("develop")
    if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
        watch = [
            {**w, "path": rebase_path(w["path"], from_dir, to_dir)} if isinstance(w, dict) and "path" in w else w
            for w in develop["watch"]
        ]
        out["develop"] = {**develop, "watch": watch}
    return out


def _parse_ref(value: Any, name: str, where: _File) -> tuple[str, str | None]:
    """``extends`` as (service, file or None)."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict):
        ref = value.get("service")
        if not isinstance(ref, str) or not ref:
            raise where.error(f"extends.{name}.service is required (in {where.file})", name)
        other = value.get("file")
        if other is not None and not isinstance(other, str):
            raise where.error(f"extends.{name}.file must be a string (in {where.file})", name)
        return ref, other
    raise where.error(f"services.{name}.extends must be a string or a mapping (in {where.file})", name)


def _unpack(loaded: Any) -> tuple[Any, set, set, Locate | None]:
    """What ``load_file`` gave: a dict, a ``Document``, or a list of documents (merged here)."""
    if isinstance(loaded, list):
        data: dict = {}
        resets: set = set()
        overrides: set = set()
        for doc in loaded:
            part, doc_resets, doc_overrides, _ = _unpack(doc)
            data = merge_models(data, part if isinstance(part, dict) else {}, doc_resets, doc_overrides)
            resets |= doc_resets
            overrides |= doc_overrides
        docs = [d for d in loaded if hasattr(d, "positions")]
        return data, resets, overrides, (Locator(docs).find if docs else None)
    if hasattr(loaded, "data"):
        locate = loaded.pos if hasattr(loaded, "pos") else None
        return loaded.data, set(map(tuple, loaded.resets)), set(map(tuple, loaded.overrides)), locate
    return loaded, set(), set(), None


class _Resolver:
    """Resolves extends chains across files, memoising each resolved service."""

    def __init__(self, load_file: Callable[[str], Any]):
        self.load_file = load_file
        self.files: dict[str, _File] = {}
        self.done: dict[tuple[str, str], Any] = {}

    def other_file(self, path: str, name: str, origin: _File) -> _File:
        key = os.path.abspath(path)
        if key not in self.files:
            prefix = f'cannot extend service "{name}" in {origin.file}'
            try:
                loaded = self.load_file(path)
            except OSError as exc:
                raise origin.error(f"{prefix}: cannot read {path}: {exc.strerror}", name) from None
            except ComposeError as exc:
                raise exc.at(origin.locate(("services", name, "extends")) if origin.locate else None)
            data, resets, overrides, locate = _unpack(loaded)
            services = data.get("services") if isinstance(data, dict) else None
            if not isinstance(services, dict):
                raise origin.error(f"{prefix}: no services section in {path}", name)
            self.files[key] = _File(path, os.path.dirname(path) or ".", services, resets, overrides, locate)
        return self.files[key]

    def resolve(self, name: str, where: _File, chain: list[tuple[str, str]]) -> Any:
        key = (os.path.abspath(where.file), name)
        if key in self.done:
            return self.done[key]
        service = where.services.get(name)
        if not isinstance(service, dict) or "extends" not in service:
            return service
        if key in chain:
            cycle = " -> ".join(f'"{n}" ({f})' for f, n in chain[chain.index(key):] + [key])
            raise where.error(f"circular reference with extends: {cycle}", name)
        chain = chain + [key]
        ref, other = _parse_ref(service["extends"], name, where)
        if other is not None:
            path = other if os.path.isabs(other) else os.path.normpath(os.path.join(where.workdir, other))
            source = self.other_file(path, name, where)
            if ref not in source.services:
                raise where.error(
                    f'cannot extend service "{name}" in {where.file}: service "{ref}" not found in {other}', name)
            base = self.resolve(ref, source, chain)
            if isinstance(base, dict):
                base = relocate_service(copy.deepcopy(base), source.workdir, where.workdir)
        else:
            if ref not in where.services:
                raise where.error(f'cannot extend service "{name}" in {where.file}: service "{ref}" not found', name)
            base = self.resolve(ref, where, chain)
        try:
            merged = self.merge(name, base, service, where)
        except ComposeError as exc:
            raise exc.at(where.locate(("services", name)) if where.locate else None) from None
        self.done[key] = merged
        return merged

    @staticmethod
    def merge(name: str, base: Any, service: dict, where: _File) -> dict:
        local = {k: v for k, v in service.items() if k != "extends"}
        if not isinstance(base, dict):
            return local
        prefix = ("services", name)
        resets = [p for p in where.resets if tuple(p[:2]) == prefix]
        overrides = [p for p in where.overrides if tuple(p[:2]) == prefix]
        merged = merge_models({"services": {name: base}}, {"services": {name: local}}, resets, overrides)
        merged = enforce_unicity(merged)["services"][name]
        merged.pop("extends", None)
        return merged


def apply_extends(
    model: dict,
    *,
    file: str,
    load_file: Callable[[str], Any],
    working_dir: str | None = None,
    resets: Iterable[Path] = (),
    overrides: Iterable[Path] = (),
    pos: Locate | None = None,
) -> dict:
    """A copy of ``model`` (the document of ``file``) with every ``extends`` resolved.

    ``load_file(path)`` returns the parsed and interpolated model of another file:
    a dict, or better its ``parse.Document`` (or list of them), so that its
    ``!reset``/``!override`` tags also apply when its services extend others.
    Relative ``extends.file`` names and rebased paths are relative to
    ``working_dir`` (default: the directory of ``file``). ``resets``/``overrides``
    are the tag paths of ``file``'s document, honoured when merging a service
    over its base; ``pos`` (e.g. ``Document.pos``) places errors at a line.
    """
    if not isinstance(model, dict):
        raise ComposeError("top-level object must be a mapping", file=file)
    services = model.get("services")
    if not isinstance(services, dict):
        return copy.deepcopy(model)
    here = _File(file, working_dir or os.path.dirname(file) or ".", services, set(map(tuple, resets)),
                 set(map(tuple, overrides)), pos)
    resolver = _Resolver(load_file)
    resolver.files[os.path.abspath(file)] = here
    out = copy.deepcopy(model)
    for name in services:
        resolved = resolver.resolve(name, here, [])
        out["services"][name] = copy.deepcopy(resolved)
    return out
