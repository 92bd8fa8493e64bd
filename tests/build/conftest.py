"""Fixtures for builder tests: an engine root with busybox:latest in its image store."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field

import pytest

from engine.api import Engine
from engine.images.archive import import_rootfs
from engine.images.store import ImageStore
from engine.spec import ContainerSpec


@dataclass
class BuildEnv:
    """An engine + store with busybox, and helpers to build a Dockerfile and run the result."""

    engine: Engine
    store: ImageStore
    ctx: str
    lines: list[str] = field(default_factory=list)

    def write(self, files: dict[str, str]) -> None:
        for rel, content in files.items():
            path = os.path.join(self.ctx, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(textwrap.dedent(content) if rel.endswith("Dockerfile") else content)

    def build(self, text: str | None = None, **kw) -> str:
        from engine.build import build
        if text is not None:
            self.write({"Dockerfile": text})
        self.lines = []
        return build(self.ctx, store=self.store, engine=self.engine, progress=self.lines.append, **kw)

    def steps(self, word: str) -> list[str]:
        """Progress lines of one kind (CACHED, DONE)."""
        return [line for line in self.lines if line.endswith(word) or f" {word} " in line]

    def run(self, image: str, command: tuple[str, ...] = (), **kw) -> tuple[int, str]:
        cid = self.engine.create(ContainerSpec(name=f"t{len(self.engine.list())}", rootfs=image,
                                               command=command, init=False, **kw))
        try:
            self.engine.start(cid)
            status = self.engine.wait(cid, timeout=30)
            return status.exit_code, "".join(line.message for line in self.engine.logs(cid))
        finally:
            self.engine.remove(cid, force=True)

    def config(self, image: str) -> dict:
        return self.store.lookup(image).config["config"]


@pytest.fixture
def benv(tmp_path, busybox_rootfs):
    engine = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    store = ImageStore(os.path.join(engine.root, "images"))
    import_rootfs(store, busybox_rootfs, "busybox:latest")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    env = BuildEnv(engine, store, str(ctx))
    yield env
    for info in engine.list():
        engine.remove(info.id, force=True)
    with open("/proc/self/mounts") as f:
        assert str(tmp_path) not in f.read(), "a build mount was left behind"
