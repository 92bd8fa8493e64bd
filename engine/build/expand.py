"""Dockerfile word lexing and ``$VAR`` expansion, following BuildKit's shell lexer rules.

Quotes are removed ('single' is literal, "double" expands), the escape character
protects the next character, and ``${VAR:-x}``, ``${VAR-x}``, ``${VAR:+x}``,
``${VAR+x}``, ``${VAR:?msg}``, ``${VAR?msg}`` behave as in Dockerfiles.
Every variable looked up is recorded in ``used`` (cache keys need build args used).
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["ExpandError", "Lexer", "expand", "split_words"]


class ExpandError(ValueError):
    """A malformed ``${...}`` or a ``${VAR?message}`` whose variable is unset."""


class Lexer:
    """One pass over a word: expansion with quote and escape handling."""

    def __init__(self, env: Mapping[str, str], escape: str = "\\", used: set[str] | None = None) -> None:
        self.env = env
        self.escape = escape
        self.used = used if used is not None else set()

    def words(self, text: str) -> list[str]:
        """Split ``text`` on unquoted whitespace and expand each word."""
        out: list[str] = []
        cur: list[str] = []
        in_word = False
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch in " \t\r\n":
                if in_word:
                    out.append("".join(cur))
                    cur, in_word = [], False
                i += 1
                continue
            in_word = True
            i = self._step(text, i, cur, quote="")
        if in_word:
            out.append("".join(cur))
        return out

    def word(self, text: str) -> str:
        """Expand ``text`` as one word (whitespace kept)."""
        cur: list[str] = []
        i = 0
        while i < len(text):
            i = self._step(text, i, cur, quote="")
        return "".join(cur)

    def _step(self, text: str, i: int, cur: list[str], quote: str) -> int:
        """Consume one lexical unit at ``i`` into ``cur``; return the next index."""
        ch = text[i]
        if ch == self.escape:
            if i + 1 < len(text):
                cur.append(text[i + 1])
                return i + 2
            return i + 1
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ExpandError(f"unterminated single quote in {text!r}")
            cur.append(text[i + 1:end])
            return end + 1
        if ch == '"':
            return self._double(text, i + 1, cur)
        if ch == "$":
            return self._dollar(text, i, cur)
        cur.append(ch)
        return i + 1

    def _double(self, text: str, i: int, cur: list[str]) -> int:
        while i < len(text):
            ch = text[i]
            if ch == '"':
                return i + 1
            if ch == self.escape and i + 1 < len(text) and text[i + 1] in '"$' + self.escape:
                cur.append(text[i + 1])
                i += 2
            elif ch == "$":
                i = self._dollar(text, i, cur)
            else:
                cur.append(ch)
                i += 1
        raise ExpandError(f"unterminated double quote in {text!r}")

    def _lookup(self, name: str) -> str | None:
        self.used.add(name)
        return self.env.get(name)

    def _dollar(self, text: str, i: int, cur: list[str]) -> int:
        j = i + 1
        if j < len(text) and text[j] == "{":
            return self._braced(text, j + 1, cur)
        start = j
        if j < len(text) and text[j].isdigit():  # positional-style names are digits only, like BuildKit
            while j < len(text) and text[j].isdigit():
                j += 1
        else:
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
        if j == start:
            cur.append("$")
            return j
        cur.append(self._lookup(text[start:j]) or "")
        return j

    def _braced(self, text: str, j: int, cur: list[str]) -> int:
        start = j
        while j < len(text) and (text[j].isalnum() or text[j] == "_"):
            j += 1
        name = text[start:j]
        if not name or j >= len(text):
            raise ExpandError(f"bad substitution in {text!r}")
        if text[j] == "}":
            cur.append(self._lookup(name) or "")
            return j + 1
        op = text[j:j + 2] if text[j] == ":" else text[j]
        if op not in (":-", ":+", ":?", "-", "+", "?"):
            raise ExpandError(f"unsupported modifier {text[j]!r} in ${{{name}...}} of {text!r}")
        j += len(op)
        end, depth = j, 1
        while end < len(text):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        if end >= len(text):
            raise ExpandError(f"missing '}}' in {text!r}")
        word = Lexer(self.env, self.escape, self.used).word(text[j:end])
        value = self._lookup(name)
        empty_is_unset = op.startswith(":")
        is_set = value is not None and (value != "" or not empty_is_unset)
        kind = op[-1]
        if kind == "-":
            cur.append(value if is_set else word)
        elif kind == "+":
            cur.append(word if is_set else "")
        else:
            if not is_set:
                raise ExpandError(f"{name}: {word or 'parameter not set'}")
            cur.append(value or "")
        return end + 1


def expand(text: str, env: Mapping[str, str], escape: str = "\\", used: set[str] | None = None) -> str:
    """``text`` expanded as one word, quotes removed."""
    return Lexer(env, escape, used).word(text)


def split_words(text: str, env: Mapping[str, str], escape: str = "\\",
                used: set[str] | None = None) -> list[str]:
    """``text`` split into expanded words, quotes removed."""
    return Lexer(env, escape, used).words(text)
