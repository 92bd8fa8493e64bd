"""The build context: ``.dockerignore`` rules, COPY source globs and content hashes for cache keys.

Patterns follow Docker's: Go ``filepath.Match`` per path segment plus ``**`` for any
number of directories, ``!`` exceptions where the last matching line wins, and a
pattern matching a directory excludes everything under it. Hashes ignore mtimes and
owners (COPY sets its own owner), so a ``touch`` alone keeps the cache.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass

__all__ = ["ContextError", "IgnoreRule", "parse_ignore", "BuildContext", "has_glob", "glob_regex"]

_GLOB_CHARS = set("*?[")


class ContextError(ValueError):
    """A COPY/ADD source that does not exist, or a bad pattern."""


def has_glob(pattern: str) -> bool:
    """True when ``pattern`` contains a glob metacharacter."""
    return any(c in _GLOB_CHARS for c in pattern)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Docker path pattern (``*``, ``?``, ``[...]``, ``**``, ``\\`` escapes) to a regex."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ContextError(f"bad pattern {pattern!r}: unterminated [")
            body = pattern[i + 1:end]
            if body.startswith("^") or body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        elif ch == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


@dataclass(frozen=True)
class IgnoreRule:
    """One ``.dockerignore`` line: its compiled pattern and whether it is a ``!`` exception."""

    pattern: str
    regex: re.Pattern[str]
    exclusion: bool


def parse_ignore(text: str) -> list[IgnoreRule]:
    """Rules from ``.dockerignore`` text (comments and blank lines dropped, paths cleaned)."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = posixpath.normpath(line).lstrip("/")
        if cleaned in ("", "."):
            continue
        rules.append(IgnoreRule(cleaned, glob_regex(cleaned), exclusion))
    return rules


def _ignored(rules: list[IgnoreRule], rel: str) -> bool:
    """Whether ``rel`` (or one of its parents) is excluded; the last matching rule wins."""
    parents = [rel]
    while "/" in parents[-1]:
        parents.append(parents[-1].rsplit("/", 1)[0])
    result = False
    for rule in rules:
        if any(rule.regex.match(p) for p in parents):
            result = not rule.exclusion
    return result


class BuildContext:
    """A context directory with its ignore rules; sources are resolved and hashed here."""

    def __init__(self, root: str, ignore_text: str | None = None, dockerfile: str = "Dockerfile") -> None:
        self.root = os.path.abspath(root)
        if not os.path.isdir(self.root):
            raise ContextError(f"build context {root} is not a directory")
        if ignore_text is None:
            ignore_text = self._read_ignore(dockerfile)
        self.rules = parse_ignore(ignore_text)
        self._memo: dict[tuple, str] = {}

    def _read_ignore(self, dockerfile: str) -> str:
        """``<Dockerfile>.dockerignore`` next to the Dockerfile wins over the context's ``.dockerignore``."""
        for path in (os.path.join(self.root, dockerfile) + ".dockerignore",
                     os.path.join(self.root, ".dockerignore")):
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    return f.read()
        return ""

    def ignored(self, rel: str) -> bool:
        """True when ``rel`` (relative to the context) is excluded by ``.dockerignore``."""
        rel = posixpath.normpath(rel).lstrip("/")
        return rel not in ("", ".") and _ignored(self.rules, rel)

    def walk(self) -> list[str]:
        """Every non-ignored path in the context, relative, sorted."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir
            for name in sorted(dirnames + filenames):
                rel = posixpath.join(rel_dir, name) if rel_dir else name
                if not self.ignored(rel):
                    out.append(rel)
        return sorted(out)

    def sources(self, pattern: str) -> list[str]:
        """Context paths a COPY/ADD source names (a path or a glob); error when nothing matches."""
        clean = posixpath.normpath("/" + pattern).lstrip("/")
        if not has_glob(clean):
            if clean in ("", "."):
                return [""]
            if not os.path.lexists(os.path.join(self.root, clean)) or self.ignored(clean):
                raise ContextError(f"{pattern}: not found in the build context"
                                   + (" (excluded by .dockerignore)" if os.path.lexists(
                                       os.path.join(self.root, clean)) else ""))
            return [clean]
        regex = glob_regex(clean)
        found = [rel for rel in self.walk() if regex.match(rel)]
        if not found:
            raise ContextError(f"{pattern}: no source files were specified (no match in the build context)")
        return found

    def path(self, rel: str) -> str:
        """Host path of a context-relative path."""
        return os.path.join(self.root, rel) if rel else self.root

    def hash_sources(self, rels: list[str]) -> str:
        """sha256 over names, types, modes and contents of the sources (directories recursively)."""
        h = hashlib.sha256()
        for rel in rels:
            for sub in self._tree(rel):
                h.update(self._entry_digest(sub).encode())
        return "sha256:" + h.hexdigest()

    def _tree(self, rel: str) -> list[str]:
        path = self.path(rel)
        if os.path.islink(path) or not os.path.isdir(path):
            return [rel]
        out = [rel]
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            base = os.path.relpath(dirpath, self.root)
            for name in sorted(dirnames + filenames):
                sub = posixpath.normpath(posixpath.join(base, name))
                if not self.ignored(sub):
                    out.append(sub)
        return out

    def _entry_digest(self, rel: str) -> str:
        path = self.path(rel)
        st = os.lstat(path)
        head = f"{rel}\0{stat.S_IFMT(st.st_mode):o}\0{stat.S_IMODE(st.st_mode):o}\0"
        if stat.S_ISLNK(st.st_mode):
            return head + os.readlink(path) + "\n"
        if not stat.S_ISREG(st.st_mode):
            return head + "\n"
        key = (path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key not in self._memo:
            fh = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    fh.update(chunk)
            self._memo[key] = fh.hexdigest()
        return head + self._memo[key] + "\n"
