"""COPY/ADD planning: expand the arguments, pick the source, compute the cache key's content part.

The key of a context copy includes a content hash of exactly the selected files
(``.dockerignore`` applied); a ``--from`` copy includes the source stage's key or
the source image's id; a heredoc copy includes the heredoc text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from engine.build.cache import step_key
from engine.build.commit import BuildState, state_from_image
from engine.build.dockerfile import DockerfileError, Instruction
from engine.build.expand import Lexer
from engine.build.fsteps import CopyRequest, Source, copy_step
from engine.build.steps import join_workdir

__all__ = ["plan_copy", "parse_chmod"]

_HEREDOC_WORD = re.compile(r"^<<-?([A-Za-z_][A-Za-z0-9_.-]*)$")
_URL = re.compile(r"^(https?://|git@|git://|ssh://)")


def parse_chmod(ins: Instruction, text: str) -> int | None:
    """``--chmod=0755`` -> 0o755 (octal only, like Docker)."""
    if not text:
        return None
    if not re.fullmatch(r"[0-7]{3,4}", text):
        raise DockerfileError(f"--chmod={text}: expected an octal mode such as 0755", ins.line)
    return int(text, 8)


def _words(b, run, ins: Instruction) -> list[str]:
    """Expanded arguments; heredoc markers (``<<EOF``, ``<<-"EOF"``) become ``<<EOF``."""
    lexer = Lexer(b._env(run), b.df.escape)
    if ins.json is not None:
        return [lexer.word(w) for w in ins.json]
    names = {h.name for h in ins.heredocs}
    out = []
    for word in lexer.words(ins.args):
        m = _HEREDOC_WORD.match(word)
        out.append("<<" + m.group(1) if m and m.group(1) in names else word)
    return out


def _dest(run, raw: str) -> str:
    if raw.startswith("/"):
        return raw
    slash = "/" if raw.endswith("/") or raw in (".", "./") else ""
    return join_workdir(run.state.runtime.get("WorkingDir") or "/", raw).rstrip("/") + slash


def _heredoc_source(b, run, ins: Instruction, names: list[str]) -> tuple[str, list[str]]:
    """Write heredoc sources to a temp dir; returns it and the file names."""
    docs = {h.name: h for h in ins.heredocs}
    tmpdir = tempfile.mkdtemp(prefix="heredoc-", dir=b.store.tmp)
    lexer = Lexer(b._env(run), b.df.escape)
    for name in names:
        doc = docs[name]
        text = lexer.word(doc.content) if doc.expand else doc.content
        path = os.path.join(tmpdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)
    return tmpdir, names


def _from_source(b, run, ins: Instruction, ref: str) -> tuple[BuildState, str]:
    """The state and key part of ``--from=<stage name|index|image>``."""
    for stage in b.stages[:run.stage.index]:
        if stage.name == ref.lower() or str(stage.index) == ref:
            state, key = b._stage(stage.index)
            return state, "stage:" + key
    if ref.isdigit():
        raise DockerfileError(f"--from={ref}: no earlier stage with that index", ins.line)
    image = b._image(ref)
    return state_from_image(image), "image:" + image.id


def plan_copy(b, run, ins: Instruction):
    """(cache key, execute) for one COPY/ADD in ``run`` (a builder stage run)."""
    words = _words(b, run, ins)
    if len(words) < 2:
        raise DockerfileError(f"{ins.cmd} requires at least two arguments: source(s) and destination", ins.line)
    sources, dest = words[:-1], _dest(run, words[-1])
    lexer = Lexer(b._env(run), b.df.escape)
    chown = lexer.word(ins.flag("chown") or "")
    chmod = parse_chmod(ins, lexer.word(ins.flag("chmod") or ""))
    if any(_URL.match(s) for s in sources):
        raise DockerfileError(f"{ins.cmd} from a URL ({next(s for s in sources if _URL.match(s))}) is not "
                              "supported: shoal builds offline; download it in a RUN step or into the context",
                              ins.line)
    heredocs = [s[2:] for s in sources if s.startswith("<<") and s[2:] in {h.name for h in ins.heredocs}]
    from_ref = lexer.word(ins.flag("from") or "")
    if heredocs and len(heredocs) != len(sources):
        raise DockerfileError(f"{ins.cmd}: mixing heredocs and other sources is not supported", ins.line)
    req = CopyRequest(tuple(heredocs or sources), dest, chown, chmod, extract=ins.cmd == "ADD" and not from_ref)
    if heredocs:
        content = [h.content for h in ins.heredocs]
        source_fn, part = (lambda: Source(directory=_heredoc_source(b, run, ins, heredocs)[0])), json.dumps(content)
    elif from_ref:
        src_state, part = _from_source(b, run, ins, from_ref)
        source_fn = lambda: Source(state=src_state)  # noqa: E731
    else:
        rels = [r for s in sources for r in b.context.sources(s)]
        part = b.context.hash_sources(rels)
        source_fn = lambda: Source(context=b.context)  # noqa: E731
    created_by = f"{ins.cmd} " + (f"--from={from_ref} " if from_ref else "") + f"{' '.join(sources)} {dest}"
    key = step_key(run.key, ins.cmd, json.dumps([sources, dest, chown, chmod, req.extract]), part)

    def execute(new: BuildState) -> None:
        upper = b._tmp_upper()
        source = source_fn()
        try:
            copy_step(b.store, run.state, source, req, upper)
        finally:
            if source.directory:
                shutil.rmtree(source.directory, ignore_errors=True)
        b._layer(new, upper, created_by + f" # {part[:19]}")
    return key, execute
