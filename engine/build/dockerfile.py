"""Dockerfile parser: directives, continuations, comments, flags, JSON vs shell form, heredocs.

Pure text in, ``Dockerfile`` out; no variable expansion here (the builder does it
per instruction with the right scope). Every instruction keeps its line numbers so
errors read ``Dockerfile:12: ...``. Unknown instructions and flags are errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["DockerfileError", "Heredoc", "Instruction", "Dockerfile", "parse", "raw_words", "INSTRUCTIONS"]

INSTRUCTIONS = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"})

# flag name -> takes a value; flags a real Dockerfile may use but shoal rejects are listed apart
_FLAGS: dict[str, set[str]] = {
    "FROM": {"platform"},
    "RUN": {"network"},
    "COPY": {"from", "chown", "chmod", "link"},
    "ADD": {"chown", "chmod", "link"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}
_UNSUPPORTED = {
    ("RUN", "mount"): "RUN --mount (cache, secret, ssh and bind mounts) is not supported by shoal's builder",
    ("RUN", "security"): "RUN --security is not supported by shoal's builder",
    ("ADD", "checksum"): "ADD --checksum is for remote URLs, which shoal's builder does not fetch",
    ("ADD", "keep-git-dir"): "ADD --keep-git-dir is for git URLs, which shoal's builder does not fetch",
    ("COPY", "parents"): "COPY --parents is not supported by shoal's builder",
    ("COPY", "exclude"): "COPY --exclude is not supported by shoal's builder",
    ("ADD", "exclude"): "ADD --exclude is not supported by shoal's builder",
}
_JSON_FORMS = {"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"}
_HEREDOC_CMDS = {"RUN", "COPY", "ADD"}
_HEREDOC_RE = re.compile(r"(?<![<\w])<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")


class DockerfileError(ValueError):
    """A problem in the Dockerfile, shown as ``file:line: message``."""

    def __init__(self, message: str, line: int = 0, file: str = "Dockerfile") -> None:
        self.message, self.line, self.file = message, line, file
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


@dataclass(frozen=True)
class Heredoc:
    """A ``<<NAME`` document: its body, and whether ``$VAR`` in it expands (unquoted name)."""

    name: str
    content: str
    expand: bool = True


@dataclass(frozen=True)
class Instruction:
    """One instruction with its flags, raw arguments, exec-form list and heredocs."""

    cmd: str
    args: str
    line: int
    end_line: int
    original: str
    flags: tuple[tuple[str, str | None], ...] = ()
    json: tuple[str, ...] | None = None
    heredocs: tuple[Heredoc, ...] = ()
    sub: "Instruction | None" = None  # the instruction inside ONBUILD

    def flag(self, name: str, default: str | None = None) -> str | None:
        """The last value given for ``--name`` (``""`` for a bare flag), else ``default``."""
        value = default
        for key, val in self.flags:
            if key == name:
                value = "" if val is None else val
        return value


@dataclass
class Dockerfile:
    """A parsed Dockerfile: directives and instructions in order."""

    instructions: list[Instruction] = field(default_factory=list)
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    file: str = "Dockerfile"


def raw_words(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words."""
    out, cur, quote, i = [], [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == escape and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in " \t\r\n":
            if cur:
                out.append("".join(cur))
                cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    if cur:
        out.append("".join(cur))
    return out


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parser directives at the very top; returns them and the first line index after."""
    found: dict[str, str] = {}
    for idx, line in enumerate(lines):
        m = _DIRECTIVE_RE.match(line.strip())
        if not m or m.group(1).lower() in found:
            return found, idx
        found[m.group(1).lower()] = m.group(2)
    return found, len(lines)


def _ends_with_escape(line: str, escape: str) -> bool:
    stripped = line.rstrip()
    return stripped.endswith(escape)


def _take_flags(cmd: str, rest: str, line: int, file: str) -> tuple[tuple[tuple[str, str | None], ...], str]:
    """Split leading ``--name[=value]`` words off the arguments, checking they are known."""
    flags: list[tuple[str, str | None]] = []
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        if word == "--":
            break
        name, eq, value = word[2:].partition("=")
        key = (cmd, name)
        if key in _UNSUPPORTED:
            raise DockerfileError(_UNSUPPORTED[key], line, file)
        if name not in _FLAGS.get(cmd, set()):
            raise DockerfileError(f"unknown flag: --{name} for {cmd}", line, file)
        flags.append((name, value if eq else None))
        rest = after.lstrip()
    return tuple(flags), rest


def _json_form(cmd: str, rest: str) -> tuple[str, ...] | None:
    if cmd not in _JSON_FORMS or not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


class _Reader:
    """Walks physical lines, joining continuations and collecting heredoc bodies."""

    def __init__(self, text: str, file: str) -> None:
        self.lines = text.splitlines()
        self.file = file
        self.directives, self.pos = _directives(self.lines)
        self.escape = self.directives.get("escape", "\\")
        if self.escape not in ("\\", "`"):
            raise DockerfileError(f"invalid escape token {self.escape!r}: must be \\ or `", 1, file)

    def logical(self) -> tuple[str, int, int] | None:
        """The next instruction's joined text and its first/last line numbers (1-based)."""
        parts: list[str] = []
        start = 0
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            self.pos += 1
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue  # blank and comment lines, also inside a continuation
            start = start or self.pos
            if _ends_with_escape(raw, self.escape):
                parts.append(raw.rstrip()[:-1])
                continue
            parts.append(raw)
            return "".join(parts).strip(), start, self.pos
        if parts:
            return "".join(parts).strip(), start, self.pos
        return None

    def heredoc(self, name: str, strip_tabs: bool, line: int) -> str:
        """Body lines up to the terminator ``name``."""
        body: list[str] = []
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            self.pos += 1
            text = raw.lstrip("\t") if strip_tabs else raw
            if text == name:
                return "".join(b + "\n" for b in body)
            body.append(text)
        raise DockerfileError(f"unterminated heredoc <<{name}", line, self.file)


def _instruction(reader: _Reader, text: str, start: int, end: int) -> Instruction:
    word, _, rest = text.partition(" ")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    cmd, rest = word.upper(), rest.strip()
    if cmd not in INSTRUCTIONS:
        raise DockerfileError(f"unknown instruction: {word}", start, reader.file)
    if cmd == "ONBUILD":
        inner_word = rest.split(None, 1)[0].upper() if rest else ""
        if inner_word in ("ONBUILD", "FROM", "MAINTAINER", ""):
            raise DockerfileError(f"ONBUILD {inner_word or 'needs an instruction'} is not allowed",
                                  start, reader.file)
        sub = _instruction(reader, rest, start, end)
        return Instruction(cmd, rest, start, end, text, sub=sub)
    flags, rest = _take_flags(cmd, rest, start, reader.file)
    heredocs: list[Heredoc] = []
    if cmd in _HEREDOC_CMDS and _json_form(cmd, rest) is None:
        for m in _HEREDOC_RE.finditer(rest):
            body = reader.heredoc(m.group(3), m.group(1) == "-", start)
            heredocs.append(Heredoc(m.group(3), body, expand=not m.group(2)))
        end = reader.pos if heredocs else end
    return Instruction(cmd, rest, start, end, text, flags, _json_form(cmd, rest), tuple(heredocs))


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile ``text``; raises DockerfileError naming the line."""
    reader = _Reader(text, file)
    out = Dockerfile(directives=reader.directives, escape=reader.escape, file=file)
    while (item := reader.logical()) is not None:
        out.instructions.append(_instruction(reader, *item))
    if not out.instructions:
        raise DockerfileError("the Dockerfile has no instructions", 0, file)
    return out
