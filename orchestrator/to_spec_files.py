"""Secrets and configs as files a container sees: what to project (pure) and writing them (one side effect).

A secret lands at ``/run/secrets/<name>`` (or ``/run/secrets/<target>`` for a
relative target), a config at ``/<name>`` or its target, read-only. Sources are
a host ``file``, an ``environment`` variable of the project, or inline
``content``. So that ``uid``/``gid``/``mode`` hold whatever the source, the
daemon writes every projected file under a per-container directory with
:func:`materialize` and ``container_spec(files_dir=...)`` bind-mounts those
copies.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Literal, Mapping

from engine.spec import MountSpec
from orchestrator.compose.model import FileRef, Project, Service

__all__ = ["ProjectedFile", "projected_files", "projected_mounts", "materialize"]

DEFAULT_MODE = 0o444


@dataclass(frozen=True, slots=True)
class ProjectedFile:
    """One secret or config file for one service: where it goes and what it holds."""

    kind: Literal["secret", "config"]
    name: str  # the top-level key
    target: str  # absolute path in the container
    source_file: str | None = None  # host file to copy
    content: bytes | None = None  # or the bytes themselves (environment / inline content)
    uid: int = 0
    gid: int = 0
    mode: int = DEFAULT_MODE

    @property
    def relpath(self) -> str:
        """Its path under a container's files directory (unique per target)."""
        digest = hashlib.sha256(self.target.encode()).hexdigest()[:8]
        return f"{self.kind}s/{self.name}-{digest}"

    def data(self) -> bytes:
        """The file's bytes (reads ``source_file`` when there is one)."""
        if self.content is not None:
            return self.content
        with open(self.source_file or "", "rb") as f:
            return f.read()


def _target(kind: str, ref: FileRef) -> str:
    if kind == "secret":
        target = ref.target or ref.source
        return target if target.startswith("/") else f"/run/secrets/{target}"
    return ref.target or f"/{ref.source}"


def _one(kind: Literal["secret", "config"], ref: FileRef, top: object, env: Mapping[str, str] | None,
         service: str) -> ProjectedFile:
    source_file = getattr(top, "file", None)
    content: bytes | None = None
    if getattr(top, "content", None) is not None:
        content = str(getattr(top, "content")).encode()
    elif getattr(top, "environment", None):
        var = str(getattr(top, "environment"))
        if env is None:
            content = None  # not resolved: only listing targets (no files directory)
        elif var not in env:
            raise ValueError(f'service "{service}": {kind} "{ref.source}" reads unset variable {var}')
        else:
            content = env[var].encode()
    elif not source_file:
        raise ValueError(f'service "{service}": {kind} "{ref.source}" has no file, environment or content')
    return ProjectedFile(kind, ref.source, _target(kind, ref), source_file, content,
                         int(ref.uid or 0), int(ref.gid or 0),
                         DEFAULT_MODE if ref.mode_bits is None else ref.mode_bits)


def projected_files(project: Project, service: Service,
                    env: Mapping[str, str] | None = None) -> list[ProjectedFile]:
    """Every secret and config ``service`` uses (``env``: the project's variables); externals skipped."""
    out = []
    for kind, refs, tops in (("secret", service.secrets, project.secrets),
                             ("config", service.configs, project.configs)):
        for ref in refs:
            top = tops.get(ref.source)
            if top is None:
                raise ValueError(f'service "{service.name}" refers to undefined {kind} "{ref.source}"')
            if top.external:
                continue
            out.append(_one(kind, ref, top, env, service.name))  # type: ignore[arg-type]
    return out


def projected_mounts(project: Project, service: Service, files_dir: str = "") -> list[MountSpec]:
    """Read-only binds: of the copies under ``files_dir``, or (without it) of file sources directly."""
    out = []
    for f in projected_files(project, service):
        if files_dir:
            out.append(MountSpec("bind", f.target, os.path.join(files_dir, f.relpath), read_only=True))
        elif f.source_file:
            out.append(MountSpec("bind", f.target, f.source_file, read_only=True))
    return out


def materialize(files_dir: str, files: list[ProjectedFile]) -> None:
    """Write each file under ``files_dir`` with its mode (and owner, when running as root)."""
    for f in files:
        path = os.path.join(files_dir, f.relpath)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f.data())
            if os.geteuid() == 0:
                os.fchown(fd, f.uid, f.gid)
            os.fchmod(fd, f.mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
