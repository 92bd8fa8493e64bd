"""Stage 2 of loading: ``${VAR}`` interpolation of YAML values, then Compose's type casts.

The grammar is compose-go's ``template`` package (compose spec, 12-interpolation):

* ``$$`` is a literal ``$``; a ``$`` followed by neither a name nor ``{`` is kept as is;
* ``$NAME`` / ``${NAME}``: the value, or ``""`` plus a warning when unset;
* ``${NAME:-d}`` / ``${NAME-d}``: ``d`` when unset or empty / only when unset;
* ``${NAME:?m}`` / ``${NAME?m}``: an error when unset or empty / only when unset;
* ``${NAME:+a}`` / ``${NAME+a}``: ``a`` when set and non-empty / when set, else ``""``.

The text after an operator is itself a template, expanded only when used, and
the closing brace is found by counting braces, so ``${A:-${B:-{"x":1}}}`` works.

Only values are interpolated, never keys. Afterwards the fields Compose types
as numbers or booleans are cast from strings (loader/interpolate.go), so that
``replicas: ${N}`` validates as an integer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ComposeError
from .parse import Document, Path

__all__ = [
    "Lookup",
    "Warn",
    "substitute",
    "interpolate_document",
    "interpolate_value",
    "cast_for_path",
    "CASTS",
    "go_quote",
]

Lookup = Callable[[str], "str | None"]
Warn = Callable[[str], None]

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":?", ":-", ":+", "?", "-", "+")


def go_quote(text: str) -> str:
    """Quote ``text`` like Go's ``%q``/``%#v`` so messages read as Compose's do."""
    out = ['"']
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}
    for ch in text:
        if ch in named:
            out.append(named[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _invalid(template: str) -> ComposeError:
    return ComposeError(f"Invalid template: {go_quote(template)}")


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start``; -1 if none.

    As with Compose's regex, a ``${...}`` never spans a line break: braces are
    counted on the line, and if they never balance the line's last ``}`` closes.
    """
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = len(text)
    depth = 0
    for i in range(start, line_end):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return text.rfind("}", start + 1, line_end)


class _Substituter:
    """One substitution run: the lookup, the warning sink and the outermost template."""

    def __init__(self, lookup: Lookup, warn: Warn | None, whole: str):
        self.lookup = lookup
        self.warn = warn
        self.whole = whole

    def value_of(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            if self.warn is not None:
                self.warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
            return ""
        return value

    def run(self, template: str) -> str:
        out: list[str] = []
        i, n = 0, len(template)
        while i < n:
            j = template.find("$", i)
            if j < 0:
                out.append(template[i:])
                break
            out.append(template[i:j])
            i = self.token(template, j, out)
        return "".join(out)

    def token(self, template: str, at: int, out: list[str]) -> int:
        """Expand the ``$`` token at ``at`` into ``out``; return where scanning resumes."""
        nxt = template[at + 1: at + 2]
        if nxt == "$":
            out.append("$")
            return at + 2
        if nxt == "{":
            end = _closing_brace(template, at + 1)
            if end < 0:
                raise _invalid(self.whole)
            out.append(self.braced(template[at + 2: end]))
            return end + 1
        name = _NAME.match(template, at + 1)
        if name is None:
            out.append("$")
            return at + 1
        out.append(self.value_of(name.group()))
        return name.end()

    def braced(self, inner: str) -> str:
        """Expand the text between ``${`` and its ``}``."""
        name_match = _NAME.match(inner)
        if name_match is None:
            raise _invalid(self.whole)
        name, rest = name_match.group(), inner[name_match.end():]
        if not rest:
            return self.value_of(name)
        op = next((o for o in _OPERATORS if rest.startswith(o)), None)
        if op is None:
            raise _invalid(self.whole)
        return self.apply(name, op, rest[len(op):])

    def apply(self, name: str, op: str, arg: str) -> str:
        """Apply operator ``op`` to variable ``name``; ``arg`` is expanded only if used."""
        value = self.lookup(name)
        # ``:x`` operators treat an empty value like an unset one.
        if value == "" and op.startswith(":"):
            value = None
        kind = op[-1]
        if kind == "+":
            return "" if value is None else self.run(arg)
        if value is not None:
            return value
        if kind == "-":
            return self.run(arg)
        message = self.run(arg)
        suffix = f": {message}" if message else ""
        raise ComposeError(f"required variable {name} is missing a value{suffix}")


def substitute(template: str, lookup: Lookup, warn: Warn | None = None) -> str:
    """Expand ``template`` with ``lookup`` (None = unset), as Compose does.

    Raises :class:`ComposeError` for a malformed template or a missing
    required variable; calls ``warn`` for each unset variable actually used.
    """
    if "$" not in template:
        return template
    return _Substituter(lookup, warn, template).run(template)


# --- type casts after interpolation (compose-go loader/interpolate.go) -------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.I
)


def _to_int(value: str, warn: Warn | None) -> int:
    if not _INT_RE.fullmatch(value):
        raise ValueError(f"strconv.Atoi: parsing {go_quote(value)}: invalid syntax")
    return int(value)


def _to_float(value: str, warn: Warn | None) -> float:
    if not _FLOAT_RE.fullmatch(value):
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(value)}: invalid syntax")
    return float(value)


def _to_bool(value: str, warn: Warn | None) -> bool:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("y", "yes", "on", "n", "no", "off"):
        result = low in ("y", "yes", "on")
        if warn is not None:
            warn(f"{go_quote(value)} for boolean is not supported by YAML 1.2, "
                 f"please use `{'true' if result else 'false'}`")
        return result
    raise ValueError(f"invalid boolean: {value}")


Cast = Callable[[str, "Warn | None"], Any]

_CONTAINER = (("services", "*"), ("jobs", "*"), ("services", "*", "pre_start", "*"))
_WORKLOAD = (("services", "*"), ("jobs", "*"))
_SERVICE = (("services", "*"),)

_CONTAINER_FIELDS: tuple[tuple[tuple[str, ...], Cast], ...] = (
    (("cpu_count",), _to_int), (("cpu_percent",), _to_float), (("cpu_period",), _to_int),
    (("cpu_quota",), _to_int), (("cpu_rt_period",), _to_int), (("cpu_rt_runtime",), _to_int),
    (("cpus",), _to_float), (("cpu_shares",), _to_int), (("init",), _to_bool),
    (("oom_kill_disable",), _to_bool), (("oom_score_adj",), _to_int),
    (("pids_limit",), _to_int), (("privileged",), _to_bool), (("read_only",), _to_bool),
    (("ulimits", "*"), _to_int), (("ulimits", "*", "hard"), _to_int),
    (("ulimits", "*", "soft"), _to_int), (("volumes", "[]", "read_only"), _to_bool),
    (("volumes", "[]", "volume", "nocopy"), _to_bool),
)
_WORKLOAD_FIELDS: tuple[tuple[tuple[str, ...], Cast], ...] = (
    (("depends_on", "*", "required"), _to_bool), (("depends_on", "*", "restart"), _to_bool),
    (("healthcheck", "retries"), _to_int), (("healthcheck", "disable"), _to_bool),
    (("ports", "[]", "target"), _to_int), (("stdin_open",), _to_bool), (("tty",), _to_bool),
)
_SERVICE_FIELDS: tuple[tuple[tuple[str, ...], Cast], ...] = (
    (("deploy", "replicas"), _to_int),
    (("deploy", "update_config", "parallelism"), _to_int),
    (("deploy", "update_config", "max_failure_ratio"), _to_float),
    (("deploy", "rollback_config", "parallelism"), _to_int),
    (("deploy", "rollback_config", "max_failure_ratio"), _to_float),
    (("deploy", "restart_policy", "max_attempts"), _to_int),
    (("deploy", "placement", "max_replicas_per_node"), _to_int),
    (("scale",), _to_int),
)
_TOP_LEVEL: tuple[tuple[tuple[str, ...], Cast], ...] = tuple(
    ((kind, "*", attr), _to_bool)
    for kind, attrs in (
        ("networks", ("external", "internal", "attachable", "enable_ipv4", "enable_ipv6")),
        ("volumes", ("external",)), ("secrets", ("external",)), ("configs", ("external",)),
    )
    for attr in attrs
)


def _build_casts() -> dict[tuple[str, ...], Cast]:
    table: dict[tuple[str, ...], Cast] = dict(_TOP_LEVEL)
    for prefixes, fields in ((_CONTAINER, _CONTAINER_FIELDS), (_WORKLOAD, _WORKLOAD_FIELDS),
                             (_SERVICE, _SERVICE_FIELDS)):
        for prefix in prefixes:
            for suffix, cast in fields:
                table[prefix + suffix] = cast
    return table


#: Path pattern -> cast. ``*`` matches any one segment, ``[]`` any list index.
CASTS: dict[tuple[str, ...], Cast] = _build_casts()
_CASTS_BY_LEN: dict[int, list[tuple[tuple[str, ...], Cast]]] = {}
for _pattern, _cast in CASTS.items():
    _CASTS_BY_LEN.setdefault(len(_pattern), []).append((_pattern, _cast))


def _matches(pattern: tuple[str, ...], path: Path) -> bool:
    for want, part in zip(pattern, path):
        if want == "*":
            continue
        if want == "[]":
            if not isinstance(part, int):
                return False
        elif want != part:
            return False
    return True


def cast_for_path(path: Path) -> Cast | None:
    """The cast Compose applies to a string found at raw compose ``path``, if any."""
    for pattern, cast in _CASTS_BY_LEN.get(len(path), ()):
        if _matches(pattern, path):
            return cast
    return None


def _dotted(path: Path) -> str:
    return ".".join("[]" if isinstance(p, int) else str(p) for p in path)


def interpolate_value(value: str, path: Path, lookup: Lookup, warn: Warn | None) -> Any:
    """Substitute one string found at ``path`` and cast it if Compose types that field."""
    try:
        result: Any = substitute(value, lookup, warn)
    except ComposeError as exc:
        if exc.message.startswith("Invalid template"):
            raise ComposeError(f"invalid interpolation format for {_dotted(path)}: "
                               f"{exc.message}; you may need to escape any $ with another $")
        raise ComposeError(f"error while interpolating {_dotted(path)}: {exc.message}")
    cast = cast_for_path(path)
    if cast is None:
        return result
    try:
        return cast(result, warn)
    except ValueError as exc:
        raise ComposeError(f"error while interpolating {_dotted(path)}: "
                           f"failed to cast to expected type: {exc}") from None


def _walk(doc: Document, node: Any, path: Path, lookup: Lookup, warn: Warn | None) -> Any:
    if isinstance(node, str):
        try:
            return interpolate_value(node, path, lookup, warn)
        except ComposeError as exc:
            raise exc.at(doc.pos(path)) from None
    if isinstance(node, dict):
        for key in list(node):
            node[key] = _walk(doc, node[key], path + (key,), lookup, warn)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            node[i] = _walk(doc, item, path + (i,), lookup, warn)
    return node


def interpolate_document(doc: Document, lookup: Lookup, warn: Warn | None = None) -> None:
    """Interpolate every string value of ``doc.data`` in place, then apply Compose's casts.

    Errors are :class:`ComposeError` placed at the line of the offending value.
    """
    doc.data = _walk(doc, doc.data, (), lookup, warn)
