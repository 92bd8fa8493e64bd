"""Stages and build-arg scoping (pure): split a Dockerfile at FROM, resolve ARG values per scope.

Global ARGs (before the first FROM) are visible only to FROM lines unless a stage
re-declares them; a stage ARG takes the build arg, else its default, else the
global value. Proxy args are predefined (usable without ARG, kept out of cache
keys); the platform args are predefined in the global scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from engine.build.dockerfile import Dockerfile, DockerfileError, Instruction, raw_words
from engine.build.expand import expand
from engine.images.platform import host_platform

__all__ = ["Stage", "split_stages", "parse_from", "arg_decls", "platform_args", "PROXY_ARGS", "ArgScope"]

PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


@dataclass
class Stage:
    """One ``FROM ... [AS name]`` and the instructions up to the next FROM."""

    index: int
    name: str
    base: str  # unexpanded image reference, stage name or scratch
    platform: str
    from_ins: Instruction
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The name progress lines show: the AS name or ``stage-N``."""
        return self.name or f"stage-{self.index}"


def platform_args() -> dict[str, str]:
    """TARGETPLATFORM, BUILDARCH and friends for this host."""
    p = host_platform()
    plat = f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")
    out = {}
    for prefix in ("TARGET", "BUILD"):
        out.update({prefix + "PLATFORM": plat, prefix + "OS": p.os, prefix + "ARCH": p.architecture,
                    prefix + "VARIANT": p.variant or ""})
    return out


def parse_from(ins: Instruction, index: int, escape: str) -> Stage:
    """``FROM [--platform=p] base [AS name]``."""
    words = raw_words(ins.args, escape)
    name = ""
    if len(words) == 3 and words[1].upper() == "AS":
        name = words[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(f"invalid stage name {words[2]!r}", ins.line)
    elif len(words) != 1:
        raise DockerfileError("FROM requires one image and optionally AS <name>", ins.line)
    return Stage(index, name, words[0], ins.flag("platform") or "", ins)


def split_stages(df: Dockerfile) -> tuple[list[Instruction], list[Stage]]:
    """Global ARG instructions and the stages, checking nothing but ARG precedes the first FROM."""
    globals_: list[Instruction] = []
    stages: list[Stage] = []
    for ins in df.instructions:
        if ins.cmd == "FROM":
            stage = parse_from(ins, len(stages), df.escape)
            if stage.name and any(s.name == stage.name for s in stages):
                raise DockerfileError(f"duplicate stage name {stage.name!r}", ins.line)
            stages.append(stage)
        elif not stages:
            if ins.cmd != "ARG":
                raise DockerfileError(f"{ins.cmd} before the first FROM: only ARG may come before FROM",
                                      ins.line)
            globals_.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction", 0)
    return globals_, stages


def arg_decls(ins: Instruction, escape: str) -> list[tuple[str, str | None]]:
    """``ARG a b=1 c="x y"`` -> [(a, None), (b, "1"), (c, '"x y"')] (defaults unexpanded)."""
    words = raw_words(ins.args, escape)
    if not words:
        raise DockerfileError("ARG requires at least one argument", ins.line)
    out = []
    for word in words:
        name, eq, default = word.partition("=")
        if not _NAME.match(name):
            raise DockerfileError(f"ARG: invalid name {name!r}", ins.line)
        out.append((name, default if eq else None))
    return out


@dataclass
class ArgScope:
    """ARG values visible in one scope (global or a stage) and what was consumed."""

    build_args: Mapping[str, str]
    parent: Mapping[str, str | None] = field(default_factory=dict)
    values: dict[str, str | None] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)

    def declare(self, ins: Instruction, escape: str, env: Mapping[str, str]) -> None:
        """Apply one ARG instruction: build arg, else default (expanded), else the parent scope's value."""
        for name, default in arg_decls(ins, escape):
            self.consumed.add(name)
            if name in self.build_args:
                self.values[name] = self.build_args[name]
            elif default is not None:
                self.values[name] = expand(default, {**self.visible(), **env}, escape)
            else:
                self.values[name] = self.parent.get(name)

    def visible(self) -> dict[str, str]:
        """Declared args with a value."""
        return {k: v for k, v in self.values.items() if v is not None}

    def run_env(self) -> dict[str, str]:
        """Args a RUN sees: declared ones plus proxy build args."""
        out = {k: v for k, v in self.build_args.items() if k in PROXY_ARGS}
        out.update(self.visible())
        return out

    def key_items(self) -> list[str]:
        """Declared arg values that belong in a RUN's cache key (proxies excluded, like Docker)."""
        return sorted(f"{k}={v}" for k, v in self.visible().items() if k not in PROXY_ARGS)
