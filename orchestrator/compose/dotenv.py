"""``.env`` files as Compose reads them (compose-go ``dotenv``), plus the ``raw`` env_file format.

Dotenv grammar, one statement at a time:

* blank lines and lines starting with ``#`` are skipped; ``export `` prefixes are ignored;
* ``KEY=VALUE`` or ``KEY: VALUE``; key characters are letters, digits, ``_ . - [ ]``;
* ``KEY`` alone on its line inherits the value from the lookup (omitted if unknown);
* unquoted values run to the end of the line, lose a `` #...`` comment and trailing
  blanks, and are interpolated (``$VAR``, ``${VAR:-x}``...);
* ``'single'`` quotes are literal; ``"double"`` quotes understand ``\\n \\t \\\\ \\" \\$``
  and friends, then are interpolated; both may span lines;
* interpolation sees the lookup first, then keys defined earlier in the file.

The ``raw`` format is ``docker run --env-file``: ``KEY=VALUE`` taken verbatim.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .errors import ComposeError, Pos
from .interpolate import Warn, go_quote, substitute

__all__ = [
    "parse_dotenv",
    "read_dotenv",
    "parse_raw_env",
    "read_raw_env_file",
    "read_text",
]

Lookup = Callable[[str], "str | None"]

_BLANK = "\t\v\f\r \x85\xa0"  # spaces that are not a line break (Go dotenv isSpace)
_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})')
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", '"': '"', "\\": "\\"}


def _no_lookup(_key: str) -> str | None:
    return None


def _unescape(match: re.Match[str]) -> str:
    text = match.group()
    if text == "\\$":
        return "$$"  # a literal dollar for the interpolation that follows
    if text.startswith("\\0"):
        digits = text[2:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return text
    return _SIMPLE_ESCAPES.get(text[1], text)


def _key_char(ch: str) -> bool:
    return ch in "_.-[]" or ch.isalpha() or ch.isnumeric()


class _Parser:
    """Cursor over one dotenv text; fills ``out`` statement by statement."""

    def __init__(self, text: str, file: str, lookup: Lookup, warn: Warn | None,
                 out: dict[str, str]):
        self.text, self.file, self.lookup, self.warn, self.out = text, file, lookup, warn, out
        self.pos, self.line = 0, 1

    def error(self, message: str, line: int | None = None) -> ComposeError:
        return ComposeError(message, Pos(self.file, line or self.line))

    def next_statement(self) -> bool:
        """Skip blanks and comment lines; False at the end of the text."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch == "#":
                nl = text.find("\n", self.pos)
                self.pos = n if nl < 0 else nl
            elif ch.isspace():
                self.line += ch == "\n"
                self.pos += 1
            else:
                return True
        return False

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _BLANK:
            self.pos += 1

    def statement(self) -> None:
        line = self.line
        export = _EXPORT.match(self.text, self.pos)
        if export:
            self.pos += len("export")
            self.skip_blanks()
        if self.pos >= len(self.text):
            raise self.error("zero length string")
        key, terminator = self.key()
        if " " in key:
            raise self.error("key cannot contain a space", line)
        if terminator in ("\n", ""):
            # ``KEY`` alone. Compose reads a last line without newline as the value of an
            # empty key; inheriting is what such a line means, so do that instead.
            self.line += terminator == "\n"
            value = self.lookup(key)
            if value is not None:
                self.out[key] = value
            return
        self.skip_blanks()
        self.out[key] = self.value(line)

    def key(self) -> tuple[str, str]:
        """Read a key up to ``=``, ``:`` or a newline; return it and the terminator ('' at EOF)."""
        text, start = self.text, self.pos
        for i in range(start, len(text)):
            ch = text[i]
            if ch in "=:\n":
                self.pos = i + 1
                return text[start:i].rstrip(), ch
            if ch not in _BLANK and not _key_char(ch):
                first_line = text[start:].split("\n", 1)[0]
                raise self.error(f"unexpected character {go_quote(ch)} in variable name "
                                 f"{go_quote(first_line)}")
        self.pos = len(text)
        return text[start:].rstrip(), ""

    def value(self, line: int) -> str:
        text = self.text
        quote = text[self.pos: self.pos + 1]
        if quote in ("'", '"'):
            raw = self.quoted(quote, line)
            if quote == "'":
                return raw
            return self.expand(_ESCAPE.sub(_unescape, raw), line)
        nl = text.find("\n", self.pos)
        end = len(text) if nl < 0 else nl
        raw = text[self.pos:end].split(" #", 1)[0].rstrip()
        self.pos = end + 1
        self.line += 1
        return self.expand(raw, line)

    def quoted(self, quote: str, line: int) -> str:
        """Read a quoted value; an escaped quote loses its backslash, other escapes keep it."""
        text, chars, escaped = self.text, [], False
        for i in range(self.pos + 1, len(text)):
            ch = text[i]
            self.line += ch == "\n"
            if escaped:
                escaped = False
                chars.append(ch if ch == quote else "\\" + ch)
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                self.pos = i + 1
                return "".join(chars)
            else:
                chars.append(ch)
        shown = text[self.pos:].split("\n", 1)[0]
        raise self.error(f"unterminated quoted value {shown}", line)

    def expand(self, value: str, line: int) -> str:
        def lookup(name: str) -> str | None:
            found = self.lookup(name)
            return found if found is not None else self.out.get(name)

        try:
            return substitute(value, lookup, self.warn)
        except ComposeError as exc:
            raise self.error(exc.message, line) from None


def parse_dotenv(
    text: str,
    file: str,
    lookup: Lookup = _no_lookup,
    warn: Warn | None = None,
    into: dict[str, str] | None = None,
) -> dict[str, str]:
    """Parse dotenv ``text`` (read from ``file``) into a dict, as Compose does.

    ``lookup`` resolves inherited keys and wins over the file's own keys during
    interpolation. With ``into``, keys are added to (and interpolation also sees)
    that dict, which is returned. Errors are :class:`ComposeError` at ``file:line``.
    """
    out: dict[str, str] = {} if into is None else into
    if text.startswith("\ufeff"):
        text = text[1:]
    parser = _Parser(text, file, lookup, warn, out)
    while parser.next_statement():
        parser.statement()
    return out


def read_text(path: str) -> str:
    """Read an env file as UTF-8 text; a missing, unreadable or binary file is a ComposeError."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ComposeError(f"env file {os.path.abspath(path)} not found") from None
    except IsADirectoryError:
        raise ComposeError(f"{os.path.abspath(path)} is a directory") from None
    except UnicodeDecodeError as exc:
        raise ComposeError(f"invalid UTF-8 at byte {exc.start}", Pos(path)) from None
    except OSError as exc:
        raise ComposeError(f"cannot read env file: {exc.strerror}", Pos(path)) from None


def read_dotenv(
    path: str,
    lookup: Lookup = _no_lookup,
    warn: Warn | None = None,
    into: dict[str, str] | None = None,
) -> dict[str, str]:
    """Read and parse the dotenv file at ``path`` (see :func:`parse_dotenv`)."""
    return parse_dotenv(read_text(path), path, lookup, warn, into)


def parse_raw_env(
    text: str, file: str, lookup: Lookup = _no_lookup, into: dict[str, str] | None = None
) -> dict[str, str]:
    """Parse ``format: raw`` env text: ``KEY=VALUE`` verbatim, ``KEY`` alone inherited.

    Leading blanks and ``#`` comment lines are skipped; nothing else is trimmed,
    unquoted or expanded (``docker run --env-file`` semantics).
    """
    out: dict[str, str] = {} if into is None else into
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.partition("=")
        if not key:
            raise ComposeError(f"no variable name on line '{line}'", Pos(file, number))
        if " " in key or "\t" in key:
            raise ComposeError(f"variable '{key}' contains whitespaces", Pos(file, number))
        if has_value:
            out[key] = value
            continue
        inherited = lookup(key)
        if inherited is not None:
            out[key] = inherited
    return out


def read_raw_env_file(
    path: str, lookup: Lookup = _no_lookup, into: dict[str, str] | None = None
) -> dict[str, str]:
    """Read a ``format: raw`` env file (see :func:`parse_raw_env`)."""
    return parse_raw_env(read_text(path), path, lookup, into)
