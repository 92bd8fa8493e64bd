"""RUN: execute a command in a real shoal container on the current build state and keep its upper dir.

The container uses the state's layers as its rootfs (registered unnamed in the
store), the build's env, user and workdir, and the host network namespace (no
build network yet). Output is streamed line by line; after it exits its overlay
upper dir is moved out (the step's diff) and the container is removed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Callable

from engine.build.commit import BuildState, ensure_registered
from engine.build.snapshot import drop_engine_mountpoints
from engine.errors import CommandNotFound, EngineError
from engine.images.store import ImageStore
from engine.spec import ContainerSpec, LogSpec, MountSpec, NamespaceSpec

__all__ = ["RunRequest", "RunFailed", "run_in_container"]


class RunFailed(Exception):
    """The RUN command could not start or exited non-zero."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RunRequest:
    """What one RUN executes and how."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    user: str = ""
    workdir: str = "/"
    mounts: tuple[MountSpec, ...] = ()
    network: str = "host"


def _spec(state: BuildState, req: RunRequest) -> ContainerSpec:
    return ContainerSpec(
        name=f"shoal-build-{secrets.token_hex(6)}", rootfs=state.image_id, command=req.argv, entrypoint=(),
        env=req.env, working_dir=req.workdir or "/", user=req.user, mounts=req.mounts,
        namespaces=NamespaceSpec(network=req.network), init=False, log=LogSpec(max_size=0),
        labels=(("io.shoal.build", "run"),))


def run_in_container(engine, store: ImageStore, state: BuildState, req: RunRequest, dest_upper: str,
                     output: Callable[[str], None]) -> None:
    """Run ``req`` on ``state``; on success its upper dir ends up at ``dest_upper``."""
    if not state.diff_ids:
        raise RunFailed("RUN needs a filesystem, but this stage has no layers yet (FROM scratch)", 1)
    ensure_registered(store, state)
    try:
        cid = engine.create(_spec(state, req))
    except EngineError as exc:
        raise RunFailed(f"cannot create the build container: {exc}", 1) from None
    try:
        try:
            engine.start(cid)
        except CommandNotFound as exc:
            raise RunFailed(f"{exc}", 127) from None
        except EngineError as exc:
            raise RunFailed(f"cannot start the build container: {exc}", 1) from None
        for line in engine.logs(cid, follow=True):
            output(line.message.rstrip("\n"))
        status = engine.wait(cid)
        if status.exit_code or status.signal:
            what = f"signal {status.signal}" if status.signal else f"exit code {status.exit_code}"
            raise RunFailed(f"process {_show(req.argv)} did not complete successfully: {what}",
                            status.exit_code or 128 + status.signal)
        upper = os.path.join(engine.containers_dir, cid, "upper")
        drop_engine_mountpoints(upper, state.layer_dirs(store))
        os.rename(upper, dest_upper)
    finally:
        engine.remove(cid, force=True)


def _show(argv: tuple[str, ...]) -> str:
    return '"' + " ".join(argv) + '"'
