"""The Dockerfile builder: stages, steps, the layer cache and progress output.

``build()`` parses the Dockerfile, builds the target stage (and the stages it
needs, on demand), one cached step per instruction, and names the result.
Output lines look like BuildKit's plain progress: ``#3 [stage-0 2/4] RUN ...``,
``#3 CACHED``, streamed ``#3 <output>`` and ``#3 DONE 0.4s``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

from engine.build import dockerfile as dfmod
from engine.build.cache import BuildCache, step_key
from engine.build.commit import (BuildState, add_layer, load_state, note_history, scratch_state,
                                 state_from_image, tag_state, write_state)
from engine.build.context import BuildContext, ContextError
from engine.build.copier import CopyError
from engine.build.dockerfile import DockerfileError, Instruction
from engine.build.expand import ExpandError, Lexer
from engine.build.copyplan import plan_copy
from engine.build.fsteps import workdir_step
from engine.build.run import RunFailed, RunRequest, run_in_container
from engine.build.stages import PROXY_ARGS, ArgScope, Stage, platform_args, split_stages
from engine.build.steps import DEFAULT_SHELL, apply_meta, env_dict, join_workdir
from engine.images.store import ImageStore
from engine.spec import MountSpec

__all__ = ["BuildError", "Builder", "build"]

Progress = Callable[[str], None]
_HEREDOC_WORD = re.compile(r"^<<-?([A-Za-z_][A-Za-z0-9_.-]*)$")
_FS_CMDS = ("RUN", "COPY", "ADD", "WORKDIR")


class BuildError(Exception):
    """A build failure, naming the Dockerfile line when there is one."""


@dataclass
class _StageRun:
    stage: Stage
    state: BuildState
    key: str
    args: ArgScope
    flags: dict[str, bool] = field(default_factory=dict)
    done: int = 1
    total: int = 1


def _default_puller(store: ImageStore, ref: str):
    from engine.images.pull import pull
    return pull(store, ref)


class Builder:
    """One build of one Dockerfile; see ``build()`` for the arguments."""

    def __init__(self, context_dir: str, *, store: ImageStore, engine, dockerfile: str = "Dockerfile",
                 dockerfile_inline: str | None = None, build_args: Mapping[str, str] | None = None,
                 no_cache: bool = False, pull: bool = False, progress: Progress | None = None,
                 puller: Callable | None = None) -> None:
        self.store, self.engine = store, engine
        if os.path.realpath(store.root) != os.path.realpath(os.path.join(engine.root, "images")):
            raise BuildError(f"the image store {store.root} is not the engine's ({engine.root}/images): "
                             "RUN containers could not see the images being built")
        if re.match(r"^[a-z]+://|^git@", context_dir):
            raise BuildError(f"build context {context_dir}: remote contexts are not supported (clone it first)")
        if not os.path.isdir(context_dir):
            raise BuildError(f"build context {context_dir} is not a directory")
        self.file = os.path.basename(dockerfile) if dockerfile_inline is None else "Dockerfile"
        text = dockerfile_inline if dockerfile_inline is not None else self._read(context_dir, dockerfile)
        try:
            self.df = dfmod.parse(text, self.file)
            self.globals, self.stages = split_stages(self.df)
        except DockerfileError as exc:
            raise BuildError(self._where(exc.line, exc.message)) from None
        self.context = BuildContext(context_dir, dockerfile=dockerfile)
        self.build_args = dict(build_args or {})
        self.no_cache, self.pull = no_cache, pull
        self.progress = progress or (lambda line: None)
        self.puller = puller or _default_puller
        self.cache = BuildCache(os.path.join(engine.root, "build-cache"))
        self.results: dict[int, tuple[BuildState, str]] = {}
        self.building: set[int] = set()
        self.step_no = 0
        self.global_scope = ArgScope(self.build_args, platform_args())
        self.consumed: set[str] = set()

    @staticmethod
    def _read(context_dir: str, dockerfile: str) -> str:
        path = dockerfile if os.path.isabs(dockerfile) else os.path.join(context_dir, dockerfile)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise BuildError(f"cannot read Dockerfile {path}: {exc.strerror or exc}") from None

    def _where(self, line: int, message: str) -> str:
        return f"{self.file}:{line}: {message}" if line else f"{self.file}: {message}"

    # -- entry ------------------------------------------------------------------------------
    def run(self, target: str | None = None, labels: Mapping[str, str] | None = None,
            tags: Sequence[str] = ()) -> str:
        """Build the target stage (default: the last), apply labels, tag it; returns the image id."""
        for ins in self.globals:
            self._guard(ins, lambda i=ins: self.global_scope.declare(i, self.df.escape, {}))
        self.consumed |= self.global_scope.consumed
        index = self._target_index(target)
        with self.store.ingesting():
            state, key = self._stage(index)
            if labels:
                state, key = self._label(state, key, dict(labels))
            image = tag_state(self.store, state, list(tags))
        unused = sorted(set(self.build_args) - self.consumed - PROXY_ARGS)
        if unused:
            self.progress(f"[Warning] One or more build-args {unused} were not consumed")
        self.progress(f"writing image {image.id} done" + (f", naming to {', '.join(tags)}" if tags else ""))
        return image.id

    def _target_index(self, target: str | None) -> int:
        if not target:
            return len(self.stages) - 1
        for stage in self.stages:
            if stage.name == target.lower():
                return stage.index
        raise BuildError(f"target stage {target!r} could not be found in {self.file}")

    def _label(self, state: BuildState, key: str, labels: dict[str, str]) -> tuple[BuildState, str]:
        new = state.derive()
        new.runtime["Labels"] = {**(new.runtime.get("Labels") or {}), **labels}
        return self._cached_meta(new, step_key(key, "LABELS", json.dumps(labels, sort_keys=True)), "LABEL")

    def _guard(self, ins: Instruction, fn: Callable):
        """Run ``fn`` turning any user-fixable error into a BuildError naming ``ins``'s line."""
        try:
            return fn()
        except BuildError:
            raise
        except DockerfileError as exc:
            raise BuildError(self._where(exc.line or ins.line, exc.message)) from None
        except (ContextError, CopyError, ExpandError, RunFailed, ValueError, OSError) as exc:
            raise BuildError(self._where(ins.line, f"{ins.cmd}: {exc}")) from None

    # -- stages -----------------------------------------------------------------------------
    def _stage(self, index: int) -> tuple[BuildState, str]:
        """Build stage ``index`` once (stages it needs first); returns its final state and key."""
        if index in self.results:
            return self.results[index]
        if index in self.building:
            raise BuildError(self._where(self.stages[index].from_ins.line, "circular dependency between stages"))
        self.building.add(index)
        stage = self.stages[index]
        scope = ArgScope(self.build_args, self.global_scope.values)
        for dep in self._stage_deps(stage):
            self._stage(dep)
        run = self._start_stage(stage, scope)
        for ins in self._onbuild(run) + stage.instructions:
            self._guard(ins, lambda i=ins: self._instruction(run, i))
        self.consumed |= scope.consumed
        self.results[index] = (run.state, run.key)
        self.building.discard(index)
        return self.results[index]

    def _stage_deps(self, stage: Stage) -> list[int]:
        """Earlier stages this stage's FROM or ``COPY --from`` names (global args expanded), built first."""
        env = {**platform_args(), **self.global_scope.visible()}
        out = []
        for ins in [stage.from_ins, *stage.instructions]:
            ref = stage.base if ins is stage.from_ins else ins.flag("from") if ins.cmd in ("COPY", "ADD") else None
            if not ref:
                continue
            try:
                ref = Lexer(env, self.df.escape).word(ref).lower()
            except ExpandError:
                continue
            out += [s.index for s in self.stages[:stage.index] if s.name == ref or str(s.index) == ref]
        return out

    def _start_stage(self, stage: Stage, scope: ArgScope) -> _StageRun:
        env = {**platform_args(), **self.global_scope.visible()}
        base = self._guard(stage.from_ins, lambda: Lexer(env, self.df.escape).word(stage.base))
        plat = self._guard(stage.from_ins, lambda: Lexer(env, self.df.escape).word(stage.platform))
        if plat and plat != env["TARGETPLATFORM"]:
            raise BuildError(self._where(stage.from_ins.line, f"FROM --platform={plat}: cross-platform builds "
                                                              f"are not supported (this host is "
                                                              f"{env['TARGETPLATFORM']})"))
        total = 1 + sum(1 for i in stage.instructions if i.cmd in _FS_CMDS)
        no = self._header(stage, 1, total, f"FROM {base}")
        earlier = [s for s in self.stages[:stage.index] if s.name and s.name == base.lower()]
        if earlier:
            state, key = self._stage(earlier[0].index)
            state = state.derive()
        elif base.lower() == "scratch":
            state, key = scratch_state(), step_key("scratch")
        else:
            image = self._guard(stage.from_ins, lambda: self._image(base))
            state, key = state_from_image(image), step_key("image", image.id)
        self.progress(f"#{no} DONE 0.0s")
        return _StageRun(stage, state, key, scope, total=total)

    def _image(self, ref: str):
        """A stored image, pulled when missing (or always with ``pull``)."""
        if not self.pull:
            try:
                return self.store.lookup(ref)
            except LookupError:
                pass
        try:
            return self.puller(self.store, ref)
        except Exception as exc:  # noqa: BLE001 - the puller's errors name the image
            raise ValueError(f"{ref}: not in the local store and pulling it failed: {exc}") from None

    def _onbuild(self, run: _StageRun) -> list[Instruction]:
        """The base image's ONBUILD triggers, run first (and not inherited further), like Docker."""
        triggers = run.state.runtime.pop("OnBuild", None) or []
        out = []
        for text in triggers:
            try:
                parsed = dfmod.parse(text, self.file).instructions
            except DockerfileError as exc:
                raise BuildError(self._where(run.stage.from_ins.line, f"ONBUILD trigger: {exc.message}")) from None
            out.extend(replace(i, line=run.stage.from_ins.line) for i in parsed)
        return out

    def _header(self, stage: Stage, done: int, total: int, text: str) -> int:
        self.step_no += 1
        first = text.splitlines()[0] if text else text
        self.progress(f"#{self.step_no} [{stage.label} {done}/{total}] {first}")
        return self.step_no

    # -- instructions -------------------------------------------------------------------------
    def _env(self, run: _StageRun) -> dict[str, str]:
        return {**run.args.visible(), **env_dict(run.state.runtime)}

    def _instruction(self, run: _StageRun, ins: Instruction) -> None:
        if ins.cmd == "ARG":
            run.args.declare(ins, self.df.escape, env_dict(run.state.runtime))
            return
        if ins.cmd == "FROM":
            raise DockerfileError("FROM inside a stage", ins.line)
        if ins.cmd not in _FS_CMDS:
            self._meta(run, ins)
            return
        run.done += 1
        no = self._header(run.stage, run.done, run.total, ins.original)
        started = time.monotonic()
        key, execute = self._plan(run, ins, no)
        hit = None if self.no_cache else self._lookup(key)
        if hit is not None:
            self.progress(f"#{no} CACHED")
            run.state, run.key = hit, key
            return
        new = run.state.derive()
        execute(new)
        write_state(self.store, new)
        self.cache.put(key, new.manifest_digest)
        run.state, run.key = new, key
        self.progress(f"#{no} DONE {time.monotonic() - started:.1f}s")

    def _lookup(self, key: str) -> BuildState | None:
        digest = self.cache.get(key)
        return load_state(self.store, digest) if digest else None

    def _meta(self, run: _StageRun, ins: Instruction) -> None:
        lexer = Lexer(self._env(run), self.df.escape)
        new = run.state.derive()
        if ins.cmd == "MAINTAINER":
            new.config["author"] = lexer.word(ins.args.strip())
        else:
            apply_meta(ins, new.runtime, lexer.word, lexer.words, self.df.escape, run.flags)
        created_by = ins.original
        key = step_key(run.key, ins.cmd, json.dumps(new.runtime, sort_keys=True), new.config.get("author", ""))
        run.state, run.key = self._cached_meta(new, key, created_by)

    def _cached_meta(self, new: BuildState, key: str, created_by: str) -> tuple[BuildState, str]:
        hit = None if self.no_cache else self._lookup(key)
        if hit is not None:
            return hit, key
        note_history(new, created_by, True)
        write_state(self.store, new)
        self.cache.put(key, new.manifest_digest)
        return new, key

    def _plan(self, run: _StageRun, ins: Instruction, no: int):
        """(cache key, function applying the step to a derived state) for a filesystem step."""
        if ins.cmd == "RUN":
            return self._plan_run(run, ins, no)
        if ins.cmd == "WORKDIR":
            return self._plan_workdir(run, ins)
        return self._plan_copy(run, ins)

    def _layer(self, new: BuildState, upper: str, created_by: str) -> None:
        try:
            added = add_layer(self.store, new, upper)
        finally:
            if os.path.lexists(upper):
                shutil.rmtree(upper, ignore_errors=True)
        note_history(new, created_by, not added)

    def _tmp_upper(self) -> str:
        return os.path.join(self.store.tmp, f"upper-{secrets.token_hex(8)}")

    def _plan_workdir(self, run: _StageRun, ins: Instruction):
        path = join_workdir(run.state.runtime.get("WorkingDir") or "/",
                            Lexer(self._env(run), self.df.escape).word(ins.args.strip()))

        def execute(new: BuildState) -> None:
            upper = self._tmp_upper()
            workdir_step(self.store, new, path, upper)
            new.runtime["WorkingDir"] = path
            self._layer(new, upper, f"WORKDIR {path}")
        return step_key(run.key, "WORKDIR", path), execute

    def _plan_run(self, run: _StageRun, ins: Instruction, no: int):
        shell = list(run.state.runtime.get("Shell") or DEFAULT_SHELL)
        argv, mounts, tmpdir = self._run_argv(ins, shell)
        network = {"": "host", "default": "host", "host": "host", "none": "none"}.get(ins.flag("network") or "")
        if network is None:
            raise DockerfileError(f"RUN --network={ins.flag('network')}: only default, host or none", ins.line)
        env = {**run.args.run_env(), **env_dict(run.state.runtime)}
        req = RunRequest(tuple(argv), tuple(env.items()), run.state.runtime.get("User") or "",
                         run.state.runtime.get("WorkingDir") or "/", mounts, network)
        key_args = run.args.key_items()
        created_by = "RUN " + (f"|{len(key_args)} {' '.join(key_args)} " if key_args else "") + " ".join(argv)

        def execute(new: BuildState) -> None:
            upper = self._tmp_upper()
            try:
                run_in_container(self.engine, self.store, run.state, req, upper,
                                 lambda line: self.progress(f"#{no} {line}"))
            finally:
                if tmpdir:
                    shutil.rmtree(tmpdir, ignore_errors=True)
            self._layer(new, upper, created_by)
        return step_key(run.key, "RUN", json.dumps(argv), network, *key_args,
                        *(h.content for h in ins.heredocs)), execute

    def _run_argv(self, ins: Instruction, shell: list[str]) -> tuple[list[str], tuple[MountSpec, ...], str]:
        """RUN's argv; a lone ``<<EOF`` runs its body (a shebang script through a bind-mounted file)."""
        if ins.json is not None:
            return list(ins.json), (), ""
        if not ins.heredocs:
            return [*shell, ins.args], (), ""
        first = ins.heredocs[0]
        if len(ins.heredocs) == 1 and _HEREDOC_WORD.match(ins.args.strip().replace('"', "").replace("'", "")):
            if not first.content.startswith("#!"):
                return [*shell, first.content], (), ""
            tmpdir = tempfile.mkdtemp(prefix="heredoc-", dir=self.store.tmp)
            path = os.path.join(tmpdir, first.name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(first.content)
            os.chmod(path, 0o755)
            target = f"/dev/pipes/{first.name}"
            return [target], (MountSpec(type="bind", source=path, target=target, read_only=True),), tmpdir
        script = ins.args + "\n" + "".join(h.content + h.name + "\n" for h in ins.heredocs)
        return [*shell, script], (), ""

    def _plan_copy(self, run: _StageRun, ins: Instruction):
        return plan_copy(self, run, ins)


def build(context_dir: str, *, store: ImageStore, engine, dockerfile: str = "Dockerfile",
          dockerfile_inline: str | None = None, target: str | None = None,
          build_args: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
          tags: Sequence[str] = (), no_cache: bool = False, pull: bool = False,
          progress: Progress | None = None, puller: Callable | None = None) -> str:
    """Build an image from ``context_dir`` and its Dockerfile; returns the image id (``sha256:...``)."""
    builder = Builder(context_dir, store=store, engine=engine, dockerfile=dockerfile,
                      dockerfile_inline=dockerfile_inline, build_args=build_args, no_cache=no_cache,
                      pull=pull, progress=progress, puller=puller)
    return builder.run(target, labels, tags)
