"""The load pipeline: compose files on disk to a validated, normalised project.

The order of stages lives here and nowhere else (see the package docstring):
per document parse -> interpolate -> schema -> include -> extends -> merge;
then profiles -> normalize -> validate -> typed model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import environment, extends, include, interpolate, merge, normalize, profiles, schema
from . import unicity, validate
from .errors import ComposeError, Pos
from .files import choose_project_name, find_config_files
from .model import Project
from .parse import Document, Locator, parse_yaml

__all__ = ["ProjectOptions", "LoadedProject", "load_project", "load_model"]


@dataclass
class ProjectOptions:
    """What the user asked for: the global flags of `docker compose`."""

    files: Sequence[str] | None = None
    project_name: str | None = None
    project_directory: str | None = None
    env_files: Sequence[str] | None = None
    profiles: Sequence[str] | None = None
    services: Sequence[str] = ()  # services named on the command line (enable their profiles)
    interpolate: bool = True
    normalize: bool = True
    cwd: str = field(default_factory=os.getcwd)
    os_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stdin: Callable[[], str] = field(default=lambda: sys.stdin.read())
    warn: Callable[[str], None] | None = None

    @classmethod
    def from_args(cls, args: Any, **overrides: Any) -> "ProjectOptions":
        """Build options from the CLI's parsed global flags."""
        values = dict(
            files=getattr(args, "files", None),
            project_name=getattr(args, "project_name", None),
            project_directory=getattr(args, "project_directory", None),
            env_files=getattr(args, "env_files", None),
            profiles=getattr(args, "profiles", None),
            warn=_stderr_warning,
        )
        values.update(overrides)
        return cls(**values)


def _stderr_warning(message: str) -> None:
    print(f"WARN[0000] {message}", file=sys.stderr)


@dataclass
class LoadedProject:
    """A loaded project: the normalised dict (what `config` prints) and the typed model."""

    name: str
    working_dir: str
    config_files: list[str]
    environment: dict[str, str]
    data: dict[str, Any]
    locator: Locator
    project: Project | None = None


class _Loader:
    """Holds the state of one load: the env, the locator, and files being included."""

    def __init__(self, options: ProjectOptions, env: dict[str, str], project_dir: str):
        self.options = options
        self.env = env
        self.project_dir = project_dir
        self.locator = Locator()
        self.including: tuple[str, ...] = ()

    def warn(self, message: str) -> None:
        if self.options.warn:
            self.options.warn(message)

    def read(self, path: str) -> str:
        if path == "-":
            return self.options.stdin()
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise ComposeError(f"cannot read file: {exc.strerror}", Pos(path)) from None
        except UnicodeDecodeError:
            raise ComposeError("file is not valid UTF-8", Pos(path)) from None

    def documents(self, path: str, env: Mapping[str, str]) -> list[Document]:
        """Parse, interpolate and schema-check one file's documents."""
        name = "stdin" if path == "-" else path
        docs = parse_yaml(self.read(path), name)
        for doc in docs:
            if doc.data is None:
                doc.data = {}
            if not isinstance(doc.data, dict):
                raise ComposeError("top-level object must be a mapping", doc.pos(()))
            if self.options.interpolate:
                interpolate.interpolate_document(doc, env.get, self.warn)
            schema.validate_document(doc)
            self.locator.add(doc)
        return docs

    def load_file_model(self, path: str, env: Mapping[str, str], project_dir: str) -> dict:
        """One file to a merged model (its documents merged, include and extends applied)."""
        model: dict = {}
        for doc in self.documents(path, env):
            data = doc.data
            if "include" in data:
                data = include.apply_include(
                    data, file=path, project_dir=project_dir, load_included=self.load_included,
                    resets=doc.resets, overrides=doc.overrides, pos=doc.pos,
                )
            data = extends.apply_extends(
                data, file=path, load_file=lambda p: self.load_other(p, env),
                working_dir=project_dir, resets=doc.resets, overrides=doc.overrides, pos=doc.pos,
            )
            model = merge.merge_models(model, data, doc.resets, doc.overrides, pos=doc.pos)
        return unicity.enforce_unicity(model, pos=self.locator.find)

    def load_other(self, path: str, env: Mapping[str, str]) -> list[Document]:
        """A file named by `extends: {file: ...}`: parsed and interpolated on its own."""
        return self.documents(path, env)

    def load_included(self, paths: list[str], project_directory: str | None,
                      env_files: list[str] | None) -> dict:
        """An `include:` entry: loaded as its own project, with its own env; the parent's env wins."""
        key = tuple(os.path.abspath(p) for p in paths)
        if any(p in self.including for p in key):
            chain = " -> ".join(self.including + key[:1])
            raise ComposeError(f"include cycle detected: {chain}")
        project_dir = project_directory or os.path.dirname(key[0])
        own_env = environment.project_environment({}, env_files, project_dir)
        env = dict(own_env)
        env.update(self.env)
        saved = self.including
        self.including = saved + key
        try:
            model: dict = {}
            for path in key:
                model = merge.merge_models(model, self.load_file_model(path, env, project_dir))
            return model
        finally:
            self.including = saved


def _project_dir(options: ProjectOptions, files: list[str]) -> str:
    if options.project_directory:
        return os.path.abspath(os.path.join(options.cwd, options.project_directory))
    first = files[0]
    return options.cwd if first == "-" else os.path.dirname(first)


def load_model(options: ProjectOptions) -> tuple[_Loader, dict, list[str]]:
    """Files to the merged, profile-filtered model (before normalisation)."""
    pre_env = dict(options.os_env)
    # Like docker compose, a .env in the working directory may set COMPOSE_FILE & co.
    if options.env_files is None:
        cwd_env = environment.project_environment(options.os_env, None, options.cwd)
        pre_env = cwd_env
    files = find_config_files(options.files, pre_env, options.cwd, options.project_directory,
                              options.warn)
    project_dir = _project_dir(options, files)
    env = environment.project_environment(options.os_env, options.env_files, project_dir)
    loader = _Loader(options, env, project_dir)
    model: dict = {}
    for path in files:
        model = merge.merge_models(model, loader.load_file_model(path, env, project_dir))
    model = unicity.enforce_unicity(model, pos=loader.locator.find)
    active = options.profiles
    if active is None:
        active = [p for p in env.get("COMPOSE_PROFILES", "").split(",") if p]
    model = profiles.apply_profiles(model, active, options.services, pos=loader.locator.find)
    return loader, model, files


def load_project(options: ProjectOptions) -> LoadedProject:
    """Load, validate and normalise a project; raises only ComposeError."""
    loader, model, files = load_model(options)
    name = choose_project_name(options.project_name, loader.env, model.get("name"),
                               loader.project_dir)
    loader.env.setdefault("COMPOSE_PROJECT_NAME", name)
    result = LoadedProject(name=name, working_dir=loader.project_dir, config_files=files,
                           environment=loader.env, data=model, locator=loader.locator)
    if not options.normalize:
        result.data = dict(model, name=name)
        return result
    data = normalize.normalize(model, project_name=name, working_dir=loader.project_dir,
                               env=loader.env, locator=loader.locator)
    validate.check_model(data, loader.locator)
    result.data = data
    result.project = Project.from_dict(data)
    return result
