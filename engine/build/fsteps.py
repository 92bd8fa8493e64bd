"""Filesystem steps that need no container: COPY, ADD and WORKDIR, each written into a fresh upper dir.

The destination is an overlay view of the current state; a ``--from`` source is a
second view of the other stage or image. After unmounting, the upper dir is the
step's layer (empty means no layer, e.g. a WORKDIR that already exists).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable

from engine.build.commit import BuildState
from engine.build.context import BuildContext, glob_regex, has_glob
from engine.build.copier import CopyError, CopyOptions, copy_sources, resolve_chown
from engine.build.snapshot import overlay_view
from engine.images.store import ImageStore
from engine.runtime.safepath import ensure_in_root, fd_path, open_in_root

__all__ = ["CopyRequest", "Source", "copy_step", "workdir_step", "view_of"]


@dataclass(frozen=True)
class Source:
    """Where COPY reads from: the context, a directory of heredoc files, or another state."""

    context: BuildContext | None = None
    directory: str = ""
    state: BuildState | None = None


@dataclass(frozen=True)
class CopyRequest:
    """One COPY/ADD after expansion."""

    sources: tuple[str, ...]
    dest: str  # absolute, trailing "/" kept
    chown: str = ""
    chmod: int | None = None
    extract: bool = False


def view_of(store: ImageStore, state: BuildState, scratch: str):
    """An overlay view (merged, upper) of ``state`` under ``scratch``."""
    return overlay_view(state.layer_dirs(store), state.layer_keys(store), store.layers, scratch)


def _glob_in(root: str, pattern: str) -> list[str]:
    clean = posixpath.normpath("/" + pattern).lstrip("/")
    if not has_glob(clean):
        return [clean]
    regex = glob_regex(clean)
    fixed = clean.split("/")
    prefix = "/".join(p for p in fixed[:next(i for i, p in enumerate(fixed) if has_glob(p))])
    found = []
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        base_fd = open_in_root(root_fd, prefix or ".")  # symlinks in the prefix stay inside the view
    except FileNotFoundError:
        base_fd = -1
    finally:
        os.close(root_fd)
    if base_fd >= 0:
        try:
            base = fd_path(base_fd)
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames.sort()
                for name in dirnames + filenames:
                    rel = posixpath.normpath(posixpath.join(prefix, os.path.relpath(os.path.join(dirpath, name),
                                                                                    base)))
                    if regex.match(rel):
                        found.append(rel)
        finally:
            os.close(base_fd)
    if not found:
        raise CopyError(f"{pattern}: no source files were specified (no match)")
    return sorted(found)


def _do_copy(src_root: str, rels: list[str], merged: str, req: CopyRequest, skip) -> None:
    uid = gid = 0
    if req.chown:
        uid, gid = resolve_chown(merged, req.chown)
    opts = CopyOptions(uid, gid, req.chmod, req.extract)
    copy_sources(src_root, rels, merged, req.dest, opts, skip)


def copy_step(store: ImageStore, state: BuildState, source: Source, req: CopyRequest, upper_dest: str) -> None:
    """Run one COPY/ADD on ``state``; its upper dir ends up at ``upper_dest``."""
    scratch = tempfile.mkdtemp(prefix="copy-", dir=store.tmp)
    try:
        with contextlib.ExitStack() as stack:
            merged, upper = stack.enter_context(view_of(store, state, os.path.join(scratch, "dst")))
            if source.state is not None:
                src_root, _ = stack.enter_context(view_of(store, source.state, os.path.join(scratch, "src")))
                rels = [r for pattern in req.sources for r in _glob_in(src_root, pattern)]
                skip: Callable[[str], bool] = lambda rel: False  # noqa: E731
            elif source.context is not None:
                src_root = source.context.root
                rels = [r for pattern in req.sources for r in source.context.sources(pattern)]
                skip = source.context.ignored
            else:
                src_root, rels, skip = source.directory, list(req.sources), (lambda rel: False)
            if len(rels) > 1 and not req.dest.endswith("/"):
                raise CopyError("when using COPY with more than one source file, "
                                "the destination must be a directory and end with a /")
            _do_copy(src_root, rels, merged, req, skip)
        os.rename(upper, upper_dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def workdir_step(store: ImageStore, state: BuildState, path: str, upper_dest: str) -> None:
    """Create the WORKDIR directory if the state lacks it; the (maybe empty) diff ends up at ``upper_dest``."""
    scratch = tempfile.mkdtemp(prefix="workdir-", dir=store.tmp)
    try:
        with view_of(store, state, scratch) as (merged, upper):
            root_fd = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.close(ensure_in_root(root_fd, path, "dir"))
            finally:
                os.close(root_fd)
        os.rename(upper, upper_dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
